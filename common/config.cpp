#include "common/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

namespace r1::config {
namespace {

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const auto end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

// True when `prefix` names `path` itself or one of its ancestors ("a.b" for "a.b.c" or "a.b[0]").
bool is_path_prefix(const std::string& prefix, const std::string& path) {
  if (prefix.empty() || path.size() < prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '.' || path[prefix.size()] == '[';
}

std::string format_mark(const std::string& origin, const YAML::Mark& mark) {
  return origin + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

YAML::Mark mark_of(const YAML::Node& node) {
  if (!node.IsDefined()) return YAML::Mark::null_mark();
  return node.Mark();
}

// The node at a dotted path like "a.b[2].c" (const lookups only); undefined when it is not there.
YAML::Node find_path(const YAML::Node& root, const std::string& path) {
  YAML::Node node = root;
  std::size_t i = 0;
  while (i < path.size()) {
    if (!node.IsDefined()) return node;
    if (path[i] == '.') {
      ++i;
      continue;
    }
    const YAML::Node& current = node;
    if (path[i] == '[') {
      const auto close = path.find(']', i);
      if (close == std::string::npos || !current.IsSequence()) return YAML::Node(YAML::NodeType::Undefined);
      std::size_t index = 0;
      const auto [end, error] = std::from_chars(path.data() + i + 1, path.data() + close, index);
      if (error != std::errc() || end != path.data() + close || index >= current.size())
        return YAML::Node(YAML::NodeType::Undefined);
      node.reset(current[index]);
      i = close + 1;
    } else {
      const auto end = std::min(path.find_first_of(".[", i), path.size());
      if (!current.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
      const YAML::Node next = current[path.substr(i, end - i)];
      if (!next.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
      node.reset(next);
      i = end;
    }
  }
  return node;
}

std::string type_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    default: return "empty";
  }
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

namespace detail {

Parsed parse_integer_text(std::string_view text, bool& negative, std::uint64_t& magnitude) {
  negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  } else if (text.size() > 2 && text[0] == '0' && (text[1] == 'o' || text[1] == 'O')) {
    base = 8;
    text.remove_prefix(2);
  }
  if (text.empty() || text.front() == '+' || text.front() == '-') return Parsed::invalid;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), magnitude, base);
  if (end != text.data() + text.size()) return Parsed::invalid;
  if (error == std::errc::result_out_of_range) return Parsed::out_of_range;
  if (error != std::errc()) return Parsed::invalid;
  return Parsed::ok;
}

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  return "a map";
}

nlohmann::json yaml_to_json(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return nullptr;
  if (node.IsSequence()) {
    auto array = nlohmann::json::array();
    for (const auto& item : node) array.push_back(yaml_to_json(item));
    return array;
  }
  if (node.IsMap()) {
    auto object = nlohmann::json::object();
    for (const auto& item : node) object[item.first.Scalar()] = yaml_to_json(item.second);
    return object;
  }
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted: a string whatever it looks like
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  std::int64_t integer = 0;
  if (parse_integer(text, integer) == Parsed::ok) return integer;
  double number = 0;
  if (parse_float(text, number) == Parsed::ok) return number;
  return text;
}

YAML::Node json_to_yaml(const nlohmann::json& value) {
  if (value.is_null()) return YAML::Node(YAML::NodeType::Null);
  if (value.is_object()) {
    YAML::Node node(YAML::NodeType::Map);
    for (const auto& [key, item] : value.items()) node[key] = json_to_yaml(item);
    return node;
  }
  if (value.is_array()) {
    YAML::Node node(YAML::NodeType::Sequence);
    for (const auto& item : value) node.push_back(json_to_yaml(item));
    return node;
  }
  if (value.is_string()) return YAML::Node(value.get<std::string>());
  if (value.is_boolean()) return YAML::Node(value.get<bool>());
  if (value.is_number_integer()) return YAML::Node(value.get<std::int64_t>());
  return YAML::Node(format_float(value.get<double>()));
}

}  // namespace detail

// ---- Document -------------------------------------------------------------------------------------

Document Document::load_file(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) R1_FAIL(path, ": config file not found");
  if (std::filesystem::is_directory(path, error)) R1_FAIL(path, ": config path is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) R1_FAIL(path, ": cannot open config file for reading");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) R1_FAIL(path, ": cannot read config file");
  return load_string(text.str(), path, overrides);
}

Document Document::load_string(const std::string& text, const std::string& origin,
                               const std::vector<std::string>& overrides) {
  Document doc;
  doc.origin_ = origin;
  try {
    doc.root_ = YAML::Load(text);
  } catch (const YAML::Exception& error) {
    const std::string where = error.mark.is_null() ? origin : format_mark(origin, error.mark);
    R1_FAIL(where, ": ", error.msg.empty() ? std::string(error.what()) : error.msg);
  }
  for (const std::string& assignment : overrides) doc.apply_override(assignment);
  return doc;
}

void Document::apply_override(const std::string& assignment) {
  const std::string label = "--set " + assignment;
  const auto equals = assignment.find('=');
  if (equals == std::string::npos) R1_FAIL(label, ": expected KEY=VALUE, e.g. --set zero.lr=1e-4");
  const std::string path = trim(assignment.substr(0, equals));
  if (path.empty()) R1_FAIL(label, ": empty key before '='");

  std::vector<std::string> keys;
  for (std::size_t start = 0;;) {
    const auto dot = std::min(path.find('.', start), path.size());
    keys.push_back(path.substr(start, dot - start));
    if (keys.back().empty()) R1_FAIL(label, ": key '", path, "' has an empty part");
    if (dot == path.size()) break;
    start = dot + 1;
  }

  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(equals + 1));
  } catch (const YAML::Exception& error) {
    R1_FAIL(label, ": value is not valid YAML: ", error.msg.empty() ? std::string(error.what()) : error.msg);
  }

  // Nodes are only ever re-pointed with reset(): assigning one YAML::Node to another would rewrite
  // the node it previously referred to.
  if (!root_.IsDefined() || root_.IsNull()) root_.reset(YAML::Node(YAML::NodeType::Map));
  if (!root_.IsMap()) R1_FAIL(label, ": the document is ", type_name(root_), ", not a map of settings");
  YAML::Node current = root_;
  std::string walked;
  for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
    walked += (walked.empty() ? "" : ".") + keys[i];
    const YAML::Node& parent = current;
    const YAML::Node existing = parent[keys[i]];
    if (existing.IsDefined() && !existing.IsNull() && !existing.IsMap())
      R1_FAIL(label, ": '", walked, "' is ", type_name(existing), ", not a map of settings");
    if (!existing.IsDefined() || existing.IsNull()) current[keys[i]] = YAML::Node(YAML::NodeType::Map);
    const YAML::Node next = parent[keys[i]];
    current.reset(next);
  }
  current[keys.back()] = value;

  // This override replaces anything set earlier at or below `path`.
  for (auto it = overrides_.begin(); it != overrides_.end();) {
    it = is_path_prefix(path, it->first) ? overrides_.erase(it) : std::next(it);
  }
  overrides_[path] = label;
}

// ---- locating errors ------------------------------------------------------------------------------

std::string locate(const Document& doc, const YAML::Node& node, const std::string& path) {
  const std::string suffix = path.empty() ? "" : ": " + path;
  // 1. The value at `path` (or an ancestor) came from a --set: the most specific one set it.
  const std::string* label = nullptr;
  std::size_t best = 0;
  for (const auto& [set_path, text] : doc.overrides()) {
    if (is_path_prefix(set_path, path) && set_path.size() >= best) {
      best = set_path.size();
      label = &text;
    }
  }
  if (label) return *label + suffix;

  const YAML::Mark mark = mark_of(node);
  if (mark.is_null()) {
    // 2. A node with no source position that a --set created on the way to a deeper key.
    for (const auto& [set_path, text] : doc.overrides())
      if (is_path_prefix(path, set_path)) return text + suffix;
    // 3. The node at `path` in the document, or else its nearest ancestor, that came from the file.
    for (std::string ancestor = path;;) {
      const YAML::Mark found = mark_of(find_path(doc.root(), ancestor));
      if (!found.is_null()) return format_mark(doc.origin(), found) + suffix;
      if (ancestor.empty()) return doc.origin() + suffix;
      const auto cut = ancestor.find_last_of(".[");
      ancestor = cut == std::string::npos ? "" : ancestor.substr(0, cut);
    }
  }
  return format_mark(doc.origin(), mark) + suffix;
}

std::string closest_key(const std::string& key, const std::vector<std::string>& candidates) {
  const std::size_t limit = std::max<std::size_t>(2, key.size() / 3);
  std::string best;
  std::size_t best_distance = limit + 1;
  for (const std::string& candidate : candidates) {
    const std::size_t distance = edit_distance(key, candidate);
    // A suggestion that shares nothing with the key ("x" -> "lr") is not plausibly meant.
    if (distance >= std::max(key.size(), candidate.size())) continue;
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

// ---- Reader ---------------------------------------------------------------------------------------

Reader::Reader(const Document& doc, YAML::Node node, std::string path)
    : doc_(doc), node_(std::move(node)), path_(std::move(path)) {}

YAML::Node Reader::child(const std::string& key) const {
  const YAML::Node& map = node_;
  if (!map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  return map[key];
}

YAML::Node Reader::position_of(const std::string& key) const {
  const YAML::Node value = child(key);
  if (!value.IsDefined()) return node_;
  if (!value.IsNull()) return value;
  for (const auto& item : node_)
    if (item.first.IsScalar() && item.first.Scalar() == key) return item.first;
  return node_;
}

void Reader::check(bool ok, const char* key, const std::string& message) {
  if (ok || !failed_check_.empty()) return;
  failed_check_ = locate(doc_, position_of(key), child_path(key)) + ": " + message;
}

void Reader::finish() {
  if (node_.IsMap()) {
    std::vector<std::string> seen;
    for (const auto& item : node_) {
      const YAML::Node& key_node = item.first;
      if (!key_node.IsScalar())
        fail(doc_, key_node, path_, "keys must be plain names, got " + detail::describe(key_node));
      const std::string key = key_node.Scalar();
      const std::string path = child_path(key);
      if (std::find(declared_.begin(), declared_.end(), key) == declared_.end()) {
        const std::string suggestion = closest_key(key, declared_);
        fail(doc_, key_node, path,
             "unknown key '" + path + "'" + (suggestion.empty() ? "" : "; did you mean '" + suggestion + "'?"));
      }
      if (std::find(seen.begin(), seen.end(), key) != seen.end())
        fail(doc_, key_node, path, "duplicate key '" + key + "'");
      seen.push_back(key);
    }
  }
  if (!failed_check_.empty()) throw UserError(failed_check_);
}

void Reader::fail(const Document& doc, const YAML::Node& node, const std::string& path, const std::string& message) {
  throw UserError(locate(doc, node, path) + ": " + message);
}

}  // namespace r1::config
