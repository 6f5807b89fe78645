// Reward plug-ins in a real `zero` run: the example shared library, command program and HTTP
// service (examples/) score every sample beside the built-in accuracy reward, and their scores land
// in the trace store as their own components. The C++ function kind: test_cpp_reward_run.cpp.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/stages/cli_runner.h"

namespace {

// The tiny run, with plug-in limits: a failed call ends the run, so a test cannot pass on zeros.
const std::string kPluginRun =
    kDemoConfig + kTinyRun + " --set zero.reward_scoring.timeout_ms=10000 --set zero.reward_scoring.on_failure=stop";

// Samples of the zero stage that carry a component `name`, read back with the stock sqlite3 shell.
int64_t samples_with_component(const std::filesystem::path& db, const std::string& name) {
  auto out = run_command("sqlite3 " + db.string() +
                         " \"select count(*) from sample_view where stage = 'zero'"
                         " and json_extract(components, '$." + name + "') is not null\"");
  REQUIRE(out.exit_code == 0);
  return std::stoll(out.output);
}

// The example HTTP service, started in the background on a free port; killed when this goes.
class BackgroundService {
 public:
  BackgroundService(const std::string& program, const std::filesystem::path& log) {
    auto started = run_command(program + " 0 > " + log.string() + " 2>&1 & echo $!");
    pid_ = std::stoi(started.output);
    for (int i = 0; i < 200 && url_.empty(); ++i) {  // up to 10 s for "listening on URL"
      std::ifstream in(log);
      std::string line;
      if (std::getline(in, line) && line.rfind("listening on ", 0) == 0) url_ = line.substr(13);
      if (url_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~BackgroundService() { kill(pid_, SIGKILL); }
  const std::string& url() const { return url_; }

 private:
  int pid_ = 0;
  std::string url_;
};

}  // namespace

#if defined(R1_EXAMPLE_COMMAND_REWARD) && defined(R1_EXAMPLE_HTTP_REWARD) && defined(R1_EXAMPLE_SHARED_LIBRARY_REWARD)
TEST_CASE("zero runs with a command, an http and a shared-library reward beside the built-in one") {
  auto dir = fresh_dir("plugins");
  BackgroundService service(R1_EXAMPLE_HTTP_REWARD, dir / "service.log");
  REQUIRE(!service.url().empty());
  const std::string url = service.url();

  const std::string rewards = std::string("{accuracy: 1.0, shell_judge: {weight: 0.5, reward: command, command: [") +
                              R1_EXAMPLE_COMMAND_REWARD + "]}, web_judge: {weight: 0.5, reward: http, url: '" +
                              url + "'}, lib_judge: {weight: 0.5, reward: shared_library, path: '" +
                              R1_EXAMPLE_SHARED_LIBRARY_REWARD + "'}}";
  auto run = r1("run " + kPluginRun + " --set \"zero.rewards=" + rewards + "\" --run-dir " +
                (dir / "run").string());
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  // 2 steps x 2 prompts x 4 samples, each scored by every plug-in.
  CHECK(samples_with_component(dir / "run/traces.db", "shell_judge") == 16);
  CHECK(samples_with_component(dir / "run/traces.db", "web_judge") == 16);
  CHECK(samples_with_component(dir / "run/traces.db", "lib_judge") == 16);
  CHECK(samples_with_component(dir / "run/traces.db", "accuracy") == 16);
  // All three judge "does the answer contain the reference": they agree on every sample.
  auto disagree = run_command("sqlite3 " + (dir / "run/traces.db").string() +
                              " \"select count(*) from samples where json_extract(components, '$.shell_judge')"
                              " != json_extract(components, '$.web_judge') or json_extract(components,"
                              " '$.lib_judge') != json_extract(components, '$.web_judge')\"");
  CHECK(std::stoll(disagree.output) == 0);
}

TEST_CASE("a plug-in that cannot run stops the run under on_failure: stop, naming the reward") {
  auto dir = fresh_dir("plugins_stop");
  auto run = r1("run " + kPluginRun +
                " --set \"zero.rewards={accuracy: 1.0, judge: {reward: http, url: 'http://127.0.0.1:9/score',"
                " attempts: 1}}\" --run-dir " + (dir / "run").string());
  CHECK(run.exit_code == 1);  // a runtime failure, not bad input
  CHECK(run.output.find("judge") != std::string::npos);
}
#else
TEST_CASE("plug-in rewards in a zero run") { MESSAGE("skipped: the examples were not built with the tests"); }
#endif

TEST_CASE("a malformed reward entry is a config error naming zero.rewards") {
  auto dir = fresh_dir("plugins_bad");
  auto run = r1("run " + kPluginRun + " --set \"zero.rewards={accuracy: 1.0, judge: {reward: nosuch}}\"" +
                " --run-dir " + (dir / "run").string());
  CHECK(run.exit_code == 2);
  CHECK(run.output.find("zero.rewards") != std::string::npos);
  CHECK(run.output.find("nosuch") != std::string::npos);
}
