// Evaluates a scalar expression tree (from math_parser) at one assignment of its variables: exactly
// (rationals) where it can, in double precision where it must (pi, irrational roots, sin, ln),
// never without bound (exact results past kMaxExactBits turn inexact or unknown).
#pragma once

#include <string>

#include "rewards/math_syntax.h"

namespace r1::rewards::math {

struct Value {
  enum class Kind {
    exact,        // `exact` holds it
    approximate,  // `approx` holds it, a finite double
    infinite,     // +-infinity (`sign`), as an interval end
    undefined,    // outside the domain: division by zero, sqrt(-1), 0^-1, ln(0)
    unknown,      // cannot be computed here: too large, or not a number (a tuple inside a sum)
  };
  Kind kind = Kind::unknown;
  Rational exact;
  double approx = 0.0;
  int sign = 0;
};

// Whether a node kind is a number-valued expression (as opposed to a tuple, set, relation, ...).
bool is_scalar(NodeKind kind);

// The value of variable `name` at evaluation point `point`: a fixed, name-derived rational, so
// every expression mentioning x sees the same x without sharing any state between threads.
Rational variable_value(const std::string& name, int point);

// Evaluates the subtree at `node` with every variable at its `point` value. Recursion depth is
// bounded by the parser's kMaxDepth.
Value evaluate(const Expression& expression, int node, int point);

// Whether the subtree at `node` mentions any variable.
bool has_variables(const Expression& expression, int node);

}  // namespace r1::rewards::math
