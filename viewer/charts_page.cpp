// Per-stage charts over optimiser steps: mean reward, accuracy, mean completion length, language
// share and accepted share from TraceStore::stats, then every per-step metric the stage logged
// (loss, KL, ...) from TraceStore::step_metrics.
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "viewer/html.h"
#include "viewer/pages.h"
#include "viewer/svg_chart.h"

namespace r1::viewer {

namespace {

using sampling::StepMetrics;
using sampling::StepStats;

// Accuracy is the pass rate where outcomes were recorded, else the mean "accuracy" component.
double accuracy(const StepStats& step) {
  if (!std::isnan(step.pass_rate)) return step.pass_rate;
  const auto it = step.mean_components.find("accuracy");
  return it == step.mean_components.end() ? sampling::kUnknown : it->second;
}

// Of the samples judged at this step, the share accepted; unknown where none was judged.
double acceptance(const StepStats& step) {
  const int64_t judged = step.accepted + step.rejected;
  return judged == 0 ? sampling::kUnknown : double(step.accepted) / double(judged);
}

std::string sample_charts(const std::string& stage, const std::vector<const StepStats*>& steps) {
  struct Metric {
    const char* name;
    const char* title;
    double (*value)(const StepStats&);
    std::optional<std::pair<double, double>> range;
  };
  static const Metric kMetrics[] = {
      {"reward", "mean reward", [](const StepStats& s) { return s.reward.mean; }, std::nullopt},
      {"accuracy", "accuracy (pass rate)", accuracy, std::pair(0.0, 1.0)},
      {"length", "mean completion length (tokens)", [](const StepStats& s) { return s.tokens.mean; }, std::nullopt},
      {"language", "language share", [](const StepStats& s) { return s.language.mean; }, std::pair(0.0, 1.0)},
      {"acceptance", "accepted share (rejection sampling)", acceptance, std::pair(0.0, 1.0)},
  };
  std::string html;
  for (const Metric& metric : kMetrics) {
    LineChart chart{stage, metric.name, metric.title, {}, metric.range};
    for (const StepStats* step : steps) chart.points.push_back({step->step, metric.value(*step)});
    html += render_line_chart(chart);
  }
  return html;
}

std::string metric_charts(const std::string& stage, const std::vector<const StepMetrics*>& steps) {
  std::set<std::string> names;
  for (const StepMetrics* step : steps)
    for (const auto& [name, value] : step->values) names.insert(name);
  std::string html;
  for (const std::string& name : names) {
    LineChart chart{stage, "metrics." + name, name, {}, std::nullopt};
    for (const StepMetrics* step : steps) {
      const auto it = step->values.find(name);
      if (it != step->values.end()) chart.points.push_back({step->step, it->second});
    }
    html += render_line_chart(chart);
  }
  return html;
}

std::string chart_form(const sampling::TraceStore& store, const QueryParams& params,
                       const std::vector<std::string>& stage_names) {
  auto option = [](const std::string& value, const std::string& label, const std::string& selected) {
    return "<option value=\"" + escape_html(value) + "\"" + (value == selected ? " selected" : "") + ">" +
           escape_html(label) + "</option>";
  };
  std::string html = "<form class=\"filters\" method=\"get\" action=\"/charts\">\n<label>stage<select name=\"stage\">" +
                     option("", "all stages", params.raw("stage"));
  for (const std::string& stage : stage_names) html += option(stage, stage, params.raw("stage"));
  html += "</select></label>\n";
  const auto runs = store.runs();
  if (runs.size() > 1) {
    html += "<label>run<select name=\"run\">" + option("", "all runs", params.raw("run"));
    for (const auto& run : runs) html += option(std::to_string(run.id), run.name, params.raw("run"));
    html += "</select></label>\n";
  }
  return html + "<div class=\"actions\"><button type=\"submit\">Show</button></div>\n</form>\n";
}

}  // namespace

Response charts_page(const sampling::TraceStore& store, const QueryParams& params) {
  const std::optional<std::string> stage = params.text("stage");
  const std::optional<int64_t> run = params.integer("run", 0, std::numeric_limits<int64_t>::max());
  const std::vector<StepStats> stats = store.stats(stage, run);
  const std::vector<StepMetrics> metrics = store.step_metrics(stage, run);
  const std::vector<std::string> stage_names = store.stage_names();

  std::map<std::string, std::vector<const StepStats*>> stats_by_stage;
  for (const StepStats& step : stats) stats_by_stage[step.stage].push_back(&step);
  std::map<std::string, std::vector<const StepMetrics*>> metrics_by_stage;
  for (const StepMetrics& step : metrics) metrics_by_stage[step.stage].push_back(&step);

  std::string body = "<h1>Charts</h1>\n" + chart_form(store, params, stage_names);
  bool any = false;
  for (const std::string& name : stage_names) {  // in the order the stages started
    if (stage && *stage != name) continue;
    any = true;
    const auto& stage_stats = stats_by_stage[name];
    body += "<section class=\"stage\" data-stage=\"" + escape_html(name) + "\" data-steps=\"" +
            std::to_string(stage_stats.size()) + "\">\n<h2>" + escape_html(name) + " <span class=\"muted\">" +
            std::to_string(stage_stats.size()) + (stage_stats.size() == 1 ? " step" : " steps") +
            " with samples</span></h2>\n";
    body += "<div class=\"charts\">\n" + sample_charts(name, stage_stats) + metric_charts(name, metrics_by_stage[name]) +
            "</div>\n</section>\n";
  }
  if (!any) body += "<p class=\"muted empty\">No data" + (stage ? " for stage " + escape_html(*stage) : std::string()) + ".</p>\n";

  Response response;
  response.body = html_page("Charts", "charts", store.path(), body);
  return response;
}

}  // namespace r1::viewer
