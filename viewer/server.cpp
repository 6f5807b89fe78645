// Beast's asynchronous server pattern (a Session per connection reading and writing with
// deadlines), with an io_context per worker instead of one shared one: each completion handler runs
// on the worker that owns the connection's socket and store, so the store needs no locking and a
// slow query holds up only its own worker's connections.
#include "viewer/server.h"

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/error.h"
#include "sampling/trace_store.h"
#include "viewer/app.h"
#include "viewer/request_target.h"

namespace r1::viewer {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);  // a keep-alive connection with no request, or a stalled write
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr std::size_t kMaxHeaderBytes = kMaxTargetBytes + 8192;  // a long target gets its 414, not a dropped connection
constexpr std::size_t kMaxBodyBytes = 64 * 1024;  // GET and HEAD send none; a POST's is read only to answer 405

// No script may run on these pages, even if some stored text escaped its escaping: the pages need
// none (forms, links, inline SVG), and the only style is the embedded sheet.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'";

std::string_view view(beast::string_view text) { return {text.data(), text.size()}; }

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const sampling::TraceStore& store, const std::string& bind_host)
      : stream_(std::move(socket)), store_(store), bind_host_(bind_host) {}

  // On the socket's worker, as every later handler.
  void start() { asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::read, shared_from_this())); }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(kMaxBodyBytes);
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code error, std::size_t) {
    if (error == http::error::end_of_stream) return close();
    if (error) {
      // A malformed request still gets an answer saying so; a dropped or timed-out one does not.
      if (error.category() != http::make_error_code(http::error::bad_target).category()) return;
      const unsigned status = error == http::error::header_limit ? 431 : error == http::error::body_limit ? 413 : 400;
      return send(error_page(status, "Malformed request: " + error.message()), 11, false, false);
    }
    const http::request<http::string_body> request = parser_->release();
    const bool head = request.method() == http::verb::head;
    Response response;
    if (!host_allowed(view(request[http::field::host]), bind_host_)) {
      response = error_page(403, "This server answers only requests addressed to a loopback name (localhost, 127.0.0.1).");
    } else {
      response = handle_request(view(request.method_string()), view(request.target()), store_);
    }
    send(std::move(response), request.version(), request.keep_alive(), head);
  }

  void send(Response response, unsigned version, bool keep_alive, bool head) {
    http::response<http::string_body> message{static_cast<http::status>(response.status), version};
    message.set(http::field::server, "r1");
    message.set(http::field::content_type, response.content_type);
    message.set(http::field::cache_control, "no-store");
    message.set("X-Content-Type-Options", "nosniff");
    message.set("Referrer-Policy", "no-referrer");
    message.set("Content-Security-Policy", kContentSecurityPolicy);
    if (response.status == 405) message.set(http::field::allow, "GET, HEAD");
    message.keep_alive(keep_alive);
    message.body() = std::move(response.body);
    message.prepare_payload();
    if (!head) return write(std::move(message));
    // HEAD: the same headers, Content-Length included, and no body.
    http::response<http::empty_body> header_only{message.base()};
    header_only.content_length(message.body().size());
    write(std::move(header_only));
  }

  template <class Body>
  void write(http::response<Body>&& message) {
    auto shared = std::make_shared<http::response<Body>>(std::move(message));
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, *shared, [self = shared_from_this(), shared](beast::error_code error, std::size_t) {
      if (error) return;
      if (shared->need_eof()) return self->close();
      self->read();
    });
  }

  // A lingering close: stop sending, then read and discard until the client closes or a short
  // deadline passes. Closing with request bytes unread (a refused oversized request) would make the
  // kernel reset the connection, and the client could lose the answer it has not read yet.
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTimeout);
    drain();
  }

  void drain() {
    stream_.async_read_some(asio::buffer(drain_buffer_), [self = shared_from_this()](beast::error_code error, std::size_t) {
      if (!error) self->drain();
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::array<char, 4096> drain_buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const sampling::TraceStore& store_;
  const std::string& bind_host_;
};

struct Worker {
  std::unique_ptr<sampling::TraceStore> store;  // declared before io: outlives the sessions io holds
  asio::io_context io;  // other threads post into it (a new connection), so no single-thread hint
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
};

// Runs `io` until it is stopped; a handler that throws is reported and the loop goes on, so one
// bad request cannot take a worker down.
void run_loop(asio::io_context& io) {
  while (!io.stopped()) {
    try {
      io.run();
    } catch (const std::exception& e) {
      std::cerr << "r1 serve: " << e.what() << std::endl;
    }
  }
}

}  // namespace

void ServerOptions::validate() const {
  R1_CHECK(!db.empty(), "serve: --db is required");
  R1_CHECK(std::filesystem::is_regular_file(db), "serve: trace database ", db, " not found");
  R1_CHECK(port >= 0 && port <= 65535, "serve: --port ", port, " is not in [0, 65535]");
  R1_CHECK(threads >= 1 && threads <= 64, "serve: --threads ", threads, " is not in [1, 64]");
  R1_CHECK(!host.empty(), "serve: --host is empty");
}

struct Server::Impl {
  ServerOptions options;
  std::vector<std::unique_ptr<Worker>> workers;  // declared first: destroyed after the acceptor's pending accept
  asio::io_context accept_io;
  tcp::acceptor acceptor{accept_io};
  asio::steady_timer retry_timer{accept_io};
  std::optional<asio::signal_set> signals;
  std::thread accept_thread;
  std::size_t next_worker = 0;
  unsigned short port = 0;  // as bound (the one asked for, or the one the system picked for 0)

  std::mutex mutex;
  std::condition_variable stopped_changed;
  bool stopped = false;

  void accept() {
    Worker& worker = *workers[next_worker++ % workers.size()];
    acceptor.async_accept(worker.io, [this, &worker](beast::error_code error, tcp::socket socket) {
      if (error == asio::error::operation_aborted) return;
      if (!error) {
        std::make_shared<Session>(std::move(socket), *worker.store, options.host)->start();
        return accept();
      }
      // E.g. out of file descriptors: wait a little rather than spin on the same error.
      std::cerr << "r1 serve: accept: " << error.message() << std::endl;
      retry_timer.expires_after(std::chrono::milliseconds(100));
      retry_timer.async_wait([this](beast::error_code timer_error) {
        if (!timer_error) accept();
      });
    });
  }

  void bind() {
    beast::error_code error;
    tcp::resolver resolver(accept_io);
    const auto endpoints = resolver.resolve(options.host, std::to_string(options.port),
                                            tcp::resolver::passive | tcp::resolver::numeric_service, error);
    R1_CHECK(!error && !endpoints.empty(), "serve: cannot resolve host ", options.host, ": ", error.message());
    const tcp::endpoint endpoint = endpoints.begin()->endpoint();
    const std::string where = options.host + ":" + std::to_string(options.port);
    acceptor.open(endpoint.protocol(), error);
    R1_CHECK(!error, "serve: cannot open a socket for ", where, ": ", error.message());
    acceptor.set_option(asio::socket_base::reuse_address(true), error);  // rebinding past TIME_WAIT
    acceptor.bind(endpoint, error);
    R1_CHECK(error != asio::error::address_in_use, "serve: cannot listen on ", where, ": port ", options.port,
             " is in use (choose another with --port, or --port 0 for any free one)");
    R1_CHECK(!error, "serve: cannot listen on ", where, ": ", error.message());
    acceptor.listen(asio::socket_base::max_listen_connections, error);
    R1_CHECK(!error, "serve: cannot listen on ", where, ": ", error.message());
    port = acceptor.local_endpoint().port();
  }
};

Server::Server(const ServerOptions& options) : impl_(std::make_unique<Impl>()) {
  options.validate();
  impl_->options = options;
  for (int i = 0; i < options.threads; ++i) {
    auto worker = std::make_unique<Worker>();
    worker->store = std::make_unique<sampling::TraceStore>(options.db, /*read_only=*/true);
    impl_->workers.push_back(std::move(worker));
  }
  impl_->bind();
  for (auto& worker : impl_->workers) worker->thread = std::thread([io = &worker->io] { run_loop(*io); });
  impl_->accept();
  impl_->accept_thread = std::thread([impl = impl_.get()] { run_loop(impl->accept_io); });
}

Server::~Server() {
  stop();
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  for (auto& worker : impl_->workers)
    if (worker->thread.joinable()) worker->thread.join();
}

unsigned short Server::port() const { return impl_->port; }

std::string Server::url() const {
  const bool ipv6 = impl_->options.host.find(':') != std::string::npos;
  const std::string host = ipv6 ? "[" + impl_->options.host + "]" : impl_->options.host;
  return "http://" + host + ":" + std::to_string(port());
}

void Server::stop_on_signals() {
  impl_->signals.emplace(impl_->accept_io, SIGINT, SIGTERM);
  impl_->signals->async_wait([this](beast::error_code error, int) {
    if (!error) stop();
  });
}

void Server::wait() {
  std::unique_lock lock(impl_->mutex);
  impl_->stopped_changed.wait(lock, [&] { return impl_->stopped; });
}

void Server::stop() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->accept_io.stop();
  for (auto& worker : impl_->workers) worker->io.stop();
  impl_->stopped_changed.notify_all();
}

}  // namespace r1::viewer
