// Bounded exact operations on rationals: decimal literals, rational roots, capped powers.
#include "rewards/rational.h"

#include <cstdlib>

namespace r1::rewards {

namespace {

namespace mp = boost::multiprecision;

std::size_t integer_bits(const BigInt& value) {
  if (value == 0) return 0;
  return mp::msb(mp::abs(value)) + 1;
}

// floor(value^(1/degree)) for value >= 0 by Newton's method on integers: each step is exact, and
// the iteration decreases monotonically once above the root, so it stops in O(log bits) steps.
BigInt integer_root_floor(const BigInt& value, unsigned degree) {
  if (value < 2 || degree == 1) return value;
  const std::size_t bits = integer_bits(value);
  BigInt guess = BigInt(1) << ((bits + degree - 1) / degree);  // >= the root
  while (true) {
    BigInt next = ((degree - 1) * guess + value / mp::pow(guess, degree - 1)) / degree;
    if (next >= guess) return guess;
    guess = next;
  }
}

std::optional<BigInt> exact_integer_root(const BigInt& value, unsigned degree) {
  const BigInt root = integer_root_floor(value, degree);
  if (mp::pow(root, degree) == value) return root;
  return std::nullopt;
}

}  // namespace

std::size_t bit_size(const Rational& value) {
  return integer_bits(mp::numerator(value)) + integer_bits(mp::denominator(value));
}

bool is_integer(const Rational& value) { return mp::denominator(value) == 1; }

std::optional<Rational> parse_decimal(std::string_view literal) {
  if (literal.empty() || literal.size() > 2000) return std::nullopt;
  BigInt digits = 0;
  BigInt scale = 1;
  bool seen_dot = false;
  bool seen_digit = false;
  for (char c : literal) {
    if (c == '.') {
      if (seen_dot) return std::nullopt;
      seen_dot = true;
    } else if (c >= '0' && c <= '9') {
      digits = digits * 10 + (c - '0');
      if (seen_dot) scale *= 10;
      seen_digit = true;
    } else {
      return std::nullopt;
    }
  }
  if (!seen_digit) return std::nullopt;
  return Rational(digits, scale);
}

std::optional<Rational> exact_root(const Rational& value, unsigned degree) {
  if (degree < 1 || degree > 64 || bit_size(value) > kMaxExactBits) return std::nullopt;
  if (degree == 1) return value;
  const bool negative = value < 0;
  if (negative && degree % 2 == 0) return std::nullopt;
  const BigInt numerator = mp::abs(mp::numerator(value));
  std::optional<BigInt> top = exact_integer_root(numerator, degree);
  if (!top) return std::nullopt;
  std::optional<BigInt> bottom = exact_integer_root(mp::denominator(value), degree);
  if (!bottom) return std::nullopt;
  Rational root(*top, *bottom);
  return negative ? Rational(-root) : root;
}

std::optional<Rational> exact_power(const Rational& base, long long exponent) {
  if (exponent == 0) return Rational(1);
  if (base == 0) return exponent > 0 ? std::optional<Rational>(Rational(0)) : std::nullopt;
  if (base == 1) return Rational(1);
  if (base == -1) return Rational(exponent % 2 == 0 ? 1 : -1);
  const unsigned long long magnitude = static_cast<unsigned long long>(std::llabs(exponent));
  // Estimate the result's size before computing it: bits(x^k) <= k * bits(x).
  if (magnitude > kMaxExactBits || bit_size(base) * magnitude > kMaxExactBits) return std::nullopt;
  const unsigned power = static_cast<unsigned>(magnitude);
  Rational raised(mp::pow(mp::numerator(base), power), mp::pow(mp::denominator(base), power));
  if (exponent < 0) raised = 1 / raised;
  return raised;
}

std::string to_string(const Rational& value) { return value.str(); }

}  // namespace r1::rewards
