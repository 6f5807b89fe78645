// An HTTP request target split into its decoded path and query parameters. Targets that no route of
// the viewer could want are refused here: too long, a NUL, a bad %XX escape, a "." or ".." segment.
#pragma once

#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace r1::viewer {

// A request the viewer refuses: the HTTP status to answer and a short message for the page.
class HttpError : public std::runtime_error {
 public:
  HttpError(unsigned status, const std::string& message) : std::runtime_error(message), status_(status) {}
  unsigned status() const { return status_; }

 private:
  unsigned status_;
};

inline constexpr std::size_t kMaxTargetBytes = 8192;

struct RequestTarget {
  std::string path;                          // decoded, e.g. "/trace/12"
  std::map<std::string, std::string> query;  // decoded; a name given twice keeps its last value
};

// %XX -> that byte, and in a query '+' -> ' ' (HTML forms encode spaces so). HttpError 400 on a '%'
// not followed by two hex digits.
std::string percent_decode(std::string_view text, bool plus_is_space);
// Every byte but the unreserved ones (A-Z a-z 0-9 - . _ ~) as %XX: safe in a path segment or query.
std::string percent_encode(std::string_view text);

// HttpError 414 past kMaxTargetBytes; 400 for a target not starting with '/', a bad escape, a NUL
// anywhere, or a "." or ".." path segment (raw or %2e-encoded).
RequestTarget parse_target(std::string_view target);

// "a=1&b=x%20y" from name/value pairs in the order given; pairs with an empty value are left out.
std::string build_query(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace r1::viewer
