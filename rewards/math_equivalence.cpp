// Structural comparison of two parsed answers, with scalar parts compared by value (see
// math_equivalence.h for the decisions).
#include "rewards/math_equivalence.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "rewards/math_evaluation.h"
#include "rewards/math_lexer.h"

namespace r1::rewards::math {

namespace {

constexpr int kPointsWithVariables = 4;
constexpr double kRelativeTolerance = 1e-9;
constexpr double kAbsoluteTolerance = 1e-12;  // for irrational values that should be 0, like sin(pi)

// Unknown: this comparison cannot be decided by value (too large, not a number); the caller
// falls back to comparing spellings.
enum class Match { equal, different, unknown };

// A scalar subtree's values at the evaluation points: one value without variables, else one per point.
std::vector<Value> values_of(const Expression& expression, int node) {
  const int points = has_variables(expression, node) ? kPointsWithVariables : 1;
  std::vector<Value> values;
  values.reserve(points);
  for (int point = 0; point < points; ++point) values.push_back(evaluate(expression, node, point));
  return values;
}

enum class PointMatch { equal, different, unknown, both_undefined };

PointMatch compare_values(const Value& a, const Value& b) {
  using Kind = Value::Kind;
  if (a.kind == Kind::undefined || b.kind == Kind::undefined) {
    return a.kind == b.kind ? PointMatch::both_undefined : PointMatch::different;
  }
  if (a.kind == Kind::unknown || b.kind == Kind::unknown) return PointMatch::unknown;
  if (a.kind == Kind::infinite || b.kind == Kind::infinite) {
    return a.kind == b.kind && a.sign == b.sign ? PointMatch::equal : PointMatch::different;
  }
  if (a.kind == Kind::exact && b.kind == Kind::exact) {
    return a.exact == b.exact ? PointMatch::equal : PointMatch::different;
  }
  const double x = a.kind == Kind::exact ? a.exact.convert_to<double>() : a.approx;
  const double y = b.kind == Kind::exact ? b.exact.convert_to<double>() : b.approx;
  const double difference = std::fabs(x - y);
  const double scale = std::max(std::fabs(x), std::fabs(y));
  return difference <= kRelativeTolerance * scale || difference <= kAbsoluteTolerance
             ? PointMatch::equal
             : PointMatch::different;
}

Match compare_scalars(const std::vector<Value>& a, const std::vector<Value>& b) {
  const std::size_t points = std::max(a.size(), b.size());
  bool any_unknown = false;
  bool any_defined = false;
  for (std::size_t point = 0; point < points; ++point) {
    // A side without variables has one value, the same at every point.
    const Value& x = a[std::min(point, a.size() - 1)];
    const Value& y = b[std::min(point, b.size() - 1)];
    switch (compare_values(x, y)) {
      case PointMatch::different: return Match::different;
      case PointMatch::unknown: any_unknown = true; break;
      case PointMatch::equal: any_defined = true; break;
      case PointMatch::both_undefined: break;
    }
  }
  if (any_unknown || !any_defined) return Match::unknown;
  return Match::equal;
}

class Comparer {
 public:
  Comparer(const Expression& a, const Expression& b) : a_(a), b_(b) {}

  Match top(int a, int b) {
    // "x = 5" against "5": the variable is a label, the value is the answer.
    a = unlabel(a_, a, b_.nodes[b]);
    b = unlabel(b_, b, a_.nodes[a]);
    return compare(a, b);
  }

 private:
  static int unlabel(const Expression& expression, int node, const Node& other) {
    const Node& n = expression.nodes[node];
    if (n.kind == NodeKind::relation && n.name == "=" && other.kind != NodeKind::relation &&
        expression.nodes[n.children[0]].kind == NodeKind::symbol) {
      return n.children[1];
    }
    return node;
  }

  static std::string mirrored(const std::string& op) {
    if (op == "<") return ">";
    if (op == ">") return "<";
    if (op == "<=") return ">=";
    if (op == ">=") return "<=";
    return op;  // = and != are symmetric
  }

  Match compare(int a, int b) {
    const Node& x = a_.nodes[a];
    const Node& y = b_.nodes[b];
    const bool x_scalar = is_scalar(x.kind);
    const bool y_scalar = is_scalar(y.kind);
    if (x_scalar && y_scalar) return compare_scalars(values_of(a_, a), values_of(b_, b));
    if (x_scalar || y_scalar) return Match::different;  // 5 against "3, 4, 5", against (5, 6)

    const bool x_unordered = x.kind == NodeKind::list || x.kind == NodeKind::set;
    const bool y_unordered = y.kind == NodeKind::list || y.kind == NodeKind::set;
    if (x_unordered && y_unordered) {
      const bool as_sets = x.kind == NodeKind::set || y.kind == NodeKind::set;
      return as_sets ? same_set(x.children, y.children) : same_multiset(x.children, y.children);
    }
    // A bare "3, -1" may stand for the point (3, -1): compare in order, which is stricter.
    if (x.kind == NodeKind::list && y.kind == NodeKind::tuple && y.open == '(' && y.close == ')') {
      return in_order(x.children, y.children);
    }
    if (y.kind == NodeKind::list && x.kind == NodeKind::tuple && x.open == '(' && x.close == ')') {
      return in_order(x.children, y.children);
    }
    if (x.kind != y.kind) return Match::different;
    switch (x.kind) {
      case NodeKind::tuple:
        if (x.open != y.open || x.close != y.close) return Match::different;
        return in_order(x.children, y.children);
      case NodeKind::union_of:
        return same_multiset(x.children, y.children);
      case NodeKind::matrix:
        if (x.columns != y.columns) return Match::different;
        return in_order(x.children, y.children);
      case NodeKind::relation: {
        Match straight = Match::different;
        if (x.name == y.name) straight = in_order(x.children, y.children);
        if (straight == Match::equal) return straight;
        if (mirrored(x.name) != y.name) return straight;
        Match swapped = in_order(x.children, {y.children[1], y.children[0]});
        if (swapped == Match::equal) return swapped;
        return straight == Match::unknown || swapped == Match::unknown ? Match::unknown
                                                                       : Match::different;
      }
      default:
        return Match::different;
    }
  }

  Match in_order(const std::vector<int>& a, const std::vector<int>& b) {
    if (a.size() != b.size()) return Match::different;
    bool any_unknown = false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      const Match match = compare(a[i], b[i]);
      if (match == Match::different) return match;
      any_unknown = any_unknown || match == Match::unknown;
    }
    return any_unknown ? Match::unknown : Match::equal;
  }

  // Every element of a pairs off with its own equal element of b (greedy: equality is transitive).
  Match same_multiset(const std::vector<int>& a, const std::vector<int>& b) {
    if (a.size() != b.size()) return Match::different;
    std::vector<bool> used(b.size(), false);
    bool any_unknown = false;
    for (int element : a) {
      bool matched = false;
      for (std::size_t j = 0; j < b.size() && !matched; ++j) {
        if (used[j]) continue;
        const Match match = compare(element, b[j]);
        any_unknown = any_unknown || match == Match::unknown;
        if (match == Match::equal) used[j] = matched = true;
      }
      if (!matched) return any_unknown ? Match::unknown : Match::different;
    }
    return Match::equal;
  }

  // Each element of either side has an equal element on the other; repetition does not matter.
  Match same_set(const std::vector<int>& a, const std::vector<int>& b) {
    bool any_unknown = false;
    auto covered = [&](const std::vector<int>& from, bool from_a, const std::vector<int>& to) {
      for (int element : from) {
        bool found = false;
        for (int candidate : to) {
          const Match match = from_a ? compare(element, candidate) : compare(candidate, element);
          any_unknown = any_unknown || match == Match::unknown;
          if (match == Match::equal) {
            found = true;
            break;
          }
        }
        if (!found) return false;
      }
      return true;
    };
    if (covered(a, true, b) && covered(b, false, a)) return Match::equal;
    return any_unknown ? Match::unknown : Match::different;
  }

  const Expression& a_;
  const Expression& b_;
};

Reading read_one(std::vector<Token> tokens) {
  Reading reading;
  reading.spelling = joined_text(tokens);
  reading.words = word_answer(tokens);
  if (reading.words.empty()) reading.parsed = parse(std::move(tokens));
  return reading;
}

bool same_reading(const Reading& answer, const Reading& reference) {
  if (!answer.words.empty() || !reference.words.empty()) return answer.words == reference.words;
  if (answer.parsed.ok && reference.parsed.ok) {
    const Expression& a = answer.parsed.expression;
    const Expression& b = reference.parsed.expression;
    const Match match = Comparer(a, b).top(a.root, b.root);
    if (match != Match::unknown) return match == Match::equal;
  }
  return !answer.spelling.empty() && answer.spelling == reference.spelling;
}

}  // namespace

ReadAnswer read_answer(std::string_view written) {
  ReadAnswer read;
  bool joined_thousands = false;
  read.readings.push_back(read_one(read_tokens(written, Commas::thousands, &joined_thousands)));
  if (joined_thousands) read.readings.push_back(read_one(read_tokens(written, Commas::separators)));
  return read;
}

bool equivalent(const ReadAnswer& answer, const ReadAnswer& reference) {
  for (const Reading& a : answer.readings) {
    for (const Reading& b : reference.readings) {
      if (same_reading(a, b)) return true;
    }
  }
  return false;
}

bool equivalent(std::string_view answer, std::string_view reference) {
  return equivalent(read_answer(answer), read_answer(reference));
}

}  // namespace r1::rewards::math
