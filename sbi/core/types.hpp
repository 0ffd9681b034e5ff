#pragma once
// Numeric types shared across sbi++. Batches are matrices with one row per sample; tables and
// simulators use double, networks use float (see sbi/autodiff).
#include <Eigen/Core>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace sbi {

// Row-major so that one sample (one row) is contiguous: simulators fill rows independently.
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::VectorXd;
using Matrix = Eigen::MatrixXd;

using ConstRow = std::span<const double>;
using MutableRow = std::span<double>;

inline ConstRow row_span(const RowMatrix& m, Eigen::Index r) {
  return {m.data() + r * m.cols(), static_cast<std::size_t>(m.cols())};
}
inline MutableRow row_span(RowMatrix& m, Eigen::Index r) {
  return {m.data() + r * m.cols(), static_cast<std::size_t>(m.cols())};
}

using Names = std::vector<std::string>;

// "a, b, c" for messages; beyond `at_most` names, "a, b, ... (N in all)".
inline std::string comma_separated(const Names& names, std::size_t at_most = static_cast<std::size_t>(-1)) {
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < at_most; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > at_most) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

}  // namespace sbi
