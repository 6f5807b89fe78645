// Pre-tokenizers from tokenizer.json, with the semantics of HF tokenizers (Rust): a split finds
// the pattern's matches in each word on its own (lookarounds do not see across words), then keeps
// matches and gaps as the behaviour says; empty pieces are dropped.
#include "policy/pre_tokenizer.h"

#include "common/error.h"
#include "policy/byte_level.h"
#include "policy/regex.h"

namespace r1::policy {

void PreTokens::reset(std::string_view text) {
  buffer.assign(text);
  words.clear();
  if (!text.empty()) words.push_back({0, uint32_t(text.size())});
}

std::string PreTokenizer::raw_bytes_word(std::string_view bytes) const { return std::string(bytes); }

namespace {

enum class Behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

Behavior parse_behavior(const nlohmann::json& spec, const std::string& where) {
  const std::string name = spec.value("behavior", "Isolated");
  if (name == "Removed") return Behavior::removed;
  if (name == "Isolated") return Behavior::isolated;
  if (name == "MergedWithPrevious") return Behavior::merged_with_previous;
  if (name == "MergedWithNext") return Behavior::merged_with_next;
  if (name == "Contiguous") return Behavior::contiguous;
  R1_FAIL(where, ": unknown behavior '", name, "'");
}

// One word's pieces as (range, is_match), in order, covering the word.
struct Piece {
  uint32_t begin, end;
  bool is_match;
};

// Applies `behavior` to the pieces of one word and appends the kept ranges to `out`.
void keep_pieces(const std::vector<Piece>& pieces, Behavior behavior, std::vector<PreTokens::Range>& out) {
  const auto push = [&](uint32_t begin, uint32_t end) {
    if (end > begin) out.push_back({begin, end});
  };
  switch (behavior) {
    case Behavior::removed:
      for (const auto& p : pieces)
        if (!p.is_match) push(p.begin, p.end);
      break;
    case Behavior::isolated:
      for (const auto& p : pieces) push(p.begin, p.end);
      break;
    case Behavior::contiguous:
      for (std::size_t i = 0; i < pieces.size();) {
        std::size_t j = i + 1;
        if (pieces[i].is_match)
          while (j < pieces.size() && pieces[j].is_match) ++j;
        push(pieces[i].begin, pieces[j - 1].end);
        i = j;
      }
      break;
    case Behavior::merged_with_previous: {
      // A match closes the piece before it. (-1: no piece open.)
      int64_t open = -1;
      for (const auto& p : pieces) {
        if (open < 0) open = p.begin;
        if (p.is_match) {
          push(uint32_t(open), p.end);
          open = -1;
        }
      }
      if (open >= 0) push(uint32_t(open), pieces.back().end);
      break;
    }
    case Behavior::merged_with_next: {
      // A match opens the piece after it. (-1: no piece open.)
      int64_t open = -1;
      for (const auto& p : pieces) {
        if (p.is_match && open >= 0) {
          push(uint32_t(open), p.begin);
          open = -1;
        }
        if (open < 0) open = p.begin;
      }
      if (open >= 0) push(uint32_t(open), pieces.back().end);
      break;
    }
  }
}

// Split with a regex (or an escaped literal): the workhorse of Qwen and DeepSeek files.
class RegexSplit : public PreTokenizer {
 public:
  RegexSplit(Regex regex, Behavior behavior, bool invert)
      : regex_(std::move(regex)), behavior_(behavior), invert_(invert) {}

  void apply(PreTokens& tokens, bool first_section) const override {
    std::vector<PreTokens::Range> out;
    out.reserve(tokens.words.size() * 2);
    std::vector<Piece> pieces;
    for (std::size_t w = 0; w < tokens.words.size(); ++w) {
      const auto range = tokens.words[w];
      pieces.clear();
      uint32_t previous = range.begin;
      regex_.for_each_match(tokens.word(w), [&](std::size_t begin, std::size_t end) {
        const uint32_t b = range.begin + uint32_t(begin), e = range.begin + uint32_t(end);
        if (b > previous) pieces.push_back({previous, b, invert_});
        pieces.push_back({b, e, !invert_});
        previous = e;
      });
      if (range.end > previous) pieces.push_back({previous, range.end, invert_});
      keep_pieces(pieces, behavior_, out);
    }
    tokens.words = std::move(out);
  }

 private:
  Regex regex_;
  Behavior behavior_;
  bool invert_;
};

std::string escape_literal(const std::string& literal) {
  std::string escaped = "\\Q";
  for (std::size_t at = 0; at < literal.size(); ++at) {
    // \E inside \Q...\E would end the quote early: split it.
    if (literal.compare(at, 2, "\\E") == 0) {
      escaped += "\\E\\\\E\\Q";
      ++at;
      continue;
    }
    escaped += literal[at];
  }
  return escaped + "\\E";
}

std::unique_ptr<PreTokenizer> make_split(const nlohmann::json& spec, const std::string& file) {
  const std::string where = file + ": pre_tokenizer Split";
  R1_CHECK(spec.contains("pattern") && spec["pattern"].is_object(), where,
           ": expected \"pattern\": {\"Regex\"|\"String\": str}");
  const auto& pattern = spec["pattern"];
  std::string regex;
  if (pattern.contains("Regex") && pattern["Regex"].is_string()) {
    regex = pattern["Regex"].get<std::string>();
  } else {
    R1_CHECK(pattern.contains("String") && pattern["String"].is_string(), where, ": pattern needs Regex or String");
    regex = escape_literal(pattern["String"].get<std::string>());
  }
  return std::make_unique<RegexSplit>(Regex(regex, where), parse_behavior(spec, where), spec.value("invert", false));
}

// GPT-2's split, used by ByteLevel with use_regex (HF tokenizers' byte_level.rs).
const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// ByteLevel: optionally a space before each word, optionally GPT-2's split, then every byte to its
// alphabet character.
class ByteLevel : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex, const std::string& file) : add_prefix_space_(add_prefix_space) {
    if (use_regex) split_ = std::make_unique<RegexSplit>(Regex(kGpt2Pattern, file + ": ByteLevel"), Behavior::isolated, false);
  }

  void apply(PreTokens& tokens, bool first_section) const override {
    if (add_prefix_space_) rewrite(tokens, /*prefix_space=*/true, /*alphabet=*/false);
    if (split_) split_->apply(tokens, first_section);
    rewrite(tokens, false, true);
  }
  bool byte_level() const override { return true; }
  std::string raw_bytes_word(std::string_view bytes) const override {
    std::string out;
    byte_level::encode(bytes, out);
    return out;
  }

 private:
  static void rewrite(PreTokens& tokens, bool prefix_space, bool alphabet) {
    std::string buffer;
    buffer.reserve(tokens.buffer.size() * (alphabet ? 2 : 1) + tokens.words.size());
    for (std::size_t w = 0; w < tokens.words.size(); ++w) {
      const auto word = tokens.word(w);
      const uint32_t begin = uint32_t(buffer.size());
      if (prefix_space && word.front() != ' ') buffer += ' ';
      if (alphabet) {
        byte_level::encode(word, buffer);
      } else {
        buffer += word;
      }
      tokens.words[w] = {begin, uint32_t(buffer.size())};
    }
    tokens.buffer = std::move(buffer);
  }

  bool add_prefix_space_;
  std::unique_ptr<RegexSplit> split_;
};

// Metaspace (SentencePiece style): spaces become the replacement character (U+2581 by default),
// one is put before the text as prepend_scheme says, and words are cut before each replacement.
class Metaspace : public PreTokenizer {
 public:
  Metaspace(const nlohmann::json& spec, const std::string& file) {
    const std::string where = file + ": pre_tokenizer Metaspace";
    replacement_ = spec.value("replacement", std::string("\xE2\x96\x81"));
    R1_CHECK(!replacement_.empty(), where, ": empty replacement");
    std::string scheme = spec.value("prepend_scheme", std::string());
    if (scheme.empty()) scheme = spec.value("add_prefix_space", true) ? "always" : "never";
    R1_CHECK(scheme == "always" || scheme == "never" || scheme == "first", where, ": unknown prepend_scheme '", scheme, "'");
    scheme_ = scheme;
    split_ = spec.value("split", true);
    cut_ = std::make_unique<RegexSplit>(Regex(escape_literal(replacement_), where), Behavior::merged_with_next, false);
  }

  // "first", as HF: only the word that starts the original text gets the prefix.
  void apply(PreTokens& tokens, bool first_section) const override {
    run(tokens, scheme_ == "always", scheme_ == "first" && first_section);
  }
  void run(PreTokens& tokens, bool prepend_all, bool prepend_text_start) const {
    std::string buffer, replaced;
    for (std::size_t w = 0; w < tokens.words.size(); ++w) {
      replaced.clear();
      for (char c : tokens.word(w)) {
        if (c == ' ') {
          replaced += replacement_;
        } else {
          replaced += c;
        }
      }
      const uint32_t begin = uint32_t(buffer.size());
      const bool prepend = prepend_all || (prepend_text_start && w == 0 && tokens.words[0].begin == 0);
      if (prepend && replaced.compare(0, replacement_.size(), replacement_) != 0) buffer += replacement_;
      buffer += replaced;
      tokens.words[w] = {begin, uint32_t(buffer.size())};
    }
    tokens.buffer = std::move(buffer);
    if (split_) cut_->apply(tokens, true);
  }

 private:
  std::string replacement_, scheme_;
  bool split_ = true;
  std::unique_ptr<RegexSplit> cut_;
};

class Sequence : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  void apply(PreTokens& tokens, bool first_section) const override {
    for (const auto& step : steps_) step->apply(tokens, first_section);
  }
  bool byte_level() const override {
    for (const auto& step : steps_)
      if (step->byte_level()) return true;
    return false;
  }
  std::string raw_bytes_word(std::string_view bytes) const override {
    for (const auto& step : steps_)
      if (step->byte_level()) return step->raw_bytes_word(bytes);
    return std::string(bytes);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& spec, const std::string& file) {
  if (spec.is_null()) return nullptr;
  R1_CHECK(spec.is_object() && spec.contains("type") && spec["type"].is_string(), file,
           ": \"pre_tokenizer\" must be null or an object with a \"type\"");
  const std::string type = spec["type"].get<std::string>();
  if (type == "Split") return make_split(spec, file);
  if (type == "ByteLevel")
    return std::make_unique<ByteLevel>(spec.value("add_prefix_space", true), spec.value("use_regex", true), file);
  if (type == "Digits") {
    // HF: char::is_numeric, i.e. the Unicode N classes; runs of them unless individual_digits.
    const bool individual = spec.value("individual_digits", false);
    return std::make_unique<RegexSplit>(Regex(individual ? "\\p{N}" : "\\p{N}+", file + ": pre_tokenizer Digits"),
                                        Behavior::isolated, false);
  }
  if (type == "Whitespace")
    return std::make_unique<RegexSplit>(Regex("\\w+|[^\\w\\s]+", file + ": pre_tokenizer Whitespace"),
                                        Behavior::removed, /*invert=*/true);
  if (type == "WhitespaceSplit")
    return std::make_unique<RegexSplit>(Regex("\\s+", file + ": pre_tokenizer WhitespaceSplit"), Behavior::removed, false);
  if (type == "Metaspace") return std::make_unique<Metaspace>(spec, file);
  if (type == "Sequence") {
    R1_CHECK(spec.contains("pretokenizers") && spec["pretokenizers"].is_array(), file,
             ": pre_tokenizer Sequence needs a \"pretokenizers\" array");
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const auto& step : spec["pretokenizers"])
      if (auto made = make_pre_tokenizer(step, file)) steps.push_back(std::move(made));
    return std::make_unique<Sequence>(std::move(steps));
  }
  R1_FAIL(file, ": pre_tokenizer type '", type,
          "' is not supported (r1 reads Split, Digits, ByteLevel, Metaspace, Whitespace, WhitespaceSplit, Sequence)");
}

}  // namespace r1::policy
