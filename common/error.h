// The one error header: R1_CHECK for user, config and data errors (exit 2 at main), R1_ASSERT for
// invariants (exit 1). Both throw; library code never calls exit(). Messages carry file:line.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace r1 {

// Bad usage or bad input: a config key, a file, a line the user can fix. `main` maps it to exit 2.
class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A broken invariant inside r1: a bug, or a failure the user cannot fix by editing input. Exit 1.
class InternalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
// Strip the directories so messages read "policy/model.cpp:42", not an absolute build path.
constexpr const char* short_path(const char* path) {
  const char* last = path;
  const char* second_last = path;
  for (const char* c = path; *c; ++c) {
    if (*c == '/') {
      second_last = last;
      last = c + 1;
    }
  }
  return second_last;
}
}  // namespace detail

}  // namespace r1

#define R1_CHECK(cond, ...)                                                   \
  do {                                                                        \
    if (!(cond)) throw ::r1::UserError(::r1::detail::concat(__VA_ARGS__));    \
  } while (0)

#define R1_FAIL(...) throw ::r1::UserError(::r1::detail::concat(__VA_ARGS__))

#define R1_ASSERT(cond, ...)                                                          \
  do {                                                                                \
    if (!(cond))                                                                      \
      throw ::r1::InternalError(::r1::detail::concat(                                 \
          ::r1::detail::short_path(__FILE__), ":", __LINE__, ": assertion `" #cond    \
          "` failed: ", ##__VA_ARGS__));                                             \
  } while (0)
