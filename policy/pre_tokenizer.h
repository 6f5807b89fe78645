// The pre-tokenizers of a Hugging Face tokenizer.json ("pre_tokenizer" key): Split (a regex or a
// string, with its delimiter behaviour and invert), Digits, ByteLevel (the GPT-2 split and the byte
// alphabet), Metaspace, Whitespace, WhitespaceSplit, and a Sequence of them. They cut normalized
// text into the words BPE sees. Knows nothing of vocabularies.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace r1::policy {

// The words so far: ranges into one buffer. A splitting step only re-cuts the ranges; a step that
// rewrites text (the byte alphabet, a prefix space) builds a new buffer.
struct PreTokens {
  std::string buffer;
  struct Range {
    uint32_t begin, end;
  };
  std::vector<Range> words;

  std::string_view word(std::size_t i) const {
    return std::string_view(buffer).substr(words[i].begin, words[i].end - words[i].begin);
  }
  // Starts over with `text` as the one word (none when empty).
  void reset(std::string_view text);
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Cuts (and possibly rewrites) every word of `tokens`, valid UTF-8. `first_section`: the words
  // are the text's start, not what follows an added token (Metaspace's prepend_scheme "first").
  virtual void apply(PreTokens& tokens, bool first_section) const = 0;
  // Whether the words come out in the GPT-2 byte alphabet (a ByteLevel step ran).
  virtual bool byte_level() const { return false; }
  // Maps bytes that are not valid UTF-8 to what this pre-tokenizer would make of them: the byte
  // alphabet after a ByteLevel step, else unchanged. (HF tokenizers take only valid text; r1 keeps
  // any bytes so that decode(encode(s)) == s.)
  virtual std::string raw_bytes_word(std::string_view bytes) const;
};

// The pre-tokenizer `spec` declares; nullptr for JSON null (the whole text is one word). An
// unknown type raises a UserError naming `file` and the type.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& spec, const std::string& file);

}  // namespace r1::policy
