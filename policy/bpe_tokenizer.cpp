// BpeTokenizer: reading tokenizer.json / tokenizer_config.json, and the encode/decode pipeline.
#include "policy/bpe_tokenizer.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "policy/bpe_decoder.h"
#include "policy/bpe_model.h"
#include "policy/normalizer.h"
#include "policy/pre_tokenizer.h"
#include "policy/utf8.h"

namespace r1::policy {

namespace {

nlohmann::json read_json(const std::string& file) {
  std::ifstream in(file);
  R1_CHECK(in.good(), "cannot read ", file);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    R1_FAIL(file, ": ", e.what());
  }
}

// A token in tokenizer_config.json: "text" or {"content": "text", ...} (an AddedToken).
std::string config_token(const nlohmann::json& config, const char* key, const std::string& file) {
  if (!config.contains(key) || config[key].is_null()) return "";
  const auto& value = config[key];
  if (value.is_string()) return value.get<std::string>();
  R1_CHECK(value.is_object() && value.contains("content") && value["content"].is_string(), file, ": ", key,
           " must be a string or {\"content\": str}");
  return value["content"].get<std::string>();
}

}  // namespace

BpeTokenizer::BpeTokenizer(const std::string& tokenizer_file, const std::string& config_file)
    : tokenizer_file_(tokenizer_file), config_file_(config_file) {
  const nlohmann::json spec = read_json(tokenizer_file);
  const std::string& file = tokenizer_file;
  R1_CHECK(spec.is_object() && spec.contains("model"), file, ": not a tokenizer.json (no \"model\")");
  normalizer_ = make_normalizer(spec.value("normalizer", nlohmann::json()), file);
  pre_tokenizer_ = make_pre_tokenizer(spec.value("pre_tokenizer", nlohmann::json()), file);
  model_ = std::make_unique<BpeModel>(spec["model"], file);
  decoder_ = make_decoder(spec.value("decoder", nlohmann::json()), file);

  std::vector<AddedToken> raw, normalized;
  std::vector<std::string> raw_patterns, normalized_patterns;
  vocab_size_ = model_->size();
  if (spec.contains("added_tokens") && !spec["added_tokens"].is_null()) {
    R1_CHECK(spec["added_tokens"].is_array(), file, ": added_tokens must be an array");
    std::size_t index = 0;
    for (const auto& entry : spec["added_tokens"]) {
      R1_CHECK(entry.is_object() && entry.contains("id") && entry["id"].is_number_integer() && entry.contains("content") &&
                   entry["content"].is_string(),
               file, ": added_tokens[", index, "] needs an integer \"id\" and a string \"content\"");
      AddedToken token;
      token.id = entry["id"].get<int64_t>();
      token.content = entry["content"].get<std::string>();
      R1_CHECK(token.id >= 0 && !token.content.empty(), file, ": added_tokens[", index, "]: negative id or empty content");
      token.special = entry.value("special", false);
      token.lstrip = entry.value("lstrip", false);
      token.rstrip = entry.value("rstrip", false);
      token.single_word = entry.value("single_word", false);
      // HF's default for a token that does not say: special tokens are not normalized.
      token.normalized = entry.value("normalized", !token.special);
      added_by_id_[token.id] = token.content;
      added_by_content_.emplace(token.content, token.id);
      vocab_size_ = std::max(vocab_size_, token.id + 1);
      if (token.normalized) {
        std::string pattern = token.content;
        if (normalizer_) normalizer_->normalize(pattern);
        normalized_patterns.push_back(pattern);
        normalized.push_back(std::move(token));
      } else {
        raw_patterns.push_back(token.content);
        raw.push_back(std::move(token));
      }
      ++index;
    }
  }
  raw_added_ = std::make_unique<AddedTokenMatcher>(std::move(raw), std::move(raw_patterns));
  normalized_added_ = std::make_unique<AddedTokenMatcher>(std::move(normalized), std::move(normalized_patterns));

  const auto id_of = [&](const std::string& token) -> std::optional<int64_t> {
    if (auto it = added_by_content_.find(token); it != added_by_content_.end()) return it->second;
    return model_->token_id(token);
  };
  std::string eos, pad;
  if (std::filesystem::exists(config_file)) {
    const nlohmann::json config = read_json(config_file);
    R1_CHECK(config.is_object(), config_file, ": expected a JSON object");
    eos = config_token(config, "eos_token", config_file);
    pad = config_token(config, "pad_token", config_file);
  }
  if (!eos.empty()) {
    auto id = id_of(eos);
    R1_CHECK(id.has_value(), config_file, ": eos_token '", eos, "' is not a token of ", file);
    eos_id_ = *id;
  } else {
    for (const char* name : {"<|endoftext|>", "</s>", "<｜end▁of▁sentence｜>", "<|end_of_text|>", "<|im_end|>", "<eos>"}) {
      if (auto id = id_of(name); id && added_by_id_.count(*id)) {
        eos_id_ = *id;
        break;
      }
    }
  }
  pad_id_ = eos_id_;
  if (!pad.empty()) {
    auto id = id_of(pad);
    R1_CHECK(id.has_value(), config_file, ": pad_token '", pad, "' is not a token of ", file);
    pad_id_ = *id;
  }
}

BpeTokenizer::~BpeTokenizer() = default;

std::vector<int64_t> BpeTokenizer::encode(std::string_view text) const {
  R1_CHECK(text.size() < (std::size_t(1) << 32), "tokenizer: text of ", text.size(), " bytes is over 4 GiB");
  std::vector<int64_t> ids;
  ids.reserve(text.size() / 3 + 4);
  raw_added_->split(
      text, [&](std::string_view section) { encode_section(section, section.data() == text.data(), ids); },
      [&](int64_t id) { ids.push_back(id); });
  return ids;
}

// A stretch between raw added tokens. HF takes only valid UTF-8; r1 takes any bytes: invalid ones
// skip normalization and pre-tokenization and go to BPE each run on its own (in the byte alphabet
// for ByteLevel files), so that decode(encode(s)) == s for every s.
void BpeTokenizer::encode_section(std::string_view text, bool at_start, std::vector<int64_t>& ids) const {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t valid_end = utf8::valid_prefix_end(text, pos);
    if (valid_end > pos) encode_normalized(text.substr(pos, valid_end - pos), at_start && pos == 0, ids);
    pos = valid_end;
    std::size_t invalid_end = pos;
    while (invalid_end < text.size() && utf8::valid_char_length(text, invalid_end) == 0) ++invalid_end;
    if (invalid_end > pos) {
      const auto bytes = text.substr(pos, invalid_end - pos);
      model_->encode_word(pre_tokenizer_ ? pre_tokenizer_->raw_bytes_word(bytes) : std::string(bytes), ids);
    }
    pos = invalid_end;
  }
}

void BpeTokenizer::encode_normalized(std::string_view text, bool at_start, std::vector<int64_t>& ids) const {
  if (!normalizer_ && normalized_added_->empty()) {
    pre_tokenize_and_merge(text, at_start, ids);
    return;
  }
  std::string normalized(text);
  if (normalizer_) normalizer_->normalize(normalized);
  normalized_added_->split(
      normalized,
      [&](std::string_view section) {
        pre_tokenize_and_merge(section, at_start && section.data() == normalized.data(), ids);
      },
      [&](int64_t id) { ids.push_back(id); });
}

void BpeTokenizer::pre_tokenize_and_merge(std::string_view text, bool at_start, std::vector<int64_t>& ids) const {
  thread_local PreTokens tokens;  // reused: its buffers keep their capacity between calls
  tokens.reset(text);
  if (pre_tokenizer_) pre_tokenizer_->apply(tokens, at_start);
  for (std::size_t w = 0; w < tokens.words.size(); ++w) model_->encode_word(tokens.word(w), ids);
}

std::string BpeTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string text;
  std::vector<std::string> run;  // model tokens since the last added token
  const auto flush = [&] {
    if (run.empty()) return;
    if (decoder_) {
      decoder_->decode_chain(run);
      for (const auto& piece : run) text += piece;
    } else {
      // HF without a decoder joins the tokens with spaces.
      for (std::size_t i = 0; i < run.size(); ++i) text += (i ? " " : "") + run[i];
    }
    run.clear();
  };
  for (int64_t id : ids) {
    if (auto it = added_by_id_.find(id); it != added_by_id_.end()) {
      flush();
      text += it->second;  // verbatim, so decode(encode(s)) == s whatever the decoder
      continue;
    }
    const std::string& token = model_->token(id);
    if (!token.empty()) run.push_back(token);
  }
  flush();
  return text;
}

std::string BpeTokenizer::token_text(int64_t id) const { return decode({id}); }

std::optional<int64_t> BpeTokenizer::special_id(std::string_view token) const {
  auto it = added_by_content_.find(std::string(token));
  if (it == added_by_content_.end()) return std::nullopt;
  return it->second;
}

int64_t BpeTokenizer::vocab_size() const { return vocab_size_; }

void BpeTokenizer::save(const std::string& dir) const {
  namespace fs = std::filesystem;
  const fs::path target = fs::path(dir) / "tokenizer.json";
  const auto copy = [](const fs::path& from, const fs::path& to) {
    if (fs::exists(to) && fs::equivalent(from, to)) return;  // saving where it was read from
    std::error_code error;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, error);
    R1_CHECK(!error, "cannot copy ", from.string(), " to ", to.string(), ": ", error.message());
  };
  copy(tokenizer_file_, target);
  const fs::path config_target = fs::path(dir) / "tokenizer_config.json";
  if (fs::exists(config_file_)) {
    copy(config_file_, config_target);
    return;
  }
  nlohmann::json config = {{"tokenizer_class", "PreTrainedTokenizerFast"}};
  if (eos_id_ >= 0) config["eos_token"] = token_text(eos_id_);
  if (pad_id_ >= 0) config["pad_token"] = token_text(pad_id_);
  std::ofstream out(config_target);
  R1_CHECK(out.good(), "cannot write ", config_target.string());
  out << config.dump(2) << "\n";
}

}  // namespace r1::policy
