// One trace laid out: what was asked, what the model thought and answered (apart), and how it was
// judged — the total reward and each component, the accuracy verdict, advantage, acceptance.
#include <cstdio>

#include "viewer/html.h"
#include "viewer/pages.h"

namespace r1::viewer {

namespace {

using sampling::TraceRow;

std::string text_block(const std::string& heading, const std::string& css_class, const std::string& text,
                       const std::string& when_empty) {
  std::string html = "<h2>" + heading + "</h2>\n";
  if (text.empty()) return html + "<p class=\"muted " + css_class + " empty\">" + when_empty + "</p>\n";
  return html + "<pre class=\"text-block " + css_class + "\">" + escape_html(text) + "</pre>\n";
}

std::string fact(const std::string& name, const std::string& value_html, const std::string& key) {
  return "<tr data-fact=\"" + key + "\"><th>" + name + "</th><td>" + value_html + "</td></tr>\n";
}

std::string facts_table(const TraceRow& row) {
  std::string html = "<table class=\"facts\">\n";
  html += fact("reward", "<b>" + format_number(row.reward, 4) + "</b>", "reward");
  std::string outcome = "<span class=\"" + escape_html(row.outcome) + "\">" + escape_html(row.outcome) + "</span>";
  if (!row.reason.empty()) outcome += " — " + escape_html(row.reason);
  html += fact("accuracy", outcome.empty() ? "\xE2\x80\x94" : outcome, "outcome");
  html += fact("advantage", format_number(row.advantage, 4), "advantage");
  std::string accepted = "\xE2\x80\x94";
  if (row.accepted) accepted = *row.accepted ? "<span class=\"pass\">accepted</span>" : "<span class=\"fail\">rejected</span>";
  if (!row.rejection_reason.empty()) accepted += " — " + escape_html(row.rejection_reason);
  html += fact("rejection sampling", accepted, "accepted");
  html += fact("finish reason", escape_html(row.finish_reason), "finish");
  html += fact("tokens", std::to_string(row.prompt_tokens) + " prompt, " + std::to_string(row.completion_tokens) +
                             " completion", "tokens");
  html += fact("language share", format_number(row.language_share, 3), "language");
  html += fact("logprob mean / min", format_number(row.logprob_mean, 4) + " / " + format_number(row.logprob_min, 4),
               "logprob");
  html += fact("seed", std::to_string(row.seed), "seed");
  html += fact("run", escape_html(row.run_name) + " <span class=\"muted\">(id " + std::to_string(row.run_id) + ")</span>",
               "run");
  html += fact("stage / step", escape_html(row.stage) + " / " + std::to_string(row.step), "stage");
  html += fact("prompt / sample", std::to_string(row.prompt_index) + " / " + std::to_string(row.sample_index), "index");
  html += fact("created", escape_html(row.created_at), "created");
  return html + "</table>\n";
}

std::string components_table(const TraceRow& row) {
  if (row.components.empty()) return "<h2>Reward components</h2>\n<p class=\"muted\">none recorded</p>\n";
  std::string html = "<h2>Reward components</h2>\n<table class=\"components\">\n";
  for (const auto& [name, value] : row.components)
    html += "<tr data-component=\"" + escape_html(name) + "\"><th>" + escape_html(name) + "</th><td class=\"num\">" +
            format_number(value, 4) + "</td></tr>\n";
  return html + "</table>\n";
}

// The traces just before and after `id` in id order (keyset paging: ids can have gaps where a
// resumed stage deleted its last steps).
std::optional<int64_t> neighbour(const sampling::TraceStore& store, int64_t id, bool before) {
  sampling::TraceFilter filter;
  filter.after_id = id;
  filter.descending = before;
  filter.limit = 1;
  const auto rows = store.list(filter);
  return rows.empty() ? std::nullopt : std::optional<int64_t>(rows.front().id);
}

std::string neighbour_links(const sampling::TraceStore& store, int64_t id) {
  std::string html = "<nav class=\"pager\">";
  if (const auto prev = neighbour(store, id, true))
    html += "<a class=\"prev\" href=\"/trace/" + std::to_string(*prev) + "\">\xE2\x86\x90 trace " + std::to_string(*prev) + "</a>";
  else
    html += "<span class=\"disabled\">\xE2\x86\x90 previous</span>";
  if (const auto next = neighbour(store, id, false))
    html += "<a class=\"next\" href=\"/trace/" + std::to_string(*next) + "\">trace " + std::to_string(*next) + " \xE2\x86\x92</a>";
  else
    html += "<span class=\"disabled\">next \xE2\x86\x92</span>";
  return html + "<a href=\"/\">all traces</a></nav>\n";
}

}  // namespace

Response trace_page(const sampling::TraceStore& store, int64_t id) {
  const std::optional<TraceRow> found = store.get(id);
  if (!found) return error_page(404, "There is no trace with id " + std::to_string(id) + ".");
  const TraceRow& row = *found;

  std::string body = "<h1>Trace " + std::to_string(row.id) + "</h1>\n";
  body += "<div class=\"meta\"><span>stage <b>" + escape_html(row.stage) + "</b></span><span>step <b>" +
          std::to_string(row.step) + "</b></span><span>prompt <b>" + std::to_string(row.prompt_index) +
          "</b> sample <b>" + std::to_string(row.sample_index) + "</b></span><span>reward <b>" +
          format_number(row.reward) + "</b></span></div>\n";
  body += neighbour_links(store, row.id);
  body += "<div class=\"columns\">\n<div>\n";
  body += text_block("Prompt", "prompt", row.prompt, "(empty)");
  body += text_block("Reference answer", "reference", row.reference, "(none)");
  body += text_block("Reasoning", "reasoning", row.reasoning, "(no &lt;think&gt; block)");
  body += text_block("Answer", "answer", row.answer, "(no answer)");
  body += "<details><summary>Full completion, as generated</summary>\n<pre class=\"text-block completion\">" +
          escape_html(row.completion) + "</pre>\n</details>\n";
  body += "</div>\n<div>\n<h2>Verdict</h2>\n" + facts_table(row) + components_table(row) + "</div>\n</div>\n";

  Response response;
  response.body = html_page("Trace " + std::to_string(row.id), "traces", store.path(), body);
  return response;
}

}  // namespace r1::viewer
