// A killed run goes on from its last checkpoint: `r1 run` is SIGKILLed at seeded random moments
// (and once right after a checkpoint lands), restarted each time, and in the end every trace of
// the GRPO stage is in the store exactly once and every step's metrics equal those of a run that
// was never interrupted.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

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

// Starts `r1 run` in the background, output to `log`.
pid_t start_run(const fs::path& run_dir, const fs::path& log) {
  std::vector<std::string> args = {R1_BINARY, "run", kConfig};
  args.insert(args.end(), kArgs.begin(), kArgs.end());
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

std::map<int64_t, nlohmann::json> step_metrics(const fs::path& run_dir) {
  std::map<int64_t, nlohmann::json> by_step;
  std::ifstream in(run_dir / "zero" / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto row = nlohmann::json::parse(line);
    if (row.contains("policy_loss")) {
      CHECK_MESSAGE(!by_step.count(row["step"].get<int64_t>()), "step ", row["step"], " logged twice");
      by_step[row["step"].get<int64_t>()] = row;
    }
  }
  return by_step;
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
    const auto deadline = Clock::now() + std::chrono::seconds(120);
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
  const bool last_ok = finished_ok(start_run(run, log));
  const auto output = read_all(log);
  INFO(output.substr(output.size() > 6000 ? output.size() - 6000 : 0));
  REQUIRE(last_ok);
  MESSAGE(kills << " kills; whole run " << whole_seconds << " s");
  CHECK(kills >= 2);
  CHECK(output.find("[zero] resuming after step") != std::string::npos);
  CHECK(fs::exists(run / "zero" / "done.json"));
  CHECK_FALSE(fs::exists(run / "zero" / "checkpoint"));  // dropped once the stage is done

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
