// Numbers are parsed with std::from_chars over the whole value, so "12abc", " 12", "0x1f" and
// out-of-range values are refused rather than read in part (std::stoll / atof would accept them).
#include "viewer/query_params.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "viewer/request_target.h"

namespace r1::viewer {

namespace {

// Bad values are echoed in the message: cut them short, the page escapes them.
std::string quoted(const std::string& value) {
  return "\"" + (value.size() > 40 ? value.substr(0, 40) + "..." : value) + "\"";
}

}  // namespace

std::optional<std::string> QueryParams::text(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::optional<int64_t> QueryParams::integer(const std::string& name, int64_t min, int64_t max) const {
  const auto value = text(name);
  if (!value) return std::nullopt;
  int64_t parsed = 0;
  const char* end = value->data() + value->size();
  const auto [stop, error] = std::from_chars(value->data(), end, parsed);
  if (error == std::errc::result_out_of_range || (error == std::errc() && stop == end && (parsed < min || parsed > max)))
    throw HttpError(400, name + ": " + quoted(*value) + " is out of range [" + std::to_string(min) + ", " +
                             std::to_string(max) + "]");
  if (error != std::errc() || stop != end) throw HttpError(400, name + ": " + quoted(*value) + " is not an integer");
  return parsed;
}

std::optional<double> QueryParams::number(const std::string& name, double min, double max) const {
  const auto value = text(name);
  if (!value) return std::nullopt;
  double parsed = 0;
  const char* end = value->data() + value->size();
  const auto [stop, error] = std::from_chars(value->data(), end, parsed);
  if (error == std::errc::result_out_of_range) throw HttpError(400, name + ": " + quoted(*value) + " is out of range");
  if (error != std::errc() || stop != end || !std::isfinite(parsed))
    throw HttpError(400, name + ": " + quoted(*value) + " is not a number");
  if (parsed < min || parsed > max) throw HttpError(400, name + ": " + quoted(*value) + " is out of range");
  return parsed;
}

std::optional<std::string> QueryParams::choice(const std::string& name,
                                               std::initializer_list<std::string_view> choices) const {
  const auto value = text(name);
  if (!value) return std::nullopt;
  for (std::string_view choice : choices)
    if (*value == choice) return value;
  std::string allowed;
  for (std::string_view choice : choices) allowed += (allowed.empty() ? "" : ", ") + std::string(choice);
  throw HttpError(400, name + ": " + quoted(*value) + " is not one of " + allowed);
}

const std::string& QueryParams::raw(const std::string& name) const {
  static const std::string kEmpty;
  const auto it = values_.find(name);
  return it == values_.end() ? kEmpty : it->second;
}

TraceQuery parse_trace_query(const QueryParams& params) {
  constexpr int64_t kMinInt = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();
  constexpr double kMaxDouble = std::numeric_limits<double>::max();
  TraceQuery query;
  sampling::TraceFilter& filter = query.filter;
  filter.run_id = params.integer("run", 0, kMaxInt);
  filter.stage = params.text("stage");
  filter.min_step = params.integer("min_step", kMinInt, kMaxInt);
  filter.max_step = params.integer("max_step", kMinInt, kMaxInt);
  filter.min_reward = params.number("min_reward", -kMaxDouble, kMaxDouble);
  filter.max_reward = params.number("max_reward", -kMaxDouble, kMaxDouble);
  if (const auto accepted = params.choice("accepted", {"any", "yes", "no"}); accepted && *accepted != "any")
    filter.accepted = *accepted == "yes";
  filter.rejection_reason = params.text("rejection_reason");
  filter.finish_reason = params.text("finish");
  filter.outcome = params.text("outcome");
  filter.min_language = params.number("min_language", 0.0, 1.0);
  filter.max_language = params.number("max_language", 0.0, 1.0);
  filter.min_tokens = params.integer("min_tokens", 0, kMaxInt);
  filter.max_tokens = params.integer("max_tokens", 0, kMaxInt);
  if (const auto sort = params.choice("sort", {"id", "step", "reward", "tokens", "language"}))
    filter.sort = *sampling::trace_sort_named(*sort);
  filter.descending = params.choice("dir", {"asc", "desc"}).value_or("asc") == "desc";
  filter.limit = params.integer("limit", 1, kMaxPageSize).value_or(kDefaultPageSize);
  filter.offset = params.integer("offset", 0, kMaxOffset).value_or(0);
  const std::string search = params.text("q").value_or("");
  if (search.find_first_not_of(" \t\r\n") != std::string::npos) query.search = search;
  return query;
}

const std::vector<std::string>& trace_query_names() {
  static const std::vector<std::string> kNames = {
      "q",          "run",          "stage",        "min_step",   "max_step",   "min_reward", "max_reward",
      "accepted",   "rejection_reason", "finish",   "outcome",    "min_language", "max_language",
      "min_tokens", "max_tokens",   "sort",         "dir",        "limit",      "offset"};
  return kNames;
}

}  // namespace r1::viewer
