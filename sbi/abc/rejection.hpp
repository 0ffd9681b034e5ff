#pragma once
// Rejection ABC on an existing table of (θ, y) simulations, with optional regression adjustment
// (Beaumont, Zhang & Balding 2002).
//
// The summary statistics are the simulator's outputs (identity). Each statistic is divided by its
// scale over the table (the prior predictive): sd or MAD. The distance of simulation i is the
// Euclidean norm of (y_i − y_obs) / scale. Acceptance keeps the `keep` nearest simulations, or a
// quantile of them, or those within ε. No simulation is run here, so one table serves any number of
// observations and settings.
//
// Regression adjustment: the accepted θ are mapped to the prior's unconstrained space u, weighted
// by the Epanechnikov kernel 1 − (d/δ)² (δ just above the largest accepted distance), and a weighted
// local-linear regression u ≈ a + B (s − s_obs) on the standardised statistics s is fitted; each
// particle becomes u − B (s − s_obs) and is mapped back, so adjusted particles stay in the support.
//
//   sbi::RejectionOptions options;
//   options.keep = 100;
//   options.regression = true;
//   sbi::AbcResult r = sbi::rejection_abc(table.theta, table.y, observation, *prior, options);
#include "sbi/abc/result.hpp"

#include <nlohmann/json.hpp>

namespace sbi {

struct RejectionOptions {
  ScaleKind scale = ScaleKind::mad;
  // Acceptance: the first of these that is set decides: keep > 0 (the nearest `keep`), epsilon > 0
  // (distance ≤ ε), else quantile (the nearest ⌈quantile · rows⌉, at least one).
  Eigen::Index keep = 0;
  double epsilon = 0;
  double quantile = 0.01;
  bool regression = false;  // Beaumont et al. 2002 adjustment
  // How posterior draws come from the accepted particles (sampling only; seed set per draw).
  ResampleOptions resample;

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  // From a spec's "inference" section (method "rejection"): "scale", at most one of "keep",
  // "epsilon", "quantile" (none given: keep 100, as sbibm), "regression", "resample", "bandwidth".
  // Errors name the JSON path. The run-level keys (method, simulations, table) are skipped.
  static RejectionOptions from_json(const nlohmann::json& section, const std::string& path = "inference");
};

// Per-column scale of the finite rows of y (MAD × 1.4826, or sd). A zero MAD falls back to the sd,
// a zero sd to 1, so that constant statistics neither dominate nor divide by zero.
Vector statistic_scale(const RowMatrix& y, ScaleKind kind);
// Euclidean distances of the rows of y to the observation after dividing by `scale`; +inf for rows
// with a non-finite entry.
Vector scaled_distances(const RowMatrix& y, const Vector& observation, const Vector& scale);

// Rejection ABC; result.particles are sorted by distance. Throws InputError for inconsistent sizes,
// invalid options, or a table with no finite simulation. Weights are equal, or Epanechnikov with
// regression adjustment.
AbcResult rejection_abc(const RowMatrix& theta, const RowMatrix& y, const Vector& observation, const Prior& prior,
                        const RejectionOptions& options);

// The regression adjustment on its own: `theta` (k × d) accepted parameters, `statistics` (k × p)
// their standardised statistics minus the standardised observation, `weights` kernel weights.
// Returns the adjusted parameters (k × d), inside the prior's support.
RowMatrix regression_adjust(const RowMatrix& theta, const RowMatrix& statistics, const Vector& weights, const Prior& prior);

}  // namespace sbi
