// LineProcess on POSIX: posix_spawnp, one socketpair for the child's stdin and stdout, poll() for
// the deadlines, SIGKILL to the process group. A socket rather than pipes because send() with
// MSG_NOSIGNAL writes to a dead child without raising SIGPIPE in r1 (a pipe would need the
// process-wide signal disposition changed). Boost.Process is not used: Debian 12's 1.74 needs the
// compiled Boost.Filesystem and has no timed read.
#include "rewards/line_process.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace r1::rewards {

namespace {

// Milliseconds left until `deadline`, rounded up, for poll().
int poll_timeout(LineProcess::Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - LineProcess::Clock::now());
  return static_cast<int>(std::clamp<long long>(left.count(), 0, 1'000'000));
}

// Waits until `fd` is ready for `events` or the deadline passes: true when ready (or in error).
bool wait_ready(int fd, short events, LineProcess::Clock::time_point deadline) {
  while (true) {
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, poll_timeout(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return true;  // let the read or write report the error
  }
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

}  // namespace

LineProcess::LineProcess(const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::runtime_error("no command to start");
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    throw std::runtime_error(std::string("cannot create a socket pair: ") + std::strerror(errno));
  }
  socket_ = ends[0];
  const int child_end = ends[1];

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, child_end, STDIN_FILENO);  // dup2 clears CLOEXEC
  posix_spawn_file_actions_adddup2(&actions, child_end, STDOUT_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Its own process group, so kill() reaches a wrapper's children; an empty signal mask and
  // default SIGPIPE, whatever the spawning thread had.
  sigset_t no_signals;
  sigemptyset(&no_signals);
  sigset_t default_signals;
  sigemptyset(&default_signals);
  sigaddset(&default_signals, SIGPIPE);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setsigmask(&attributes, &no_signals);
  posix_spawnattr_setsigdefault(&attributes, &default_signals);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const int error = ::posix_spawnp(&pid_, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(child_end);
  if (error != 0) {
    ::close(socket_);
    socket_ = -1;
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(error));
  }
}

LineProcess::~LineProcess() {
  if (socket_ >= 0) ::shutdown(socket_, SHUT_WR);  // end of input: a well-behaved child exits
  end(std::chrono::milliseconds(200));
  if (socket_ >= 0) ::close(socket_);
}

LineProcess::Status LineProcess::write_line(std::string_view line, Clock::time_point deadline) {
  std::string data(line);
  data.push_back('\n');
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t written =
        ::send(socket_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (written >= 0) {
      sent += static_cast<std::size_t>(written);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return Status::closed;  // EPIPE, ECONNRESET
    if (!wait_ready(socket_, POLLOUT, deadline)) return Status::timeout;
  }
  return Status::ok;
}

LineProcess::Status LineProcess::read_line(std::string& line, Clock::time_point deadline,
                                           std::size_t max_bytes) {
  std::size_t scanned = 0;  // no '\n' before this offset of buffer_
  while (true) {
    const std::size_t newline = buffer_.find('\n', scanned);
    if (newline != std::string::npos) {
      if (newline > max_bytes) return Status::too_long;
      line.assign(buffer_, 0, newline);
      buffer_.erase(0, newline + 1);
      return Status::ok;
    }
    if (buffer_.size() > max_bytes) return Status::too_long;
    scanned = buffer_.size();
    char chunk[65536];
    const ssize_t got = ::recv(socket_, chunk, sizeof chunk, MSG_DONTWAIT);
    if (got > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(got));
      continue;
    }
    if (got == 0) return Status::closed;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return Status::closed;
    if (!wait_ready(socket_, POLLIN, deadline)) return Status::timeout;
  }
}

std::string LineProcess::end(std::chrono::milliseconds grace) {
  if (!reaped_ && pid_ > 0) {
    // Wait for it to exit without reaping it (WNOWAIT): while it is an unreaped zombie its pid, and
    // so its process group's id, cannot be reused, and the group can be killed safely.
    const auto give_up = Clock::now() + grace;
    while (true) {
      siginfo_t info{};
      const int waited = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
      if ((waited == 0 && info.si_pid != 0) || (waited < 0 && errno != EINTR)) break;
      if (Clock::now() >= give_up) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::kill(-pid_, SIGKILL);  // the whole group: a `sh -c` wrapper's children too
    while (::waitpid(pid_, &wait_status_, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  return describe_wait_status(wait_status_);
}

}  // namespace r1::rewards
