// Percent-decoding by RFC 3986 §2.1 and the application/x-www-form-urlencoded rules ('+' is a
// space in a query only). Path checks run on the decoded path, so %2e%2e is the same ".." as "..".
#include "viewer/request_target.h"

namespace r1::viewer {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

}  // namespace

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      const int high = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
      const int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
      if (high < 0 || low < 0) throw HttpError(400, "invalid %-escape in the URL");
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' || byte == '_' || byte == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

RequestTarget parse_target(std::string_view target) {
  if (target.size() > kMaxTargetBytes) throw HttpError(414, "request target too long");
  if (target.empty() || target.front() != '/') throw HttpError(400, "request target must be a path");
  const std::size_t question = target.find('?');
  RequestTarget result;
  result.path = percent_decode(target.substr(0, question), /*plus_is_space=*/false);
  if (result.path.find('\0') != std::string::npos) throw HttpError(400, "NUL in the URL");
  for (std::string_view segment : split(result.path, '/'))
    if (segment == "." || segment == "..") throw HttpError(400, "dot segments are not allowed in the URL");
  if (question == std::string_view::npos) return result;
  for (std::string_view pair : split(target.substr(question + 1), '&')) {
    if (pair.empty()) continue;  // "a=1&&b=2"
    const std::size_t equals = pair.find('=');
    std::string name = percent_decode(pair.substr(0, equals), true);
    std::string value = equals == std::string_view::npos ? "" : percent_decode(pair.substr(equals + 1), true);
    if (name.find('\0') != std::string::npos || value.find('\0') != std::string::npos)
      throw HttpError(400, "NUL in the URL");
    result.query[std::move(name)] = std::move(value);
  }
  return result;
}

std::string build_query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (value.empty()) continue;
    if (!out.empty()) out += '&';
    out += percent_encode(name) + "=" + percent_encode(value);
  }
  return out;
}

}  // namespace r1::viewer
