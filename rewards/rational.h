// Exact numbers for the verifiers: arbitrary-precision rationals (Boost.Multiprecision, header-only)
// and the few bounded operations on them that the verifiers need. Knows nothing of text formats
// beyond plain decimal literals.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/multiprecision/cpp_int.hpp>

namespace r1::rewards {

using BigInt = boost::multiprecision::cpp_int;
using Rational = boost::multiprecision::cpp_rational;

// Beyond this many bits (numerator plus denominator) a verifier stops computing exactly: an answer
// like 9^9^9 must not make a reward allocate gigabytes or spin for minutes.
constexpr std::size_t kMaxExactBits = 8192;

// Bits of |numerator| plus bits of the denominator; 0 for zero.
std::size_t bit_size(const Rational& value);

// "12", "0.125", ".5", "007" -> exact value; nullopt for anything else (signs and separators are
// the caller's business).
std::optional<Rational> parse_decimal(std::string_view literal);

// The exact `degree`-th root of `value` when it is rational (27/8 -> 3/2 for degree 3), for
// degree in [1, 64]; a negative value has one only for odd degrees. nullopt when the root is
// irrational, the degree out of range or the value over kMaxExactBits.
std::optional<Rational> exact_root(const Rational& value, unsigned degree);

// base^exponent exactly, when the result stays within kMaxExactBits; nullopt otherwise or for 0
// to a negative power.
std::optional<Rational> exact_power(const Rational& base, long long exponent);

bool is_integer(const Rational& value);

// "3", "-7/2": for reasons.
std::string to_string(const Rational& value);

}  // namespace r1::rewards
