// A killed run goes on from its last checkpoint: `r1 run` is SIGKILLed at seeded random moments
// (and once right after a checkpoint lands), restarted each time, and in the end every trace of
// the GRPO stage is in the store exactly once and every step's metrics equal those of a run that
// was never interrupted.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <nlohmann/json.hpp>

#include "tests/stages/cli_runner.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const std::string kConfig = std::string(R1_SOURCE_DIR) + "/configs/r1-tiny.yaml";
const std::vector<std::string> kArgs = {
    "--set", "stages=[pretrain,zero]", "--set", "pretrain.steps=20", "--set", "pretrain.corpus_size=200",
    "--set", "pretrain.chat_corpus_size=0", "--set", "eval.num_prompts=4", "--set", "eval.samples_per_prompt=2",
    "--set", "eval.chat_prompts=0", "--set", "zero.steps=12", "--set", "zero.prompts_per_step=2",
    "--set", "zero.grpo.group_size=4", "--set", "zero.checkpoint_every=2"};

// Starts `r1 run` in the background with `extra` arguments, output to `log`.
pid_t start_run(const fs::path& run_dir, const fs::path& log, const std::vector<std::string>& extra = kArgs) {
  std::vector<std::string> args = {R1_BINARY, "run", kConfig};
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), {"--run-dir", run_dir.string()});
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Waits for `pid`; true if it exited with status 0.
bool finished_ok(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// A stage's logged training steps (rows with `key`), by step; a step logged twice fails the test.
std::map<int64_t, nlohmann::json> step_metrics(const fs::path& run_dir, const std::string& stage = "zero",
                                               const std::string& key = "policy_loss") {
  std::map<int64_t, nlohmann::json> by_step;
  std::ifstream in(run_dir / stage / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto row = nlohmann::json::parse(line);
    if (row.contains(key)) {
      CHECK_MESSAGE(!by_step.count(row["step"].get<int64_t>()), "step ", row["step"], " logged twice");
      by_step[row["step"].get<int64_t>()] = row;
    }
  }
  return by_step;
}

// The step of `stage`'s current checkpoint, or -1 (none, or caught mid-rename).
int64_t checkpoint_step(const fs::path& run_dir, const std::string& stage) {
  std::ifstream state(run_dir / stage / "checkpoint" / "state.json");
  if (!state.good()) return -1;
  try {
    return nlohmann::json::parse(state)["step"].get<int64_t>();
  } catch (...) {
    return -1;
  }
}

// Starts a run and SIGKILLs it once `stage` has a checkpoint of at least `min_step`; true if it was killed so.
bool kill_after_checkpoint(const fs::path& run_dir, const fs::path& log, const std::vector<std::string>& args,
                           const std::string& stage, int64_t min_step) {
  const pid_t pid = start_run(run_dir, log, args);
  const auto deadline = Clock::now() + std::chrono::seconds(300);
  bool reached = false;
  while (Clock::now() < deadline && !reached) {
    reached = checkpoint_step(run_dir, stage) >= min_step;
    if (!reached) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const bool killed = reached && kill(pid, SIGKILL) == 0;
  finished_ok(pid);
  return killed;
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("SIGKILL at any moment: the run resumes, every trace stored exactly once, the same losses") {
  const auto dir = fresh_dir("resume_kill");

  // The reference: one uninterrupted run, timed.
  const auto started = Clock::now();
  REQUIRE(finished_ok(start_run(dir / "whole", dir / "whole.log")));
  const double whole_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const auto reference = step_metrics(dir / "whole");
  REQUIRE(reference.size() == 12);

  // The killed run: SIGKILL at seeded random moments across a run's length, restarting each time;
  // then once right after a checkpoint of step >= 4 lands; then to the end.
  const auto run = dir / "killed", log = dir / "killed.log";
  std::mt19937 rng(20261123);
  std::uniform_real_distribution<double> moment(0.05, 0.9);
  int kills = 0;
  for (int attempt = 0; attempt < 6; ++attempt) {
    const pid_t pid = start_run(run, log);
    std::this_thread::sleep_for(std::chrono::duration<double>(moment(rng) * whole_seconds));
    if (kill(pid, SIGKILL) == 0) ++kills;
    finished_ok(pid);
    if (fs::exists(run / "zero" / "done.json")) break;
  }
  if (!fs::exists(run / "zero" / "done.json")) {
    const pid_t pid = start_run(run, log);
    const auto deadline = Clock::now() + std::chrono::seconds(600);  // generous: a loaded machine is slow
    int64_t checkpoint_step = -1;
    while (Clock::now() < deadline && !fs::exists(run / "zero" / "done.json")) {
      std::ifstream state(run / "zero" / "checkpoint" / "state.json");
      if (state.good()) {
        try {
          checkpoint_step = nlohmann::json::parse(state)["step"].get<int64_t>();
        } catch (...) {
          // read while the rename lands: try again
        }
      }
      if (checkpoint_step >= 4) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (checkpoint_step >= 4 && kill(pid, SIGKILL) == 0) ++kills;
    finished_ok(pid);
  }
  // `r1 status` on the killed run: pretrain done, zero interrupted (resumable or restartable), nothing running.
  if (!fs::exists(run / "zero" / "done.json")) {
    const auto status = r1("status " + run.string());
    INFO(status.output);
    CHECK(status.exit_code == 0);
    CHECK(status.output.find("not running") != std::string::npos);
    CHECK(status.output.find("pretrain: done") != std::string::npos);
    CHECK(status.output.find("zero: interrupted") != std::string::npos);
  }

  const bool last_ok = finished_ok(start_run(run, log));
  const auto output = read_all(log);
  INFO(output.substr(output.size() > 6000 ? output.size() - 6000 : 0));
  REQUIRE(last_ok);
  MESSAGE(kills << " kills; whole run " << whole_seconds << " s");
  CHECK(kills >= 2);
  CHECK(output.find("[zero] resuming after step") != std::string::npos);
  CHECK(fs::exists(run / "zero" / "done.json"));
  CHECK_FALSE(fs::exists(run / "zero" / "checkpoint"));  // dropped once the stage is done
  const auto status = r1("status " + run.string());
  CHECK(status.output.find("zero: done") != std::string::npos);
  CHECK(status.output.find("(96 traces stored)") != std::string::npos);

  // Every (step, prompt, sample) of zero exactly once, nothing missing.
  auto listed = r1("traces list --json --limit -1 --stage zero --db " + (run / "traces.db").string());
  REQUIRE(listed.exit_code == 0);
  std::set<std::tuple<int64_t, int64_t, int64_t>> keys;
  int64_t rows = 0;
  std::istringstream lines(listed.output);
  for (std::string line; std::getline(lines, line); ++rows) {
    const auto row = nlohmann::json::parse(line);
    keys.emplace(row["step"].get<int64_t>(), row["prompt_index"].get<int64_t>(), row["sample_index"].get<int64_t>());
  }
  CHECK(rows == 12 * 2 * 4);
  CHECK(keys.size() == std::size_t(rows));

  // The same losses, rewards and KL at every step as the uninterrupted run.
  const auto resumed = step_metrics(run);
  REQUIRE(resumed.size() == reference.size());
  for (const auto& [step, row] : reference) {
    CAPTURE(step);
    for (const char* key : {"policy_loss", "reward", "kl", "grad_norm", "completion_tokens", "entropy"})
      CHECK(resumed.at(step)[key] == row[key]);
  }
}

TEST_CASE("SFT stages go on from their checkpoints: pretrain, and cold start without sampling again") {
  const auto dir = fresh_dir("resume_sft");
  const std::vector<std::string> args = {
      "--set", "stages=[pretrain,zero,cold_start]", "--set", "pretrain.steps=40", "--set", "pretrain.log_every=5",
      "--set", "pretrain.checkpoint_every=10", "--set", "pretrain.corpus_size=200", "--set", "pretrain.chat_corpus_size=0",
      "--set", "eval.num_prompts=4", "--set", "eval.samples_per_prompt=2", "--set", "eval.chat_prompts=0",
      "--set", "zero.steps=2", "--set", "zero.prompts_per_step=2", "--set", "zero.grpo.group_size=4",
      "--set", "cold_start.num_prompts=4", "--set", "cold_start.samples_per_prompt=2",
      "--set", "cold_start.training.steps=40", "--set", "cold_start.training.log_every=5",
      "--set", "cold_start.training.checkpoint_every=10", "--set", "cold_start.verdict.require_correct=false",
      "--set", "cold_start.verdict.require_format=false", "--set", "cold_start.verdict.min_language_share=0"};
  REQUIRE(finished_ok(start_run(dir / "whole", dir / "whole.log", args)));

  const auto run = dir / "killed", log = dir / "killed.log";
  CHECK(kill_after_checkpoint(run, log, args, "pretrain", 10));
  CHECK_FALSE(fs::exists(run / "pretrain" / "done.json"));
  // cold_start's checkpoints are numbered after its one sampling round (4 prompts: one chunk).
  CHECK(kill_after_checkpoint(run, log, args, "cold_start", 1 + 10));
  CHECK_FALSE(fs::exists(run / "cold_start" / "done.json"));
  const bool last_ok = finished_ok(start_run(run, log, args));
  const auto output = read_all(log);
  INFO(output.substr(output.size() > 6000 ? output.size() - 6000 : 0));
  REQUIRE(last_ok);
  CHECK(output.find("[pretrain] pretrain: going on after step") != std::string::npos);
  CHECK(output.find("[cold_start] training: going on after step") != std::string::npos);
  const auto done = [](const fs::path& path) { return nlohmann::json::parse(std::ifstream(path))["summary"]; };
  const auto whole_cold_start = done(dir / "whole" / "cold_start" / "done.json");
  const auto accepted = whole_cold_start["data"]["accepted"].get<int64_t>();
  CHECK(accepted > 0);
  CHECK(output.find("[cold_start] " + std::to_string(accepted) + " accepted traces of cold_start") !=
        std::string::npos);  // read back, not sampled again

  // The same losses at every logged step as the uninterrupted run, each step logged once.
  for (const char* stage : {"pretrain", "cold_start"}) {
    CAPTURE(stage);
    const auto reference = step_metrics(dir / "whole", stage, "loss");
    const auto resumed = step_metrics(run, stage, "loss");
    CHECK(reference.size() == 8);
    REQUIRE(resumed.size() == reference.size());
    for (const auto& [step, row] : reference) {
      CAPTURE(step);
      CHECK(resumed.at(step)["loss"] == row["loss"]);
    }
  }
  // cold_start's samples once each, with the same verdicts and the same held-out result.
  auto listed = r1("traces list --json --limit -1 --stage cold_start --db " + (run / "traces.db").string());
  REQUIRE(listed.exit_code == 0);
  CHECK(std::count(listed.output.begin(), listed.output.end(), '\n') == 8);
  CHECK(done(run / "cold_start" / "done.json")["eval_accuracy"] == whole_cold_start["eval_accuracy"]);
  CHECK(done(run / "cold_start" / "done.json")["data"] == whole_cold_start["data"]);
}

TEST_CASE("r1 status tells a running run from a killed one, and a second run in the same directory is refused") {
  const auto dir = fresh_dir("status_lock");
  const auto run = dir / "run";
  // A pretrain far too long to finish: it runs until the test kills it.
  const std::vector<std::string> args = {"--set", "stages=[pretrain,zero]", "--set", "pretrain.steps=1000000",
                                         "--set", "pretrain.corpus_size=50", "--set", "pretrain.chat_corpus_size=0",
                                         "--set", "pretrain.log_every=1000000", "--set", "pretrain.checkpoint_every=0"};
  const pid_t pid = start_run(run, dir / "log", args);
  const std::string running = "running (pid " + std::to_string(pid) + ")";
  CommandResult status;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < deadline && status.output.find(running) == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (fs::exists(run / "config.yaml")) status = r1("status " + run.string());
  }
  INFO(status.output);
  CHECK(status.output.find(running) != std::string::npos);
  CHECK(status.output.find("pretrain: running, no checkpoint yet") != std::string::npos);
  CHECK(status.output.find("zero: pending") != std::string::npos);

  const auto second = r1("run " + kConfig + " --run-dir " + run.string());
  CHECK(second.exit_code == 2);
  CHECK(second.output.find("is in use by another r1 run (pid " + std::to_string(pid) + ", stage pretrain)") !=
        std::string::npos);

  REQUIRE(kill(pid, SIGKILL) == 0);
  finished_ok(pid);
  const auto after = r1("status " + run.string());
  INFO(after.output);
  CHECK(after.exit_code == 0);
  CHECK(after.output.find("not running") != std::string::npos);
  CHECK(after.output.find("pretrain: interrupted, no checkpoint; r1 run restarts it from its beginning") !=
        std::string::npos);
}
