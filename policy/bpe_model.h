// The BPE model of a tokenizer.json ("model": {"type": "BPE", ...}): vocabulary, merges by rank
// (either serialization: "a b" strings or [a, b] pairs), unk / fuse_unk, byte_fallback
// (SentencePiece's <0xXX> tokens), continuing_subword_prefix, end_of_word_suffix, ignore_merges.
// Turns one pre-token word into ids, with a bounded per-word cache. Knows nothing of text
// normalization or added tokens.
#pragma once

#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace r1::policy {

class BpeModel {
 public:
  // `file` names the tokenizer.json in error messages.
  BpeModel(const nlohmann::json& spec, const std::string& file);

  // Appends the ids of `word` (one pre-token, in the model's alphabet) to `out`.
  void encode_word(std::string_view word, std::vector<int64_t>& out) const;

  std::optional<int64_t> token_id(std::string_view token) const;
  // The vocabulary entry with id `id`; empty when no entry has it (an added token's id, a gap).
  const std::string& token(int64_t id) const;
  // One past the largest id in the vocabulary.
  int64_t size() const { return int64_t(id_to_token_.size()); }

  // Words longer than this are not cached (they rarely repeat); the cache is emptied when it
  // holds kCacheWords, so memory stays bounded on any input.
  static constexpr std::size_t kMaxCachedBytes = 256;
  static constexpr std::size_t kCacheWords = 1 << 16;

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Vocab = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;
  struct Merge {
    int32_t rank;
    int32_t merged_id;
  };
  static uint64_t pair_key(int32_t left, int32_t right) { return (uint64_t(uint32_t(left)) << 32) | uint32_t(right); }

  void merge_word(std::string_view word, std::vector<int32_t>& ids) const;

  Vocab vocab_;
  std::vector<std::string> id_to_token_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  std::string continuing_subword_prefix_, end_of_word_suffix_;
  int32_t byte_fallback_ids_[256];  // <0xXX> ids, -1 where the vocabulary lacks one
  // Ids of the one-character tokens below U+0180 (the whole GPT-2 byte alphabet), -1 where there is
  // none: a word's first step without a hash lookup per character.
  int32_t small_char_ids_[0x180];

  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace r1::policy
