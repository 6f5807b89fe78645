// Tokenizers: the interface the rest of r1 uses, and the byte-level tokenizer of the built-in
// models (256 byte ids plus the special tokens the chat templates need); the BPE tokenizer of
// Hugging Face checkpoints is in policy/bpe_tokenizer.h. Special tokens written in
// text are matched as single ids, as Hugging Face tokenizers do.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace r1::policy {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // No BOS/EOS added; special tokens present in `text` become their ids.
  virtual std::vector<int64_t> encode(std::string_view text) const = 0;
  // Special tokens are rendered as their text, so decode(encode(s)) == s.
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
  virtual std::string token_text(int64_t id) const = 0;
  virtual std::optional<int64_t> special_id(std::string_view token) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t eos_id() const = 0;
  virtual int64_t pad_id() const = 0;
  virtual std::string kind() const = 0;
};

class ByteTokenizer : public Tokenizer {
 public:
  // The special tokens, in id order from 256. The first is EOS, the second padding.
  static const std::vector<std::string>& special_tokens();

  std::vector<int64_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
  std::string token_text(int64_t id) const override;
  std::optional<int64_t> special_id(std::string_view token) const override;
  int64_t vocab_size() const override;
  int64_t eos_id() const override { return 256; }  // overridable so tests can move it
  int64_t pad_id() const override { return 257; }
  std::string kind() const override { return "byte"; }
};

// Writes `tokenizer` into checkpoint directory `dir`: tokenizer_config.json, and for a BPE
// tokenizer also the tokenizer.json it was read from, so an HF checkpoint comes back loadable.
void save_tokenizer(const Tokenizer& tokenizer, const std::string& dir);
// Reads it back: `path` is the name of a built-in tokenizer ("byte"), a directory with a Hugging Face
// tokenizer.json (byte-level BPE, policy/bpe_tokenizer.h), a tokenizer.json file itself, or an r1
// checkpoint directory whose tokenizer_config.json names the byte tokenizer.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace r1::policy
