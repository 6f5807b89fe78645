// The built-in rule rewards are pure: scoring a batch from several threads gives exactly what one
// thread gives (they share only read-only state, such as the word lists).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "rewards/registry.h"

using namespace r1::rewards;

TEST_CASE("built-in rewards: several threads score exactly as one does") {
  std::unique_ptr<Composite> everything =
      compose({{"math_accuracy", 1.0}, {"countdown", 1.0}, {"format", 0.5},
               {"language_consistency", 0.3}, {"overlong", 1.0}, {"repetition", 1.0}});
  const std::vector<std::string> answers = {"\\boxed{\\frac{1}{2}}", "<answer>0.5</answer>",
                                            "<answer>2 * 3 + 4</answer>", "\\boxed{3, 4}",
                                            "#### 1,000", "<answer>5 or 6</answer>"};
  const std::vector<std::string> thoughts = {"we add the numbers und dann teilen wir",
                                             "我们先计算 the sum", "so so so so so so so so",
                                             "поэтому ответ равно", ""};
  std::vector<RewardInput> inputs;
  for (int i = 0; i < 600; ++i) {
    RewardInput input;
    input.completion = "<think>" + thoughts[i % thoughts.size()] + " " + std::to_string(i) +
                       "</think>" + answers[i % answers.size()];
    input.reference = i % 2 == 0 ? "1/2" : "1000";
    input.metadata = {{"numbers", {2, 3, 4}}, {"target", 10}};
    if (i % 3 == 0) input.metadata["language"] = "zh";
    if (i % 4 == 0) input.metadata["num_tokens"] = 20000 + i;
    inputs.push_back(input);
  }
  const std::vector<RewardResult> alone = score_batch(*everything, inputs, 1);
  const std::vector<RewardResult> together = score_batch(*everything, inputs, 4);
  REQUIRE(alone.size() == together.size());
  int passed_math = 0;
  for (std::size_t i = 0; i < alone.size(); ++i) {
    CAPTURE(i);
    CHECK(alone[i].score == together[i].score);
    CHECK(alone[i].components == together[i].components);
    CHECK(alone[i].outcome == together[i].outcome);
    CHECK(alone[i].reason == together[i].reason);
    passed_math += alone[i].components.at("math_accuracy") == 1.0;
  }
  CHECK(passed_math > 0);
}
