// The added tokens of a tokenizer.json ("added_tokens": special and non-special) found in text
// before pre-tokenization, with HF tokenizers' rules: leftmost-longest match; lstrip/rstrip take
// the whitespace beside a token into it; a single_word token matches only between non-word
// characters. Knows nothing of BPE.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace r1::policy {

struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = false;
};

class AddedTokenMatcher {
 public:
  // `patterns[i]` is what token `tokens[i]` is matched as (its content, or its content normalized).
  AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> patterns);
  ~AddedTokenMatcher();

  bool empty() const { return tokens_.empty(); }

  // Cuts `text` at the tokens it contains: on_text for each stretch between them (never empty),
  // on_token for each token, in order.
  void split(std::string_view text, const std::function<void(std::string_view)>& on_text,
             const std::function<void(int64_t)>& on_token) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;  // sorted by byte
    int32_t token = -1;                                       // index into tokens_ of a match ending here
  };
  // The longest pattern starting at text[pos]: (token index, length), or (-1, 0).
  std::pair<int32_t, std::size_t> longest_at(std::string_view text, std::size_t pos) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> trie_;
  bool first_byte_[256] = {};
  struct WordChar;
  std::unique_ptr<WordChar> word_char_;  // \w and \s, for single_word and lstrip/rstrip
};

}  // namespace r1::policy
