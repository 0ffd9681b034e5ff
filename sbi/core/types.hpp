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

}  // namespace sbi
