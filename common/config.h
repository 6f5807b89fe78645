// The one YAML binder: a config struct declares its keys once in `visit`, and the same declaration
// reads YAML (with file:line errors, unknown-key suggestions, `--set` overrides) and writes it back.
// It knows nothing of what the keys mean; structs live beside the code they configure.
//
//   struct SamplingConfig {
//     double temperature = 1.0;
//     int max_tokens = 128;
//     template <class V> void visit(V& v) {
//       v("temperature", temperature);          // optional: keeps the default when absent
//       v.required("max_tokens", max_tokens);   // must be present
//       v.check(temperature >= 0, "temperature", "must be >= 0");   // after reading; names the key
//     }
//   };
//   Document doc = Document::load_file("run.yaml", {"zero.lr=1e-4"});
//   auto cfg = doc.bind<PipelineConfig>();      // throws r1::UserError naming file, line and key
//   std::string resolved = to_yaml(cfg);        // written into the run directory
//
// Field types: bool, int, int64_t, uint64_t, float, double, std::string, std::vector<T>,
// std::map<std::string, T> and any struct with a `visit` member (nested map).
//
// Errors are one line, "FILE:LINE:COL: dotted.path: message" (1-based, from the YAML node), or
// "--set a.b=v: dotted.path: message" when the value at that path came from an override.
// Integers are decimal (or 0x / 0o prefixed) and range checked; floats accept "1e-4" and ".inf";
// booleans are YAML's true/false spellings. An absent or null key keeps the field's default.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "common/error.h"

namespace r1::config {

// A parsed YAML document plus where each part came from, so errors can point at the source.
class Document {
 public:
  // Parses `path` (UserError naming the file and line on a syntax error or a missing file), then
  // applies each "a.b.c=value" override; the value is parsed as a YAML scalar or flow collection.
  static Document load_file(const std::string& path, const std::vector<std::string>& overrides = {});
  static Document load_string(const std::string& text, const std::string& origin,
                              const std::vector<std::string>& overrides = {});

  // Binds the whole document (or the map at a dotted `section`) into a fresh T; unknown keys, wrong
  // types, missing required keys and failed checks throw UserError. An absent section binds as an
  // empty map (defaults kept, required keys reported).
  template <class T>
  T bind(const std::string& section = "") const;

  const YAML::Node& root() const { return root_; }
  const std::string& origin() const { return origin_; }
  // Dotted path -> the "--set a.b=v" text that set it; consulted when an error is at that path.
  const std::map<std::string, std::string>& overrides() const { return overrides_; }

 private:
  YAML::Node root_;
  std::string origin_;
  std::map<std::string, std::string> overrides_;
  void apply_override(const std::string& assignment);
};

// Where an error happened, without the message: "run.yaml:12:5: zero.lr" or
// "--set zero.lr=x: zero.lr" (just the location when `path` is empty).
std::string locate(const Document& doc, const YAML::Node& node, const std::string& path);

// The closest of `candidates` to `key` by edit distance, or "" if none is plausibly meant.
std::string closest_key(const std::string& key, const std::vector<std::string>& candidates);

namespace detail {
enum class Parsed { ok, invalid, out_of_range };
// "-12", "+7", "0x1f", "0o17" -> sign and magnitude; anything else is invalid.
Parsed parse_integer_text(std::string_view text, bool& negative, std::uint64_t& magnitude);
// How a node reads in an error message: "'abc'", "a list", "a map", "nothing".
std::string describe(const YAML::Node& node);
// Free-form settings (a field of type nlohmann::json, e.g. a reward's plug-in options) as JSON:
// scalars become true/false, integers, numbers or strings, as YAML 1.2's core schema reads them.
nlohmann::json yaml_to_json(const YAML::Node& node);
YAML::Node json_to_yaml(const nlohmann::json& value);

template <class T>
Parsed parse_integer(std::string_view text, T& out) {
  bool negative = false;
  std::uint64_t magnitude = 0;
  const Parsed parsed = parse_integer_text(text, negative, magnitude);
  if (parsed != Parsed::ok) return parsed;
  if (!negative) {
    if (magnitude > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return Parsed::out_of_range;
    out = static_cast<T>(magnitude);
  } else if constexpr (std::is_unsigned_v<T>) {
    if (magnitude != 0) return Parsed::out_of_range;
    out = 0;
  } else {
    const auto limit = static_cast<std::uint64_t>(-(std::numeric_limits<T>::min() + 1)) + 1;
    if (magnitude > limit) return Parsed::out_of_range;
    out = magnitude == limit ? std::numeric_limits<T>::min() : static_cast<T>(-static_cast<T>(magnitude));
  }
  return Parsed::ok;
}

template <class T>
Parsed parse_float(std::string_view text, T& out) {
  std::string_view rest = text;
  bool negative = false;
  if (!rest.empty() && (rest.front() == '+' || rest.front() == '-')) {
    negative = rest.front() == '-';
    rest.remove_prefix(1);
  }
  if (rest == ".inf" || rest == ".Inf" || rest == ".INF") {
    out = negative ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    return Parsed::ok;
  }
  if (text == ".nan" || text == ".NaN" || text == ".NAN") {
    out = std::numeric_limits<T>::quiet_NaN();
    return Parsed::ok;
  }
  if (rest.empty() || rest.front() == '+' || rest.front() == '-') return Parsed::invalid;
  T value{};
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (end != rest.data() + rest.size()) return Parsed::invalid;
  if (error == std::errc::result_out_of_range) return Parsed::out_of_range;
  if (error != std::errc()) return Parsed::invalid;
  out = negative ? -value : value;
  return Parsed::ok;
}

// Shortest text that reads back to the same value, always recognisably a float ("1.0", ".inf").
template <class T>
std::string format_float(T value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value < 0 ? "-.inf" : ".inf";
  char buffer[64];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, error == std::errc() ? end : buffer);
  // "1" -> "1.0" and "1e-05" -> "1.0e-05": a float to YAML 1.1 readers too.
  if (text.find('.') == std::string::npos) {
    const auto exponent = text.find_first_of("eE");
    text.insert(exponent == std::string::npos ? text.size() : exponent, ".0");
  }
  return text;
}
}  // namespace detail

// Reads a YAML map into a struct through its `visit`.
class Reader {
 public:
  Reader(const Document& doc, YAML::Node node, std::string path);

  template <class T>
  void operator()(const char* key, T& field) { read(key, field, false); }
  template <class T>
  void required(const char* key, T& field) { read(key, field, true); }
  // Records a validation failure at `key` (the key's node, or its map when absent). The first failure
  // is thrown by finish(), after unknown keys are reported, so a misspelt key is named first.
  void check(bool ok, const char* key, const std::string& message);
  // Throws on keys that were present but never declared (the first in document order), suggesting
  // the closest declared key; then on the first failed check.
  void finish();

  // "<locate(node, path)>: message" as a UserError.
  [[noreturn]] static void fail(const Document& doc, const YAML::Node& node, const std::string& path,
                                const std::string& message);

 private:
  friend class Document;

  const Document& doc_;
  YAML::Node node_;
  std::string path_;
  std::vector<std::string> declared_;
  std::string failed_check_;  // the first failed check's full message; "" when none

  template <class T>
  void read(const char* key, T& field, bool is_required);
  std::string child_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  // The value at `key` in node_, or an undefined node when absent (never inserts into the document).
  YAML::Node child(const std::string& key) const;
  // Where to point for `key`: its value; its key when the value is null (an implicit null carries
  // the position of the next token); node_ itself when the key is absent.
  YAML::Node position_of(const std::string& key) const;

  template <class T>
  static void convert(const Document& doc, const YAML::Node& node, const std::string& path, T& out);
};

// Writes a struct back to YAML through the same `visit`.
class Writer {
 public:
  template <class T>
  void operator()(const char* key, const T& field) { node_[key] = encode(field); }
  template <class T>
  void required(const char* key, const T& field) { (*this)(key, field); }
  void check(bool, const char*, const std::string&) {}
  YAML::Node node() const { return node_; }

  template <class T>
  static YAML::Node encode(const T& value);

 private:
  YAML::Node node_{YAML::NodeType::Map};
};

template <class T>
YAML::Node to_node(const T& value) { return Writer::encode(value); }
template <class T>
std::string to_yaml(const T& value) {
  YAML::Emitter out;
  out << to_node(value);
  return std::string(out.c_str()) + "\n";
}

// ---- implementation of the templates -----------------------------------------------------------

template <class T>
void Reader::read(const char* key, T& field, bool is_required) {
  declared_.emplace_back(key);
  const std::string path = child_path(key);
  const YAML::Node value = child(key);
  if (!value.IsDefined()) {
    if (is_required) fail(doc_, node_, path, "missing required key '" + std::string(key) + "'");
    return;
  }
  if (value.IsNull()) {
    if (is_required) fail(doc_, position_of(key), path, "required key '" + std::string(key) + "' has no value");
    return;
  }
  convert(doc_, value, path, field);
}

template <class T>
void Reader::convert(const Document& doc, const YAML::Node& node, const std::string& path, T& out) {
  if constexpr (requires(T& t, Reader& r) { t.visit(r); }) {
    if (!node.IsMap()) fail(doc, node, path, "expected a map of settings, got " + detail::describe(node));
    Reader nested(doc, node, path);
    out.visit(nested);
    nested.finish();
  } else if constexpr (std::is_same_v<T, nlohmann::json>) {  // before the containers: json is one too
    out = detail::yaml_to_json(node);
} else if constexpr (std::is_same_v<T, std::string>) {
    if (!node.IsScalar()) fail(doc, node, path, "expected a string, got " + detail::describe(node));
    out = node.Scalar();
  } else if constexpr (std::is_same_v<T, bool>) {
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value))
      fail(doc, node, path, "expected true or false, got " + detail::describe(node));
    out = value;
  } else if constexpr (std::is_integral_v<T>) {
    T value{};
    const detail::Parsed parsed =
        node.IsScalar() ? detail::parse_integer(node.Scalar(), value) : detail::Parsed::invalid;
    if (parsed == detail::Parsed::out_of_range)
      fail(doc, node, path,
           "integer " + node.Scalar() + " is out of range [" + std::to_string(std::numeric_limits<T>::min()) +
               ", " + std::to_string(std::numeric_limits<T>::max()) + "]");
    if (parsed != detail::Parsed::ok) fail(doc, node, path, "expected an integer, got " + detail::describe(node));
    out = value;
  } else if constexpr (std::is_floating_point_v<T>) {
    T value{};
    const detail::Parsed parsed =
        node.IsScalar() ? detail::parse_float(node.Scalar(), value) : detail::Parsed::invalid;
    if (parsed == detail::Parsed::out_of_range) fail(doc, node, path, "number " + node.Scalar() + " is out of range");
    if (parsed != detail::Parsed::ok) fail(doc, node, path, "expected a number, got " + detail::describe(node));
    out = value;
  } else if constexpr (requires { typename T::value_type; typename T::allocator_type; } &&
                       !requires { typename T::key_type; }) {
    if (!node.IsSequence()) fail(doc, node, path, "expected a list, got " + detail::describe(node));
    T result;
    for (std::size_t i = 0; i < node.size(); ++i) {
      typename T::value_type item{};
      convert(doc, node[i], path + "[" + std::to_string(i) + "]", item);
      result.push_back(std::move(item));
    }
    out = std::move(result);
  } else if constexpr (requires { typename T::key_type; typename T::mapped_type; }) {
    static_assert(std::is_same_v<typename T::key_type, std::string>, "config maps are keyed by string");
    if (!node.IsMap()) fail(doc, node, path, "expected a map, got " + detail::describe(node));
    T result;
    for (const auto& item : node) {
      const std::string name = item.first.Scalar();
      typename T::mapped_type value{};
      convert(doc, item.second, path + "." + name, value);
      result[name] = std::move(value);
    }
    out = std::move(result);
  } else {
    static_assert(sizeof(T) == 0, "unsupported config field type");
  }
}

template <class T>
YAML::Node Writer::encode(const T& value) {
  if constexpr (requires(T& t, Writer& w) { t.visit(w); }) {
    Writer nested;
    const_cast<T&>(value).visit(nested);  // a Writer only reads the fields
    return nested.node();
  } else if constexpr (std::is_same_v<T, nlohmann::json>) {
    return detail::json_to_yaml(value);
} else if constexpr (std::is_floating_point_v<T>) {
    return YAML::Node(detail::format_float(value));
  } else if constexpr (std::is_same_v<T, std::string> || std::is_arithmetic_v<T>) {
    return YAML::Node(value);
  } else if constexpr (requires { typename T::key_type; typename T::mapped_type; }) {
    YAML::Node node(YAML::NodeType::Map);
    for (const auto& [name, item] : value) node[name] = encode(item);
    return node;
  } else {
    static_assert(requires { typename T::value_type; typename T::allocator_type; }, "unsupported config field type");
    YAML::Node node(YAML::NodeType::Sequence);
    for (const auto& item : value) node.push_back(encode(static_cast<const typename T::value_type&>(item)));
    return node;
  }
}

template <class T>
T Document::bind(const std::string& section) const {
  // Walk to the section with const lookups only: assigning or indexing a non-const YAML::Node
  // would rewrite the shared document.
  YAML::Node node = root_;
  std::string walked;
  for (std::size_t start = 0; !section.empty() && start <= section.size();) {
    const std::size_t dot = std::min(section.find('.', start), section.size());
    const std::string key = section.substr(start, dot - start);
    if (node.IsDefined() && !node.IsNull() && !node.IsMap())
      Reader::fail(*this, node, walked, "expected a map of settings, got " + detail::describe(node));
    walked = section.substr(0, dot);
    const YAML::Node& parent = node;
    YAML::Node next = node.IsMap() ? parent[key] : YAML::Node(YAML::NodeType::Undefined);
    if (!next.IsDefined()) {
      node.reset(YAML::Node(YAML::NodeType::Null));
    } else {
      node.reset(next);
    }
    start = dot + 1;
  }
  T result{};
  if (!node.IsDefined() || node.IsNull()) node.reset(YAML::Node(YAML::NodeType::Map));
  Reader::convert(*this, node, section, result);
  return result;
}

}  // namespace r1::config
