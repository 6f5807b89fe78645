// Parses math answer tokens into an expression tree: arithmetic with the usual precedence and
// implicit multiplication ("2x", "3\sqrt{2}"), \frac and its shorthand (\frac12), mixed numbers
// ("2\frac{1}{2}", "2 1/2" are 5/2), roots, a few functions, tuples, intervals, sets, bare lists,
// unions, one relation, matrices. Bounded: at most kMaxNodes nodes and kMaxDepth nesting, so no
// answer can make it recurse or allocate without limit.
#pragma once

#include <string>
#include <vector>

#include "rewards/math_syntax.h"

namespace r1::rewards::math {

constexpr std::size_t kMaxNodes = 2000;
constexpr int kMaxDepth = 64;

struct ParseResult {
  bool ok = false;
  Expression expression;  // when ok
  std::string error;      // when not: what could not be read
};

ParseResult parse(std::vector<Token> tokens);

}  // namespace r1::rewards::math
