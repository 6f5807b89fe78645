// One forward pass over UTF-8 text yielding words (see word_scanner.h).
#include "rewards/word_scanner.h"

namespace r1::rewards {

namespace {
bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
bool is_apostrophe(char32_t c) { return c == '\'' || c == 0x2019; }
}  // namespace

bool WordScanner::next(ScannedWord& word) {
  using unicode::Script;
  while (pos_ < text_.size()) {
    const char c = text_[pos_];
    if (c == '\\' && pos_ + 1 < text_.size() && is_ascii_letter(text_[pos_ + 1])) {
      ++pos_;  // a LaTeX command: its name is no word
      while (pos_ < text_.size() && is_ascii_letter(text_[pos_])) ++pos_;
      continue;
    }
    if (is_ascii_digit(c)) {
      const std::size_t begin = pos_;
      while (pos_ < text_.size() && (is_ascii_digit(text_[pos_]) ||
                                     (text_[pos_] == '.' && pos_ + 1 < text_.size() &&
                                      is_ascii_digit(text_[pos_ + 1])))) {
        ++pos_;
      }
      if (!with_numbers_) continue;
      word = ScannedWord{text_.substr(begin, pos_ - begin), Script::none, 0, true};
      return true;
    }
    const unicode::Decoded first = unicode::decode(text_, pos_);
    const Script script = unicode::script_of(first.code_point);
    if (script == Script::none) {
      pos_ += first.length;
      continue;
    }
    const std::size_t begin = pos_;
    pos_ += first.length;
    std::size_t letters = 1;
    if (script != Script::han && script != Script::kana) {
      while (pos_ < text_.size()) {
        const unicode::Decoded next = unicode::decode(text_, pos_);
        if (unicode::script_of(next.code_point) == script) {
          ++letters;
        } else if (unicode::is_combining_mark(next.code_point)) {
          // an accent on the letter before
        } else if (script == Script::latin && is_apostrophe(next.code_point) &&
                   pos_ + next.length < text_.size() &&
                   unicode::script_of(unicode::decode(text_, pos_ + next.length).code_point) ==
                       Script::latin) {
          // an apostrophe between letters: "don't", "l'homme"
        } else {
          break;
        }
        pos_ += next.length;
      }
    }
    word = ScannedWord{text_.substr(begin, pos_ - begin), script, letters, false};
    return true;
  }
  return false;
}

}  // namespace r1::rewards
