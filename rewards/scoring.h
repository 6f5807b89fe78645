// Scoring a batch: parallel threads, a time limit per call, and what happens when a reward fails
// (throws, runs over its limit, its service or command fails): score 0 and count it, or stop.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rewards/reward.h"

namespace r1::rewards {

enum class FailurePolicy {
  zero,  // the failed item scores 0 with outcome error and its reason; the run goes on
  stop,  // score_batch throws RewardFailure for the first failed item (in input order)
};

struct ScoringOptions {
  int threads = 2;  // calls in flight at once
  // Limit per item; a score_many call on k items may take k times this. 0: no limit, and nothing
  // is ever abandoned. With a limit, each call runs on a worker thread; one over its limit is
  // abandoned (C++ cannot kill a thread): the batch goes on without it, its items fail with
  // Failure::timeout, and the thread finishes on its own, holding what it needs. A reward that
  // blocks forever therefore keeps a thread (and its memory) until the process ends.
  std::chrono::milliseconds timeout{0};
  FailurePolicy on_failure = FailurePolicy::zero;
  std::size_t batch_size = 16;  // items per score_many call (an HTTP plug-in: per request)
  // Calls abandoned in one batch before the batch gives up on the rest: each abandoned call gets a
  // fresh worker up to this many; once none is left, the unscored items fail as Failure::skipped.
  // Bounds both the threads a hanging reward can pin and how long its batch takes.
  int max_abandoned = 8;

  void validate() const;  // UserError naming the bad field
};

// From a config map {threads, timeout_ms, on_failure: zero|stop, batch_size, max_abandoned}; each
// key optional, others rejected. UserError naming the key.
ScoringOptions scoring_options_from_json(const nlohmann::json& config);

// What happened to one reward (one part of a composition) over a batch.
struct RewardCounts {
  std::size_t items = 0;
  std::size_t passed = 0;
  std::size_t failed = 0;
  std::size_t errors = 0;    // outcome error: verdicts that could not judge, and all failures below
  std::size_t crashes = 0;   // Failure::crash
  std::size_t timeouts = 0;  // Failure::timeout
  std::size_t skipped = 0;   // Failure::skipped

  RewardCounts& operator+=(const RewardCounts& other) {
    items += other.items;
    passed += other.passed;
    failed += other.failed;
    errors += other.errors;
    crashes += other.crashes;
    timeouts += other.timeouts;
    skipped += other.skipped;
    return *this;
  }
};

struct ScoringSummary {
  std::map<std::string, RewardCounts> by_reward;  // by part name for a composition
  std::size_t abandoned_calls = 0;  // calls left running past their limit by this batch
  std::size_t failures() const;     // crashes + timeouts + skipped, over all rewards
  // {"abandoned_calls": n, "rewards": {name: {"items", "passed", "failed", "errors", "crashes",
  //  "timeouts", "skipped"}}} — for a stage's metrics log.
  nlohmann::json to_json() const;
};

struct ScoredBatch {
  std::vector<RewardResult> results;  // in input order
  ScoringSummary summary;
};

// Thrown by score_batch under FailurePolicy::stop. A runtime failure (exit 1 at main), not bad
// input: the config asked to stop when a reward cannot run.
class RewardFailure : public std::runtime_error {
 public:
  RewardFailure(std::string reward, std::size_t item, Failure failure, std::string reason);
  const std::string& reward() const { return reward_; }
  std::size_t item() const { return item_; }  // index in the batch
  Failure failure() const { return failure_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string reward_;
  std::size_t item_;
  Failure failure_;
  std::string reason_;
};

// Scores a batch with the options' threads, limit and policy; results in input order. A composition
// is scored part by part (each part's score_many on chunks of the batch) and recombined, so each
// part has its own limit, failure counts and batching. The reward and inputs are shared with the
// workers, so an abandoned call never outlives what it reads.
ScoredBatch score_batch(std::shared_ptr<const Reward> reward, std::vector<RewardInput> inputs,
                        const ScoringOptions& options);

// Scores a batch, in parallel threads, with no time limit; results are in input order. A reward
// that throws yields outcome error with the exception text as the reason and score 0 (never a
// crash).
std::vector<RewardResult> score_batch(const Reward& reward, const std::vector<RewardInput>& inputs,
                                      int num_threads = 2);

// Calls abandoned by any batch of this process that have not returned yet.
std::size_t abandoned_calls_running();

}  // namespace r1::rewards
