// Decides whether a written answer means the same as a reference answer: numbers, fractions,
// roots, pi, algebraic expressions (compared at fixed points, exactly where rational), tuples,
// intervals, sets, lists, relations, matrices and word answers. Knows nothing of where the answer
// came from (see answer_extraction.h).
//
// Decisions:
// - Rational values compare exactly: 0.5 = 1/2 = \frac{2}{4}, but 0.333 != 1/3.
// - Values with an irrational part (pi, irrational roots, sin, ln) compare in double precision
//   within a relative 1e-9, so 1.41 != \sqrt{2} but a ten-digit decimal of \sqrt{2} passes.
// - Expressions with variables compare at four name-derived points: 2x+1 = 1+2*x, x^2-1 = (x-1)(x+1).
// - A bare list ("1, 2") ignores order and keeps repetition; \{...\} is a set; (1, 2) and [1, 2) are
//   ordered and their brackets must match; A \cup B ignores the order of its parts.
// - "x = 5" equals "5" (a lone variable on the left is a label); other relations compare sides.
// - Several candidates never match one reference: "3, 5" is a list, not 5; "5 or 6" is no number.
// - What cannot be read as math is compared by its spelling, decorations removed.
// - "100,200" is read both as 100200 and as the list 100, 200: the string is ambiguous, not the
//   answerer, and "\{98,99,100\}" must not become 9,899,100.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "rewards/math_parser.h"
#include "rewards/math_syntax.h"

namespace r1::rewards::math {

// One way of reading an answer.
struct Reading {
  std::string spelling;  // joined tokens: the last resort of comparison
  std::string words;     // non-empty for a word answer ("monday", "no solution")
  ParseResult parsed;
};

// An answer read once, to be compared with many others (a reference against many completions).
// Usually one reading; two when a comma between digits may be a thousands separator or a list
// separator ("100,200"), and then the answers are equal if any readings are.
struct ReadAnswer {
  std::vector<Reading> readings;
};

ReadAnswer read_answer(std::string_view written);

bool equivalent(const ReadAnswer& answer, const ReadAnswer& reference);

// read_answer on both, then equivalent.
bool equivalent(std::string_view answer, std::string_view reference);

}  // namespace r1::rewards::math
