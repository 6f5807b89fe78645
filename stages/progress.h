// Step lines on stdout, and on a terminal a live progress bar on stderr that the lines scroll past.
#pragma once

#include <chrono>
#include <string>

namespace r1::stages {

// printf-style formatting into a std::string, for the step lines.
std::string format_line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

class Progress {
 public:
  Progress();
  void start(const std::string& label, int64_t total);
  // Redraws the bar (terminal only) with a short status text.
  void update(int64_t done, const std::string& status);
  // Prints a full line (clearing the bar first on a terminal).
  void line(const std::string& text);
  void finish();
  double elapsed_seconds() const;

 private:
  bool is_terminal_;
  std::string label_;
  int64_t total_ = 0;
  bool bar_shown_ = false;
  std::chrono::steady_clock::time_point started_;
  void clear_bar();
};

}  // namespace r1::stages
