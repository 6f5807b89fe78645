// The page frame and the one stylesheet, embedded so that the binary serves everything itself: no
// file serving, no CDN. The Content-Security-Policy (server.cpp) forbids scripts outright, so the
// pages are plain HTML forms and links, and inline SVG for the charts.
#include "viewer/html.h"
#include "viewer/pages.h"

namespace r1::viewer {

namespace {

constexpr const char* kStyle = R"css(
:root { --fg: #1d2330; --muted: #6b7384; --line: #dde1e8; --bg: #f6f7f9; --accent: #2f5fd0;
        --pass: #17803d; --fail: #b42318; --panel: #fff; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 20px; align-items: baseline; padding: 10px 24px; background: #1d2330; color: #fff; }
header .brand { font-weight: 700; font-size: 16px; }
header nav a { color: #c9d3ea; text-decoration: none; margin-right: 14px; }
header nav a.active { color: #fff; border-bottom: 2px solid #8fb0ff; }
header .db { margin-left: auto; color: #9aa3b5; font-family: ui-monospace, monospace; font-size: 12px; }
main { padding: 18px 24px 40px; max-width: 1400px; }
h1 { font-size: 20px; margin: 4px 0 14px; }
h2 { font-size: 16px; margin: 22px 0 8px; }
a { color: var(--accent); }
.muted { color: var(--muted); }
form.filters { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 8px 14px;
               background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
form.filters .pair { display: flex; gap: 6px; }
form.filters .pair input { width: 50%; }
form.filters .search { grid-column: 1 / -1; }
form.filters .actions { display: flex; gap: 10px; align-items: end; }
input, select, button { font: inherit; padding: 4px 6px; border: 1px solid #c5cad4; border-radius: 5px; background: #fff; min-width: 0; }
button { background: var(--accent); color: #fff; border-color: var(--accent); padding: 5px 16px; cursor: pointer; }
.summary { margin: 14px 0 8px; }
table { border-collapse: collapse; background: var(--panel); border: 1px solid var(--line); }
table.traces { width: 100%; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #eef0f4; font-weight: 600; font-size: 12px; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.preview { font-family: ui-monospace, monospace; font-size: 12px; color: #3b4252; max-width: 560px;
             overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
tr:hover td { background: #f3f6fd; }
.pass { color: var(--pass); font-weight: 600; }
.fail, .error { color: var(--fail); font-weight: 600; }
.pager { display: flex; gap: 16px; margin: 12px 0; align-items: center; }
.pager .disabled { color: #aab; }
.meta { display: flex; flex-wrap: wrap; gap: 6px 18px; margin-bottom: 12px; color: var(--muted); }
.meta b { color: var(--fg); font-weight: 600; }
.text-block { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; margin: 0;
              white-space: pre-wrap; word-break: break-word; font: 13px/1.5 ui-monospace, "SFMono-Regular", Menlo, monospace; }
.reasoning { border-left: 4px solid #8fb0ff; }
.answer { border-left: 4px solid #55b37a; }
.columns { display: grid; grid-template-columns: minmax(0, 2fr) minmax(280px, 1fr); gap: 24px; }
table.facts th, table.components th { width: 40%; font-size: 13px; background: #f3f4f7; }
table.facts, table.components { width: 100%; }
details { margin-top: 16px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 14px; }
svg.chart, .no-data { width: 100%; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; }
svg.chart .chart-title { font-size: 13px; font-weight: 600; fill: var(--fg); }
svg.chart .grid { stroke: #e8eaef; }
svg.chart .axis { stroke: #8a92a3; }
svg.chart .tick { font-size: 10px; fill: var(--muted); }
svg.chart .y-tick { text-anchor: end; dominant-baseline: middle; }
svg.chart .x-tick, svg.chart .axis-label { text-anchor: middle; font-size: 10px; fill: var(--muted); }
svg.chart .line { fill: none; stroke: var(--accent); stroke-width: 1.8; stroke-linejoin: round; }
svg.chart .marker { fill: var(--accent); }
.no-data { padding: 12px 14px; min-height: 120px; }
.no-data .chart-title { font-weight: 600; }
.no-data p { color: var(--muted); margin: 30px 0; text-align: center; }
.error-box { background: #fff4f2; border: 1px solid #f3c1b9; border-radius: 8px; padding: 12px 16px; }
)css";

}  // namespace

std::string html_page(const std::string& title, std::string_view active, const std::string& db_path,
                      const std::string& body_html) {
  auto nav = [&](std::string_view name, const char* href, const char* label) {
    return std::string("<a href=\"") + href + "\"" + (active == name ? " class=\"active\"" : "") + ">" + label + "</a>";
  };
  std::string html = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  html += "<title>" + escape_html(title) + " · r1 traces</title>\n<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n";
  html += "<header><span class=\"brand\">r1 traces</span><nav>" + nav("traces", "/", "Traces") +
          nav("charts", "/charts", "Charts") + "</nav>";
  if (!db_path.empty()) html += "<span class=\"db\">" + escape_html(db_path) + "</span>";
  html += "</header>\n<main>\n" + body_html + "</main>\n</body>\n</html>\n";
  return html;
}

Response error_page(unsigned status, const std::string& message) {
  const char* title = status == 404 ? "Not found" : status == 405 ? "Method not allowed" : status >= 500 ? "Server error" : "Bad request";
  Response response;
  response.status = status;
  response.body = html_page(title, "", "",
                            "<h1>" + std::to_string(status) + " " + title + "</h1>\n<p class=\"error-box\">" +
                                escape_html(message) + "</p>\n<p><a href=\"/\">Back to the traces</a></p>\n");
  return response;
}

}  // namespace r1::viewer
