// score_batch: scores many completions on a few threads, results in input order, a time limit per
// call and the failure policy. Never hangs and never throws because of what a reward does, except
// RewardFailure when the policy says stop.
//
// Work is a list of tasks, each one score_many call on a chunk of the batch for one reward (one part
// of a composition). Workers claim the next task, so a slow chunk does not stall a pre-assigned
// share. Without a limit the calling thread is one of the workers. With one, the calling thread only
// watches the deadlines: a call over its limit is abandoned (its items fail with Failure::timeout
// at once) and a fresh worker takes its place; the abandoned thread is detached when the batch
// returns and ends whenever its call does. Everything a worker touches lives in a BatchState shared
// by the workers and the caller, so nothing dangles behind an abandoned call.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <span>
#include <system_error>
#include <thread>

#include "common/error.h"
#include "rewards/guard.h"
#include "rewards/registry.h"

namespace r1::rewards {

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<std::size_t> abandoned_running{0};

// One score_many call: items [begin, end) for one reward.
struct Task {
  std::size_t part;
  std::size_t begin;
  std::size_t end;
};

struct Worker {
  std::optional<std::size_t> task;  // the task in flight
  Clock::time_point deadline;       // of that task, when there is a limit
  bool abandoned = false;           // its call ran over; its results will be dropped
  bool exited = false;
};

struct BatchState {
  std::shared_ptr<const Reward> owner;  // keeps the parts alive for abandoned calls
  std::shared_ptr<const std::vector<RewardInput>> inputs;
  std::vector<const Reward*> parts;
  std::vector<std::string> part_names;
  ScoringOptions options;
  std::vector<Task> tasks;
  std::vector<std::vector<RewardResult>> results;  // [part][item]

  std::mutex mutex;  // guards everything below, and the results of tasks not yet finished
  std::condition_variable changed;
  std::size_t next_task = 0;
  std::size_t finished_tasks = 0;
  bool stopping = false;  // FailurePolicy::stop saw a failure: claim no more tasks
  std::vector<Worker> workers;  // by worker id
};

// A call of k items may take k times the per-item limit; capped so that a long limit on a large
// chunk cannot overflow the clock's nanoseconds.
std::chrono::milliseconds call_limit(const ScoringOptions& options, const Task& task) {
  const auto items = static_cast<long long>(task.end - task.begin);
  const long long cap_ms = 30LL * 24 * 3600 * 1000;
  return std::chrono::milliseconds(std::min(cap_ms, options.timeout.count() * items));
}

bool has_failure(const std::vector<RewardResult>& results) {
  return std::any_of(results.begin(), results.end(),
                     [](const RewardResult& result) { return result.failure != Failure::none; });
}

// Stores a finished task's results; the caller holds the mutex.
void finish_task(BatchState& state, const Task& task, std::vector<RewardResult> results) {
  if (state.options.on_failure == FailurePolicy::stop && has_failure(results)) state.stopping = true;
  for (std::size_t offset = 0; offset < results.size(); ++offset) {
    state.results[task.part][task.begin + offset] = std::move(results[offset]);
  }
  ++state.finished_tasks;
}

void work(std::shared_ptr<BatchState> state, std::size_t worker_id) {
  std::unique_lock lock(state->mutex);
  while (!state->stopping && state->next_task < state->tasks.size()) {
    const std::size_t task_index = state->next_task++;
    const Task task = state->tasks[task_index];
    state->workers[worker_id].task = task_index;
    state->workers[worker_id].deadline = Clock::now() + call_limit(state->options, task);
    state->changed.notify_all();  // a watcher waiting without a deadline must learn this one
    lock.unlock();
    const std::span<const RewardInput> chunk(state->inputs->data() + task.begin,
                                             task.end - task.begin);
    std::vector<RewardResult> results = score_many_guarded(*state->parts[task.part], chunk);
    lock.lock();
    Worker& self = state->workers[worker_id];
    if (self.abandoned) {  // the batch has moved on; these results are no longer wanted
      --abandoned_running;
      self.exited = true;
      return;
    }
    self.task.reset();
    finish_task(*state, task, std::move(results));
    state->changed.notify_all();
  }
  state->workers[worker_id].exited = true;
  state->changed.notify_all();
}

// Starts a worker; the caller holds the mutex. False when no thread can be had.
bool start_worker(const std::shared_ptr<BatchState>& state, std::vector<std::thread>& threads) {
  const std::size_t worker_id = state->workers.size();
  state->workers.emplace_back();
  try {
    threads.emplace_back(work, state, worker_id);
    return true;
  } catch (const std::system_error&) {
    state->workers.pop_back();
    return false;
  }
}

std::string timeout_reason(const ScoringOptions& options, std::size_t items) {
  const long long per_item = options.timeout.count();
  if (items == 1) return "timed out after " + std::to_string(per_item) + " ms";
  return "timed out after " + std::to_string(per_item * static_cast<long long>(items)) + " ms (" +
         std::to_string(per_item) + " ms per item, " + std::to_string(items) + " items in the call)";
}

// Fails every task not yet claimed with `reason`; the caller holds the mutex.
void skip_unclaimed(BatchState& state, const std::string& reason) {
  for (; state.next_task < state.tasks.size(); ++state.next_task) {
    const Task& task = state.tasks[state.next_task];
    finish_task(state, task,
                std::vector<RewardResult>(task.end - task.begin,
                                          failure_result(Failure::skipped, reason)));
  }
}

// With a limit: the calling thread watches the workers' deadlines until every task is finished,
// abandoned or (when stopping) left alone. Returns how many calls it abandoned.
std::size_t run_with_limit(const std::shared_ptr<BatchState>& state,
                           std::vector<std::thread>& threads) {
  BatchState& batch = *state;
  std::unique_lock lock(batch.mutex);
  const auto wanted = std::min<std::size_t>(static_cast<std::size_t>(batch.options.threads),
                                            batch.tasks.size());
  for (std::size_t started = 0; started < wanted; ++started) {
    if (!start_worker(state, threads)) break;
  }
  std::size_t abandoned = 0;
  while (batch.finished_tasks < batch.tasks.size()) {
    std::optional<Clock::time_point> earliest;
    std::size_t live = 0;
    for (const Worker& worker : batch.workers) {
      if (worker.abandoned || worker.exited) continue;
      ++live;
      if (worker.task && (!earliest || worker.deadline < *earliest)) earliest = worker.deadline;
    }
    if (batch.stopping && !earliest) break;
    if (live == 0) {  // every worker is stuck past its limit, and none may replace them
      skip_unclaimed(batch, abandoned == 0
                                ? std::string("not scored: no thread could be started")
                                : "not scored: " + std::to_string(abandoned) +
                                      " calls of this batch are stuck past their time limit");
      break;
    }
    if (earliest) {
      batch.changed.wait_until(lock, *earliest);
    } else {
      batch.changed.wait(lock);
    }

    const Clock::time_point now = Clock::now();
    for (std::size_t worker_id = 0; worker_id < batch.workers.size(); ++worker_id) {
      Worker& worker = batch.workers[worker_id];
      if (worker.abandoned || worker.exited || !worker.task || worker.deadline > now) continue;
      const Task task = batch.tasks[*worker.task];
      worker.abandoned = true;
      ++abandoned;
      ++abandoned_running;
      const std::size_t items = task.end - task.begin;
      finish_task(batch, task,
                  std::vector<RewardResult>(
                      items, failure_result(Failure::timeout, timeout_reason(batch.options, items))));
      if (batch.options.on_failure == FailurePolicy::stop) batch.stopping = true;
      const bool work_left = !batch.stopping && batch.next_task < batch.tasks.size();
      if (work_left && abandoned <= static_cast<std::size_t>(batch.options.max_abandoned)) {
        start_worker(state, threads);  // references into workers are not used past this point
      }
    }
  }
  return abandoned;
}

// Without a limit: helpers and the calling thread work until the tasks run out.
void run_without_limit(const std::shared_ptr<BatchState>& state,
                       std::vector<std::thread>& threads) {
  std::size_t own_id = 0;
  {
    std::lock_guard lock(state->mutex);
    own_id = state->workers.size();
    state->workers.emplace_back();
    const std::size_t wanted = std::min<std::size_t>(
        static_cast<std::size_t>(state->options.threads), state->tasks.size());
    for (std::size_t started = 1; started < wanted; ++started) {
      if (!start_worker(state, threads)) break;  // the ones running (and this one) finish the batch
    }
  }
  work(state, own_id);
}

ScoringSummary summarise(const BatchState& state, std::size_t abandoned) {
  ScoringSummary summary;
  summary.abandoned_calls = abandoned;
  for (std::size_t part = 0; part < state.parts.size(); ++part) {
    RewardCounts& counts = summary.by_reward[state.part_names[part]];
    for (const RewardResult& result : state.results[part]) {
      ++counts.items;
      counts.passed += result.outcome == Outcome::pass;
      counts.failed += result.outcome == Outcome::fail;
      counts.errors += result.outcome == Outcome::error;
      counts.crashes += result.failure == Failure::crash;
      counts.timeouts += result.failure == Failure::timeout;
      counts.skipped += result.failure == Failure::skipped;
    }
  }
  return summary;
}

// The failure with the lowest item index (then part order), as RewardFailure.
[[noreturn]] void throw_first_failure(const BatchState& state) {
  const std::size_t items = state.inputs->size();
  for (std::size_t item = 0; item < items; ++item) {
    for (std::size_t part = 0; part < state.parts.size(); ++part) {
      const RewardResult& result = state.results[part][item];
      if (result.failure != Failure::none) {
        throw RewardFailure(state.part_names[part], item, result.failure, result.reason);
      }
    }
  }
  throw RewardFailure(state.part_names.front(), 0, Failure::crash, "stopped without a failure");
}

ScoredBatch run_batch(std::shared_ptr<const Reward> owner,
                      std::shared_ptr<const std::vector<RewardInput>> inputs,
                      const ScoringOptions& options) {
  options.validate();
  auto state = std::make_shared<BatchState>();
  state->owner = std::move(owner);
  state->inputs = std::move(inputs);
  state->options = options;
  // A composition is scored part by part, so each part is batched, limited and counted on its own.
  if (const auto* composite = dynamic_cast<const Composite*>(state->owner.get())) {
    for (const WeightedReward& part : composite->parts()) {
      state->parts.push_back(part.reward.get());
      state->part_names.push_back(part.name);
    }
  } else {
    state->parts.push_back(state->owner.get());
    state->part_names.push_back(state->owner->name());
  }
  const std::size_t items = state->inputs->size();
  state->results.assign(state->parts.size(), std::vector<RewardResult>(items));
  for (std::size_t begin = 0; begin < items; begin += options.batch_size) {
    const std::size_t end = std::min(items, begin + options.batch_size);
    for (std::size_t part = 0; part < state->parts.size(); ++part) {
      state->tasks.push_back(Task{part, begin, end});
    }
  }

  std::vector<std::thread> threads;
  std::size_t abandoned = 0;
  if (!state->tasks.empty()) {
    if (options.timeout.count() > 0) {
      abandoned = run_with_limit(state, threads);
    } else {
      run_without_limit(state, threads);
    }
  }
  // threads[i] runs workers[i + offset], where without a limit worker 0 is the calling thread.
  const std::size_t offset = state->workers.size() - threads.size();
  for (std::size_t i = 0; i < threads.size(); ++i) {
    bool abandoned_worker = false;
    {
      std::lock_guard lock(state->mutex);
      abandoned_worker = state->workers[i + offset].abandoned;
    }
    if (abandoned_worker) {
      threads[i].detach();  // it holds `state`, so what it reads stays alive until it returns
    } else {
      threads[i].join();  // has no task left: returns at once
    }
  }

  if (options.on_failure == FailurePolicy::stop && state->stopping) throw_first_failure(*state);

  ScoredBatch batch;
  batch.summary = summarise(*state, abandoned);
  batch.results.reserve(items);
  const auto* composite = dynamic_cast<const Composite*>(state->owner.get());
  for (std::size_t item = 0; item < items; ++item) {
    if (composite == nullptr) {
      batch.results.push_back(std::move(state->results[0][item]));
      continue;
    }
    std::vector<RewardResult> part_results;
    part_results.reserve(state->parts.size());
    for (std::size_t part = 0; part < state->parts.size(); ++part) {
      part_results.push_back(std::move(state->results[part][item]));
    }
    batch.results.push_back(composite->combine(part_results));
  }
  return batch;
}

}  // namespace

ScoredBatch score_batch(std::shared_ptr<const Reward> reward, std::vector<RewardInput> inputs,
                        const ScoringOptions& options) {
  R1_ASSERT(reward != nullptr, "score_batch needs a reward");
  return run_batch(std::move(reward),
                   std::make_shared<const std::vector<RewardInput>>(std::move(inputs)), options);
}

std::vector<RewardResult> score_batch(const Reward& reward, const std::vector<RewardInput>& inputs,
                                      int num_threads) {
  ScoringOptions options;
  options.threads = std::max(num_threads, 1);
  // No limit, so no call outlives this function: the reward and inputs can be borrowed.
  std::shared_ptr<const Reward> borrowed_reward(std::shared_ptr<const Reward>{}, &reward);
  std::shared_ptr<const std::vector<RewardInput>> borrowed_inputs(
      std::shared_ptr<const std::vector<RewardInput>>{}, &inputs);
  return run_batch(std::move(borrowed_reward), std::move(borrowed_inputs), options).results;
}

std::size_t abandoned_calls_running() { return abandoned_running.load(); }

}  // namespace r1::rewards
