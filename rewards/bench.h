// `r1 bench rewards`: how fast the rule rewards score typical completions.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace r1::rewards {

// Builds n typical completions (a <think> chain of a few sentences with numbers, then the answer
// as \boxed{} or in <answer>), scores them with math_accuracy + format + language_consistency on
// `threads` threads (1: the calling thread alone) and returns {"completions": n, "threads": t,
// "seconds": s, "per_second": n / s, "mean_reward": ...}. The composition and its word lists are
// built before the clock starts.
// `weights` picks another composition (e.g. {"format": 1} as the baseline a run is compared with).
nlohmann::json bench_rewards(std::int64_t n, int threads,
                             const std::map<std::string, double>& weights = {
                                 {"math_accuracy", 1.0}, {"format", 1.0}, {"language_consistency", 1.0}});

}  // namespace r1::rewards
