// Reads a written math answer (LaTeX or plain text) into tokens, dropping what decorates an answer
// but is not its value: $ and \( \) delimiters, \left/\right, spacing commands, \boxed, degree
// signs, percent signs, thousands separators, a trailing period, trailing unit words. Knows nothing
// of precedence or of values (that is math_parser and math_evaluation).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "rewards/math_syntax.h"

namespace r1::rewards::math {

// How to read commas between digit groups: "1,234" is one thousand two hundred thirty-four, but
// "\{98,99,100,101\}" is four numbers. The string alone cannot say, so it is read both ways.
enum class Commas { thousands, separators };

// The tokens of an answer, decorations dropped. Linear in the answer's length; never throws.
// `joined_thousands`, when given, is set to whether any comma was read as a thousands separator
// (only then does reading with Commas::separators give something else).
std::vector<Token> read_tokens(std::string_view answer, Commas commas = Commas::thousands,
                               bool* joined_thousands = nullptr);

// The tokens written back as one string without spaces: the answer's canonical spelling, used
// when it cannot be read as math (two unreadable answers are equal only if spelt alike).
std::string joined_text(const std::vector<Token>& tokens);

// When the answer is only words ("Monday", "\text{odd}", "no solution"): those words, lowercased,
// separated by single spaces; empty otherwise.
std::string word_answer(const std::vector<Token>& tokens);

}  // namespace r1::rewards::math
