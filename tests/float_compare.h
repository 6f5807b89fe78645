// The largest |a[i] - b[i]| of two float vectors, for the tests that compare kernels and
// references: infinity when the sizes differ or any difference is NaN (a NaN read is a failure).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace r1::test {

inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double diff = std::abs(double(a[i]) - double(b[i]));
    if (std::isnan(diff)) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, diff);
  }
  return worst;
}

}  // namespace r1::test
