// The trace writer thread: swaps out everything queued, commits it as one transaction, repeats.
#include "sampling/trace_writer.h"

#include <cstdio>
#include <utility>

#include <sys/resource.h>
#include <unistd.h>

namespace r1::sampling {

TraceWriter::TraceWriter(const std::string& path, std::size_t max_pending_records)
    : path_(path),
      store_(std::make_unique<TraceStore>(path)),
      max_pending_records_(max_pending_records),
      index_store_(std::make_unique<TraceStore>(path)) {
  thread_ = std::thread([this] { run(); });
  indexer_ = std::thread([this] { run_indexer(); });
}

TraceWriter::~TraceWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
  {
    std::lock_guard lock(mutex_);
    stop_indexer_ = true;  // after a last pass over everything the writer committed
  }
  changed_.notify_all();
  indexer_.join();
  if (error_) {
    try {
      std::rethrow_exception(error_);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: traces not written: %s\n", path_.c_str(), e.what());
    }
  }
}

void TraceWriter::rethrow_error_locked() {
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void TraceWriter::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] {
      return stopping_ || !pending_samples_.empty() || !pending_metrics_.empty() || !pending_calls_.empty();
    });
    if (pending_samples_.empty() && pending_metrics_.empty() && pending_calls_.empty()) {
      if (stopping_) return;
      continue;
    }
    // Let a transaction fill up (each commit costs index and full-text merge work): until enough
    // records wait, a little time has passed, or someone waits for the writes.
    changed_.wait_for(lock, kMaxCommitDelay, [&] {
      return stopping_ || waiters_ > 0 || !pending_calls_.empty() || pending_records_ >= kCommitRecords;
    });
    auto samples = std::exchange(pending_samples_, {});
    auto metrics = std::exchange(pending_metrics_, {});
    auto calls = std::exchange(pending_calls_, {});
    const uint64_t batch_end = enqueued_;
    pending_records_ = 0;
    lock.unlock();
    changed_.notify_all();  // producers blocked on a full queue may go on
    std::exception_ptr error;
    try {
      if (!samples.empty() || !metrics.empty()) store_->write(samples, metrics);
      for (auto& call : calls) call(*store_);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    if (error && !error_) error_ = error;  // the first error is the one to report
    committed_ = batch_end;
    changed_.notify_all();
  }
}

void TraceWriter::run_indexer() {
  // The index may trail; the commits may not: where the two contend for the cores, the writer
  // goes first.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
  std::unique_lock lock(mutex_);
  for (;;) {
    // Every kIndexInterval, or when asked: an FTS5 segment per pass, so fewer, larger passes mean
    // less merging than one pass per commit.
    changed_.wait_for(lock, kIndexInterval, [&] { return stop_indexer_ || index_requests_ > index_served_; });
    const bool last_pass = stop_indexer_;
    const uint64_t serving = index_requests_;
    lock.unlock();
    std::exception_ptr error;
    try {
      index_store_->index_pending();
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    if (error && !error_) error_ = error;
    index_served_ = serving;
    changed_.notify_all();
    if (last_pass) return;
  }
}

int64_t TraceWriter::begin_run(const std::string& name, const std::string& config_yaml) {
  int64_t id = 0;
  with_store([&](TraceStore& store) { id = store.begin_run(name, config_yaml); });
  return id;
}

void TraceWriter::add_samples(int64_t run_id, std::vector<TraceRecord> records) {
  std::unique_lock lock(mutex_);
  rethrow_error_locked();
  if (pending_records_ >= max_pending_records_) {
    ++waiters_;  // a full queue commits at once
    changed_.notify_all();
    changed_.wait(lock, [&] { return pending_records_ < max_pending_records_ || error_; });
    --waiters_;
  }
  rethrow_error_locked();
  pending_records_ += records.size();
  pending_samples_.push_back({run_id, std::move(records)});
  ++enqueued_;
  lock.unlock();
  changed_.notify_all();
}

void TraceWriter::add_step_metrics(int64_t run_id, const std::string& stage, int64_t step,
                                   std::map<std::string, double> metrics) {
  std::unique_lock lock(mutex_);
  rethrow_error_locked();
  pending_metrics_.push_back({run_id, stage, step, std::move(metrics)});
  ++enqueued_;
  lock.unlock();
  changed_.notify_all();
}

void TraceWriter::flush(bool include_index) {
  std::unique_lock lock(mutex_);
  const uint64_t target = enqueued_;
  ++waiters_;
  changed_.notify_all();
  changed_.wait(lock, [&] { return committed_ >= target; });
  --waiters_;
  if (include_index) {
    const uint64_t request = ++index_requests_;  // a pass that begins now sees every commit above
    changed_.notify_all();
    changed_.wait(lock, [&] { return index_served_ >= request; });
  }
  rethrow_error_locked();
}

void TraceWriter::with_store(const std::function<void(TraceStore&)>& fn) {
  std::exception_ptr call_error;
  {
    std::unique_lock lock(mutex_);
    rethrow_error_locked();
    // The call runs after the samples queued before it (the writer commits those first).
    pending_calls_.push_back([&](TraceStore& store) {
      try {
        fn(store);
      } catch (...) {
        call_error = std::current_exception();
      }
    });
    const uint64_t target = ++enqueued_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return committed_ >= target; });
    rethrow_error_locked();
  }
  if (call_error) std::rethrow_exception(call_error);
}

}  // namespace r1::sampling
