// The `command` plug-in: completions scored by a long-running child process that reads one JSON
// object a line on stdin and writes one JSON answer a line on stdout, in order (fields in
// rewards/plugin_protocol.h). Up to `processes` children run at once, each serving one call at a
// time; they are started on first use and kept.
//
// Decisions. One item at a time per child: write its line, read its answer, with timeout_ms for
// both. The item in flight when anything goes wrong is a recorded failure, not retried (it may be
// the very item that crashes the child; sending it again would crash it again); the child is ended
// and a fresh one is started for the next item:
//   - it exits or closes stdout      -> Failure::crash, "... exited with status N before answering"
//   - no answer within timeout_ms    -> Failure::timeout, the child's process group is killed
//   - a line that is not an answer   -> Failure::crash; restarting keeps later answers from being
//                                       paired with the wrong item
// A command that cannot start at all fails each item it is asked for, with the reason.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "rewards/builtins.h"
#include "rewards/guard.h"
#include "rewards/line_process.h"
#include "rewards/plugin_protocol.h"

namespace r1::rewards {

namespace {

constexpr long long kDefaultTimeoutMs = 10'000;
constexpr long long kDefaultProcesses = 1;
constexpr std::size_t kMaxAnswerBytes = 16u << 20;

class CommandReward : public Reward {
 public:
  CommandReward(std::vector<std::string> argv, std::chrono::milliseconds timeout, int processes)
      : argv_(std::move(argv)), timeout_(timeout), max_processes_(processes) {
    for (const std::string& arg : argv_) shown_ += (shown_.empty() ? "" : " ") + arg;
    if (shown_.size() > 80) shown_ = shown_.substr(0, 77) + "...";
  }

  std::string name() const override { return "command"; }

  RewardResult score(const RewardInput& input) const override {
    return score_many(std::span<const RewardInput>(&input, 1)).front();
  }

  std::vector<RewardResult> score_many(std::span<const RewardInput> inputs) const override {
    std::unique_ptr<LineProcess> process = acquire();
    std::vector<RewardResult> results;
    results.reserve(inputs.size());
    for (const RewardInput& input : inputs) results.push_back(score_one(process, input));
    give_back(std::move(process));
    return results;
  }

 private:
  // Scores one item on `process`, starting one when there is none and ending it on any failure.
  RewardResult score_one(std::unique_ptr<LineProcess>& process, const RewardInput& input) const {
    const std::string who = "command '" + shown_ + "'";
    if (!process) {
      try {
        process = std::make_unique<LineProcess>(argv_);
      } catch (const std::exception& e) {
        return failure_result(Failure::crash, who + ": " + e.what());
      }
    }
    const auto deadline = LineProcess::Clock::now() + timeout_;
    const std::string request =
        protocol_request(input).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    LineProcess::Status status = process->write_line(request, deadline);
    std::string line;
    if (status == LineProcess::Status::ok) status = process->read_line(line, deadline, kMaxAnswerBytes);

    std::optional<RewardResult> failure;
    switch (status) {
      case LineProcess::Status::ok:
        break;
      case LineProcess::Status::timeout:
        process->end(std::chrono::milliseconds(0));
        failure = failure_result(Failure::timeout,
                                 who + " gave no answer within " + std::to_string(timeout_.count()) +
                                     " ms; it was killed and will be restarted");
        break;
      case LineProcess::Status::closed: {
        const std::string how = process->end(std::chrono::milliseconds(200));
        failure = failure_result(Failure::crash, who + " " + how +
                                                     " before answering; it will be restarted");
        break;
      }
      case LineProcess::Status::too_long:
        process->end(std::chrono::milliseconds(0));
        failure = failure_result(Failure::crash, who + " answered with a line of more than " +
                                                     std::to_string(kMaxAnswerBytes) +
                                                     " bytes; it was restarted");
        break;
    }
    if (!failure) {
      const nlohmann::json answer = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (answer.is_discarded()) {
        failure = failure_result(Failure::crash, who + " answered with a line that is not JSON: " +
                                                     quoted_snippet(line) +
                                                     "; it was restarted to keep answers in step");
      } else {
        try {
          return protocol_result(answer);
        } catch (const ProtocolError& error) {
          failure = failure_result(Failure::crash, who + " answered against the protocol: " + error.what() +
                                                       "; it was restarted to keep answers in step");
        }
      }
    }
    process.reset();  // ends the child (if not already); the next item starts a fresh one
    return *failure;
  }

  // A child for one call: an idle one, or an empty slot (nullptr) that score_one fills when
  // needed. Blocks while `processes` calls are in flight.
  std::unique_ptr<LineProcess> acquire() const {
    std::unique_lock lock(mutex_);
    slot_freed_.wait(lock, [&] { return !idle_.empty() || in_use_ < max_processes_; });
    ++in_use_;
    if (idle_.empty()) return nullptr;
    std::unique_ptr<LineProcess> process = std::move(idle_.back());
    idle_.pop_back();
    return process;
  }

  void give_back(std::unique_ptr<LineProcess> process) const {
    {
      std::lock_guard lock(mutex_);
      --in_use_;
      if (process) idle_.push_back(std::move(process));
    }
    slot_freed_.notify_one();
  }

  std::vector<std::string> argv_;
  std::string shown_;  // argv for messages, shortened
  std::chrono::milliseconds timeout_;
  int max_processes_;
  mutable std::mutex mutex_;
  mutable std::condition_variable slot_freed_;
  mutable std::vector<std::unique_ptr<LineProcess>> idle_;
  mutable int in_use_ = 0;
};

std::unique_ptr<Reward> make_command(const nlohmann::json& options) {
  check_option_keys("command", options, {"command", "timeout_ms", "processes"});
  R1_CHECK(options.is_object() && options.contains("command"),
           "command reward needs option command: a list [program, args...], or a string run by sh -c");
  const nlohmann::json& command = options["command"];
  std::vector<std::string> argv;
  if (command.is_string() && !command.get<std::string>().empty()) {
    argv = {"/bin/sh", "-c", command.get<std::string>()};
  } else if (command.is_array() && !command.empty()) {
    for (const nlohmann::json& arg : command) {
      R1_CHECK(arg.is_string(), "command option command: every argument must be a string, got ",
               arg.dump());
      argv.push_back(arg.get<std::string>());
    }
    R1_CHECK(!argv.front().empty(), "command option command: the program name is empty");
  } else {
    R1_FAIL("command option command must be a non-empty string or list of strings, got ",
            command.dump());
  }
  const auto timeout = std::chrono::milliseconds(
      integer_option("command", options, "timeout_ms", kDefaultTimeoutMs, 1, 86'400'000));
  const auto processes =
      static_cast<int>(integer_option("command", options, "processes", kDefaultProcesses, 1, 256));
  return std::make_unique<CommandReward>(std::move(argv), timeout, processes);
}

}  // namespace

RewardInfo command_reward_info() {
  return {"command",
          "scores with a long-running child process: one JSON item a line on its stdin, one JSON "
          "answer {reward, components?, outcome?, reason?} a line on its stdout",
          make_command,
          {{"command", "(required)",
            "[program, args...] run directly, or a string run with /bin/sh -c"},
           {"timeout_ms", std::to_string(kDefaultTimeoutMs),
            "limit per item; a child over it is killed and restarted"},
           {"processes", std::to_string(kDefaultProcesses),
            "children running at once; calls beyond wait for a free one"}}};
}

}  // namespace r1::rewards
