// Recursive descent over math tokens. Precedence, loosest first:
//   list (",")  >  union (\cup)  >  relation (= < > ...)  >  + -  >  * / implicit  >  unary -
//   >  ^ (right-associative)  >  postfix !  >  primary
// Errors are thrown inside the parser and returned as ParseResult::error; nothing escapes.
#include "rewards/math_parser.h"

#include <optional>
#include <string_view>
#include <utility>

namespace r1::rewards::math {

namespace {

struct ParseFailure {
  std::string message;
};

bool is_relation(std::string_view op) {
  return op == "=" || op == "<" || op == ">" || op == "<=" || op == ">=" || op == "!=";
}

bool is_integer_literal(const Token& token) {
  return token.kind == TokenKind::number && token.text.find('.') == std::string::npos;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Expression parse_all() {
    if (tokens_.empty()) fail("nothing to read");
    const int root = parse_list();
    if (pos_ < tokens_.size()) fail("unexpected '" + tokens_[pos_].text + "'");
    expression_.root = root;
    return std::move(expression_);
  }

 private:
  // Counts nesting on every recursive path; the constructor throws past kMaxDepth.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser& parser) : parser_(parser) {
      if (++parser_.depth_ > kMaxDepth) parser_.fail("nested too deeply");
    }
    ~DepthGuard() { --parser_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

   private:
    Parser& parser_;
  };

  [[noreturn]] void fail(std::string message) const { throw ParseFailure{std::move(message)}; }

  const Token& peek(std::size_t ahead = 0) const {
    static const Token kEnd{TokenKind::invalid, "", false};
    return pos_ + ahead < tokens_.size() ? tokens_[pos_ + ahead] : kEnd;
  }
  bool peek_op(std::string_view text, std::size_t ahead = 0) const {
    const Token& token = peek(ahead);
    return token.kind == TokenKind::op && token.text == text;
  }
  bool accept_op(std::string_view text) {
    if (!peek_op(text)) return false;
    ++pos_;
    return true;
  }
  void expect_op(std::string_view text) {
    if (!accept_op(text)) {
      fail("expected '" + std::string(text) + "'" +
           (pos_ < tokens_.size() ? " before '" + tokens_[pos_].text + "'" : " at the end"));
    }
  }

  int add(Node node) {
    if (expression_.nodes.size() >= kMaxNodes) fail("too many parts");
    expression_.nodes.push_back(std::move(node));
    return static_cast<int>(expression_.nodes.size()) - 1;
  }
  int add(NodeKind kind, std::vector<int> children, std::string name = "") {
    Node node;
    node.kind = kind;
    node.children = std::move(children);
    node.name = std::move(name);
    return add(std::move(node));
  }
  int number(const Rational& value) {
    Node node;
    node.kind = NodeKind::number;
    node.value = value;
    return add(std::move(node));
  }
  int literal(const std::string& text) {
    std::optional<Rational> value = parse_decimal(text);
    if (!value) fail("not a number: " + text);
    return number(*value);
  }

  // Elements separated by commas, at the top or inside braces: a bare list.
  int parse_list() {
    const int first = parse_union();
    if (!peek_op(",")) return first;
    std::vector<int> elements = {first};
    while (accept_op(",")) elements.push_back(parse_union());
    return add(NodeKind::list, std::move(elements));
  }

  int parse_union() {
    const int first = parse_relation();
    if (!peek_op("cup")) return first;
    std::vector<int> parts = {first};
    while (accept_op("cup")) parts.push_back(parse_relation());
    return add(NodeKind::union_of, std::move(parts));
  }

  int parse_relation() {
    const int left = parse_additive();
    const Token& token = peek();
    if (token.kind != TokenKind::op || !is_relation(token.text)) return left;
    std::string op = token.text;
    ++pos_;
    const int right = parse_additive();
    if (peek().kind == TokenKind::op && is_relation(peek().text)) {
      fail("more than one relation");  // "1 < x < 2" is an interval, but also easy to misjudge
    }
    return add(NodeKind::relation, {left, right}, std::move(op));
  }

  int parse_additive() {
    DepthGuard guard(*this);
    std::vector<int> terms = {parse_term()};
    while (peek_op("+") || peek_op("-")) {
      const bool minus = peek_op("-");
      ++pos_;
      const int term = parse_term();
      terms.push_back(minus ? add(NodeKind::negate, {term}) : term);
    }
    return terms.size() == 1 ? terms[0] : add(NodeKind::add, std::move(terms));
  }

  // Whether `token` can begin a factor written right after another one ("2x", "3\sqrt{2}",
  // "x(x+1)"). A number cannot: "2 3" is not six, it is two numbers.
  bool starts_implicit_factor(const Token& token) const {
    switch (token.kind) {
      case TokenKind::symbol:
      case TokenKind::word:
      case TokenKind::constant:
      case TokenKind::function:
      case TokenKind::begin:
        return true;
      case TokenKind::op:
        return token.text == "(" || token.text == "{" || (token.text == "|" && abs_depth_ == 0);
      default:
        return false;
    }
  }

  int parse_term() {
    DepthGuard guard(*this);
    std::vector<int> factors = {parse_unary()};
    auto product = [&] {
      return factors.size() == 1 ? factors[0] : add(NodeKind::multiply, factors);
    };
    while (true) {
      if (accept_op("*")) {
        factors.push_back(parse_unary());
      } else if (accept_op("/")) {
        const int divisor = parse_unary();
        factors = {add(NodeKind::divide, {product(), divisor})};
      } else if (starts_implicit_factor(peek())) {
        factors.push_back(parse_power());
      } else {
        break;
      }
    }
    return product();
  }

  int parse_unary() {
    DepthGuard guard(*this);
    if (accept_op("-")) return add(NodeKind::negate, {parse_unary()});
    if (accept_op("+")) return parse_unary();
    return parse_power();
  }

  int parse_power() {
    DepthGuard guard(*this);
    const int base = parse_postfix();
    if (!accept_op("^")) return base;
    return add(NodeKind::power, {base, parse_exponent()});
  }

  int parse_exponent() {
    if (accept_op("{")) {
      const int exponent = parse_union();
      expect_op("}");
      return exponent;
    }
    return parse_unary();
  }

  int parse_postfix() {
    int operand = parse_primary();
    while (accept_op("!")) operand = add(NodeKind::factorial, {operand});
    return operand;
  }

  // An integer literal at `ahead`, else nullopt.
  std::optional<Rational> integer_at(std::size_t ahead) const {
    const Token& token = peek(ahead);
    if (!is_integer_literal(token)) return std::nullopt;
    return parse_decimal(token.text);
  }

  // After the integer of a mixed number: "\frac{1}{2}" or "\frac12" with integer parts. Returns
  // the fraction and consumes it, or consumes nothing. Token patterns only, no backtracking parse,
  // so nested fractions cannot make this exponential.
  std::optional<Rational> mixed_fraction() {
    const Token& frac = peek();
    if (frac.kind != TokenKind::function || frac.text != "frac") return std::nullopt;
    if (peek_op("{", 1) && peek_op("}", 3) && peek_op("{", 4) && peek_op("}", 6)) {
      std::optional<Rational> top = integer_at(2);
      std::optional<Rational> bottom = integer_at(5);
      if (top && bottom && *bottom != 0) {
        pos_ += 7;
        return Rational(*top / *bottom);
      }
    }
    const Token& digits = peek(1);
    if (is_integer_literal(digits) && digits.text.size() == 2 && digits.text[1] != '0') {
      pos_ += 2;
      return Rational(digits.text[0] - '0', digits.text[1] - '0');
    }
    return std::nullopt;
  }

  int parse_number() {
    const Token& token = peek();
    const bool integer = is_integer_literal(token);
    const int literal_node = literal(token.text);
    ++pos_;
    if (!integer) return literal_node;
    const Rational whole = expression_.nodes[literal_node].value;
    if (std::optional<Rational> fraction = mixed_fraction()) {
      expression_.nodes[literal_node].value = whole + *fraction;
      return literal_node;
    }
    // "2 1/2": whole, space, integer, slash, integer, and nothing binding tighter after it.
    if (peek().space_before && integer_at(0) && peek_op("/", 1) && integer_at(2) &&
        !peek_op("^", 3) && !starts_implicit_factor(peek(3))) {
      const Rational top = *integer_at(0);
      const Rational bottom = *integer_at(2);
      if (bottom != 0) {
        pos_ += 3;
        expression_.nodes[literal_node].value = whole + top / bottom;
      }
    }
    return literal_node;
  }

  int parse_primary() {
    DepthGuard guard(*this);
    if (pos_ >= tokens_.size()) fail("a value is missing at the end");
    const Token& token = peek();
    switch (token.kind) {
      case TokenKind::number:
        return parse_number();
      case TokenKind::symbol:
        ++pos_;
        return add(NodeKind::symbol, {}, token.text);
      case TokenKind::word: {
        // Letters written together multiply: "xy" is x times y (a lone word answer like
        // "Monday" never gets here; math_equivalence compares those as words).
        ++pos_;
        std::vector<int> letters;
        for (char letter : token.text) letters.push_back(add(NodeKind::symbol, {}, std::string(1, letter)));
        return letters.size() == 1 ? letters[0] : add(NodeKind::multiply, std::move(letters));
      }
      case TokenKind::constant:
        ++pos_;
        if (token.text == "pi") return add(NodeKind::pi, {});
        if (token.text == "infinity") return add(NodeKind::infinity, {});
        return add(NodeKind::set, {});  // the empty set
      case TokenKind::function:
        return parse_function();
      case TokenKind::begin:
        return parse_matrix();
      case TokenKind::op:
        if (token.text == "(" || token.text == "[") return parse_bracketed();
        if (token.text == "{") {
          ++pos_;
          const int group = parse_list();
          expect_op("}");
          return group;
        }
        if (token.text == "\\{") return parse_set();
        if (token.text == "|") {
          ++pos_;
          ++abs_depth_;
          const int inside = parse_additive();
          expect_op("|");
          --abs_depth_;
          return add(NodeKind::function, {inside}, "abs");
        }
        fail("unexpected '" + token.text + "'");
      case TokenKind::text:
        fail("text inside math: \"" + token.text + "\"");
      default:
        fail("cannot read '" + token.text + "'");
    }
  }

  // (a), (a, b), [a, b), (-\infty, 2]: one element is grouping, more are a tuple or interval.
  int parse_bracketed() {
    const char open = peek().text[0];
    ++pos_;
    std::vector<int> elements = {parse_union()};
    while (accept_op(",")) elements.push_back(parse_union());
    const Token& closer = peek();
    if (closer.kind != TokenKind::op || (closer.text != ")" && closer.text != "]")) {
      fail(std::string("'") + open + "' is never closed");
    }
    const char close = closer.text[0];
    ++pos_;
    const bool matching = (open == '(' && close == ')') || (open == '[' && close == ']');
    if (elements.size() == 1) {
      if (!matching) fail("half-open brackets around one value");
      return elements[0];
    }
    if (!matching && elements.size() != 2) fail("an interval has two ends");
    Node tuple;
    tuple.kind = NodeKind::tuple;
    tuple.children = std::move(elements);
    tuple.open = open;
    tuple.close = close;
    return add(std::move(tuple));
  }

  int parse_set() {
    ++pos_;  // "\{"
    if (accept_op("\\}")) return add(NodeKind::set, {});
    std::vector<int> elements = {parse_union()};
    while (accept_op(",")) elements.push_back(parse_union());
    expect_op("\\}");
    return add(NodeKind::set, std::move(elements));
  }

  // The argument of \frac, \sqrt, ...: a {group}, a (group), or one token; LaTeX reads "\frac12"
  // as \frac{1}{2}, so a multi-digit number gives up only its first digit.
  int parse_argument() {
    DepthGuard guard(*this);
    if (accept_op("{")) {
      const int inside = parse_union();
      expect_op("}");
      return inside;
    }
    if (pos_ >= tokens_.size()) fail("an argument is missing at the end");
    Token& token = tokens_[pos_];
    if (token.kind == TokenKind::number && token.text.size() > 1 && token.text[0] != '.' &&
        token.text[1] != '.') {
      const int digit = number(Rational(token.text[0] - '0'));
      token.text.erase(0, 1);
      token.space_before = false;
      return digit;
    }
    if (token.kind == TokenKind::op && token.text == "(") return parse_bracketed();
    return parse_primary();
  }

  int parse_function() {
    const std::string name = peek().text;
    ++pos_;
    if (name == "frac") {
      const int top = parse_argument();
      const int bottom = parse_argument();
      return add(NodeKind::divide, {top, bottom});
    }
    if (name == "binom") {
      const int n = parse_argument();
      const int k = parse_argument();
      return add(NodeKind::function, {n, k}, "binom");
    }
    if (name == "sqrt") {
      if (accept_op("[")) {
        const int index = parse_additive();
        expect_op("]");
        return add(NodeKind::function, {parse_argument(), index}, "root");
      }
      return add(NodeKind::function, {parse_argument()}, "sqrt");
    }
    if (name == "abs") return add(NodeKind::function, {parse_argument()}, "abs");
    // sin, log, ... : "\log_2 8", "\sin^2 x", "\ln(2)", "\cos \theta".
    int base = -1;
    if (name == "log" && accept_op("_")) base = parse_argument();
    int outer_power = -1;
    if (accept_op("^")) outer_power = parse_argument();
    const int argument = peek_op("(") ? parse_bracketed() : parse_power();
    std::vector<int> children = {argument};
    if (base >= 0) children.push_back(base);
    int applied = add(NodeKind::function, std::move(children), name);
    if (outer_power >= 0) applied = add(NodeKind::power, {applied, outer_power});
    return applied;
  }

  int parse_matrix() {
    const std::string environment = peek().text;
    if (environment != "pmatrix" && environment != "bmatrix" && environment != "matrix" &&
        environment != "Bmatrix" && environment != "smallmatrix" && environment != "array") {
      fail("environment " + environment + " is not a matrix");
    }
    ++pos_;
    std::vector<std::vector<int>> rows(1);
    while (!(peek().kind == TokenKind::end)) {
      if (pos_ >= tokens_.size()) fail("\\begin{" + environment + "} is never ended");
      rows.back().push_back(parse_union());
      if (accept_op("&")) continue;
      if (accept_op("\\\\")) {
        if (peek().kind != TokenKind::end) rows.emplace_back();
        continue;
      }
      if (peek().kind != TokenKind::end) fail("expected & or \\\\ in a matrix");
    }
    if (peek().text != environment) fail("\\begin{" + environment + "} ends with \\end{" + peek().text + "}");
    ++pos_;
    Node matrix;
    matrix.kind = NodeKind::matrix;
    matrix.columns = static_cast<int>(rows[0].size());
    for (const std::vector<int>& row : rows) {
      if (static_cast<int>(row.size()) != matrix.columns) fail("matrix rows differ in length");
      matrix.children.insert(matrix.children.end(), row.begin(), row.end());
    }
    if (matrix.columns == 0) fail("empty matrix");
    return add(std::move(matrix));
  }

  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  int abs_depth_ = 0;
  Expression expression_;
};

}  // namespace

ParseResult parse(std::vector<Token> tokens) {
  ParseResult result;
  try {
    result.expression = Parser(std::move(tokens)).parse_all();
    result.ok = true;
  } catch (const ParseFailure& failure) {
    result.error = failure.message;
  }
  return result;
}

}  // namespace r1::rewards::math
