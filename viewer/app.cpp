// Routing by exact path; the one path parameter, a trace id, must be all digits.
#include "viewer/app.h"

#include <algorithm>
#include <charconv>
#include <iostream>

#include <boost/asio/ip/address.hpp>

#include "common/error.h"
#include "viewer/api.h"
#include "viewer/request_target.h"

namespace r1::viewer {

namespace {

// The id in "/trace/ID": nullopt when the segment is not all digits (then no route matches);
// HttpError 400 when it is a number too large for an id.
std::optional<int64_t> trace_id(std::string_view segment) {
  if (segment.empty() || segment.size() > 40 ||
      !std::all_of(segment.begin(), segment.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  int64_t id = 0;
  const auto [end, error] = std::from_chars(segment.data(), segment.data() + segment.size(), id);
  if (error != std::errc() || end != segment.data() + segment.size())
    throw HttpError(400, "trace id " + std::string(segment.substr(0, 24)) + " is out of range");
  return id;
}

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

Response route(const RequestTarget& target, const sampling::TraceStore& store) {
  const std::string& path = target.path;
  const QueryParams params(target.query);
  if (path == "/" || path == "/traces") return traces_page(store, params);
  if (path == "/charts") return charts_page(store, params);
  if (path == "/api/traces") return api_traces(store, params);
  if (path == "/api/stats") return api_stats(store, params);
  if (starts_with(path, "/trace/"))
    if (const auto id = trace_id(std::string_view(path).substr(7))) return trace_page(store, *id);
  if (starts_with(path, "/api/trace/"))
    if (const auto id = trace_id(std::string_view(path).substr(11))) return api_trace(store, *id);
  throw HttpError(404, "There is no page at this address.");
}

}  // namespace

Response handle_request(std::string_view method, std::string_view target, const sampling::TraceStore& store) {
  const bool api = starts_with(target, "/api/");
  auto refuse = [&](unsigned status, const std::string& message) {
    return api ? api_error(status, message) : error_page(status, message);
  };
  try {
    if (method != "GET" && method != "HEAD") throw HttpError(405, "Only GET and HEAD are served: the viewer is read-only.");
    return route(parse_target(target), store);
  } catch (const HttpError& e) {
    return refuse(e.status(), e.what());
  } catch (const UserError& e) {  // the store refusing an input (e.g. a search it cannot run)
    return refuse(400, e.what());
  } catch (const std::exception& e) {
    std::cerr << "r1 serve: " << method << " " << target.substr(0, 200) << ": " << e.what() << std::endl;
    return refuse(500, std::string("internal error: ") + e.what());
  }
}

bool host_allowed(std::string_view host_header, std::string_view bind_host) {
  auto lower = [](std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return out;
  };
  // An address literal in 127.0.0.0/8 or ::1 ("[::1]" as in a Host header); "127.evil.example" is not.
  auto is_loopback = [&](std::string_view name) {
    if (lower(name) == "localhost") return true;
    if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
    boost::system::error_code error;
    const auto address = boost::asio::ip::make_address(std::string(name), error);
    return !error && address.is_loopback();
  };
  if (!is_loopback(bind_host) || host_header.empty()) return true;  // HTTP/1.0 clients send no Host
  std::string_view name = host_header;
  if (name.front() == '[') {
    const std::size_t close = name.find(']');
    name = close == std::string_view::npos ? name : name.substr(0, close + 1);
  } else {
    name = name.substr(0, name.find(':'));
  }
  return is_loopback(name);
}

}  // namespace r1::viewer
