#pragma once
// The standardised space the table methods train in: θ mapped by the prior's bijection to u ∈ R^p,
// y's heavy-tailed positive columns optionally log-transformed, then both z-scored with training-set
// statistics. Shared by the implicit generators (lfvi, mmd) and the ratio estimator (nre).
#include "sbi/core/types.hpp"
#include "sbi/priors/prior.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace sbi {

// Statistics of the standardised space: u = T⁻¹(θ), ũ = (u − u_mean)/u_sd, ỹ = (g(y) − y_mean)/y_sd
// where g takes the log of the columns flagged in y_log and leaves the others.
struct Standardization {
  Vector u_mean, u_sd, y_mean, y_sd;
  std::vector<bool> y_log;  // per data column; empty = none
  // Per parameter, the range of the training rows' ũ (empty in files saved before it was kept).
  // Beyond it a network extrapolates, linearly for ELU/ReLU layers; the ratio estimator clamps its ũ
  // inputs to it (sbi/inference/nre.hpp) so that its posterior's tails follow the prior.
  Vector u_tilde_low, u_tilde_high;

  // ũ = (u − u_mean)/u_sd of each row of u.
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic> standardize_parameters(const RowMatrix& u) const;
  // The same, clamped to [u_tilde_low, u_tilde_high] where those are kept.
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic> standardize_parameters_clamped(const RowMatrix& u) const;
  // Clamps standardised rows ũ in place to [u_tilde_low, u_tilde_high] (nothing when those are not
  // kept); `inside` is set to 1 where a value was not clamped and 0 where it was. True if any was.
  bool clamp_standardized_parameters(Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>& u_tilde,
                                     Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>& inside) const;
  // g(y) for one observation, then z-scored; InputError when a log column is not positive.
  Vector standardize_data(const Vector& y, const Names& data_names = {}) const;
  nlohmann::json to_json() const;
  static Standardization from_json(const nlohmann::json& j);
};

// Throws InputError naming the first column of `values` that the networks cannot train on once
// z-scored: a mean or spread that overflows double precision, or standardised values beyond single
// precision (|z| > 1e30). `role` says what a column is ("prior parameter", "data value"), `names` name
// the columns (else "column k"); the message starts with `method`.
void check_standardizable(const RowMatrix& values, const Names& names, const std::string& role, const std::string& method);

// Throws InputError naming the first observation value that, z-scored with the training data's
// `mean` and `sd` (empty = not standardised), is not finite in single precision (|z| > 1e30): a
// value so far outside what was simulated that the networks would return NaN.
void check_observation_standardizable(const Vector& observation, const Vector& mean, const Vector& sd, const Names& names,
                                      const std::string& method);

// A reference table checked, split and standardised for training.
struct StandardizedTable {
  Standardization standardization;
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic> u_train, y_train, u_validation, y_validation;
  std::size_t validation_rows = 0;   // rows in the validation split (u_validation may hold fewer)

  // Checks θ (inside the prior's support), y (finite, not overflowing when standardised), n ≥ 20;
  // splits off round(n · validation_fraction) rows by `seed` (optim::train_validation_split); picks the
  // log columns by `data_transform` ("none", "log", "auto": all-positive columns spanning more than two
  // decades); z-scores with the training rows. InputError messages start with `method`.
  static StandardizedTable make(const RowMatrix& theta, const RowMatrix& y, const Prior& prior, double validation_fraction,
                                std::uint64_t seed, const std::string& data_transform, const std::string& method,
                                std::size_t max_validation_rows = static_cast<std::size_t>(-1));
};

}  // namespace sbi
