// The reward interface: (prompt, completion, reference answer, metadata) -> score with named
// components. Rewards are pure functions of text; they never see the model, tokens or the learner.
#pragma once

#include <map>
#include <memory>
#include <span>
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

// Whether the reward ran at all. Every judgement, an error verdict included ("the reference is not
// a number"), has Failure::none. The others mean there is no judgement: outcome error, score 0, and
// the scoring policy (score 0 or stop the run, rewards/scoring.h) applies.
enum class Failure {
  none,
  crash,    // it threw, gave a non-finite score, or its service or command failed
  timeout,  // it ran over its time limit (its own, or score_batch's)
  skipped,  // never called: too many calls of the batch were stuck past their limit
};
const char* failure_name(Failure failure);

struct RewardResult {
  double score = 0.0;                         // weighted total for a composition
  std::map<std::string, double> components;   // name -> unweighted value of each part
  Outcome outcome = Outcome::pass;            // pass/fail for a verdict; error when it could not judge
  std::string reason;                         // why: "no <answer> tag", "answer 12 != 13", ...
  Failure failure = Failure::none;            // set only when there is no judgement at all
};

class Reward {
 public:
  virtual ~Reward() = default;
  virtual std::string name() const = 0;
  // One completion. Must be thread-safe (batches are scored from several threads) and bounded in time.
  virtual RewardResult score(const RewardInput& input) const = 0;
  // Many completions, one result each in input order. score_batch hands rewards chunks of a batch
  // through this, so a plug-in can send them in one request. The default calls score() on each,
  // turning a throw into that item's Failure::crash. Same thread-safety as score().
  virtual std::vector<RewardResult> score_many(std::span<const RewardInput> inputs) const;
};

}  // namespace r1::rewards
