#include "sbi/util/statistics.hpp"

#include <algorithm>
#include <cmath>

namespace sbi {

double quantile(std::vector<double> values, double probability) {
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  const double position = probability * static_cast<double>(values.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const auto above = std::min(values.size() - 1, below + 1);
  const double weight = position - static_cast<double>(below);
  return values[below] * (1 - weight) + values[above] * weight;
}

}  // namespace sbi
