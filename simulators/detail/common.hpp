#pragma once
// Internal to simulators/: small helpers shared by the built-in simulators.
#include "sbi/core/error.hpp"
#include "sbi/core/types.hpp"
#include "sbi/io/json_reader.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace sbi::simulators::detail {

// "data_1", ..., "data_<n>" (the sbibm header names), or with another prefix.
inline Names numbered_names(const std::string& prefix, std::size_t n) {
  Names names;
  names.reserve(n);
  for (std::size_t i = 0; i < n; ++i) names.push_back(prefix + "_" + std::to_string(i + 1));
  return names;
}

// Number of whole observation intervals in [0, t_end], or 0 if t_end is not a multiple of the interval.
inline std::size_t whole_intervals(double t_end, double interval) {
  const double ratio = t_end / interval;
  const double rounded = std::round(ratio);
  if (!(rounded >= 1.0) || std::abs(ratio - rounded) > 1e-9 * std::max(1.0, ratio)) return 0;
  return static_cast<std::size_t>(rounded);
}

// Rejects a non-increasing or out-of-range time grid, naming the JSON path of the offending entry.
inline void check_time_grid(const std::vector<double>& times, double t_end, const std::string& path) {
  for (std::size_t i = 0; i < times.size(); ++i) {
    const std::string where = path + "[" + std::to_string(i) + "]";
    if (times[i] < 0.0 || times[i] > t_end)
      throw InputError(where + ": expected a time in [0, t_end = " + format_number(t_end) + "], got " + format_number(times[i]));
    if (i > 0 && !(times[i] > times[i - 1]))
      throw InputError(where + ": expected times in increasing order, got " + format_number(times[i]) + " after " +
                       format_number(times[i - 1]));
  }
}

inline void check_positive_entries(const std::vector<double>& values, const std::string& path) {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!(values[i] > 0.0))
      throw InputError(path + "[" + std::to_string(i) + "]: expected a positive number, got " + format_number(values[i]));
}

}  // namespace sbi::simulators::detail
