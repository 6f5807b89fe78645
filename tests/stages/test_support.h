// What the stages tests share, in-process or through the CLI: running a shell command, a fresh
// directory, the shrunk demo run. Free of the name `r1` (cli_runner.h adds the r1() runner), so a
// test can include this beside the r1:: headers.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}


// A new empty directory for one test; the pid keeps concurrent test runs (two checkouts) apart.
inline std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("r1_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// The demo config, and overrides that shrink it to a run small enough for a unit test: a few
// optimiser steps of each stage.
inline const std::string kDemoConfig = std::string(R1_SOURCE_DIR) + "/configs/tiny-zero.yaml";
inline const std::vector<std::string> kTinyOverrides = {
    "pretrain.steps=20", "pretrain.corpus_size=200", "pretrain.log_every=10",
    "zero.steps=2",      "zero.prompts_per_step=2",  "zero.grpo.group_size=4",
    "eval.num_prompts=4", "eval.samples_per_prompt=2"};

// Overrides as `r1 run` takes them: " --set a=b --set c=d".
inline std::string set_flags(const std::vector<std::string>& overrides) {
  std::string flags;
  for (const auto& o : overrides) flags += " --set " + o;
  return flags;
}
inline const std::string kTinyRun = set_flags(kTinyOverrides);
