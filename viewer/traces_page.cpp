// The trace list: a GET form whose fields are the URL's query parameters (so every view is a link
// that can be shared or reloaded), a page of rows from TraceStore::list or ::search, and a pager.
#include <cstdio>

#include "viewer/html.h"
#include "viewer/pages.h"
#include "viewer/request_target.h"

namespace r1::viewer {

namespace {

using sampling::TraceRow;

std::string option(const std::string& value, const std::string& label, const std::string& selected) {
  return "<option value=\"" + escape_html(value) + "\"" + (value == selected ? " selected" : "") + ">" +
         escape_html(label) + "</option>";
}

std::string select(const std::string& name, const std::vector<std::pair<std::string, std::string>>& options,
                   const std::string& selected) {
  std::string html = "<select name=\"" + name + "\">";
  for (const auto& [value, label] : options) html += option(value, label, selected);
  return html + "</select>";
}

std::string input(const std::string& name, const QueryParams& params, const std::string& placeholder,
                  const char* type = "number", const char* step = "any") {
  std::string html = "<input name=\"" + name + "\" type=\"" + type + "\"";
  if (std::string(type) == "number") html += std::string(" step=\"") + step + "\"";
  return html + " placeholder=\"" + placeholder + "\" value=\"" + escape_html(params.raw(name)) + "\">";
}

std::string label(const std::string& text, const std::string& control, const char* extra_class = "") {
  return std::string("<label class=\"") + extra_class + "\">" + text + control + "</label>\n";
}

std::string filter_form(const sampling::TraceStore& store, const QueryParams& params) {
  std::vector<std::pair<std::string, std::string>> stages = {{"", "any"}};
  bool selected_listed = params.raw("stage").empty();
  for (const std::string& stage : store.stage_names()) {
    stages.emplace_back(stage, stage);
    selected_listed = selected_listed || stage == params.raw("stage");
  }
  if (!selected_listed) stages.emplace_back(params.raw("stage"), params.raw("stage"));  // keep what the URL asked for

  std::string html = "<form class=\"filters\" method=\"get\" action=\"/\">\n";
  html += label("search completions",
                input("q", params, "words that must all occur, e.g. think answer", "search"), "search");
  const auto runs = store.runs();
  if (runs.size() > 1) {
    std::vector<std::pair<std::string, std::string>> run_options = {{"", "any"}};
    for (const auto& run : runs) run_options.emplace_back(std::to_string(run.id), run.name);
    html += label("run", select("run", run_options, params.raw("run")));
  }
  html += label("stage", select("stage", stages, params.raw("stage")));
  html += label("step", "<span class=\"pair\">" + input("min_step", params, "min", "number", "1") +
                            input("max_step", params, "max", "number", "1") + "</span>");
  html += label("reward", "<span class=\"pair\">" + input("min_reward", params, "min") +
                              input("max_reward", params, "max") + "</span>");
  html += label("language share", "<span class=\"pair\">" + input("min_language", params, "min 0") +
                                      input("max_language", params, "max 1") + "</span>");
  html += label("completion tokens", "<span class=\"pair\">" + input("min_tokens", params, "min", "number", "1") +
                                         input("max_tokens", params, "max", "number", "1") + "</span>");
  html += label("accuracy", select("outcome", {{"", "any"}, {"pass", "pass"}, {"fail", "fail"}, {"error", "error"}},
                                   params.raw("outcome")));
  html += label("accepted", select("accepted", {{"", "any"}, {"yes", "yes"}, {"no", "no"}}, params.raw("accepted")));
  html += label("rejection reason", input("rejection_reason", params, "e.g. incorrect", "text"));
  html += label("finish reason", select("finish", {{"", "any"}, {"stop", "stop"}, {"length", "length"}}, params.raw("finish")));
  html += label("sort", "<span class=\"pair\">" +
                            select("sort", {{"id", "id"}, {"step", "step"}, {"reward", "reward"}, {"tokens", "tokens"},
                                            {"language", "language"}},
                                   params.raw("sort")) +
                            select("dir", {{"asc", "ascending"}, {"desc", "descending"}}, params.raw("dir")) + "</span>");
  html += label("rows per page", select("limit", {{"20", "20"}, {"50", "50"}, {"100", "100"}, {"200", "200"}},
                                        params.raw("limit").empty() ? "20" : params.raw("limit")));
  html += "<div class=\"actions\"><button type=\"submit\">Apply</button><a href=\"/\">reset</a></div>\n</form>\n";
  return html;
}

// This page's URL with `offset` replaced: the pager's links keep every other filter.
std::string page_link(const QueryParams& params, int64_t offset) {
  std::vector<std::pair<std::string, std::string>> kept;
  for (const std::string& name : trace_query_names())
    if (name != "offset") kept.emplace_back(name, params.raw(name));
  kept.emplace_back("offset", offset > 0 ? std::to_string(offset) : "");
  const std::string query = build_query(kept);
  return query.empty() ? "/" : "/?" + query;
}

std::string accepted_cell(const TraceRow& row) {
  if (!row.accepted) return "<td class=\"muted\">\xE2\x80\x94</td>";
  if (*row.accepted) return "<td class=\"pass\">yes</td>";
  return "<td class=\"fail\">no" + (row.rejection_reason.empty() ? "" : " (" + escape_html(row.rejection_reason) + ")") +
         "</td>";
}

std::string row_html(const TraceRow& row, bool searching) {
  char reward[40];
  std::snprintf(reward, sizeof(reward), "%.17g", row.reward);
  std::string html = "<tr data-id=\"" + std::to_string(row.id) + "\" data-stage=\"" + escape_html(row.stage) +
                     "\" data-step=\"" + std::to_string(row.step) + "\" data-reward=\"" + reward + "\">";
  html += "<td class=\"num\"><a class=\"trace-link\" href=\"/trace/" + std::to_string(row.id) + "\">" +
          std::to_string(row.id) + "</a></td>";
  html += "<td>" + escape_html(row.stage) + "</td>";
  html += "<td class=\"num\">" + std::to_string(row.step) + "</td>";
  html += "<td class=\"num\">" + format_number(row.reward) + "</td>";
  html += "<td class=\"" + escape_html(row.outcome) + "\">" + escape_html(row.outcome) + "</td>";
  html += "<td class=\"num\">" + std::to_string(row.completion_tokens) + "</td>";
  html += "<td class=\"num\">" + format_number(row.language_share, 2) + "</td>";
  html += accepted_cell(row);
  html += "<td>" + escape_html(row.finish_reason) + "</td>";
  const std::string& text = searching && !row.snippet.empty() ? row.snippet : row.completion;
  html += "<td class=\"preview\" title=\"" + escape_html(preview(text, 400)) + "\">" + escape_html(preview(text, 110)) +
          "</td></tr>\n";
  return html;
}

}  // namespace

Response traces_page(const sampling::TraceStore& store, const QueryParams& params) {
  const TraceQuery query = parse_trace_query(params);
  const sampling::TraceFilter& filter = query.filter;
  const bool searching = !query.search.empty();

  // A search has no count in the store's API: ask for one row more than a page to know whether
  // there is a next page.
  std::vector<TraceRow> rows;
  std::optional<int64_t> total;
  bool has_next = false;
  if (searching) {
    sampling::TraceFilter probe = filter;
    probe.limit = filter.limit + 1;
    rows = store.search(query.search, probe);
    has_next = int64_t(rows.size()) > filter.limit;
    if (has_next) rows.pop_back();
  } else {
    total = store.count(filter);
    rows = store.list(filter);
    has_next = filter.offset + int64_t(rows.size()) < *total;
  }

  std::string body = "<h1>Traces</h1>\n" + filter_form(store, params);
  const int64_t first = filter.offset + 1, last = filter.offset + int64_t(rows.size());
  body += "<p class=\"summary\">";
  if (searching) body += "Matches for <b>" + escape_html(query.search) + "</b> (newest first): ";
  if (total) body += "<span class=\"total\" data-total=\"" + std::to_string(*total) + "\">" + format_count(*total) +
                     (*total == 1 ? " trace" : " traces") + "</span>";
  if (!rows.empty()) {
    body += std::string(total ? ", " : "") + "showing <span class=\"range\">" + format_count(first) + "\xE2\x80\x93" +
            format_count(last) + "</span>";
  } else if (!total) {
    body += "none on this page";
  }
  body += "</p>\n";

  if (rows.empty()) {
    body += "<p class=\"muted empty\">No traces match.</p>\n";
  } else {
    body += "<table class=\"traces\">\n<thead><tr><th>id</th><th>stage</th><th>step</th><th>reward</th><th>accuracy</th>"
            "<th>tokens</th><th>language</th><th>accepted</th><th>finish</th><th>" +
            std::string(searching ? "match" : "completion") + "</th></tr></thead>\n<tbody>\n";
    for (const TraceRow& row : rows) body += row_html(row, searching);
    body += "</tbody>\n</table>\n";
  }

  body += "<nav class=\"pager\">";
  if (filter.offset > 0)
    body += "<a class=\"prev\" href=\"" + escape_html(page_link(params, std::max<int64_t>(0, filter.offset - filter.limit))) +
            "\">\xE2\x86\x90 previous</a>";
  else
    body += "<span class=\"disabled\">\xE2\x86\x90 previous</span>";
  if (has_next)
    body += "<a class=\"next\" href=\"" + escape_html(page_link(params, filter.offset + filter.limit)) + "\">next \xE2\x86\x92</a>";
  else
    body += "<span class=\"disabled\">next \xE2\x86\x92</span>";
  body += "</nav>\n";

  Response response;
  response.body = html_page("Traces", "traces", store.path(), body);
  return response;
}

}  // namespace r1::viewer
