// The viewer's JSON endpoints, for scripts and tests: the same filters as the HTML pages.
#pragma once

#include <cstdint>
#include <string>

#include "sampling/trace_store.h"
#include "viewer/pages.h"
#include "viewer/query_params.h"

namespace r1::viewer {

// "/api/traces": {"total": N | null (a search), "offset", "limit", "rows": [trace...]}.
Response api_traces(const sampling::TraceStore& store, const QueryParams& params);
// "/api/trace/ID": one trace; 404 {"error": ...} when absent.
Response api_trace(const sampling::TraceStore& store, int64_t id);
// "/api/stats[?stage=&run=]": {"stats": [per stage and step], "step_metrics": [...]}.
Response api_stats(const sampling::TraceStore& store, const QueryParams& params);
// {"error": message} with `status`.
Response api_error(unsigned status, const std::string& message);

}  // namespace r1::viewer
