// Writes traces off the training loop: callers enqueue samples and step metrics and return at
// once; one writer thread owns the database connection and commits whatever has queued up as one
// transaction (so a burst of small batches costs one commit, not many), and an indexer thread with
// its own connection keeps the full-text index (trace_index.h) up with the commits, beside them.
// Knows nothing of stages.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sampling/trace_store.h"

namespace r1::sampling {

class TraceWriter {
 public:
  // Opens (creating or migrating) the store at `path` on the calling thread, so a bad file is
  // reported here, then starts the writer thread. At most `max_pending_records` samples wait in the
  // queue; past that add_samples blocks until the writer catches up (memory stays bounded).
  explicit TraceWriter(const std::string& path, std::size_t max_pending_records = 200000);
  // Commits what is queued. An error there is printed, not thrown: call flush() to see it.
  ~TraceWriter();
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  const std::string& path() const { return path_; }

  // Synchronous (waits for queued writes first): the run's id.
  int64_t begin_run(const std::string& name, const std::string& config_yaml);
  // Queue; each rethrows an error the writer thread met since the last call.
  void add_samples(int64_t run_id, std::vector<TraceRecord> records);
  void add_step_metrics(int64_t run_id, const std::string& stage, int64_t step, std::map<std::string, double> metrics);
  // Waits until everything queued so far is committed and (include_index) searchable; rethrows the
  // writer's or the indexer's error if any.
  void flush(bool include_index = true);
  // Runs `fn` on the store from the writer thread after everything queued (e.g. truncate_stage on
  // resume), and waits for it.
  void with_store(const std::function<void(TraceStore&)>& fn);

 private:
  void run();
  void run_indexer();
  void rethrow_error_locked();

  std::string path_;
  std::unique_ptr<TraceStore> store_;
  std::size_t max_pending_records_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<TraceStore::SamplesWrite> pending_samples_;
  std::vector<TraceStore::StepMetricsWrite> pending_metrics_;
  std::deque<std::function<void(TraceStore&)>> pending_calls_;
  std::size_t pending_records_ = 0;
  int waiters_ = 0;  // threads in flush() or blocked on a full queue: commit without delay
  static constexpr std::size_t kCommitRecords = 8192;
  static constexpr std::chrono::milliseconds kMaxCommitDelay{250};
  uint64_t enqueued_ = 0, committed_ = 0;  // batches: flush waits until committed_ catches up
  bool stopping_ = false;
  std::exception_ptr error_;
  std::thread thread_;

  std::unique_ptr<TraceStore> index_store_;  // the indexer's connection
  bool stop_indexer_ = false;
  static constexpr std::chrono::milliseconds kIndexInterval{2000};
  uint64_t index_requests_ = 0, index_served_ = 0;  // flush(true) waits for a pass begun after it asked
  std::thread indexer_;
};

}  // namespace r1::sampling
