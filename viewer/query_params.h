// Typed reading of URL query parameters, and the trace filter the list page and /api/traces take
// from them. A value that is present but not a clean number in range is an HttpError 400 naming
// the parameter, never a silent default: a filter the user typed must not vanish without a word.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sampling/trace_store.h"

namespace r1::viewer {

class QueryParams {
 public:
  QueryParams() = default;
  explicit QueryParams(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  // The value, or nullopt when absent or empty (a form submits its empty fields).
  std::optional<std::string> text(const std::string& name) const;
  // A decimal integer in [min, max]: no sign but '-', no spaces, no exponent.
  std::optional<int64_t> integer(const std::string& name, int64_t min, int64_t max) const;
  // A finite decimal number in [min, max] ("0.5", "-1", "1e-3"; not "inf", "nan", "1e400").
  std::optional<double> number(const std::string& name, double min, double max) const;
  // One of `choices`.
  std::optional<std::string> choice(const std::string& name, std::initializer_list<std::string_view> choices) const;
  // The value as given, "" when absent: to fill a form back in.
  const std::string& raw(const std::string& name) const;

 private:
  std::map<std::string, std::string> values_;
};

// What the trace list and /api/traces read from the URL.
struct TraceQuery {
  sampling::TraceFilter filter;
  std::string search;  // words for TraceStore::search; empty for a plain list
};

inline constexpr int64_t kDefaultPageSize = 20;
inline constexpr int64_t kMaxPageSize = 500;
inline constexpr int64_t kMaxOffset = 1'000'000'000'000;  // keeps offset + limit far from overflow

// Parameters: q, run, stage, min_step, max_step, min_reward, max_reward, accepted (yes|no),
// rejection_reason, finish, outcome, min_language, max_language, min_tokens, max_tokens,
// sort (id|step|reward|tokens|language), dir (asc|desc), offset, limit.
TraceQuery parse_trace_query(const QueryParams& params);

// Those names in form order: a link that changes one of them (the pager's offset) keeps the rest.
const std::vector<std::string>& trace_query_names();

}  // namespace r1::viewer
