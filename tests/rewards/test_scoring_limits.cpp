// score_batch with ScoringOptions: time limits that abandon stuck calls, the failure policies, the
// summary, and chunked score_many calls.
#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "rewards/registry.h"

using namespace r1::rewards;

namespace {

// Opened once by the test; calls blocked on it then return.
struct Gate {
  std::mutex mutex;
  std::condition_variable opened_cv;
  bool opened = false;
  void open() {
    {
      std::lock_guard lock(mutex);
      opened = true;
    }
    opened_cv.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex);
    opened_cv.wait(lock, [&] { return opened; });
  }
};

// Scores metadata "index"; blocks on the gate for items whose metadata has "block": true, throws
// for "throw": true. Sets `destroyed` when it goes, to show who kept it alive.
class GatedReward : public Reward {
 public:
  GatedReward(std::shared_ptr<Gate> gate, std::shared_ptr<std::atomic<bool>> destroyed)
      : gate_(std::move(gate)), destroyed_(std::move(destroyed)) {}
  ~GatedReward() override { *destroyed_ = true; }
  std::string name() const override { return "gated"; }
  RewardResult score(const RewardInput& input) const override {
    if (input.metadata.value("block", false)) gate_->wait();
    if (input.metadata.value("throw", false)) throw std::runtime_error("scorer exploded");
    RewardResult result;
    result.score = input.metadata.at("index").get<int>();
    return result;
  }

 private:
  std::shared_ptr<Gate> gate_;
  std::shared_ptr<std::atomic<bool>> destroyed_;
};

std::vector<RewardInput> indexed(int count) {
  std::vector<RewardInput> inputs(count);
  for (int i = 0; i < count; ++i) inputs[i].metadata = {{"index", i}};
  return inputs;
}

// Waits (10 s at most) for `condition`; tests do not time, but must not hang either.
template <typename Condition>
bool eventually(Condition condition) {
  for (int waited_ms = 0; waited_ms < 10'000; waited_ms += 5) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

ScoringOptions limited(int threads, int timeout_ms, std::size_t batch_size = 1) {
  ScoringOptions options;
  options.threads = threads;
  options.timeout = std::chrono::milliseconds(timeout_ms);
  options.batch_size = batch_size;
  return options;
}

// Records the size of every score_many call.
class CountingReward : public Reward {
 public:
  std::string name() const override { return "counting"; }
  RewardResult score(const RewardInput& input) const override {
    RewardResult result;
    result.score = input.metadata.at("index").get<int>() * 10;
    return result;
  }
  std::vector<RewardResult> score_many(std::span<const RewardInput> inputs) const override {
    {
      std::lock_guard lock(mutex_);
      call_sizes_.push_back(inputs.size());
    }
    return Reward::score_many(inputs);
  }
  std::vector<std::size_t> call_sizes() const {
    std::lock_guard lock(mutex_);
    std::vector<std::size_t> sizes = call_sizes_;
    std::sort(sizes.begin(), sizes.end());
    return sizes;
  }

 private:
  mutable std::mutex mutex_;
  mutable std::vector<std::size_t> call_sizes_;
};

}  // namespace

TEST_CASE("limits: a call over its limit is a recorded timeout; the batch returns; the stuck call "
          "is abandoned holding the reward, which goes when the call ends") {
  const std::size_t running_before = abandoned_calls_running();
  auto gate = std::make_shared<Gate>();
  auto destroyed = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<const Reward> reward = std::make_shared<GatedReward>(gate, destroyed);
  std::vector<RewardInput> inputs = indexed(6);
  inputs[2].metadata["block"] = true;

  ScoredBatch batch = score_batch(reward, inputs, limited(2, 50));  // returns while item 2 blocks
  REQUIRE(batch.results.size() == 6);
  for (int i = 0; i < 6; ++i) {
    CAPTURE(i);
    if (i == 2) {
      CHECK(batch.results[i].outcome == Outcome::error);
      CHECK(batch.results[i].failure == Failure::timeout);
      CHECK(batch.results[i].score == 0.0);
      CHECK(batch.results[i].reason == "timed out after 50 ms");
    } else {
      CHECK(batch.results[i].outcome == Outcome::pass);
      CHECK(batch.results[i].score == i);
    }
  }
  const RewardCounts& counts = batch.summary.by_reward.at("gated");
  CHECK(counts.items == 6);
  CHECK(counts.passed == 5);
  CHECK(counts.errors == 1);
  CHECK(counts.timeouts == 1);
  CHECK(counts.crashes == 0);
  CHECK(batch.summary.abandoned_calls == 1);
  CHECK(batch.summary.failures() == 1);
  CHECK(abandoned_calls_running() == running_before + 1);

  reward.reset();
  CHECK_FALSE(destroyed->load());  // the abandoned call still holds it
  gate->open();
  CHECK(eventually([&] { return destroyed->load(); }));
  CHECK(eventually([&] { return abandoned_calls_running() == running_before; }));
}

TEST_CASE("limits: a chunk of k items gets k times the limit, and says so") {
  auto gate = std::make_shared<Gate>();
  auto destroyed = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<const Reward> reward = std::make_shared<GatedReward>(gate, destroyed);
  std::vector<RewardInput> inputs = indexed(8);
  inputs[5].metadata["block"] = true;
  ScoredBatch batch = score_batch(reward, inputs, limited(2, 20, 4));
  for (int i = 0; i < 4; ++i) CHECK(batch.results[i].score == i);
  for (int i = 4; i < 8; ++i) {
    CHECK(batch.results[i].failure == Failure::timeout);
    CHECK(batch.results[i].reason == "timed out after 80 ms (20 ms per item, 4 items in the call)");
  }
  gate->open();
  CHECK(eventually([&] { return abandoned_calls_running() == 0; }));
}

TEST_CASE("limits: a reward that hangs on everything: fresh workers up to max_abandoned, then the "
          "rest of the batch is skipped at once") {
  auto gate = std::make_shared<Gate>();
  auto destroyed = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<const Reward> reward = std::make_shared<GatedReward>(gate, destroyed);
  std::vector<RewardInput> inputs = indexed(10);
  for (RewardInput& input : inputs) input.metadata["block"] = true;
  ScoringOptions options = limited(2, 60);
  options.max_abandoned = 1;
  ScoredBatch batch = score_batch(reward, inputs, options);
  // Two workers stuck on items 0 and 1; one fresh worker (max_abandoned 1) stuck on item 2.
  for (int i = 0; i < 3; ++i) CHECK(batch.results[i].failure == Failure::timeout);
  for (int i = 3; i < 10; ++i) {
    CHECK(batch.results[i].failure == Failure::skipped);
    CHECK(batch.results[i].outcome == Outcome::error);
    CHECK(batch.results[i].reason == "not scored: 3 calls of this batch are stuck past their time limit");
  }
  CHECK(batch.summary.abandoned_calls == 3);
  CHECK(batch.summary.by_reward.at("gated").timeouts == 3);
  CHECK(batch.summary.by_reward.at("gated").skipped == 7);
  CHECK(batch.summary.failures() == 10);
  reward.reset();
  gate->open();
  CHECK(eventually([&] { return destroyed->load() && abandoned_calls_running() == 0; }));
}

TEST_CASE("policy zero: throws are counted crashes, per part of a composition") {
  Registry local;
  local.add(RewardInfo{"format", "", [](const nlohmann::json&) {
                         return Registry::global().create("format");
                       }});
  auto gate = std::make_shared<Gate>();
  auto destroyed = std::make_shared<std::atomic<bool>>(false);
  local.add(RewardInfo{"gated", "", [&](const nlohmann::json&) {
                         return std::make_unique<GatedReward>(gate, destroyed);
                       }});
  std::shared_ptr<const Reward> reward = compose_from_json({{"format", 1.0}, {"gated", 2.0}}, local);
  std::vector<RewardInput> inputs = indexed(5);
  for (RewardInput& input : inputs) input.completion = "<think>a</think><answer>1</answer>";
  inputs[1].metadata["throw"] = true;
  inputs[3].metadata["throw"] = true;
  ScoredBatch batch = score_batch(reward, inputs, limited(2, 1000, 2));
  CHECK(batch.results[0].score == doctest::Approx(1.0));
  CHECK(batch.results[1].score == doctest::Approx(1.0));  // format still counts
  CHECK(batch.results[1].outcome == Outcome::error);
  CHECK(batch.results[1].failure == Failure::crash);
  CHECK(batch.results[1].reason == "gated: scorer exploded");
  CHECK(batch.results[4].score == doctest::Approx(1.0 + 2.0 * 4));
  CHECK(batch.summary.by_reward.at("format").passed == 5);
  CHECK(batch.summary.by_reward.at("format").crashes == 0);
  CHECK(batch.summary.by_reward.at("gated").crashes == 2);
  CHECK(batch.summary.by_reward.at("gated").passed == 3);
  CHECK(batch.summary.to_json() ==
        nlohmann::json::parse(R"({"abandoned_calls": 0, "rewards": {
          "format": {"items": 5, "passed": 5, "failed": 0, "errors": 0, "crashes": 0, "timeouts": 0, "skipped": 0},
          "gated": {"items": 5, "passed": 3, "failed": 0, "errors": 2, "crashes": 2, "timeouts": 0, "skipped": 0}}})"));
}

TEST_CASE("policy stop: the first failure in input order stops the batch with a RewardFailure") {
  auto gate = std::make_shared<Gate>();
  auto destroyed = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<const Reward> reward = std::make_shared<GatedReward>(gate, destroyed);
  std::vector<RewardInput> inputs = indexed(40);
  inputs[7].metadata["throw"] = true;
  ScoringOptions options = limited(3, 0, 2);  // no limit
  options.on_failure = FailurePolicy::stop;
  try {
    score_batch(reward, inputs, options);
    FAIL("no RewardFailure");
  } catch (const RewardFailure& failure) {
    CHECK(failure.reward() == "gated");
    CHECK(failure.item() == 7);
    CHECK(failure.failure() == Failure::crash);
    CHECK(failure.reason() == "scorer exploded");
    CHECK(std::string(failure.what()) ==
          "reward 'gated' failed on item 7 (crash, scoring on_failure: stop): scorer exploded");
  }

  // A timeout stops it too, without waiting for the stuck call.
  inputs[7].metadata.erase("throw");
  inputs[9].metadata["block"] = true;
  options.timeout = std::chrono::milliseconds(40);
  CHECK_THROWS_WITH_AS(score_batch(reward, inputs, options),
                       "reward 'gated' failed on item 8 (timeout, scoring on_failure: stop): "
                       "timed out after 80 ms (40 ms per item, 2 items in the call)",
                       RewardFailure);
  gate->open();
  CHECK(eventually([&] { return abandoned_calls_running() == 0; }));

  // Without failures, stop changes nothing.
  inputs[9].metadata.erase("block");
  ScoredBatch clean = score_batch(reward, inputs, options);
  CHECK(clean.results[39].score == 39);
  CHECK(clean.summary.failures() == 0);
}

TEST_CASE("score_batch hands rewards chunks through score_many; the old signature still works") {
  auto counting = std::make_shared<CountingReward>();
  std::vector<RewardInput> inputs = indexed(40);
  ScoringOptions options;
  options.threads = 3;
  options.batch_size = 16;
  ScoredBatch batch = score_batch(counting, inputs, options);
  for (int i = 0; i < 40; ++i) CHECK(batch.results[i].score == i * 10);
  CHECK(counting->call_sizes() == std::vector<std::size_t>{8, 16, 16});

  CountingReward borrowed;
  std::vector<RewardResult> results = score_batch(borrowed, inputs, 2);
  for (int i = 0; i < 40; ++i) CHECK(results[i].score == i * 10);
  CHECK(borrowed.call_sizes() == std::vector<std::size_t>{8, 16, 16});
  CHECK(score_batch(borrowed, {}, 2).empty());

  // The default score_many guards each item: one throw is that item's crash, not the call's.
  auto gate = std::make_shared<Gate>();
  auto destroyed = std::make_shared<std::atomic<bool>>(false);
  GatedReward gated(gate, destroyed);
  inputs[1].metadata["throw"] = true;
  std::vector<RewardResult> many = gated.score_many(std::span(inputs).first(3));
  CHECK(many[0].failure == Failure::none);
  CHECK(many[1].failure == Failure::crash);
  CHECK(many[1].reason == "scorer exploded");
  CHECK(many[2].score == 2);
}

TEST_CASE("a composition batches each of its parts") {
  Registry local;
  auto counting = std::make_shared<CountingReward>();
  local.add(RewardInfo{"counting", "", [&](const nlohmann::json&) {
                         // A forwarding wrapper, so the test keeps a handle on the counts.
                         struct Forward : Reward {
                           std::shared_ptr<CountingReward> inner;
                           std::string name() const override { return "counting"; }
                           RewardResult score(const RewardInput& input) const override {
                             return inner->score(input);
                           }
                           std::vector<RewardResult> score_many(
                               std::span<const RewardInput> inputs) const override {
                             return inner->score_many(inputs);
                           }
                         };
                         auto forward = std::make_unique<Forward>();
                         forward->inner = counting;
                         return std::unique_ptr<Reward>(std::move(forward));
                       }});
  local.add(RewardInfo{"format", "", [](const nlohmann::json&) {
                         return Registry::global().create("format");
                       }});
  std::unique_ptr<Composite> composite = compose({{"counting", 0.5}, {"format", 1.0}}, local);
  std::vector<RewardInput> inputs = indexed(10);
  std::vector<RewardResult> results = score_batch(*composite, inputs, 2);
  CHECK(counting->call_sizes() == std::vector<std::size_t>{10});
  CHECK(results[4].score == doctest::Approx(20.0));
  CHECK(results[4].components.at("counting") == 40.0);
  CHECK(results[4].outcome == Outcome::fail);  // format fails on an empty completion

  // Composite::score_many does the same when called directly.
  std::vector<RewardResult> direct = composite->score_many(inputs);
  CHECK(counting->call_sizes() == std::vector<std::size_t>{10, 10});
  CHECK(direct[4].score == doctest::Approx(20.0));
}

TEST_CASE("scoring options from config, checked") {
  ScoringOptions defaults = scoring_options_from_json(nullptr);
  CHECK(defaults.threads == 2);
  CHECK(defaults.timeout.count() == 0);
  CHECK(defaults.on_failure == FailurePolicy::zero);
  ScoringOptions set = scoring_options_from_json(
      {{"threads", 4}, {"timeout_ms", 2500}, {"on_failure", "stop"}, {"batch_size", 32},
       {"max_abandoned", 2}});
  CHECK(set.threads == 4);
  CHECK(set.timeout.count() == 2500);
  CHECK(set.on_failure == FailurePolicy::stop);
  CHECK(set.batch_size == 32);
  CHECK(set.max_abandoned == 2);
  CHECK_THROWS_WITH_AS(scoring_options_from_json({{"timeout", 5}}),
                       "unknown scoring option 'timeout'; known: threads, timeout_ms, on_failure, "
                       "batch_size, max_abandoned",
                       r1::UserError);
  CHECK_THROWS_WITH_AS(scoring_options_from_json({{"on_failure", "ignore"}}),
                       "scoring option on_failure must be zero or stop, got \"ignore\"", r1::UserError);
  CHECK_THROWS_AS(scoring_options_from_json({{"threads", 0}}), r1::UserError);
  CHECK_THROWS_AS(scoring_options_from_json({{"timeout_ms", -1}}), r1::UserError);
  CHECK_THROWS_AS(scoring_options_from_json({{"batch_size", 1.5}}), r1::UserError);
  CHECK_THROWS_AS(scoring_options_from_json(nlohmann::json::array()), r1::UserError);
  ScoringOptions bad;
  bad.batch_size = 0;
  CHECK_THROWS_AS(score_batch(std::make_shared<CountingReward>(), indexed(2), bad), r1::UserError);
}
