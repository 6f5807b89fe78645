// The `countdown` verifier: does the arithmetic expression in the final <answer> use only the given
// numbers, each at most once, and evaluate exactly to the target? Metadata: {"numbers": [...],
// "target": N}; without "target" the reference is the target. Its own small parser (integers,
// + - * /, parentheses; nothing else), exact rational arithmetic, bounded length and nesting.
//
// Decisions: no unary minus (the game combines the given numbers with binary operations), no
// implicit multiplication, no decimals; "EXPR = TARGET" is accepted when its right side is the
// target. A missing <answer> is a failed answer (the model's fault), not an error; bad metadata is
// an error (nothing can be judged).
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "rewards/builtins.h"
#include "rewards/rational.h"
#include "rewards/text.h"

namespace r1::rewards {

namespace {

constexpr std::size_t kDefaultMaxAnswerChars = 256;
constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxNumberDigits = 18;  // every given number fits in an int64 anyway

struct CountdownConfig {
  std::size_t max_answer_chars = kDefaultMaxAnswerChars;
  bool use_all_numbers = false;  // TinyZero's variant: each number exactly once
};

struct ExpressionError {
  std::string reason;
};

// Parses and evaluates in one pass, recording the numbers used. Throws ExpressionError.
class CountdownExpression {
 public:
  explicit CountdownExpression(std::string_view text) : text_(text) {}

  Rational evaluate_all() {
    Rational value = expression();
    skip_spaces();
    if (pos_ < text_.size() && text_[pos_] == '=') {
      ++pos_;
      skip_spaces();
      claimed_ = literal();
      skip_spaces();
    }
    if (pos_ < text_.size()) unexpected();
    return value;
  }

  const std::vector<BigInt>& numbers_used() const { return used_; }
  const std::optional<BigInt>& claimed_result() const { return claimed_; }

 private:
  [[noreturn]] void fail(std::string reason) const { throw ExpressionError{std::move(reason)}; }

  [[noreturn]] void unexpected() const {
    if (pos_ >= text_.size()) fail("the expression ends too early");
    const char c = text_[pos_];
    if (c == '.') fail("only whole numbers can be used");
    fail("unexpected " + text::quoted(text_.substr(pos_, 1)) + " at position " +
         std::to_string(pos_ + 1));
  }

  void skip_spaces() {
    while (pos_ < text_.size() && text::is_space(text_[pos_])) ++pos_;
  }

  // The operator at pos_ as one of "+-*/", accepting ×, ÷, ·, \times, \div, \cdot; 0 for none.
  char peek_operator(std::size_t* length) {
    skip_spaces();
    const std::string_view rest = text_.substr(pos_);
    struct Spelling {
      std::string_view text;
      char op;
    };
    static constexpr Spelling kSpellings[] = {
        {"+", '+'}, {"-", '-'}, {"*", '*'}, {"/", '/'},  {"\xC3\x97", '*'},  // ×
        {"\xC3\xB7", '/'}, {"\xC2\xB7", '*'}, {"\xE2\x88\x92", '-'},             // ÷ · −
        {"\\times", '*'}, {"\\div", '/'}, {"\\cdot", '*'}};
    for (const Spelling& spelling : kSpellings) {
      if (rest.substr(0, spelling.text.size()) == spelling.text) {
        *length = spelling.text.size();
        return spelling.op;
      }
    }
    return 0;
  }

  Rational expression() {
    if (++depth_ > kMaxDepth) fail("nested too deeply");
    Rational value = term();
    std::size_t length = 0;
    for (char op = peek_operator(&length); op == '+' || op == '-'; op = peek_operator(&length)) {
      pos_ += length;
      const Rational right = term();
      value = op == '+' ? Rational(value + right) : Rational(value - right);
    }
    --depth_;
    return value;
  }

  Rational term() {
    Rational value = factor();
    std::size_t length = 0;
    for (char op = peek_operator(&length); op == '*' || op == '/'; op = peek_operator(&length)) {
      pos_ += length;
      const Rational right = factor();
      if (op == '/' && right == 0) fail("division by zero");
      value = op == '*' ? Rational(value * right) : Rational(value / right);
    }
    return value;
  }

  Rational factor() {
    skip_spaces();
    if (pos_ >= text_.size()) unexpected();
    const char c = text_[pos_];
    if (c == '(') {
      ++pos_;
      const Rational value = expression();
      skip_spaces();
      if (pos_ >= text_.size() || text_[pos_] != ')') fail("a '(' is never closed");
      ++pos_;
      return value;
    }
    if (c == '-' || c == '+') fail("a sign before a number is not allowed; use the numbers as given");
    if (!text::is_digit(c)) unexpected();
    const BigInt number = literal();
    used_.push_back(number);
    return Rational(number);
  }

  BigInt literal() {
    const std::size_t begin = pos_;
    while (pos_ < text_.size() && text::is_digit(text_[pos_])) ++pos_;
    if (pos_ == begin) unexpected();
    if (pos_ - begin > kMaxNumberDigits) fail("a number with more than 18 digits");
    if (pos_ < text_.size() && text_[pos_] == '.') fail("only whole numbers can be used");
    return BigInt(std::string(text_.substr(begin, pos_ - begin)));
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  std::vector<BigInt> used_;
  std::optional<BigInt> claimed_;
};

constexpr std::string_view kComponent = "countdown";  // the component each verdict is recorded under

// A JSON integer (or an integral float, as some generators write 24.0) as a BigInt.
std::optional<BigInt> json_integer(const nlohmann::json& value) {
  if (value.is_number_integer()) return BigInt(value.get<long long>());
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (d == static_cast<double>(static_cast<long long>(d))) return BigInt(static_cast<long long>(d));
  }
  return std::nullopt;
}

// The target: metadata "target", else the reference read as a (possibly negative) integer.
std::optional<Rational> target_of(const RewardInput& input) {
  if (input.metadata.is_object() && input.metadata.contains("target")) {
    std::optional<BigInt> target = json_integer(input.metadata["target"]);
    if (target) return Rational(*target);
    return std::nullopt;
  }
  std::string_view reference = text::trim(input.reference);
  const bool negative = !reference.empty() && reference.front() == '-';
  if (negative) reference.remove_prefix(1);
  if (reference.empty() || reference.size() > kMaxNumberDigits) return std::nullopt;
  std::optional<Rational> value = parse_decimal(reference);
  if (!value || !is_integer(*value)) return std::nullopt;
  return negative ? Rational(-*value) : *value;
}

class CountdownReward : public Reward {
 public:
  explicit CountdownReward(CountdownConfig config) : config_(config) {}

  std::string name() const override { return "countdown"; }

  RewardResult score(const RewardInput& input) const override {
    const nlohmann::json& metadata = input.metadata;
    if (!metadata.is_object() || !metadata.contains("numbers") || !metadata["numbers"].is_array()) {
      return cannot_judge(kComponent, "metadata has no \"numbers\" list");
    }
    std::map<BigInt, int> available;  // number -> how many times it may still be used
    for (const nlohmann::json& number : metadata["numbers"]) {
      std::optional<BigInt> value = json_integer(number);
      if (!value) return cannot_judge(kComponent, "metadata \"numbers\" holds " + number.dump() + ", not an integer");
      ++available[*value];
    }
    std::optional<Rational> target = target_of(input);
    if (!target) return cannot_judge(kComponent, "no integer target in metadata \"target\" or the reference");

    std::optional<std::string_view> tagged = text::last_answer_tag(text::after_think(input.completion));
    if (!tagged) return binary_verdict(kComponent, false, "no <answer>...</answer> after the thinking");
    const std::string_view answer = text::trim(*tagged);
    if (answer.empty()) return binary_verdict(kComponent, false, "empty answer");
    if (answer.size() > config_.max_answer_chars) {
      return binary_verdict(kComponent, false, "answer has " + std::to_string(answer.size()) +
                                " characters, more than max_answer_chars=" +
                                std::to_string(config_.max_answer_chars));
    }

    CountdownExpression expression(answer);
    Rational value;
    try {
      value = expression.evaluate_all();
    } catch (const ExpressionError& error) {
      return binary_verdict(kComponent, false, "not an arithmetic expression of the numbers: " + error.reason);
    }
    for (const BigInt& used : expression.numbers_used()) {
      auto found = available.find(used);
      if (found == available.end()) return binary_verdict(kComponent, false, "uses " + used.str() + ", which is not among the numbers");
      if (found->second == 0) return binary_verdict(kComponent, false, "uses " + used.str() + " more often than given");
      --found->second;
    }
    if (config_.use_all_numbers) {
      for (const auto& [number, left] : available) {
        if (left > 0) return binary_verdict(kComponent, false, "does not use " + number.str());
      }
    }
    const std::optional<BigInt>& claimed = expression.claimed_result();
    if (claimed && Rational(*claimed) != *target) {
      return binary_verdict(kComponent, false, "claims " + claimed->str() + " but the target is " + to_string(*target));
    }
    if (value != *target) {
      return binary_verdict(kComponent, false, "evaluates to " + to_string(value) + ", not " + to_string(*target));
    }
    return binary_verdict(kComponent, true, "");
  }

 private:
  CountdownConfig config_;
};

std::unique_ptr<Reward> make_countdown(const nlohmann::json& options) {
  check_option_keys("countdown", options, {"max_answer_chars", "use_all_numbers"});
  CountdownConfig config;
  if (options.is_object() && options.contains("max_answer_chars")) {
    const nlohmann::json& value = options["max_answer_chars"];
    R1_CHECK(value.is_number_integer() && value.get<long long>() > 0 &&
                 value.get<long long>() <= 100000,
             "countdown option max_answer_chars must be an integer in [1, 100000], got ", value.dump());
    config.max_answer_chars = static_cast<std::size_t>(value.get<long long>());
  }
  if (options.is_object() && options.contains("use_all_numbers")) {
    const nlohmann::json& value = options["use_all_numbers"];
    R1_CHECK(value.is_boolean(), "countdown option use_all_numbers must be true or false, got ",
             value.dump());
    config.use_all_numbers = value.get<bool>();
  }
  return std::make_unique<CountdownReward>(config);
}

}  // namespace

RewardInfo countdown_reward_info() {
  return {"countdown",
          "1 if the <answer> expression uses the given numbers at most once each and equals the target, else 0",
          make_countdown,
          {{"max_answer_chars", std::to_string(kDefaultMaxAnswerChars),
            "longest expression (in characters) that is parsed; longer answers fail"},
           {"use_all_numbers", "false", "each given number must be used exactly once (TinyZero)"}}};
}

}  // namespace r1::rewards
