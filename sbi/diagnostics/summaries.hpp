#pragma once
// Per-parameter summaries of posterior samples and the kernel two-sample statistic MMD².
#include "sbi/core/types.hpp"
#include "sbi/util/statistics.hpp"

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace sbi {

struct ParameterSummary {
  std::string name;
  double mean = 0, sd = 0;
  double q025 = 0, median = 0, q975 = 0;  // 2.5 %, 50 %, 97.5 % quantiles
};

std::vector<ParameterSummary> summarise(const RowMatrix& samples, const Names& names);
nlohmann::json to_json(const std::vector<ParameterSummary>& summaries);
// A fixed-width table; with `truth`, a column of true values and whether each lies in the 95 % interval.
std::string format_summary_table(const std::vector<ParameterSummary>& summaries, const Vector* truth = nullptr);

struct MmdOptions {
  // Kernel bandwidth σ in k(x, y) = exp(−‖x − y‖² / (2σ²)); ≤ 0 = the median of the pairwise
  // distances within the first sample set (sbibm's choice).
  double bandwidth = 0.0;
  bool unbiased = true;
  // At most this many rows of each set are used (pairwise cost grows quadratically); 0 = all.
  Eigen::Index max_samples = 5000;
};

struct MmdResult {
  double mmd2 = 0;
  double bandwidth = 0;
};

// MMD² between sample sets x (the reference) and y. Uses both cores for the kernel sums.
MmdResult mmd2(const RowMatrix& x, const RowMatrix& y, const MmdOptions& options = {});
// Median Euclidean distance between distinct rows (lower middle value for an even count, as torch).
double median_pairwise_distance(const RowMatrix& x);

}  // namespace sbi
