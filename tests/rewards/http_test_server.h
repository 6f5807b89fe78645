// A real HTTP/1.1 server for the `http` reward tests: Boost.Beast on 127.0.0.1, an ephemeral port,
// a thread per connection (keep-alive), each request answered by a handler the test gives.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace r1::test {

struct TestAnswer {
  unsigned status = 200;
  std::string body;
  std::chrono::milliseconds delay{0};  // before answering (cut short when the server stops)
};

// (request body, 0-based number of the request over the server's life) -> answer. Called from the
// connection threads, possibly several at once.
using TestHandler = std::function<TestAnswer(const std::string& body, std::size_t request_number)>;

class TestHttpServer {
 public:
  explicit TestHttpServer(TestHandler handler);
  ~TestHttpServer();  // stops accepting, wakes and closes every connection, joins its threads

  std::string url() const;                  // http://127.0.0.1:PORT/score
  std::size_t requests() const { return requests_; }
  std::size_t connections() const { return connections_; }
  std::size_t max_in_flight() const { return max_in_flight_; }  // requests handled at once, at most

 private:
  struct Impl;
  void accept_loop();
  void serve(int connection_index);

  std::unique_ptr<Impl> impl_;
  TestHandler handler_;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> requests_{0};
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<std::size_t> max_in_flight_{0};
  std::thread acceptor_thread_;
};

}  // namespace r1::test
