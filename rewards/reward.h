// The reward interface: (prompt, completion, reference answer, metadata) -> score with named
// components. Rewards are pure functions of text; they never see the model, tokens or the learner.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace r1::rewards {

struct RewardInput {
  std::string prompt;       // the question as the user asked it (no chat template)
  std::string completion;   // the model's text after the template's assistant prefix
  std::string reference;    // the reference answer, e.g. "42"
  nlohmann::json metadata;  // free-form: task kind, numbers, target language, ...
};

// How a reward judged one completion. A reward that cannot judge says so with a reason: the score
// is still a number (the configured value for failures, 0 by default) but the outcome is recorded.
enum class Outcome { pass, fail, error };
const char* outcome_name(Outcome outcome);

struct RewardResult {
  double score = 0.0;                         // weighted total for a composition
  std::map<std::string, double> components;   // name -> unweighted value of each part
  Outcome outcome = Outcome::pass;            // pass/fail for a verdict; error when it could not judge
  std::string reason;                         // why: "no <answer> tag", "answer 12 != 13", ...
};

class Reward {
 public:
  virtual ~Reward() = default;
  virtual std::string name() const = 0;
  // One completion. Must be thread-safe (batches are scored from several threads) and bounded in time.
  virtual RewardResult score(const RewardInput& input) const = 0;
};

}  // namespace r1::rewards
