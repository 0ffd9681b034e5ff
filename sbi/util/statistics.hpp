#pragma once
// Small statistics on plain numbers, used across the library (ABC tolerances, summaries, reports).
#include <vector>

namespace sbi {

// Quantiles by linear interpolation between order statistics (numpy's default, "type 7"); NaN for
// an empty list.
double quantile(std::vector<double> values, double probability);

}  // namespace sbi
