// The tokenizer of Hugging Face checkpoints: byte-level BPE (and SentencePiece-style BPE with byte
// fallback) read from tokenizer.json, as HF tokenizers runs it: added tokens are found in the raw
// text first, then each stretch between them is normalized, pre-tokenized and BPE-encoded; decoding
// runs the file's decoder. eos/pad come from tokenizer_config.json beside it when present.
// The post_processor (BOS/EOS templates), truncation and padding are not applied: r1 adds no
// BOS/EOS when encoding (stages add what a chat template says).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "policy/added_tokens.h"
#include "policy/tokenizer.h"

namespace r1::policy {

class BpeModel;
class Decoder;
class Normalizer;
class PreTokenizer;

class BpeTokenizer : public Tokenizer {
 public:
  // Reads `tokenizer_file` (a tokenizer.json) and, when the file exists, `config_file`
  // (tokenizer_config.json: eos_token, pad_token). Bad or unsupported content raises a UserError
  // naming the file and the key or type.
  BpeTokenizer(const std::string& tokenizer_file, const std::string& config_file);
  ~BpeTokenizer() override;

  std::vector<int64_t> encode(std::string_view text) const override;
  // Bytes, not always valid UTF-8: ids that end inside a character give that character's bytes so
  // far. Ids with no token (an embedding row past the vocabulary) decode to nothing, as in HF.
  std::string decode(const std::vector<int64_t>& ids) const override;
  std::string token_text(int64_t id) const override;
  // The id of an added token (special or not) with this content.
  std::optional<int64_t> special_id(std::string_view token) const override;
  int64_t vocab_size() const override;
  // tokenizer_config.json's eos_token; without one, the first added token named like an end of
  // text (<|endoftext|>, </s>, <｜end▁of▁sentence｜>, ...); -1 when none is known.
  int64_t eos_id() const override { return eos_id_; }
  // tokenizer_config.json's pad_token, else the eos id.
  int64_t pad_id() const override { return pad_id_; }
  std::string kind() const override { return "bpe"; }

  // Copies tokenizer.json (and tokenizer_config.json, or a minimal one naming eos/pad) into `dir`.
  void save(const std::string& dir) const;

 private:
  void encode_section(std::string_view text, bool at_start, std::vector<int64_t>& ids) const;
  void encode_normalized(std::string_view text, bool at_start, std::vector<int64_t>& ids) const;
  void pre_tokenize_and_merge(std::string_view text, bool at_start, std::vector<int64_t>& ids) const;

  std::string tokenizer_file_, config_file_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<Decoder> decoder_;
  std::unique_ptr<AddedTokenMatcher> raw_added_;         // normalized: false, matched in the raw text
  std::unique_ptr<AddedTokenMatcher> normalized_added_;  // normalized: true, matched after normalizing
  std::unordered_map<int64_t, std::string> added_by_id_;
  std::unordered_map<std::string, int64_t> added_by_content_;
  int64_t vocab_size_ = 0, eos_id_ = -1, pad_id_ = -1;
};

}  // namespace r1::policy
