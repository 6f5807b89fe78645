// Progress display.
#include "stages/progress.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <iostream>

namespace r1::stages {

std::string format_line(const char* fmt, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buffer, sizeof(buffer), fmt, args);
  va_end(args);
  return buffer;
}

Progress::Progress() : is_terminal_(isatty(STDERR_FILENO) && isatty(STDOUT_FILENO)) {}

void Progress::start(const std::string& label, int64_t total) {
  label_ = label;
  total_ = total;
  started_ = std::chrono::steady_clock::now();
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

void Progress::clear_bar() {
  if (bar_shown_) {
    std::fprintf(stderr, "\r\033[K");
    bar_shown_ = false;
  }
}

void Progress::update(int64_t done, const std::string& status) {
  if (!is_terminal_ || total_ <= 0) return;
  const int width = 30;
  const int filled = int(width * done / total_);
  const double elapsed = elapsed_seconds();
  const double eta = done > 0 ? elapsed * double(total_ - done) / double(done) : 0.0;
  std::string bar(filled, '=');
  bar += std::string(width - filled, ' ');
  std::fprintf(stderr, "\r\033[K%s [%s] %lld/%lld %.0fs eta %.0fs %s", label_.c_str(), bar.c_str(), (long long)done,
               (long long)total_, elapsed, eta, status.c_str());
  std::fflush(stderr);
  bar_shown_ = true;
}

void Progress::line(const std::string& text) {
  clear_bar();
  std::cout << text << std::endl;
}

void Progress::finish() { clear_bar(); }

}  // namespace r1::stages
