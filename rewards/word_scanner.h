// Splits text into words for the text-statistics rewards (language_consistency, repetition):
// runs of letters of one script (with combining accents, and apostrophes inside Latin words:
// "don't", "l'homme"), each Han or kana character on its own (Chinese and Japanese do not put
// spaces between words), and optionally numbers. LaTeX command names (\frac, \text) are skipped;
// punctuation, symbols and spaces separate. Knows no languages.
#pragma once

#include <cstddef>
#include <string_view>

#include "rewards/unicode_text.h"

namespace r1::rewards {

struct ScannedWord {
  std::string_view text;
  unicode::Script script = unicode::Script::none;  // none for a number
  std::size_t letters = 0;                         // letters (code points) in the word
  bool is_number = false;
};

class WordScanner {
 public:
  WordScanner(std::string_view text, bool with_numbers) : text_(text), with_numbers_(with_numbers) {}
  // The next word into `word`; false at the end of the text.
  bool next(ScannedWord& word);

 private:
  std::string_view text_;
  bool with_numbers_;
  std::size_t pos_ = 0;
};

}  // namespace r1::rewards
