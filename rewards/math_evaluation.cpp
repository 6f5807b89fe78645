// Exact-where-possible evaluation of math expression trees at fixed variable assignments.
#include "rewards/math_evaluation.h"

#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

namespace r1::rewards::math {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr unsigned kMaxFactorial = 900;   // 900! has about 7,600 bits: within kMaxExactBits
constexpr long long kMaxBinomialN = 100000;

using Kind = Value::Kind;

Value make_exact(Rational value) {
  Value result;
  if (bit_size(value) <= kMaxExactBits) {
    result.kind = Kind::exact;
    result.exact = std::move(value);
    return result;
  }
  const double approx = value.convert_to<double>();
  if (!std::isfinite(approx)) return Value{};  // unknown: too large to judge
  result.kind = Kind::approximate;
  result.approx = approx;
  return result;
}

Value make_approx(double approx) {
  Value result;
  if (std::isnan(approx)) {
    result.kind = Kind::undefined;
  } else if (std::isinf(approx)) {
    result.kind = Kind::unknown;  // an overflow, not a true infinity
  } else {
    result.kind = Kind::approximate;
    result.approx = approx;
  }
  return result;
}

Value make_kind(Kind kind, int sign = 0) {
  Value result;
  result.kind = kind;
  result.sign = sign;
  return result;
}

bool is_finite(const Value& v) { return v.kind == Kind::exact || v.kind == Kind::approximate; }

double as_double(const Value& v) {
  return v.kind == Kind::exact ? v.exact.convert_to<double>() : v.approx;
}

int sign_of(const Value& v) {
  if (v.kind == Kind::infinite) return v.sign;
  if (v.kind == Kind::exact) return v.exact.sign();
  return v.approx > 0 ? 1 : (v.approx < 0 ? -1 : 0);
}

bool is_zero(const Value& v) { return is_finite(v) && sign_of(v) == 0; }

// The first of two operands that makes the result undefined or unknown, if any.
std::optional<Value> poisoned(const Value& a, const Value& b) {
  if (a.kind == Kind::undefined || b.kind == Kind::undefined) return make_kind(Kind::undefined);
  if (a.kind == Kind::unknown || b.kind == Kind::unknown) return make_kind(Kind::unknown);
  return std::nullopt;
}

Value negate(Value v) {
  if (v.kind == Kind::exact) v.exact = -v.exact;
  if (v.kind == Kind::approximate) v.approx = -v.approx;
  v.sign = -v.sign;
  return v;
}

Value add(const Value& a, const Value& b) {
  if (std::optional<Value> bad = poisoned(a, b)) return *bad;
  if (a.kind == Kind::infinite || b.kind == Kind::infinite) {
    if (a.kind == Kind::infinite && b.kind == Kind::infinite && a.sign != b.sign) {
      return make_kind(Kind::undefined);
    }
    return make_kind(Kind::infinite, a.kind == Kind::infinite ? a.sign : b.sign);
  }
  if (a.kind == Kind::exact && b.kind == Kind::exact) return make_exact(a.exact + b.exact);
  return make_approx(as_double(a) + as_double(b));
}

Value multiply(const Value& a, const Value& b) {
  if (std::optional<Value> bad = poisoned(a, b)) return *bad;
  if (a.kind == Kind::infinite || b.kind == Kind::infinite) {
    const int sign = sign_of(a) * sign_of(b);
    return sign == 0 ? make_kind(Kind::undefined) : make_kind(Kind::infinite, sign);
  }
  if (a.kind == Kind::exact && b.kind == Kind::exact) return make_exact(a.exact * b.exact);
  return make_approx(as_double(a) * as_double(b));
}

Value divide(const Value& a, const Value& b) {
  if (std::optional<Value> bad = poisoned(a, b)) return *bad;
  if (is_zero(b)) return make_kind(Kind::undefined);
  if (b.kind == Kind::infinite) {
    return a.kind == Kind::infinite ? make_kind(Kind::undefined) : make_exact(Rational(0));
  }
  if (a.kind == Kind::infinite) return make_kind(Kind::infinite, a.sign * sign_of(b));
  if (a.kind == Kind::exact && b.kind == Kind::exact) return make_exact(a.exact / b.exact);
  return make_approx(as_double(a) / as_double(b));
}

// base^(1/degree) for a positive integer degree: exact when the root is rational.
Value root(const Value& base, const Rational& degree) {
  if (!is_finite(base)) return base.kind == Kind::infinite ? make_kind(Kind::unknown) : base;
  if (!is_integer(degree) || degree < 1 || degree > 64) {
    return make_kind(degree <= 0 ? Kind::undefined : Kind::unknown);
  }
  const unsigned n = degree.convert_to<unsigned>();
  if (base.kind == Kind::exact) {
    if (std::optional<Rational> exact = exact_root(base.exact, n)) return make_exact(*exact);
  }
  const double x = as_double(base);
  if (x < 0) return n % 2 == 1 ? make_approx(-std::pow(-x, 1.0 / n)) : make_kind(Kind::undefined);
  return make_approx(std::pow(x, 1.0 / n));
}

Value power(const Value& base, const Value& exponent) {
  if (std::optional<Value> bad = poisoned(base, exponent)) return *bad;
  if (base.kind == Kind::infinite || exponent.kind == Kind::infinite) return make_kind(Kind::unknown);
  if (base.kind == Kind::exact && exponent.kind == Kind::exact) {
    const Rational& e = exponent.exact;
    if (base.exact == 0 && e < 0) return make_kind(Kind::undefined);
    const BigInt top = boost::multiprecision::numerator(e);
    const BigInt bottom = boost::multiprecision::denominator(e);
    // Exponents past kMaxExactBits can only give results too large (or too close to 0/1) to
    // compute exactly; let them fall through to doubles.
    if (boost::multiprecision::abs(top) <= kMaxExactBits && bottom <= 64) {
      const long long numerator = top.convert_to<long long>();
      Value rooted = bottom == 1 ? base : root(base, Rational(bottom));
      if (rooted.kind == Kind::exact) {
        if (std::optional<Rational> raised = exact_power(rooted.exact, numerator)) {
          return make_exact(*raised);
        }
      }
      if (rooted.kind == Kind::undefined) return rooted;
      if (rooted.kind == Kind::approximate) return make_approx(std::pow(rooted.approx, numerator));
    }
  }
  const double b = as_double(base);
  const double e = as_double(exponent);
  if (b == 0 && e < 0) return make_kind(Kind::undefined);
  const double raised = std::pow(b, e);  // NaN (undefined) for a negative base and fractional e
  // Underflow to 0 loses the value as surely as overflow: x^1000000 and x^1000001 are not equal
  // just because both round to 0 for x < 1.
  if (raised == 0 && b != 0) return make_kind(Kind::unknown);
  return make_approx(raised);
}

Value factorial(const Value& v) {
  if (v.kind != Kind::exact) return v.kind == Kind::undefined ? v : make_kind(Kind::unknown);
  if (!is_integer(v.exact) || v.exact < 0) return make_kind(Kind::undefined);
  if (v.exact > kMaxFactorial) return make_kind(Kind::unknown);
  const unsigned n = v.exact.convert_to<unsigned>();
  BigInt product = 1;
  for (unsigned k = 2; k <= n; ++k) product *= k;
  return make_exact(Rational(product));
}

Value binomial(const Value& n_value, const Value& k_value) {
  if (std::optional<Value> bad = poisoned(n_value, k_value)) return *bad;
  if (n_value.kind != Kind::exact || k_value.kind != Kind::exact) return make_kind(Kind::unknown);
  const Rational& n = n_value.exact;
  const Rational& k = k_value.exact;
  if (!is_integer(n) || !is_integer(k) || n < 0) return make_kind(Kind::undefined);
  if (k < 0 || k > n) return make_exact(Rational(0));
  if (n > kMaxBinomialN) return make_kind(Kind::unknown);
  const long long total = n.convert_to<long long>();
  long long chosen = k.convert_to<long long>();
  chosen = std::min(chosen, total - chosen);
  BigInt result = 1;
  for (long long i = 1; i <= chosen; ++i) {
    result = result * (total - chosen + i) / i;  // exact at every step: C(m, i) is an integer
    if (boost::multiprecision::msb(result) > kMaxExactBits) return make_kind(Kind::unknown);
  }
  return make_exact(Rational(result));
}

// sin, ln, ...: doubles only. A domain error is undefined, as for exact operations.
Value transcendental(const std::string& name, const Value& argument, const Value* base) {
  if (!is_finite(argument) || (base && !is_finite(*base))) {
    if (argument.kind == Kind::undefined || (base && base->kind == Kind::undefined)) {
      return make_kind(Kind::undefined);
    }
    return make_kind(Kind::unknown);
  }
  const double x = as_double(argument);
  if (name == "sin") return make_approx(std::sin(x));
  if (name == "cos") return make_approx(std::cos(x));
  if (name == "tan") return make_approx(std::tan(x));
  if (name == "cot") return make_approx(1.0 / std::tan(x));
  if (name == "sec") return make_approx(1.0 / std::cos(x));
  if (name == "csc") return make_approx(1.0 / std::sin(x));
  if (name == "sinh") return make_approx(std::sinh(x));
  if (name == "cosh") return make_approx(std::cosh(x));
  if (name == "tanh") return make_approx(std::tanh(x));
  if (name == "arcsin") return make_approx(std::asin(x));  // NaN outside [-1, 1]
  if (name == "arccos") return make_approx(std::acos(x));
  if (name == "arctan") return make_approx(std::atan(x));
  if (name == "exp") return make_approx(std::exp(x));
  if (x <= 0) return make_kind(Kind::undefined);
  if (name == "ln") return make_approx(std::log(x));
  if (name == "log") {
    // \log without a base is base 10, as in contest problems; \log_b x is base b.
    if (!base) return make_approx(std::log10(x));
    const double b = as_double(*base);
    if (b <= 0 || b == 1) return make_kind(Kind::undefined);
    return make_approx(std::log(x) / std::log(b));
  }
  return make_kind(Kind::unknown);
}

// FNV-1a over the name and the point: a deterministic, well-spread 64-bit number.
std::uint64_t hash_name(const std::string& name, int point) {
  std::uint64_t hash = 1469598103934665603ull;
  auto mix = [&](unsigned char byte) {
    hash ^= byte;
    hash *= 1099511628211ull;
  };
  for (char c : name) mix(static_cast<unsigned char>(c));
  mix(0xFF);
  mix(static_cast<unsigned char>(point));
  hash ^= hash >> 29;
  hash *= 0xBF58476D1CE4E5B9ull;
  hash ^= hash >> 32;
  return hash;
}

}  // namespace

bool is_scalar(NodeKind kind) {
  switch (kind) {
    case NodeKind::tuple:
    case NodeKind::set:
    case NodeKind::list:
    case NodeKind::union_of:
    case NodeKind::relation:
    case NodeKind::matrix:
      return false;
    default:
      return true;
  }
}

Rational variable_value(const std::string& name, int point) {
  // Positive non-integers between about 0.5 and 1000: inside the domain of roots and logs, and
  // away from the special values (0, 1, small integers) where different formulas agree.
  const std::uint64_t hash = hash_name(name, point);
  const long long numerator = 1000 + static_cast<long long>(hash % 1000003);
  const long long denominator = 1009 + static_cast<long long>((hash >> 40) % 997);
  return Rational(numerator, denominator);
}

Value evaluate(const Expression& expression, int node_index, int point) {
  const Node& node = expression.nodes[node_index];
  const std::vector<int>& children = node.children;
  auto child = [&](std::size_t i) { return evaluate(expression, children[i], point); };
  switch (node.kind) {
    case NodeKind::number:
      return make_exact(node.value);
    case NodeKind::symbol:
      return make_exact(variable_value(node.name, point));
    case NodeKind::pi:
      return make_approx(kPi);
    case NodeKind::infinity:
      return make_kind(Kind::infinite, 1);
    case NodeKind::negate:
      return negate(child(0));
    case NodeKind::add: {
      Value sum = child(0);
      for (std::size_t i = 1; i < children.size(); ++i) sum = add(sum, child(i));
      return sum;
    }
    case NodeKind::multiply: {
      Value product = child(0);
      for (std::size_t i = 1; i < children.size(); ++i) product = multiply(product, child(i));
      return product;
    }
    case NodeKind::divide:
      return divide(child(0), child(1));
    case NodeKind::power:
      return power(child(0), child(1));
    case NodeKind::factorial:
      return factorial(child(0));
    case NodeKind::function: {
      if (node.name == "sqrt") return root(child(0), Rational(2));
      if (node.name == "root") {
        const Value index = child(1);
        if (index.kind != Kind::exact) return make_kind(Kind::unknown);
        return root(child(0), index.exact);
      }
      if (node.name == "abs") {
        Value v = child(0);
        return sign_of(v) < 0 ? negate(v) : v;
      }
      if (node.name == "binom") return binomial(child(0), child(1));
      const Value argument = child(0);
      if (children.size() > 1) {
        const Value base = child(1);
        return transcendental(node.name, argument, &base);
      }
      return transcendental(node.name, argument, nullptr);
    }
    default:
      return make_kind(Kind::unknown);  // a tuple, set or relation where a number should be
  }
}

bool has_variables(const Expression& expression, int node_index) {
  const Node& node = expression.nodes[node_index];
  if (node.kind == NodeKind::symbol) return true;
  for (int child : node.children) {
    if (has_variables(expression, child)) return true;
  }
  return false;
}

}  // namespace r1::rewards::math
