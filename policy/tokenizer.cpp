// The byte-level tokenizer and tokenizer loading/saving for checkpoints.
#include "policy/tokenizer.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "policy/bpe_tokenizer.h"

namespace r1::policy {

const std::vector<std::string>& ByteTokenizer::special_tokens() {
  static const std::vector<std::string> tokens = {
      "<|endoftext|>", "<|pad|>",      "<think>",     "</think>",       "<answer>",
      "</answer>",     "<｜User｜>",   "<｜Assistant｜>", "<|im_start|>", "<|im_end|>",
  };
  return tokens;
}

std::vector<int64_t> ByteTokenizer::encode(std::string_view text) const {
  const auto& specials = special_tokens();
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    bool matched = false;
    if (text[pos] == '<') {  // every special token starts with '<'
      for (std::size_t s = 0; s < specials.size(); ++s) {
        if (text.compare(pos, specials[s].size(), specials[s]) == 0) {
          ids.push_back(256 + int64_t(s));
          pos += specials[s].size();
          matched = true;
          break;
        }
      }
    }
    if (!matched) ids.push_back(static_cast<unsigned char>(text[pos++]));
  }
  return ids;
}

std::string ByteTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string text;
  for (int64_t id : ids) text += token_text(id);
  return text;
}

std::string ByteTokenizer::token_text(int64_t id) const {
  R1_ASSERT(id >= 0 && id < vocab_size(), "token id ", id, " out of range");
  if (id < 256) return std::string(1, static_cast<char>(id));
  return special_tokens()[id - 256];
}

std::optional<int64_t> ByteTokenizer::special_id(std::string_view token) const {
  const auto& specials = special_tokens();
  for (std::size_t s = 0; s < specials.size(); ++s)
    if (specials[s] == token) return 256 + int64_t(s);
  return std::nullopt;
}

int64_t ByteTokenizer::vocab_size() const { return 256 + int64_t(special_tokens().size()); }

void save_tokenizer(const Tokenizer& tokenizer, const std::string& dir) {
  if (const auto* bpe = dynamic_cast<const BpeTokenizer*>(&tokenizer)) {
    bpe->save(dir);
    return;
  }
  nlohmann::json config = {{"tokenizer_class", "R1ByteTokenizer"},
                           {"r1_tokenizer", tokenizer.kind()},
                           {"eos_token", tokenizer.token_text(tokenizer.eos_id())},
                           {"pad_token", tokenizer.token_text(tokenizer.pad_id())},
                           {"additional_special_tokens", ByteTokenizer::special_tokens()}};
  std::ofstream out(std::filesystem::path(dir) / "tokenizer_config.json");
  R1_CHECK(out.good(), "cannot write ", dir, "/tokenizer_config.json");
  out << config.dump(2) << "\n";
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  if (path == "byte") return std::make_unique<ByteTokenizer>();
  // A Hugging Face tokenizer: the tokenizer.json file, or a directory holding one.
  if (fs::is_regular_file(path))
    return std::make_unique<BpeTokenizer>(path, (fs::path(path).parent_path() / "tokenizer_config.json").string());
  if (fs::is_regular_file(fs::path(path) / "tokenizer.json"))
    return std::make_unique<BpeTokenizer>((fs::path(path) / "tokenizer.json").string(),
                                          (fs::path(path) / "tokenizer_config.json").string());
  const auto file = fs::path(path) / "tokenizer_config.json";
  std::ifstream in(file);
  R1_CHECK(in.good(), "no tokenizer at '", path,
           "': expected \"byte\", a tokenizer.json file, or a directory with tokenizer.json or tokenizer_config.json");
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    R1_FAIL(file.string(), ": ", e.what());
  }
  const std::string kind = config.value("r1_tokenizer", "");
  R1_CHECK(kind == "byte", file.string(), ": unsupported tokenizer '", kind, "' (r1 checkpoints name \"byte\"; a Hugging Face tokenizer comes as tokenizer.json)");
  return std::make_unique<ByteTokenizer>();
}

}  // namespace r1::policy
