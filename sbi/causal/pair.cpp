#include "sbi/causal/pair.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/checksum.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/random/rng.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace sbi::causal {

namespace {

void check_column(const Vector& v, const std::string& where, const std::string& column, Eigen::Index first_line) {
  for (Eigen::Index i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw InputError(where + ": column " + column + " is not a finite number on line " + std::to_string(first_line + i) +
                       " (data row " + std::to_string(i + 1) + ")");
  if (v.size() > 0 && v.maxCoeff() == v.minCoeff())
    throw InputError(where + ": column " + column + " is constant (every value is " + format_double(v[0]) +
                     "); a constant variable has no causal direction");
}

}  // namespace

void validate_pair(const CausePair& pair, Eigen::Index min_rows) {
  const std::string where = pair.name.empty() ? std::string("pair") : pair.name;
  if (pair.x.size() != pair.y.size())
    throw InputError(where + ": x has " + std::to_string(pair.x.size()) + " values but y has " + std::to_string(pair.y.size()));
  if (pair.x.size() < min_rows)
    throw InputError(where + ": " + std::to_string(pair.x.size()) + " rows, need at least " + std::to_string(min_rows));
  check_column(pair.x, where, "1 (x)", 2);
  check_column(pair.y, where, "2 (y)", 2);
}

CausePair read_pair(const std::filesystem::path& path, Eigen::Index min_rows) {
  // read_csv's errors name the file, the line and the column of a non-numeric cell ("FILE:LINE: ...").
  const CsvTable table = read_csv(path);
  const std::string where = path.filename().string();
  if (table.values.cols() < 2)
    throw InputError(where + ": has " + std::to_string(table.values.cols()) + " column(s), a pair needs two (x, y)");
  CausePair pair;
  pair.name = path.stem().string();
  pair.x = table.values.col(0);
  pair.y = table.values.col(1);
  if (pair.x.size() < min_rows)
    throw InputError(where + ": " + std::to_string(pair.x.size()) + " data rows, need at least " + std::to_string(min_rows));
  // Non-finite cells (read_csv accepts "nan"/"inf") are errors here: line = data row + 1 (header).
  check_column(pair.x, where, "1 (" + table.header[0] + ")", 2);
  check_column(pair.y, where, "2 (" + table.header[1] + ")", 2);
  return pair;
}

namespace {
// The plain formulas overflow for values near ±1e308 (squares, sums, ranges) and lose the spread of
// values near 1e-300 (squares underflow). Such columns are divided by their largest magnitude first,
// which leaves the result unchanged in exact arithmetic; other columns keep the plain formula's bits.
bool needs_rescaling(const Vector& v) {
  const double largest = v.cwiseAbs().maxCoeff();
  return largest > 1e150 || (largest > 0 && largest < 1e-150);
}
}  // namespace

std::string pair_checksum(const CausePair& pair) {
  const auto bytes = [](const Vector& v) {
    return std::string_view(reinterpret_cast<const char*>(v.data()), static_cast<std::size_t>(v.size()) * sizeof(double));
  };
  return hex64(fnv1a64(bytes(pair.y), fnv1a64(bytes(pair.x))));
}

Vector standardise(const Vector& v) {
  if (needs_rescaling(v)) return standardise(v / v.cwiseAbs().maxCoeff());
  const double mean = v.mean();
  const double sd = std::sqrt((v.array() - mean).square().mean());
  return (v.array() - mean) / (sd > 0 ? sd : 1.0);
}

Vector min_max_scale(const Vector& v) {
  if (needs_rescaling(v)) return min_max_scale(v / v.cwiseAbs().maxCoeff());
  const double low = v.minCoeff(), high = v.maxCoeff();
  return (v.array() - low) / (high > low ? high - low : 1.0);
}

CausePair subsample(const CausePair& pair, Eigen::Index cap, std::uint64_t seed) {
  const Eigen::Index n = pair.x.size();
  if (cap <= 0 || n <= cap) return pair;
  // Partial Fisher-Yates: the first `cap` entries of a seeded permutation, then sorted to keep order.
  std::vector<Eigen::Index> index(static_cast<std::size_t>(n));
  std::iota(index.begin(), index.end(), Eigen::Index{0});
  Rng rng = Rng::stream(seed, 0, 0x5ab5);
  for (Eigen::Index k = 0; k < cap; ++k) {
    const auto j = k + static_cast<Eigen::Index>(rng.below(static_cast<std::uint64_t>(n - k)));
    std::swap(index[static_cast<std::size_t>(k)], index[static_cast<std::size_t>(j)]);
  }
  std::sort(index.begin(), index.begin() + cap);
  CausePair out;
  out.name = pair.name;
  out.x.resize(cap);
  out.y.resize(cap);
  for (Eigen::Index k = 0; k < cap; ++k) {
    out.x[k] = pair.x[index[static_cast<std::size_t>(k)]];
    out.y[k] = pair.y[index[static_cast<std::size_t>(k)]];
  }
  return out;
}

}  // namespace sbi::causal
