// The viewer's HTML pages, rendered on the server from the trace store: the filterable trace list,
// one trace laid out, and per-stage charts. Pure functions of (store, request) -> Response; they
// know nothing of sockets. Every piece of stored text goes through escape_html().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sampling/trace_store.h"
#include "viewer/query_params.h"

namespace r1::viewer {

struct Response {
  unsigned status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
};

// "/" and "/traces": the filter form, one page of rows, the pager.
Response traces_page(const sampling::TraceStore& store, const QueryParams& params);
// "/trace/ID": 404 page when there is no such trace.
Response trace_page(const sampling::TraceStore& store, int64_t id);
// "/charts[?stage=NAME&run=ID]".
Response charts_page(const sampling::TraceStore& store, const QueryParams& params);
// A page for a refused or failed request: the status and a short message.
Response error_page(unsigned status, const std::string& message);

// The frame every page shares (layout.cpp): <head> with the embedded stylesheet, the navigation
// bar (`active`: "traces" or "charts") naming the database file, then `body_html`.
std::string html_page(const std::string& title, std::string_view active, const std::string& db_path,
                      const std::string& body_html);

}  // namespace r1::viewer
