// Example `http` reward service: POST /score with a JSON array of items
//   [{"prompt": str, "response": str, "answer": str, "metadata": {...}}, ...]
// answers a JSON array of as many answers, in order:
//   [{"reward": 1 or 0, "components": {"contains_answer": ...}, "outcome": "pass"|"fail"}, ...]
// reward 1 when the text after the last </think> contains the reference answer. HTTP/1.1 with
// keep-alive, one thread per connection, Boost.Beast. Usage: contains_answer_server [PORT]
// (default 8000; 0 picks a free one). Prints "listening on http://127.0.0.1:PORT/score" once ready.
#include <iostream>
#include <string>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

nlohmann::json score_item(const nlohmann::json& item) {
  if (!item.is_object() || !item.contains("response") || !item["response"].is_string() ||
      !item.contains("answer") || !item["answer"].is_string()) {
    return {{"outcome", "error"}, {"reason", "not an item with string response and answer"}};
  }
  std::string response = item["response"].get<std::string>();
  const std::string expected = item["answer"].get<std::string>();
  const std::size_t think_close = response.rfind("</think>");
  if (think_close != std::string::npos) response.erase(0, think_close + 8);
  const bool found = !expected.empty() && response.find(expected) != std::string::npos;
  return {{"reward", found ? 1.0 : 0.0},
          {"components", {{"contains_answer", found ? 1.0 : 0.0}}},
          {"outcome", found ? "pass" : "fail"}};
}

http::response<http::string_body> answer(const http::request<http::string_body>& request) {
  http::response<http::string_body> response{http::status::ok, request.version()};
  response.set(http::field::content_type, "application/json");
  response.keep_alive(request.keep_alive());
  const nlohmann::json items = nlohmann::json::parse(request.body(), nullptr, false);
  if (request.method() != http::verb::post || request.target() != "/score") {
    response.result(http::status::not_found);
    response.body() = R"({"error": "POST a JSON array to /score"})";
  } else if (!items.is_array()) {
    response.result(http::status::bad_request);
    response.body() = R"({"error": "the body must be a JSON array of items"})";
  } else {
    nlohmann::json answers = nlohmann::json::array();
    for (const nlohmann::json& item : items) answers.push_back(score_item(item));
    response.body() = answers.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  response.prepare_payload();
  return response;
}

// Serves one connection until the client closes it or asks to.
void serve(tcp::socket socket) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  while (true) {
    http::request<http::string_body> request;
    http::read(socket, buffer, request, ec);
    if (ec) break;  // closed by the client, or not HTTP
    http::response<http::string_body> response = answer(request);
    http::write(socket, response, ec);
    if (ec || !response.keep_alive()) break;
  }
  socket.shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned short port = static_cast<unsigned short>(argc > 1 ? std::stoi(argv[1]) : 8000);
  boost::asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  std::cout << "listening on http://127.0.0.1:" << acceptor.local_endpoint().port() << "/score"
            << std::endl;
  while (true) {
    tcp::socket socket = acceptor.accept();
    std::thread(serve, std::move(socket)).detach();
  }
}
