// TestHttpServer: blocking Beast reads and writes on per-connection threads. Stopping shuts the
// listening and connected sockets down, which wakes every blocked accept() and read().
#include "http_test_server.h"

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace r1::test {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

struct TestHttpServer::Impl {
  boost::asio::io_context io;
  tcp::acceptor acceptor{io};
  std::mutex mutex;
  std::vector<std::unique_ptr<tcp::socket>> sockets;
  std::vector<std::thread> threads;
};

TestHttpServer::TestHttpServer(TestHandler handler)
    : impl_(std::make_unique<Impl>()), handler_(std::move(handler)) {
  const tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  acceptor_thread_ = std::thread([this] { accept_loop(); });
}

TestHttpServer::~TestHttpServer() {
  stopping_ = true;
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);  // wakes accept()
  acceptor_thread_.join();
  {
    std::lock_guard lock(impl_->mutex);
    for (auto& socket : impl_->sockets) ::shutdown(socket->native_handle(), SHUT_RDWR);
  }
  for (std::thread& thread : impl_->threads) thread.join();
}

std::string TestHttpServer::url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/score";
}

void TestHttpServer::accept_loop() {
  while (!stopping_) {
    auto socket = std::make_unique<tcp::socket>(impl_->io);
    beast::error_code ec;
    impl_->acceptor.accept(*socket, ec);
    if (ec || stopping_) return;
    ++connections_;
    std::lock_guard lock(impl_->mutex);
    impl_->sockets.push_back(std::move(socket));
    const int index = static_cast<int>(impl_->sockets.size()) - 1;
    impl_->threads.emplace_back([this, index] { serve(index); });
  }
}

void TestHttpServer::serve(int connection_index) {
  tcp::socket* socket = nullptr;
  {
    std::lock_guard lock(impl_->mutex);
    socket = impl_->sockets[connection_index].get();
  }
  beast::flat_buffer buffer;
  beast::error_code ec;
  while (!stopping_) {
    http::request<http::string_body> request;
    http::read(*socket, buffer, request, ec);
    if (ec) return;
    const std::size_t number = requests_++;
    const std::size_t now_in_flight = ++in_flight_;
    std::size_t seen = max_in_flight_;
    while (now_in_flight > seen && !max_in_flight_.compare_exchange_weak(seen, now_in_flight)) {
    }
    TestAnswer answer = handler_(request.body(), number);
    // Sleep in small steps so that stopping the server is not held up by a slow answer.
    for (auto slept = std::chrono::milliseconds(0); slept < answer.delay && !stopping_;
         slept += std::chrono::milliseconds(5)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    --in_flight_;
    http::response<http::string_body> response{static_cast<http::status>(answer.status),
                                               request.version()};
    response.set(http::field::content_type, "application/json");
    response.keep_alive(request.keep_alive());
    response.body() = std::move(answer.body);
    response.prepare_payload();
    http::write(*socket, response, ec);
    if (ec || !response.keep_alive()) return;
  }
}

}  // namespace r1::test
