// flock(2)-based run directory lock.
#include "stages/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace r1::stages {

namespace {

std::filesystem::path lock_path(const std::filesystem::path& run_dir) { return run_dir / "run.lock"; }

RunHolder read_holder(const std::filesystem::path& path) {
  RunHolder holder;
  std::ifstream in(path);
  in >> holder.pid;
  std::getline(in >> std::ws, holder.stage);
  return holder;
}

}  // namespace

RunLock::RunLock(const std::filesystem::path& run_dir) : path_(lock_path(run_dir)) {
  std::filesystem::create_directories(run_dir);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  R1_CHECK(fd_ >= 0, "cannot open ", path_.string(), ": ", std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const auto holder = read_holder(path_);
    ::close(fd_);
    fd_ = -1;
    R1_FAIL(run_dir.string(), " is in use by another r1 run (pid ", holder.pid,
            holder.stage.empty() ? std::string() : ", stage " + holder.stage, "); wait for it or stop it first");
  }
  set_stage("");
}

RunLock::~RunLock() {
  if (fd_ < 0) return;
  // Emptied, not removed: removing would race with a process that opened the old file and waits to lock it.
  [[maybe_unused]] const int emptied = ::ftruncate(fd_, 0);
  ::close(fd_);  // releases the lock
}

void RunLock::set_stage(const std::string& stage) {
  const std::string text = std::to_string(long(::getpid())) + " " + stage + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, text.data(), text.size(), 0) != ssize_t(text.size()))
    R1_FAIL("cannot write ", path_.string(), ": ", std::strerror(errno));
}

std::optional<RunHolder> run_lock_holder(const std::filesystem::path& run_dir) {
  const auto path = lock_path(run_dir);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;  // never run, or run by a version without the lock
  const bool free = ::flock(fd, LOCK_SH | LOCK_NB) == 0;
  ::close(fd);
  if (free) return std::nullopt;
  return read_holder(path);
}

}  // namespace r1::stages
