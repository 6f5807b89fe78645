// A line chart of one metric over optimiser steps as inline SVG, drawn on the server so the viewer
// needs no JavaScript: axes, "nice" tick labels, a title, and one polyline point per step.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace r1::viewer {

struct ChartPoint {
  int64_t step = 0;
  double value = 0.0;
};

struct LineChart {
  std::string stage;   // data-stage attribute
  std::string metric;  // data-metric attribute, e.g. "reward"; a stable name for tests and CSS
  std::string title;   // shown above the plot, e.g. "mean reward"
  std::vector<ChartPoint> points;  // ascending steps; NaN values are skipped
  // The y range to show at least (e.g. [0, 1] for a share), widened when a value falls outside.
  std::optional<std::pair<double, double>> y_range;
};

// <svg class="chart" data-stage=… data-metric=… data-points=N> holding a <polyline> with one point
// per finite value; <p class="no-data" data-stage=… data-metric=…> when there is none.
std::string render_line_chart(const LineChart& chart);

}  // namespace r1::viewer
