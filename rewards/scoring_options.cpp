// The scoring options from config, the batch summary as JSON, and the error thrown when the
// failure policy says stop.
#include <string>

#include "common/error.h"
#include "rewards/scoring.h"

namespace r1::rewards {

namespace {

long long integer_in(const nlohmann::json& config, const char* key, long long low, long long high) {
  const nlohmann::json& value = config[key];
  R1_CHECK(value.is_number_integer() && value.get<long long>() >= low &&
               value.get<long long>() <= high,
           "scoring option ", key, " must be an integer in [", low, ", ", high, "], got ",
           value.dump());
  return value.get<long long>();
}

}  // namespace

void ScoringOptions::validate() const {
  R1_CHECK(threads >= 1 && threads <= 1024, "scoring option threads must be in [1, 1024], got ",
           threads);
  R1_CHECK(timeout.count() >= 0, "scoring option timeout_ms must be >= 0 (0: no limit), got ",
           timeout.count());
  R1_CHECK(batch_size >= 1 && batch_size <= 1'000'000,
           "scoring option batch_size must be in [1, 1000000], got ", batch_size);
  R1_CHECK(max_abandoned >= 0 && max_abandoned <= 1024,
           "scoring option max_abandoned must be in [0, 1024], got ", max_abandoned);
}

ScoringOptions scoring_options_from_json(const nlohmann::json& config) {
  ScoringOptions options;
  if (config.is_null()) return options;
  R1_CHECK(config.is_object(), "scoring options must be a map, got ", config.dump());
  for (const auto& [key, value] : config.items()) {
    if (key == "threads") {
      options.threads = static_cast<int>(integer_in(config, "threads", 1, 1024));
    } else if (key == "timeout_ms") {
      // A day at most: more is surely a unit mistake, and keeps k * timeout far from overflowing.
      options.timeout = std::chrono::milliseconds(integer_in(config, "timeout_ms", 0, 86'400'000));
    } else if (key == "batch_size") {
      options.batch_size = static_cast<std::size_t>(integer_in(config, "batch_size", 1, 1'000'000));
    } else if (key == "max_abandoned") {
      options.max_abandoned = static_cast<int>(integer_in(config, "max_abandoned", 0, 1024));
    } else if (key == "on_failure") {
      const std::string policy = value.is_string() ? value.get<std::string>() : "";
      R1_CHECK(policy == "zero" || policy == "stop",
               "scoring option on_failure must be zero or stop, got ", value.dump());
      options.on_failure = policy == "stop" ? FailurePolicy::stop : FailurePolicy::zero;
    } else {
      R1_FAIL("unknown scoring option '", key,
              "'; known: threads, timeout_ms, on_failure, batch_size, max_abandoned");
    }
  }
  options.validate();
  return options;
}

std::size_t ScoringSummary::failures() const {
  std::size_t total = 0;
  for (const auto& [name, counts] : by_reward) total += counts.crashes + counts.timeouts + counts.skipped;
  return total;
}

nlohmann::json ScoringSummary::to_json() const {
  nlohmann::json rewards = nlohmann::json::object();
  for (const auto& [name, counts] : by_reward) {
    rewards[name] = {{"items", counts.items},       {"passed", counts.passed},
                     {"failed", counts.failed},     {"errors", counts.errors},
                     {"crashes", counts.crashes},   {"timeouts", counts.timeouts},
                     {"skipped", counts.skipped}};
  }
  return {{"abandoned_calls", abandoned_calls}, {"rewards", std::move(rewards)}};
}

RewardFailure::RewardFailure(std::string reward, std::size_t item, Failure failure,
                             std::string reason)
    : std::runtime_error("reward '" + reward + "' failed on item " + std::to_string(item) + " (" +
                         failure_name(failure) + ", scoring on_failure: stop): " + reason),
      reward_(std::move(reward)),
      item_(item),
      failure_(failure),
      reason_(std::move(reason)) {}

}  // namespace r1::rewards
