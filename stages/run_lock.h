// The lock that says a run directory is in use: `r1 run` holds an exclusive flock on
// <run dir>/run.lock while it works, and writes its pid and current stage into the file. The kernel
// drops the lock when the process dies however it dies (SIGKILL included), so `r1 status` can tell
// a running run from a killed one without trusting a stale pid file.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace r1::stages {

class RunLock {
 public:
  // Takes the lock; UserError naming the pid and stage of the holder when another process has it.
  explicit RunLock(const std::filesystem::path& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  void set_stage(const std::string& stage);  // rewrites the file: "pid stage"

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

struct RunHolder {
  long pid = 0;
  std::string stage;  // "" before the first stage starts
};

// Who holds the run directory's lock now, or nullopt when no live process does.
std::optional<RunHolder> run_lock_holder(const std::filesystem::path& run_dir);

}  // namespace r1::stages
