// Stored text may hold invalid UTF-8 (model output is bytes): dump() replaces it with U+FFFD
// rather than throwing. NaN (a value the store does not have) becomes null.
#include "viewer/api.h"

#include <limits>

#include <nlohmann/json.hpp>

#include "sampling/trace_json.h"

namespace r1::viewer {

namespace {

using nlohmann::json;

Response json_response(const json& value, unsigned status = 200) {
  Response response;
  response.status = status;
  response.content_type = "application/json";
  response.body = value.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return response;
}

}  // namespace

Response api_traces(const sampling::TraceStore& store, const QueryParams& params) {
  const TraceQuery query = parse_trace_query(params);
  json rows = json::array();
  json total = nullptr;
  if (query.search.empty()) {
    total = store.count(query.filter);
    for (const auto& row : store.list(query.filter)) rows.push_back(sampling::trace_json(row));
  } else {
    for (const auto& row : store.search(query.search, query.filter)) rows.push_back(sampling::trace_json(row));
  }
  return json_response({{"total", total}, {"offset", query.filter.offset}, {"limit", query.filter.limit}, {"rows", rows}});
}

Response api_trace(const sampling::TraceStore& store, int64_t id) {
  const auto row = store.get(id);
  if (!row) return api_error(404, "no trace with id " + std::to_string(id));
  return json_response(sampling::trace_json(*row));
}

Response api_stats(const sampling::TraceStore& store, const QueryParams& params) {
  const auto stage = params.text("stage");
  const auto run = params.integer("run", 0, std::numeric_limits<int64_t>::max());
  json stats = json::array();
  for (const auto& s : store.stats(stage, run))
    stats.push_back(sampling::step_stats_json(s, s.step));
  json metrics = json::array();
  for (const auto& m : store.step_metrics(stage, run))
    metrics.push_back({{"stage", m.stage}, {"step", m.step}, {"values", m.values}});
  return json_response({{"stats", stats}, {"step_metrics", metrics}});
}

Response api_error(unsigned status, const std::string& message) { return json_response({{"error", message}}, status); }

}  // namespace r1::viewer
