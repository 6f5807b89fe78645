// A blocking HTTP/1.1 client for the viewer's tests (Boost.Beast), with a deadline so that a hung
// server fails the test instead of hanging it. raw_request() sends bytes as given, for requests a
// well-behaved client would never form.
#pragma once

#include <chrono>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace r1::viewer::testing {

struct HttpResult {
  unsigned status = 0;  // 0: no answer (connection refused, closed, timed out)
  std::string body;
  std::string content_type;
  std::string allow;
  std::string content_length;
  std::string error;
};

inline HttpResult http_request(unsigned short port, const std::string& method, const std::string& target,
                               const std::string& host = "127.0.0.1",
                               std::chrono::seconds timeout = std::chrono::seconds(20)) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  HttpResult result;
  try {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    http::request<http::string_body> request{http::string_to_verb(method), target, 11};
    if (request.method() == http::verb::unknown) request.method_string(method);
    request.set(http::field::host, host + ":" + std::to_string(port));
    if (method == "POST") request.body() = "x=1";
    request.prepare_payload();
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(method == "HEAD");  // a HEAD answer has Content-Length but no body
    http::read(stream, buffer, parser);
    const auto& response = parser.get();
    result.status = response.result_int();
    result.body = response.body();
    result.content_type = std::string(response[http::field::content_type]);
    result.allow = std::string(response[http::field::allow]);
    result.content_length = std::string(response[http::field::content_length]);
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

inline HttpResult http_get(unsigned short port, const std::string& target) { return http_request(port, "GET", target); }

// Sends `bytes` as they are and reads one response.
inline HttpResult raw_request(unsigned short port, const std::string& bytes) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  HttpResult result;
  try {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(20));
    stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    boost::asio::write(stream, boost::asio::buffer(bytes));
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    result.status = response.result_int();
    result.body = response.body();
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

}  // namespace r1::viewer::testing
