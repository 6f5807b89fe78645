// The shapes a written math answer is read into: tokens (from math_lexer) and an expression tree
// (from math_parser). Plain data; the reading and the judging live elsewhere.
#pragma once

#include <string>
#include <vector>

#include "rewards/rational.h"

namespace r1::rewards::math {

enum class TokenKind {
  number,    // "12", "0.5", "1234" (thousands separators already removed)
  symbol,    // one variable: "x", "x_1", "alpha"
  word,      // a run of two or more letters that is no known name: "cm", "Monday", "xy"
  function,  // a known function: "frac", "sqrt", "binom", "sin", "log", ...
  constant,  // "pi", "infinity", "emptyset"
  op,        // punctuation and operators: + - * / ^ ( ) [ ] { } \{ \} , | ! = < > <= >= != & \\ cup
  text,      // the content of \text{...} and its kin, kept raw
  begin,     // \begin{pmatrix} and the like: the environment's name
  end,       // \end{...}
  invalid,   // something no math answer holds (\pm, an unknown command, stray bytes)
};

struct Token {
  TokenKind kind = TokenKind::invalid;
  std::string text;
  bool space_before = false;  // "2 1/2" (a mixed number) differs from "21/2"
};

enum class NodeKind {
  number,     // value
  symbol,     // name
  pi,
  infinity,
  negate,     // children: [operand]
  add,        // children: terms
  multiply,   // children: factors
  divide,     // children: [numerator, denominator]
  power,      // children: [base, exponent]
  function,   // name; children: arguments ("root": [radicand, index]; "log": [argument, base])
  factorial,  // children: [operand]
  tuple,      // ordered, between open and close: (1,2), [0,1), also intervals
  set,        // \{1,2\}: order and repetition do not matter
  list,       // a bare "1, 2, 3": order does not matter, repetition does
  union_of,   // A \cup B: order does not matter
  relation,   // name: "=", "<", "<=", ">", ">=", "!="; children: [left, right]
  matrix,     // columns; children: the entries row by row
};

struct Node {
  NodeKind kind = NodeKind::number;
  std::vector<int> children;  // indices into Expression::nodes
  Rational value;             // number
  std::string name;           // symbol, function, relation
  char open = 0;              // tuple brackets: '(' or '[' ...
  char close = 0;             // ... and ')' or ']'
  int columns = 0;            // matrix
};

struct Expression {
  std::vector<Node> nodes;
  int root = -1;
};

}  // namespace r1::rewards::math
