// The HTTP client behind the `http` reward: Boost.Beast over a per-connection io_context that the
// calling thread runs, so each request is an ordinary blocking call with a deadline (beast's
// tcp_stream cancels whatever is pending when it expires).
#include "rewards/http_client.h"

#include <algorithm>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/error.h"
#include "rewards/plugin_protocol.h"

namespace r1::rewards {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

HttpEndpoint parse_http_url(const std::string& url) {
  const std::string scheme = "http://";
  R1_CHECK(url.rfind(scheme, 0) == 0, "http reward url must start with http:// (", url,
           "); https is not supported: put a local proxy in front of the service");
  HttpEndpoint endpoint;
  endpoint.url = url;
  const std::string rest = url.substr(scheme.size());
  const std::size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  endpoint.target = slash == std::string::npos ? "/" : rest.substr(slash);
  R1_CHECK(authority.find('@') == std::string::npos, "http reward url ", url,
           ": user:password@ is not supported; use the headers option");
  std::string host_port = authority;
  if (!host_port.empty() && host_port.front() == '[') {  // [IPv6]:port
    const std::size_t close = host_port.find(']');
    R1_CHECK(close != std::string::npos, "http reward url ", url, ": unclosed [ in the host");
    endpoint.host = host_port.substr(1, close - 1);
    host_port = host_port.substr(close + 1);
    R1_CHECK(host_port.empty() || host_port.front() == ':', "http reward url ", url,
             ": unexpected text after ]");
    endpoint.port = host_port.empty() ? "80" : host_port.substr(1);
  } else {
    const std::size_t colon = host_port.rfind(':');
    endpoint.host = host_port.substr(0, colon);
    endpoint.port = colon == std::string::npos ? "80" : host_port.substr(colon + 1);
  }
  R1_CHECK(!endpoint.host.empty(), "http reward url ", url, " has no host");
  const bool port_ok = !endpoint.port.empty() && endpoint.port.size() <= 5 &&
                       std::all_of(endpoint.port.begin(), endpoint.port.end(),
                                   [](char c) { return c >= '0' && c <= '9'; }) &&
                       std::stoi(endpoint.port) > 0 && std::stoi(endpoint.port) < 65536;
  R1_CHECK(port_ok, "http reward url ", url, ": port must be a number in [1, 65535]");
  return endpoint;
}

struct HttpClient::Connection {
  asio::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;  // bytes read past one answer belong to the next one
  bool reused = false;        // has answered before: a failure may just be a stale keep-alive
};

// What one try gave.
struct HttpClient::Attempt {
  bool ok = false;          // a 2xx answer
  bool retryable = false;   // worth trying again
  bool timed_out = false;
  bool network = false;     // failed before any answer was read
  bool keep_alive = false;  // the connection can serve the next request
  std::string body;
  std::string error;  // what went wrong, for the message
};

HttpClient::HttpClient(HttpEndpoint endpoint, HttpClientOptions options)
    : endpoint_(std::move(endpoint)), options_(std::move(options)) {
  R1_CHECK(options_.timeout.count() > 0, "http client timeout must be positive");
  R1_CHECK(options_.attempts >= 1, "http client attempts must be at least 1");
  R1_CHECK(options_.connections >= 1, "http client connections must be at least 1");
}

HttpClient::~HttpClient() = default;

std::size_t HttpClient::connections_opened() const {
  std::lock_guard lock(mutex_);
  return opened_total_;
}

std::unique_ptr<HttpClient::Connection> HttpClient::acquire() {
  std::unique_lock lock(mutex_);
  // Every holder's request is bounded by its timeouts, so this wait is bounded too.
  slot_freed_.wait(lock, [&] { return !idle_.empty() || open_ < options_.connections; });
  if (!idle_.empty()) {
    std::unique_ptr<Connection> connection = std::move(idle_.back());
    idle_.pop_back();
    return connection;
  }
  ++open_;
  ++opened_total_;
  return std::make_unique<Connection>();
}

void HttpClient::give_back(std::unique_ptr<Connection> connection) {
  {
    std::lock_guard lock(mutex_);
    connection->reused = true;
    idle_.push_back(std::move(connection));
  }
  slot_freed_.notify_one();
}

void HttpClient::drop(std::unique_ptr<Connection> connection) {
  connection.reset();  // closes the socket
  {
    std::lock_guard lock(mutex_);
    --open_;
  }
  slot_freed_.notify_one();
}

namespace {

// Runs the io_context until the operation started on it completes, then makes it runnable again.
void run_to_completion(asio::io_context& io) {
  io.run();
  io.restart();
}

}  // namespace

HttpClient::Attempt HttpClient::attempt(Connection& connection, const std::string& json_body) {
  Attempt result;
  beast::error_code ec;
  // One deadline for connecting, sending and reading: tcp_stream applies it to every operation
  // started until it is changed.
  connection.stream.expires_after(options_.timeout);

  auto network_failure = [&](const char* step) {
    result.timed_out = ec == beast::error::timeout;
    result.retryable = true;
    result.network = !result.timed_out;
    result.error = result.timed_out ? "no answer within " + std::to_string(options_.timeout.count()) +
                                          " ms"
                                    : std::string(step) + ": " + ec.message();
    return result;
  };

  if (!connection.stream.socket().is_open()) {
    connection.buffer.clear();  // leftovers of a previous connection are no part of this one
    tcp::resolver resolver(connection.io);
    const tcp::resolver::results_type addresses =
        resolver.resolve(endpoint_.host, endpoint_.port, ec);
    if (ec) return network_failure("cannot resolve host");
    connection.stream.async_connect(addresses, [&](beast::error_code done, const tcp::endpoint&) {
      ec = done;
    });
    run_to_completion(connection.io);
    if (ec) return network_failure("cannot connect");
  }

  http::request<http::string_body> request{http::verb::post, endpoint_.target, 11};
  const bool ipv6 = endpoint_.host.find(':') != std::string::npos;
  request.set(http::field::host,
              (ipv6 ? "[" + endpoint_.host + "]" : endpoint_.host) + ":" + endpoint_.port);
  request.set(http::field::user_agent, "r1-http-reward");
  request.set(http::field::content_type, "application/json");
  request.set(http::field::accept, "application/json");
  for (const auto& [name, value] : options_.headers) request.set(name, value);
  request.keep_alive(true);
  request.body() = json_body;
  request.prepare_payload();
  http::async_write(connection.stream, request,
                    [&](beast::error_code done, std::size_t) { ec = done; });
  run_to_completion(connection.io);
  if (ec) return network_failure("cannot send the request");

  http::response_parser<http::string_body> parser;
  parser.body_limit(options_.max_answer_bytes);
  http::async_read(connection.stream, connection.buffer, parser,
                   [&](beast::error_code done, std::size_t) { ec = done; });
  run_to_completion(connection.io);
  if (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
      ec == asio::error::eof) {
    return network_failure("the connection was closed before an answer");
  }
  if (ec == beast::error::timeout) return network_failure("");
  if (ec) {
    // Not a connection failure but an unreadable answer (not HTTP, or over max_answer_bytes):
    // sending the request again would get the same.
    result.error = "cannot read the answer: " + ec.message();
    return result;
  }

  http::response<http::string_body> response = parser.release();
  result.keep_alive = response.keep_alive();
  const unsigned status = response.result_int();
  result.body = std::move(response.body());
  if (status >= 200 && status < 300) {
    result.ok = true;
    return result;
  }
  result.retryable = status == 429 || status >= 500;
  result.error = "HTTP " + std::to_string(status) + " " + std::string(response.reason()) + ": " +
                 quoted_snippet(result.body);
  return result;
}

std::string HttpClient::post_json(const std::string& json_body) {
  Attempt last;
  int tries = 0;
  for (int attempt_number = 1; attempt_number <= options_.attempts; ++attempt_number) {
    if (attempt_number > 1) {
      const auto wait = std::min<std::chrono::milliseconds>(
          options_.backoff * (1LL << std::min(attempt_number - 2, 20)), std::chrono::seconds(10));
      std::this_thread::sleep_for(wait);
    }
    ++tries;
    std::unique_ptr<Connection> connection = acquire();
    last = attempt(*connection, json_body);
    if (last.network && connection->reused) {
      // The server closed a kept-alive connection while it sat idle: that says nothing about the
      // service, so try at once on a fresh one.
      drop(std::move(connection));
      connection = acquire();
      connection->stream.close();
      last = attempt(*connection, json_body);
    }
    // A full answer on a connection the server keeps open can serve the next request, whatever
    // its status; after anything else the connection's state is unknown.
    if (last.keep_alive) {
      give_back(std::move(connection));
    } else {
      drop(std::move(connection));
    }
    if (last.ok) return std::move(last.body);
    if (!last.retryable) break;
  }
  throw HttpFailure(endpoint_.url + ": " + last.error + " (" + std::to_string(tries) +
                        (tries == 1 ? " attempt)" : " attempts)"),
                    last.timed_out);
}

}  // namespace r1::rewards
