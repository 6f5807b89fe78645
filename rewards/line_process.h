// Internal to rewards/: a child process spoken to in lines — r1 writes to its stdin, reads its
// stdout — with a deadline on every read and write, so a stuck child never blocks its caller. The
// child runs in its own process group, and kill() ends the group, so a shell wrapper's children go
// too. Knows nothing of rewards or JSON.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace r1::rewards {

class LineProcess {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Status {
    ok,
    timeout,   // the deadline passed first
    closed,    // the child closed its end, or ended
    too_long,  // a line longer than the caller allows
  };

  // Starts argv[0] (searched in PATH) with stdin and stdout connected to this object and stderr
  // shared with r1. Throws std::runtime_error when it cannot be started.
  explicit LineProcess(const std::vector<std::string>& argv);
  ~LineProcess();  // closes the child's stdin, lets it exit for a moment, then kills it
  LineProcess(const LineProcess&) = delete;
  LineProcess& operator=(const LineProcess&) = delete;

  Status write_line(std::string_view line, Clock::time_point deadline);  // adds the '\n'
  // The next line without its '\n'.
  Status read_line(std::string& line, Clock::time_point deadline, std::size_t max_bytes);

  // Ends the child, giving it `grace` to exit on its own first (it has usually just died or
  // closed its stdout), and says how it ended: "exited with status 3", "was killed by signal 9".
  std::string end(std::chrono::milliseconds grace);

  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int socket_ = -1;     // our end of the socketpair that is the child's stdin and stdout
  std::string buffer_;  // read past the last line returned
  bool reaped_ = false;
  int wait_status_ = 0;
};

}  // namespace r1::rewards
