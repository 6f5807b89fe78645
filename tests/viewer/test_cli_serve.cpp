// `r1 serve` as a user runs it: the "listening on" line, real HTTP, a clean exit on SIGTERM, and
// exit 2 with a message naming the problem for a missing database or a port in use.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <regex>

#include "../sampling/temp_dir.h"
#include "fixture_db.h"
#include "http_get.h"

extern char** environ;

namespace {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// `r1 ARGS` to completion. (tests/stages/cli_runner.h has the same, but its global function `r1`
// collides with namespace r1, which this file needs.)
CommandResult run_r1(const std::string& args) {
  CommandResult result;
  FILE* pipe = popen((std::string(R1_BINARY) + " " + args + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// `r1 serve ...` in the background with its stdout on a pipe.
class ServeProcess {
 public:
  explicit ServeProcess(const std::vector<std::string>& args) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<std::string> argv_strings = {R1_BINARY, "serve"};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);
    REQUIRE(posix_spawn(&pid_, R1_BINARY, &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_fd_ = fds[0];
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_fd_);
  }

  // The first line of stdout, or "" when none comes within the deadline.
  std::string first_line(std::chrono::seconds deadline = std::chrono::seconds(60)) {
    std::string line;
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      pollfd poll_fd{out_fd_, POLLIN, 0};
      if (::poll(&poll_fd, 1, 200) <= 0) continue;
      char c;
      if (::read(out_fd_, &c, 1) != 1) return "";
      if (c == '\n') return line;
      line += c;
    }
    return "";
  }

  // Sends `signal` and waits for the exit code (-1 when killed by a signal).
  int stop(int signal) {
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
};

}  // namespace

TEST_CASE("r1 serve prints where it listens, serves, refuses a taken port, and exits on SIGTERM") {
  r1::sampling::testing::TempDir dir;
  const std::string db = dir.file("traces.db");
  r1::viewer::testing::write_fixture_db(db);

  ServeProcess serve({"--db", db, "--port", "0", "--threads", "2"});
  const std::string line = serve.first_line();
  std::smatch match;
  REQUIRE_MESSAGE(std::regex_match(line, match, std::regex("listening on http://127\\.0\\.0\\.1:(\\d+)")), line);
  const auto port = static_cast<unsigned short>(std::stoi(match[1]));
  const auto page = r1::viewer::testing::http_get(port, "/");
  CHECK(page.status == 200);
  CHECK(page.body.find("data-total=\"" + std::to_string(r1::viewer::testing::fixture_trace_count()) + "\"") !=
        std::string::npos);

  const CommandResult taken = run_r1("serve --db " + db + " --port " + std::to_string(port));
  CHECK(taken.exit_code == 2);
  CHECK(taken.output.find("in use") != std::string::npos);

  CHECK(serve.stop(SIGTERM) == 0);
}

TEST_CASE("r1 serve names a missing database and bad options, exit 2") {
  const CommandResult missing = run_r1("serve --db /nonexistent/traces.db --port 0");
  CHECK(missing.exit_code == 2);
  CHECK(missing.output.find("/nonexistent/traces.db") != std::string::npos);

  r1::sampling::testing::TempDir dir;
  const std::string not_a_db = dir.write("notes.db", "this is not sqlite\n");
  const CommandResult garbage = run_r1("serve --db " + not_a_db + " --port 0");
  CHECK(garbage.exit_code == 2);
  CHECK(garbage.output.find(not_a_db) != std::string::npos);

  const std::string db = dir.file("traces.db");
  r1::viewer::testing::write_fixture_db(db);
  CHECK(run_r1("serve --db " + db + " --threads 0").exit_code == 2);
  CHECK(run_r1("serve --db " + db + " --port 70000").exit_code == 2);
  CHECK(run_r1("serve --db " + db + " --port abc").exit_code == 2);
}
