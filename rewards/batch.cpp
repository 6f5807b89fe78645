// score_batch: scores many completions on a few threads, results in input order, never throws
// because of what a reward does.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <system_error>
#include <thread>

#include "rewards/guard.h"
#include "rewards/registry.h"

namespace r1::rewards {

std::vector<RewardResult> score_batch(const Reward& reward, const std::vector<RewardInput>& inputs,
                                      int num_threads) {
  std::vector<RewardResult> results(inputs.size());
  if (inputs.empty()) return results;

  // Each worker claims the next unscored index, so a slow completion does not stall a whole
  // pre-assigned chunk; each result lands in its own slot, so order needs no sorting.
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t index = next++; index < inputs.size(); index = next++) {
      results[index] = score_guarded(reward, inputs[index]);
    }
  };

  const std::size_t wanted =
      std::min<std::size_t>(static_cast<std::size_t>(std::max(num_threads, 1)), inputs.size());
  std::vector<std::thread> helpers;
  helpers.reserve(wanted - 1);
  for (std::size_t started = 1; started < wanted; ++started) {
    try {
      helpers.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: the ones running (and this one) finish the batch
    }
  }
  work();  // the calling thread is one of the workers
  for (std::thread& helper : helpers) helper.join();
  return results;
}

}  // namespace r1::rewards
