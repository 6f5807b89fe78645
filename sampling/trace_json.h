// One trace, and one step's statistics, as JSON objects: the format `r1 traces list|show|search|export --json` prints and the
// viewer's /api/traces and /api/trace/ID answer with, so the two never drift apart.
#pragma once

#include <nlohmann/json.hpp>

#include "sampling/trace_store.h"

namespace r1::sampling {

// Every stored field; a value the store does not have (NaN) is null, `accepted` is null where
// nothing was judged, `snippet` is present only on search results. Text is the stored bytes: dump
// with error_handler_t::replace, since model output need not be valid UTF-8.
nlohmann::json trace_json(const TraceRow& row);

// One stage's step (or, `step` = "all", a whole stage) of TraceStore::stats: what `r1 traces stats
// --json` prints per line and /api/stats lists. Distributions as {count, mean, std, min, max}.
nlohmann::json step_stats_json(const StepStats& stats, const nlohmann::json& step);

}  // namespace r1::sampling
