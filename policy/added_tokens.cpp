// Added-token matching over a byte trie of the patterns. Most text positions are rejected by the
// first-byte table alone (added tokens of these files start with '<'), so matching costs little.
#include "policy/added_tokens.h"

#include <algorithm>

#include "common/error.h"
#include "policy/regex.h"
#include "policy/utf8.h"

namespace r1::policy {

struct AddedTokenMatcher::WordChar {
  Regex word{"^\\w", "added tokens"};
  Regex space{"^\\s", "added tokens"};
};

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> patterns)
    : tokens_(std::move(tokens)), trie_(1), word_char_(std::make_unique<WordChar>()) {
  R1_ASSERT(tokens_.size() == patterns.size());
  for (std::size_t t = 0; t < tokens_.size(); ++t) {
    const std::string& pattern = patterns[t];
    if (pattern.empty()) continue;
    first_byte_[static_cast<unsigned char>(pattern[0])] = true;
    int32_t node = 0;
    for (unsigned char byte : pattern) {
      auto& children = trie_[node].children;
      auto it = std::lower_bound(children.begin(), children.end(), byte,
                                 [](const auto& child, unsigned char b) { return child.first < b; });
      if (it == children.end() || it->first != byte) {
        const int32_t created = int32_t(trie_.size());
        it = children.insert(it, {byte, created});
        trie_.emplace_back();  // invalidates `children`; `created` is kept
        node = created;
      } else {
        node = it->second;
      }
    }
    // Two tokens with the same pattern: the first listed wins, as a set of patterns would have it.
    if (trie_[node].token < 0) trie_[node].token = int32_t(t);
  }
}

AddedTokenMatcher::~AddedTokenMatcher() = default;

std::pair<int32_t, std::size_t> AddedTokenMatcher::longest_at(std::string_view text, std::size_t pos) const {
  std::pair<int32_t, std::size_t> best{-1, 0};
  int32_t node = 0;
  for (std::size_t at = pos; at < text.size(); ++at) {
    const auto& children = trie_[node].children;
    const unsigned char byte = text[at];
    auto it = std::lower_bound(children.begin(), children.end(), byte,
                               [](const auto& child, unsigned char b) { return child.first < b; });
    if (it == children.end() || it->first != byte) break;
    node = it->second;
    if (trie_[node].token >= 0) best = {trie_[node].token, at + 1 - pos};
  }
  return best;
}

void AddedTokenMatcher::split(std::string_view text, const std::function<void(std::string_view)>& on_text,
                              const std::function<void(int64_t)>& on_token) const {
  const auto char_at = [&](std::size_t pos) { return text.substr(pos, utf8::char_length(text, pos)); };
  const auto valid_char_at = [&](std::size_t pos) { return utf8::valid_char_length(text, pos) > 0; };
  // The start of the last character before `pos` (text is scanned from `floor`).
  const auto char_before = [&](std::size_t floor, std::size_t pos) {
    std::size_t start = floor;
    for (std::size_t at = floor; at < pos; at += utf8::char_length(text, at)) start = at;
    return start;
  };

  std::size_t emitted = 0;  // end of what has been handed out
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (!first_byte_[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    const auto [index, length] = longest_at(text, pos);
    if (index < 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[index];
    std::size_t begin = pos, end = pos + length;
    if (token.single_word) {
      const bool word_before =
          begin > emitted && [&] {
            const std::size_t before = char_before(emitted, begin);
            return valid_char_at(before) && word_char_->word.search(char_at(before));
          }();
      const bool word_after = end < text.size() && valid_char_at(end) && word_char_->word.search(char_at(end));
      if (word_before || word_after) {
        pos = end;  // as HF: a rejected match is text, and matching goes on after it
        continue;
      }
    }
    if (token.lstrip) {
      // Back over the whitespace before the token, but not into what was already handed out.
      std::size_t last_non_space_end = emitted;
      for (std::size_t at = emitted; at < begin; at += utf8::char_length(text, at))
        if (!(valid_char_at(at) && word_char_->space.search(char_at(at)))) last_non_space_end = at + utf8::char_length(text, at);
      begin = last_non_space_end;
    }
    if (token.rstrip)
      while (end < text.size() && valid_char_at(end) && word_char_->space.search(char_at(end)))
        end += utf8::char_length(text, end);
    if (begin > emitted) on_text(text.substr(emitted, begin - emitted));
    on_token(token.id);
    emitted = pos = end;
  }
  if (emitted < text.size()) on_text(text.substr(emitted));
}

}  // namespace r1::policy
