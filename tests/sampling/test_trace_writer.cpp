// Tests for the background trace writer: enqueue on the caller's thread, commit on the writer's,
// ordering, synchronous calls, errors carried over to the caller, backpressure with several
// producers, the destructor's final commit, and readers running beside the writer (WAL).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <thread>
#include <tuple>

#include "common/error.h"
#include "sampling/trace_store.h"
#include "sampling/trace_writer.h"
#include "tests/sampling/temp_dir.h"
#include "tests/sampling/trace_test_util.h"

using namespace r1::sampling;
using namespace r1::sampling::testing;

namespace {

TraceRecord rec(const std::string& stage, int64_t step, int64_t prompt_index, int64_t sample_index) {
  TraceRecord r;
  r.stage = stage;
  r.step = step;
  r.prompt_index = prompt_index;
  r.sample_index = sample_index;
  r.prompt = "prompt " + std::to_string(prompt_index);
  r.completion = "<think>" + stage + " " + std::to_string(step) + "</think><answer>" + std::to_string(prompt_index) +
                 "." + std::to_string(sample_index) + "</answer>";
  r.reward = double(sample_index);
  r.completion_tokens = 10 + sample_index;
  r.finish_reason = "stop";
  r.outcome = "pass";
  return r;
}

TraceFilter everything() {
  TraceFilter filter;
  filter.limit = -1;
  return filter;
}

}  // namespace

TEST_CASE("writer: samples enqueued here are committed on the writer thread, in order, visible after flush") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  TraceWriter writer(path);
  CHECK(writer.path() == path);
  const int64_t run = writer.begin_run("run", "config: 1\n");
  TraceStore reader(path, true);  // a separate, read-only connection

  std::thread::id writer_thread;
  writer.with_store([&](TraceStore&) { writer_thread = std::this_thread::get_id(); });
  CHECK(writer_thread != std::this_thread::get_id());

  for (int k = 0; k < 100; ++k) writer.add_samples(run, {rec("zero", k / 10, k / 5, k % 5)});
  writer.add_samples(run, {rec("zero", 10, 0, 0), rec("zero", 10, 0, 1), rec("zero", 10, 0, 2)});
  writer.add_step_metrics(run, "zero", 9, {{"loss", 1.5}, {"kl", 0.25}});
  writer.flush();

  CHECK(reader.count() == 103);
  const auto rows = reader.list(everything());
  REQUIRE(rows.size() == 103);
  for (int k = 0; k < 100; ++k) {  // ids increase in enqueue order
    CAPTURE(k);
    CHECK(rows[std::size_t(k)].id == k + 1);
    CHECK(rows[std::size_t(k)].step == k / 10);
    CHECK(rows[std::size_t(k)].prompt_index == k / 5);
    CHECK(rows[std::size_t(k)].sample_index == k % 5);
    CHECK(rows[std::size_t(k)].answer == std::to_string(k / 5) + "." + std::to_string(k % 5));
  }
  CHECK(rows[100].sample_index == 0);
  CHECK(rows[101].sample_index == 1);
  CHECK(rows[102].sample_index == 2);
  const auto metrics = reader.step_metrics("zero");
  REQUIRE(metrics.size() == 1);
  CHECK(metrics[0].step == 9);
  CHECK(metrics[0].values == std::map<std::string, double>{{"kl", 0.25}, {"loss", 1.5}});
  CHECK(reader.last_step(run, "zero") == 10);
  writer.flush();  // nothing queued: returns at once
}

TEST_CASE("writer: begin_run is synchronous and waits for the writes queued before it") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  TraceWriter writer(path);
  const int64_t run = writer.begin_run("first", "");
  TraceStore reader(path, true);
  CHECK(reader.runs().size() == 1);  // no flush needed
  std::vector<TraceRecord> batch;
  for (int k = 0; k < 50; ++k) batch.push_back(rec("zero", 0, k, 0));
  writer.add_samples(run, batch);
  const int64_t second = writer.begin_run("second", "");
  CHECK(second != run);
  CHECK(reader.count() == 50);  // committed before begin_run returned
  const auto runs = reader.runs();
  REQUIRE(runs.size() == 2);
  CHECK(runs[1].id == second);
  CHECK(runs[1].name == "second");
  CHECK(writer.begin_run("first", "") == run);
}

TEST_CASE("writer: with_store runs after the writes queued before it, and passes its error on") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  TraceWriter writer(path);
  const int64_t run = writer.begin_run("run", "");
  for (int step = 0; step < 3; ++step) {
    std::vector<TraceRecord> batch;
    for (int k = 0; k < 10; ++k) batch.push_back(rec("zero", step, k, 0));
    writer.add_samples(run, batch);
    writer.add_step_metrics(run, "zero", step, {{"loss", double(step)}});
  }
  int64_t seen = -1, deleted = -1;
  writer.with_store([&](TraceStore& store) {
    seen = store.count();
    deleted = store.truncate_stage(run, "zero", 1);  // resume from the checkpoint of step 0
  });
  CHECK(seen == 30);
  CHECK(deleted == 20);
  TraceStore reader(path, true);
  CHECK(reader.count() == 10);
  CHECK(reader.last_step(run, "zero") == 0);

  CHECK(error_of<r1::UserError>([&] { writer.with_store([](TraceStore&) { R1_FAIL("from the callback"); }); }) ==
        "from the callback");
  // The callback's error was the caller's alone: the writer goes on.
  writer.add_samples(run, {rec("zero", 1, 0, 0)});
  writer.flush();
  CHECK(reader.count() == 11);
}

TEST_CASE("writer: an error on the writer thread is rethrown by the next call, once, and not lost") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  // A queue of two records: the failing batch (two records) fills it, so the next add_samples waits
  // until the writer has taken that batch off the queue and never shares its transaction.
  TraceWriter writer(path, 2);
  const int64_t run = writer.begin_run("run", "");
  writer.add_samples(run, {rec("zero", 0, 0, 0), rec("zero", 0, 0, 1)});
  writer.flush();
  TraceStore reader(path, true);
  const auto duplicate = std::vector<TraceRecord>{rec("zero", 0, 1, 0), rec("zero", 0, 0, 1)};

  SUBCASE("by flush") {
    writer.add_samples(run, duplicate);
    const std::string error = error_of<r1::UserError>([&] { writer.flush(); });
    CHECK(error.find("already stored") != std::string::npos);
    CHECK(error.find("stage 'zero' step 0 prompt 0 sample 1") != std::string::npos);
    CHECK_NOTHROW(writer.flush());  // reported once
    CHECK(reader.count() == 2);     // nothing of the failed batch
    writer.add_samples(run, {rec("zero", 0, 1, 0)});
    writer.flush();
    CHECK(reader.count() == 3);
  }

  SUBCASE("by a later add_samples") {
    writer.add_samples(run, duplicate);
    // Each call either queues its samples or reports the error (then its samples are not queued).
    int queued = 0;
    bool reported = false;
    for (int k = 0; k < 20000 && !reported; ++k) {
      try {
        writer.add_samples(run, {rec("later", 0, k, 0)});
        ++queued;
      } catch (const r1::UserError& e) {
        reported = true;
        CHECK(std::string(e.what()).find("already stored") != std::string::npos);
      }
      if (!reported) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    REQUIRE(reported);
    CHECK_NOTHROW(writer.flush());
    CHECK(reader.count() == 2 + queued);
  }

  SUBCASE("by begin_run (a synchronous call)") {
    writer.add_samples(run, duplicate);
    CHECK(error_of<r1::UserError>([&] { writer.begin_run("next", ""); }).find("already stored") != std::string::npos);
    const int64_t next = writer.begin_run("next", "");  // reported once; this one goes through
    CHECK(next != run);
    CHECK(reader.runs().size() == 2);
  }

  SUBCASE("by the destructor, which prints it") {
    std::string printed;
    {
      auto doomed = std::make_unique<TraceWriter>(dir.file("other.db"));
      const int64_t other = doomed->begin_run("run", "");
      doomed->add_samples(other, {rec("zero", 0, 0, 0)});
      doomed->flush();
      doomed->add_samples(other, {rec("zero", 0, 0, 0)});
      printed = capture_stderr([&] { doomed.reset(); });
    }
    CHECK(printed.find("traces not written") != std::string::npos);
    CHECK(printed.find("already stored") != std::string::npos);
    CHECK(TraceStore(dir.file("other.db"), true).count() == 1);
  }

  SUBCASE("a failure other than a duplicate does not break the writer for later batches") {
    // A run that does not exist: the foreign key fails on the new stage's insert.
    writer.add_samples(run + 100, {rec("fresh", 0, 0, 0)});
    CHECK_THROWS(writer.flush());
    writer.add_samples(run, {rec("fresh", 0, 0, 0)});
    CHECK_NOTHROW(writer.flush());
    CHECK(reader.count() == 3);
  }
}

TEST_CASE("writer: backpressure blocks a producer past max_pending_records, and releases it") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  TraceWriter writer(path, 8);
  const int64_t run = writer.begin_run("run", "");
  // Hold the writer thread inside a call so nothing is taken off the queue.
  std::promise<void> release, entered;
  auto released = release.get_future();
  std::thread holder([&] {
    writer.with_store([&](TraceStore&) {
      entered.set_value();
      released.wait();
    });
  });
  entered.get_future().wait();
  const auto three = [](int k) { return std::vector<TraceRecord>{rec("zero", 0, k, 0), rec("zero", 0, k, 1), rec("zero", 0, k, 2)}; };
  writer.add_samples(run, three(0));  // 3 pending
  writer.add_samples(run, three(1));  // 6
  writer.add_samples(run, three(2));  // 9: over the limit from here on
  std::atomic<bool> returned{false};
  std::thread producer([&] {
    writer.add_samples(run, three(3));
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(returned.load());  // the writer is held: the queue cannot drain
  release.set_value();
  producer.join();
  holder.join();
  CHECK(returned.load());
  writer.flush();
  CHECK(TraceStore(path, true).count() == 12);
}

TEST_CASE("writer: two producers and a small queue, every sample lands exactly once") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  TraceWriter writer(path, 10);
  const int64_t run = writer.begin_run("run", "");
  constexpr int kCalls = 300;
  std::vector<std::thread> producers;
  for (int t = 0; t < 2; ++t)
    producers.emplace_back([&, t] {
      const std::string stage = "producer" + std::to_string(t);
      for (int k = 0; k < kCalls; ++k) {
        writer.add_samples(run, {rec(stage, k / 50, k, 0), rec(stage, k / 50, k, 1), rec(stage, k / 50, k, 2)});
        if (k % 100 == 99) writer.add_step_metrics(run, stage, k / 50, {{"calls", double(k + 1)}});
      }
    });
  for (auto& p : producers) p.join();
  writer.flush();

  TraceStore reader(path, true);
  CHECK(reader.count() == 2 * kCalls * 3);
  std::set<std::tuple<std::string, int64_t, int64_t, int64_t>> keys;
  for (const auto& row : reader.list(everything())) keys.insert({row.stage, row.step, row.prompt_index, row.sample_index});
  CHECK(keys.size() == std::size_t(2 * kCalls * 3));
  for (int t = 0; t < 2; ++t) {
    CAPTURE(t);
    TraceFilter filter = everything();
    filter.stage = "producer" + std::to_string(t);
    const auto rows = reader.list(filter);
    REQUIRE(rows.size() == std::size_t(kCalls * 3));
    for (std::size_t i = 0; i < rows.size(); ++i) {  // one producer's order is kept
      CHECK(rows[i].prompt_index == int64_t(i / 3));
      CHECK(rows[i].sample_index == int64_t(i % 3));
    }
    const auto metrics = reader.step_metrics(filter.stage);
    REQUIRE(metrics.size() == 3);
    CHECK(metrics[2].values.at("calls") == 300.0);
  }
}

TEST_CASE("writer: the destructor commits what is queued") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  int64_t run = 0;
  {
    TraceWriter writer(path);
    run = writer.begin_run("run", "");
    for (int k = 0; k < 50; ++k) {
      std::vector<TraceRecord> batch;
      for (int j = 0; j < 10; ++j) batch.push_back(rec("zero", k, j, 0));
      writer.add_samples(run, batch);
    }
    writer.add_step_metrics(run, "zero", 49, {{"loss", 0.5}});
  }
  TraceStore store(path);
  CHECK(store.count() == 500);
  CHECK(store.last_step(run, "zero") == 49);
  CHECK(store.step_metrics("zero").at(0).values.at("loss") == 0.5);
}

TEST_CASE("writer: a reader reads while the writer commits batch after batch (WAL, no SQLITE_BUSY)") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  TraceWriter writer(path);
  const int64_t run = writer.begin_run("run", "");
  TraceStore reader(path, true);
  constexpr int kBatch = 10, kBatches = 300;
  std::atomic<bool> done{false};
  std::vector<std::string> errors;
  int reads = 0;
  bool monotonic = true, whole_batches = true;
  std::thread reading([&] {
    int64_t last = 0;
    TraceFilter page;
    page.limit = 25;
    page.descending = true;
    while (!done.load()) {
      try {
        const int64_t count = reader.count();
        const auto rows = reader.list(page);
        TraceFilter filter = everything();
        filter.min_reward = 5;
        reader.count(filter);
        monotonic = monotonic && count >= last;
        whole_batches = whole_batches && count % kBatch == 0;  // a batch is committed whole or not at all
        last = count;
        if (rows.size() > 1) monotonic = monotonic && rows[0].id > rows[1].id;
        ++reads;
      } catch (const std::exception& e) {
        errors.push_back(e.what());
        break;
      }
    }
  });
  for (int b = 0; b < kBatches; ++b) {
    std::vector<TraceRecord> batch;
    for (int j = 0; j < kBatch; ++j) batch.push_back(rec("zero", b, j, 0));
    writer.add_samples(run, batch);
    if (b % 10 == 9) writer.flush();  // many small commits
  }
  writer.flush();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  done = true;
  reading.join();
  CHECK(errors.empty());
  if (!errors.empty()) MESSAGE(errors.front());
  CHECK(reads > 0);
  CHECK(monotonic);
  CHECK(whole_batches);
  CHECK(reader.count() == kBatch * kBatches);
}
