// Internal to rewards/: POSTs JSON to an HTTP/1.1 service (plain http, no TLS) over a small pool of
// keep-alive connections, with a time limit per attempt and retries with exponential backoff.
// Knows nothing of rewards.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace r1::rewards {

// http://host[:port][/path]; host may be a name, an IPv4 address or a bracketed IPv6 address.
struct HttpEndpoint {
  std::string url;     // as given, for messages
  std::string host;    // without brackets
  std::string port;    // "80" when not given
  std::string target;  // "/" when not given
};
HttpEndpoint parse_http_url(const std::string& url);  // UserError for anything else (https too)

struct HttpClientOptions {
  // One attempt: connecting (when no kept-alive connection is free), sending and reading the whole
  // answer. Name lookup is not covered: it runs on the system resolver's own timeouts.
  std::chrono::milliseconds timeout{30'000};
  int attempts = 3;                      // tries in all, the first one included
  std::chrono::milliseconds backoff{200};  // wait before the second try, doubling after, 10 s at most
  int connections = 4;                   // open at once at most; callers beyond wait for one
  std::map<std::string, std::string> headers;  // sent with every request, e.g. Authorization
  std::size_t max_answer_bytes = 64u << 20;
};

// The last attempt's failure, after all attempts (or at once when retrying cannot help).
class HttpFailure : public std::runtime_error {
 public:
  HttpFailure(const std::string& message, bool timed_out)
      : std::runtime_error(message), timed_out_(timed_out) {}
  bool timed_out() const { return timed_out_; }  // the last attempt ran over its limit

 private:
  bool timed_out_;
};

class HttpClient {
 public:
  HttpClient(HttpEndpoint endpoint, HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // The body of a 2xx answer to POST `json_body`. Connection errors, timeouts, 429 and 5xx are
  // retried; another status fails at once (the request is wrong, sending it again won't help).
  // A kept-alive connection that turns out closed by the server is replaced once without counting
  // as an attempt. Thread-safe. Throws HttpFailure.
  std::string post_json(const std::string& json_body);

  const HttpEndpoint& endpoint() const { return endpoint_; }
  std::size_t connections_opened() const;  // over the client's life: shows keep-alive at work

 private:
  struct Connection;
  struct Attempt;
  std::unique_ptr<Connection> acquire();
  void give_back(std::unique_ptr<Connection> connection);  // reusable: kept for the next request
  void drop(std::unique_ptr<Connection> connection);       // broken or closed: frees its slot
  Attempt attempt(Connection& connection, const std::string& json_body);

  HttpEndpoint endpoint_;
  HttpClientOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable slot_freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // idle and in use
  std::size_t opened_total_ = 0;
};

}  // namespace r1::rewards
