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
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

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
  // types, missing required keys and failed checks throw UserError.
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

// Where an error happened: "run.yaml:12:5: zero.lr: ..." or "--set zero.lr=x: zero.lr: ...".
std::string locate(const Document& doc, const YAML::Node& node, const std::string& path);

// The closest of `candidates` to `key` by edit distance, or "" if none is plausibly meant.
std::string closest_key(const std::string& key, const std::vector<std::string>& candidates);

template <class T>
concept Visitable = requires(T t, int& probe) { t.visit(probe); } || requires { &T::template visit<int>; };

// Reads a YAML map into a struct through its `visit`.
class Reader {
 public:
  Reader(const Document& doc, YAML::Node node, std::string path);

  template <class T>
  void operator()(const char* key, T& field) { read(key, field, false); }
  template <class T>
  void required(const char* key, T& field) { read(key, field, true); }
  // Records a validation failure at `key` (checked after the keys are read).
  void check(bool ok, const char* key, const std::string& message);
  // Throws on keys that were present but never declared, suggesting the closest declared key.
  void finish();

 private:
  const Document& doc_;
  YAML::Node node_;
  std::string path_;
  std::vector<std::string> declared_;

  template <class T>
  void read(const char* key, T& field, bool is_required);
  std::string child_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  template <class T>
  static void convert(const Document& doc, const YAML::Node& node, const std::string& path, T& out);
  [[noreturn]] static void fail(const Document& doc, const YAML::Node& node, const std::string& path,
                                const std::string& message);
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
  YAML::Node child = node_.IsMap() ? node_[key] : YAML::Node();
  if (!child.IsDefined() || child.IsNull()) {
    if (is_required) fail(doc_, node_, path, "missing required key '" + std::string(key) + "'");
    return;
  }
  convert(doc_, child, path, field);
}

template <class T>
void Reader::convert(const Document& doc, const YAML::Node& node, const std::string& path, T& out) {
  if constexpr (requires(T& t, Reader& r) { t.visit(r); }) {
    if (!node.IsMap()) fail(doc, node, path, "expected a map of settings");
    Reader nested(doc, node, path);
    out.visit(nested);
    nested.finish();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!node.IsScalar()) fail(doc, node, path, "expected a string");
    out = node.Scalar();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!node.IsScalar()) fail(doc, node, path, "expected true or false");
    bool value;
    if (!YAML::convert<bool>::decode(node, value))
      fail(doc, node, path, "expected true or false, got '" + node.Scalar() + "'");
    out = value;
  } else if constexpr (std::is_integral_v<T>) {
    if (!node.IsScalar()) fail(doc, node, path, "expected an integer");
    T value;
    if (!YAML::convert<T>::decode(node, value))
      fail(doc, node, path, "expected an integer, got '" + node.Scalar() + "'");
    out = value;
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!node.IsScalar()) fail(doc, node, path, "expected a number");
    T value;
    if (!YAML::convert<T>::decode(node, value))
      fail(doc, node, path, "expected a number, got '" + node.Scalar() + "'");
    out = value;
  } else if constexpr (requires { typename T::value_type; typename T::allocator_type; } &&
                       !requires { typename T::key_type; }) {
    if (!node.IsSequence()) fail(doc, node, path, "expected a list");
    T result;
    for (std::size_t i = 0; i < node.size(); ++i) {
      typename T::value_type item{};
      convert(doc, node[i], path + "[" + std::to_string(i) + "]", item);
      result.push_back(std::move(item));
    }
    out = std::move(result);
  } else if constexpr (requires { typename T::key_type; typename T::mapped_type; }) {
    static_assert(std::is_same_v<typename T::key_type, std::string>, "config maps are keyed by string");
    if (!node.IsMap()) fail(doc, node, path, "expected a map");
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
    const_cast<T&>(value).visit(nested);
    return nested.node();
  } else if constexpr (std::is_same_v<T, std::string> || std::is_arithmetic_v<T>) {
    return YAML::Node(value);
  } else if constexpr (requires { typename T::key_type; typename T::mapped_type; }) {
    YAML::Node node(YAML::NodeType::Map);
    for (const auto& [name, item] : value) node[name] = encode(item);
    return node;
  } else {
    YAML::Node node(YAML::NodeType::Sequence);
    for (const auto& item : value) node.push_back(encode(item));
    return node;
  }
}

template <class T>
T Document::bind(const std::string& section) const {
  YAML::Node node = root_;
  if (!section.empty()) {
    std::string rest = section;
    while (!rest.empty()) {
      const auto dot = rest.find('.');
      const std::string key = rest.substr(0, dot);
      node = node.IsMap() ? YAML::Node(node[key]) : YAML::Node();
      rest = dot == std::string::npos ? "" : rest.substr(dot + 1);
    }
  }
  T result{};
  if (!node.IsDefined() || node.IsNull()) return result;
  Reader reader(*this, node, section);
  if (!node.IsMap()) {
    YAML::Node copy = node;
    Reader::convert(*this, copy, section, result);  // reports "expected a map of settings"
  }
  result.visit(reader);
  reader.finish();
  return result;
}

}  // namespace r1::config
