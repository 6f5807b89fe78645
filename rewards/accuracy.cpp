// The `accuracy` verifier: is the single integer in the final <answer> equal to the reference?
// Knows only text; integers are compared as canonical digit strings, so no size overflows.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "rewards/builtins.h"
#include "rewards/text.h"

namespace r1::rewards {

namespace {

constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kAnswerOpen = "<answer>";
constexpr std::string_view kAnswerClose = "</answer>";
constexpr std::size_t kDefaultMaxAnswerChars = 64;

// Digits with optional thousands separators: "1234" or "1,234,567" (first group 1-3 digits,
// every later group exactly 3). Anything else, "12, 13" included, is not one number.
bool valid_integer_part(std::string_view part) {
  if (part.empty()) return false;
  if (part.find(',') == std::string_view::npos) {
    for (char c : part) {
      if (!text::is_digit(c)) return false;
    }
    return true;
  }
  std::size_t group_length = 0;
  bool first_group = true;
  for (char c : part) {
    if (c == ',') {
      if (group_length == 0 || (first_group ? group_length > 3 : group_length != 3)) return false;
      first_group = false;
      group_length = 0;
    } else if (text::is_digit(c)) {
      ++group_length;
    } else {
      return false;
    }
  }
  return group_length == 3;  // a trailing group must be complete, and "12," is not a number
}

// The canonical form of an integer written as a person would: "-1,234.00" -> "-1234",
// "+007" -> "7", "-0" -> "0". nullopt for anything that is not exactly one integer.
std::optional<std::string> canonical_integer(std::string_view written) {
  std::string_view rest = text::trim(written);
  bool negative = false;
  if (!rest.empty() && (rest.front() == '+' || rest.front() == '-')) {
    negative = rest.front() == '-';
    rest.remove_prefix(1);
  }
  std::string_view integer_part = rest;
  std::size_t dot = rest.find('.');
  if (dot != std::string_view::npos) {
    integer_part = rest.substr(0, dot);
    // Only a zero fraction keeps it an integer ("12.0", "12.00"); "12." and "12.5" do not.
    std::string_view fraction = rest.substr(dot + 1);
    if (fraction.empty()) return std::nullopt;
    for (char c : fraction) {
      if (c != '0') return std::nullopt;
    }
  }
  if (!valid_integer_part(integer_part)) return std::nullopt;

  std::string digits;
  digits.reserve(integer_part.size());
  for (char c : integer_part) {
    if (c == ',') continue;
    if (digits.empty() && c == '0') continue;  // leading zeros say nothing about the value
    digits.push_back(c);
  }
  if (digits.empty()) return std::string("0");  // also makes "-0" equal to "0"
  return negative ? "-" + digits : digits;
}

constexpr std::string_view kComponent = "accuracy";  // the component each verdict is recorded under

class AccuracyReward : public Reward {
 public:
  explicit AccuracyReward(std::size_t max_answer_chars) : max_answer_chars_(max_answer_chars) {}

  std::string name() const override { return "accuracy"; }

  RewardResult score(const RewardInput& input) const override {
    // The reference first: if it is unusable, no completion can be judged against it.
    std::string_view reference = text::trim(input.reference);
    if (reference.size() > max_answer_chars_) {
      return cannot_judge(kComponent, "reference has " + std::to_string(reference.size()) +
                          " characters, more than max_answer_chars=" +
                          std::to_string(max_answer_chars_));
    }
    std::optional<std::string> expected = canonical_integer(reference);
    if (!expected) {
      return cannot_judge(kComponent, "reference " + text::quoted(reference) + " is not a single integer");
    }

    // Only what follows the chain of thought is the answer; an <answer> drafted while thinking
    // does not count. Without </think> the whole completion is the answer region.
    std::string_view region = input.completion;
    const std::size_t think_close = region.rfind(kThinkClose);
    const bool after_think = think_close != std::string_view::npos;
    if (after_think) region.remove_prefix(think_close + kThinkClose.size());

    const std::size_t answer_close = region.rfind(kAnswerClose);
    const std::size_t answer_open =
        answer_close == std::string_view::npos ? region.rfind(kAnswerOpen)
                                               : region.rfind(kAnswerOpen, answer_close);
    if (answer_open == std::string_view::npos) {
      return binary_verdict(kComponent, false, after_think ? "no <answer> tag after </think>" : "no <answer> tag");
    }
    if (answer_close == std::string_view::npos) return binary_verdict(kComponent, false, "<answer> is never closed");

    const std::size_t content_begin = answer_open + kAnswerOpen.size();
    std::string_view answer =
        text::trim(region.substr(content_begin, answer_close - content_begin));
    if (answer.empty()) return binary_verdict(kComponent, false, "empty <answer>");
    // Bounded work and no reward for dumping long text into the answer.
    if (answer.size() > max_answer_chars_) {
      return binary_verdict(kComponent, false, "answer has " + std::to_string(answer.size()) +
                                " characters, more than max_answer_chars=" +
                                std::to_string(max_answer_chars_));
    }
    std::optional<std::string> given = canonical_integer(answer);
    if (!given) return binary_verdict(kComponent, false, "not a single integer: " + text::quoted(answer));
    if (*given != *expected) return binary_verdict(kComponent, false, "answer " + *given + " != " + *expected);
    return binary_verdict(kComponent, true, "");
  }

 private:
  std::size_t max_answer_chars_;
};

std::unique_ptr<Reward> make_accuracy(const nlohmann::json& options) {
  check_option_keys("accuracy", options, {"max_answer_chars"});
  std::size_t max_answer_chars = kDefaultMaxAnswerChars;
  if (options.is_object() && options.contains("max_answer_chars")) {
    const nlohmann::json& value = options["max_answer_chars"];
    R1_CHECK(value.is_number_integer() && value.get<long long>() > 0,
             "accuracy option max_answer_chars must be a positive integer, got ", value.dump());
    max_answer_chars = static_cast<std::size_t>(value.get<long long>());
  }
  return std::make_unique<AccuracyReward>(max_answer_chars);
}

}  // namespace

RewardInfo accuracy_reward_info() {
  return {"accuracy",
          "1 if the integer in the last <answer> after </think> equals the reference, else 0",
          make_accuracy,
          {{"max_answer_chars", std::to_string(kDefaultMaxAnswerChars),
            "longest answer or reference (in characters) that is read; longer answers fail"}}};
}

}  // namespace r1::rewards
