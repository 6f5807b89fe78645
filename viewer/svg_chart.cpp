// Ticks use the 1-2-5 "nice numbers" rule (Heckbert, Graphics Gems I), so axis labels read 0.2, 0.4
// rather than 0.183, 0.366. Coordinates are SVG user units; CSS scales the chart to its box.
#include "viewer/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "viewer/html.h"

namespace r1::viewer {

namespace {

constexpr double kWidth = 440, kHeight = 220;
constexpr double kLeft = 56, kRight = 16, kTop = 30, kBottom = 36;
constexpr int kTargetTicks = 4;
constexpr std::size_t kMaxMarkers = 60;  // dots on the points, only while they stay readable

double nice_step(double range, int target_ticks) {
  const double raw = range / target_ticks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / magnitude;
  const double nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  return nice * magnitude;
}

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

// Enough decimals to tell ticks `step` apart.
int tick_decimals(double step) { return std::clamp(int(-std::floor(std::log10(step) + 1e-9)), 0, 6); }

struct Axis {
  double lo, hi, step;
};

Axis value_axis(double lo, double hi, const std::optional<std::pair<double, double>>& wanted) {
  if (wanted) {
    lo = std::min(lo, wanted->first);
    hi = std::max(hi, wanted->second);
  }
  if (hi - lo < 1e-12) {  // a flat line: give it room above and below
    const double pad = std::abs(lo) > 1e-12 ? std::abs(lo) * 0.1 : 1.0;
    lo -= pad;
    hi += pad;
  }
  const double step = nice_step(hi - lo, kTargetTicks);
  return {std::floor(lo / step + 1e-9) * step, std::ceil(hi / step - 1e-9) * step, step};
}

Axis step_axis(int64_t first, int64_t last) {
  if (first == last) return {double(first) - 1, double(last) + 1, 1};
  const double step = std::max(1.0, std::round(nice_step(double(last - first), kTargetTicks)));
  return {double(first), double(last), step};
}

// lo, lo + step, ... up to hi; counted rather than accumulated, so that huge or extreme values
// (where lo + step == lo in floating point, or the range overflows) cannot loop forever.
std::vector<double> ticks(double lo, double hi, double step) {
  const double count = std::floor((hi - lo) / step + 1e-6);
  if (!std::isfinite(count) || count < 0 || count > 50) return {lo, hi};
  std::vector<double> out;
  for (int i = 0; i <= int(count); ++i) out.push_back(lo + i * step);
  return out;
}

}  // namespace

std::string render_line_chart(const LineChart& chart) {
  std::vector<ChartPoint> points;
  for (const ChartPoint& point : chart.points)
    if (std::isfinite(point.value)) points.push_back(point);
  const std::string data = " data-stage=\"" + escape_html(chart.stage) + "\" data-metric=\"" + escape_html(chart.metric) + "\"";
  if (points.empty())
    return "<div class=\"no-data\"" + data + "><span class=\"chart-title\">" + escape_html(chart.title) +
           "</span><p>no data</p></div>\n";

  double lo = points.front().value, hi = lo;
  for (const ChartPoint& point : points) {
    lo = std::min(lo, point.value);
    hi = std::max(hi, point.value);
  }
  const Axis y = value_axis(lo, hi, chart.y_range);
  const Axis x = step_axis(points.front().step, points.back().step);
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto px = [&](double step) { return kLeft + (step - x.lo) / (x.hi - x.lo) * plot_w; };
  auto py = [&](double value) { return kTop + (y.hi - value) / (y.hi - y.lo) * plot_h; };

  std::string svg = "<svg class=\"chart\"" + data + " data-points=\"" + std::to_string(points.size()) +
                    "\" viewBox=\"0 0 " + fixed(kWidth, 0) + " " + fixed(kHeight, 0) +
                    "\" role=\"img\" aria-label=\"" + escape_html(chart.title) + "\">\n";
  svg += "<title>" + escape_html(chart.title) + "</title>\n";
  svg += "<text class=\"chart-title\" x=\"" + fixed(kLeft, 0) + "\" y=\"18\">" + escape_html(chart.title) + "</text>\n";

  // Horizontal grid lines with the value labels, then the step labels under the x axis.
  const int y_decimals = tick_decimals(y.step);
  for (double tick : ticks(y.lo, y.hi, y.step)) {
    const std::string at = fixed(py(tick), 1);
    svg += "<line class=\"grid\" x1=\"" + fixed(kLeft, 0) + "\" x2=\"" + fixed(kWidth - kRight, 0) + "\" y1=\"" + at +
           "\" y2=\"" + at + "\"/>";
    svg += "<text class=\"tick y-tick\" x=\"" + fixed(kLeft - 6, 0) + "\" y=\"" + at + "\">" +
           fixed(std::abs(tick) < y.step * 1e-6 ? 0.0 : tick, y_decimals) + "</text>\n";
  }
  const bool one_step = points.front().step == points.back().step;  // one tick, under the point
  for (double tick : one_step ? std::vector<double>{double(points.front().step)}
                              : ticks(std::ceil(x.lo / x.step) * x.step, x.hi, x.step))
    svg += "<text class=\"tick x-tick\" x=\"" + fixed(px(tick), 1) + "\" y=\"" + fixed(kHeight - kBottom + 16, 0) +
           "\">" + fixed(tick, 0) + "</text>\n";
  svg += "<line class=\"axis\" x1=\"" + fixed(kLeft, 0) + "\" x2=\"" + fixed(kLeft, 0) + "\" y1=\"" + fixed(kTop, 0) +
         "\" y2=\"" + fixed(kHeight - kBottom, 0) + "\"/>";
  svg += "<line class=\"axis\" x1=\"" + fixed(kLeft, 0) + "\" x2=\"" + fixed(kWidth - kRight, 0) + "\" y1=\"" +
         fixed(kHeight - kBottom, 0) + "\" y2=\"" + fixed(kHeight - kBottom, 0) + "\"/>\n";
  svg += "<text class=\"axis-label\" x=\"" + fixed(kLeft + plot_w / 2, 0) + "\" y=\"" + fixed(kHeight - 4, 0) +
         "\">step</text>\n";

  std::string coordinates;
  for (const ChartPoint& point : points) {
    if (!coordinates.empty()) coordinates += ' ';
    coordinates += fixed(px(double(point.step)), 1) + "," + fixed(py(point.value), 1);
  }
  svg += "<polyline class=\"line\" points=\"" + coordinates + "\"/>\n";
  if (points.size() <= kMaxMarkers) {
    const int value_decimals = std::max(3, y_decimals);
    for (const ChartPoint& point : points)
      svg += "<circle class=\"marker\" cx=\"" + fixed(px(double(point.step)), 1) + "\" cy=\"" + fixed(py(point.value), 1) +
             "\" r=\"2.5\"><title>step " + std::to_string(point.step) + ": " + fixed(point.value, value_decimals) +
             "</title></circle>";
    svg += "\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace r1::viewer
