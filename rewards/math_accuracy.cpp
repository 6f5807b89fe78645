// The `math_accuracy` verifier: is the final answer after the chain of thought mathematically
// equivalent to the reference? Finds answers with answer_extraction, judges them with
// math_equivalence; knows nothing of the model or of tokens.
//
// One answer per completion: every answer stated after </think>, in any configured form, must
// agree. "\boxed{3} ... \boxed{5}", or "\boxed{5}" with "<answer>6</answer>", fail as "several
// different answers" whichever is right — offering candidates is never rewarded. Repeating one
// answer (\boxed{1/2} then \boxed{0.5}) is fine.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "rewards/answer_extraction.h"
#include "rewards/builtins.h"
#include "rewards/math_equivalence.h"
#include "rewards/text.h"

namespace r1::rewards {

namespace {

constexpr std::size_t kDefaultMaxAnswerChars = 512;
constexpr std::size_t kMaxAnswersPerSource = 16;

struct MathAccuracyConfig {
  std::vector<AnswerSource> sources = {AnswerSource::boxed, AnswerSource::answer_tag,
                                       AnswerSource::gsm8k};
  std::size_t max_answer_chars = kDefaultMaxAnswerChars;
};

constexpr std::string_view kComponent = "math_accuracy";  // the component each verdict is recorded under

std::string too_long(std::string_view what, std::size_t size, std::size_t limit) {
  return std::string(what) + " has " + std::to_string(size) +
         " characters, more than max_answer_chars=" + std::to_string(limit);
}

class MathAccuracyReward : public Reward {
 public:
  explicit MathAccuracyReward(MathAccuracyConfig config) : config_(std::move(config)) {}

  std::string name() const override { return "math_accuracy"; }

  RewardResult score(const RewardInput& input) const override {
    const std::string_view reference = reference_answer(input.reference);
    if (reference.empty()) return cannot_judge(kComponent, "empty reference");
    if (reference.size() > config_.max_answer_chars) {
      return cannot_judge(kComponent, too_long("reference", reference.size(), config_.max_answer_chars));
    }

    // Every answer stated after the thinking, in every configured form; the last answer of the
    // first form (in the configured order) that has any is "the" answer.
    const std::string_view region = text::after_think(input.completion);
    std::vector<std::string_view> answers;
    std::string_view chosen;
    bool chose = false;
    for (AnswerSource source : config_.sources) {
      std::vector<std::string_view> found = find_answers(region, source, kMaxAnswersPerSource);
      if (found.size() > kMaxAnswersPerSource) {
        return binary_verdict(kComponent, false, "more than " + std::to_string(kMaxAnswersPerSource) + " " +
                                  answer_source_name(source) + " answers");
      }
      for (std::string_view answer : found) answers.push_back(strip_answer_phrase(answer));
      if (!chose && !found.empty()) {
        chosen = answers.back();
        chose = true;
      }
    }
    if (answers.empty()) return cannot_judge(kComponent, "no answer found");
    if (chosen.empty()) return binary_verdict(kComponent, false, "empty answer");
    for (std::string_view answer : answers) {
      if (answer.size() > config_.max_answer_chars) {
        return binary_verdict(kComponent, false, too_long("answer", answer.size(), config_.max_answer_chars));
      }
    }

    const math::ReadAnswer given = math::read_answer(chosen);
    for (std::string_view other : answers) {
      if (other.data() == chosen.data() && other.size() == chosen.size()) continue;
      if (!math::equivalent(math::read_answer(other), given)) {
        return binary_verdict(kComponent, false, "several different answers: " + text::quoted(other) + " and " +
                                  text::quoted(chosen));
      }
    }
    if (!math::equivalent(given, math::read_answer(reference))) {
      return binary_verdict(kComponent, false, "answer " + text::quoted(chosen) + " != reference " +
                                text::quoted(reference));
    }
    return binary_verdict(kComponent, true, "");
  }

 private:
  MathAccuracyConfig config_;
};

std::unique_ptr<Reward> make_math_accuracy(const nlohmann::json& options) {
  check_option_keys("math_accuracy", options, {"extract", "max_answer_chars"});
  MathAccuracyConfig config;
  if (options.is_object() && options.contains("extract")) {
    const nlohmann::json& extract = options["extract"];
    R1_CHECK(extract.is_array() && !extract.empty(),
             "math_accuracy option extract must be a non-empty list of boxed, answer_tag, gsm8k; got ",
             extract.dump());
    config.sources.clear();
    for (const nlohmann::json& item : extract) {
      std::optional<AnswerSource> source =
          item.is_string() ? answer_source_named(item.get<std::string>()) : std::nullopt;
      R1_CHECK(source.has_value(), "math_accuracy option extract: unknown answer form ",
               item.dump(), "; known: boxed, answer_tag, gsm8k");
      for (AnswerSource seen : config.sources) {
        R1_CHECK(seen != *source, "math_accuracy option extract lists ", item.dump(), " twice");
      }
      config.sources.push_back(*source);
    }
  }
  if (options.is_object() && options.contains("max_answer_chars")) {
    const nlohmann::json& value = options["max_answer_chars"];
    R1_CHECK(value.is_number_integer() && value.get<long long>() > 0 &&
                 value.get<long long>() <= 100000,
             "math_accuracy option max_answer_chars must be an integer in [1, 100000], got ",
             value.dump());
    config.max_answer_chars = static_cast<std::size_t>(value.get<long long>());
  }
  return std::make_unique<MathAccuracyReward>(std::move(config));
}

}  // namespace

RewardInfo math_accuracy_reward_info() {
  return {"math_accuracy",
          "1 if the final answer (\\boxed{}, <answer> or ####) is mathematically equivalent to the reference, else 0",
          make_math_accuracy,
          {{"extract", "[boxed, answer_tag, gsm8k]",
            "where the final answer may be written, in order of preference"},
           {"max_answer_chars", std::to_string(kDefaultMaxAnswerChars),
            "longest answer (in characters) that is parsed; longer answers fail"}}};
}

}  // namespace r1::rewards
