// The rewards benchmark: synthetic but typical completions, timed end to end through the registry.
#include "rewards/bench.h"

#include <chrono>
#include <string>
#include <vector>

#include "common/error.h"
#include "rewards/registry.h"

namespace r1::rewards {

namespace {

// Completion `index`: varied numbers and answer forms, some answers wrong, a few with German words
// mixed in, so every reward does its usual work rather than one fast path.
RewardInput typical_completion(std::int64_t index) {
  const long long a = 12 + index % 89;
  const long long b = 3 + index % 17;
  const long long c = 2 + index % 5;
  const long long answer = (a + b) * c;
  RewardInput input;
  input.prompt = "A shop sells " + std::to_string(a) + " apples in the morning and " +
                 std::to_string(b) + " in the afternoon, every day for " + std::to_string(c) +
                 " days. How many apples does it sell?";
  input.reference = std::to_string(answer);
  std::string think = "First, the shop sells " + std::to_string(a) + " plus " + std::to_string(b) +
                      " apples per day, which is " + std::to_string(a + b) + ". ";
  think += index % 7 == 0 ? "Dann multiplizieren wir mit der Anzahl der Tage. "
                          : "Then we multiply by the number of days. ";
  think += "So the total is $" + std::to_string(a + b) + " \\times " + std::to_string(c) + " = " +
           std::to_string(answer) + "$ apples. Let me double-check: " + std::to_string(answer) +
           " divided by " + std::to_string(c) + " is " + std::to_string(a + b) + ", which matches.";
  const long long given = index % 5 == 0 ? answer + 1 : answer;  // a fifth are wrong
  std::string final_answer;
  switch (index % 3) {
    case 0: final_answer = "\\boxed{" + std::to_string(given) + "}"; break;
    case 1: final_answer = std::to_string(given); break;
    default: final_answer = "\\boxed{\\frac{" + std::to_string(2 * given) + "}{2}}"; break;
  }
  input.completion = "<think>" + think + "</think>\n<answer>" + final_answer + "</answer>";
  return input;
}

}  // namespace

nlohmann::json bench_rewards(std::int64_t n, int threads, const std::map<std::string, double>& weights) {
  R1_CHECK(n > 0, "bench rewards: the number of completions must be positive, got ", n);
  R1_CHECK(threads > 0, "bench rewards: threads must be positive, got ", threads);
  std::vector<RewardInput> inputs;
  inputs.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) inputs.push_back(typical_completion(i));
  std::unique_ptr<Composite> reward = compose(weights);

  const auto start = std::chrono::steady_clock::now();
  std::vector<RewardResult> results;
  if (threads == 1) {
    results.reserve(inputs.size());
    for (const RewardInput& input : inputs) results.push_back(reward->score(input));
  } else {
    results = score_batch(*reward, inputs, threads);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  double total = 0.0;
  for (const RewardResult& result : results) total += result.score;
  return {{"bench", "rewards"},
          {"rewards", reward->name()},
          {"completions", n},
          {"threads", threads},
          {"seconds", seconds},
          {"per_second", seconds > 0 ? static_cast<double>(n) / seconds : 0.0},
          {"mean_reward", total / static_cast<double>(n)}};
}

}  // namespace r1::rewards
