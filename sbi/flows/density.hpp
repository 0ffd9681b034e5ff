#pragma once
// sbi::flows::ConditionalDensity: a conditional density estimator q(x | c) with an exact,
// differentiable log-density and a sampler. NPE holds one for q(θ | y), NLE for q(y | θ).
//
//   auto q = sbi::flows::make_density(options, /*data_dim=*/2, /*context_dim=*/10, /*seed=*/1);
//   sbi::flows::fit_density(*q, x, c, fit_options);            // sbi/flows/fit.hpp
//   sbi::Vector lp = q->log_prob(x, c);                        // one value per row, original units
//   sbi::Rng rng = sbi::Rng::stream(seed, 0);
//   sbi::RowMatrix draws = q->sample(c_row, 1000, rng);       // 1000 draws of x given one c
//   q->save("q.sbinn");  auto again = sbi::flows::load_density("q.sbinn");   // bit-identical
//
// Every estimator has the same outer structure:
//   x ↦ z_x = (x − x_mean)/x_sd,  c ↦ z_c = (c − c_mean)/c_sd,  h = embedding(z_c),
//   log q(x | c) = log q̃(z_x | h) − Σ_j log x_sd_j,
// where q̃ is the family (MAF, NSF, mixture of Gaussians; options.hpp). The z-scoring is fixed
// (set by set_standardization, typically training statistics), not trained; its log-Jacobian is part
// of log_prob, so the density is exact and normalised in the original units of x.
//
// Precision: networks are float32; the z-scoring of plain-value inputs and outputs is done in
// double before and after them.
//
// Thread safety: the const members (log_prob and sample on plain values, evaluate_log_prob with a
// tape of the caller's thread) only read the estimator, so several threads may call them at once.
// The training entry points (log_prob on Vars, standardized_log_prob, parameters()) are not const
// and belong to one thread.
#include "sbi/core/types.hpp"
#include "sbi/flows/embedding.hpp"
#include "sbi/flows/network.hpp"
#include "sbi/flows/options.hpp"
#include "sbi/random/rng.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace sbi::flows {

// The fixed affine maps of data and context (double; empty vectors = not yet set = identity).
struct Standardization {
  Vector x_mean, x_sd, c_mean, c_sd;
  nlohmann::json to_json() const;
  static Standardization from_json(const nlohmann::json& j);  // throws InputError
};

class ConditionalDensity {
 public:
  virtual ~ConditionalDensity() = default;
  ConditionalDensity(const ConditionalDensity&) = delete;  // parameter lists point into it
  ConditionalDensity& operator=(const ConditionalDensity&) = delete;

  Eigen::Index data_dim() const { return data_dim_; }
  Eigen::Index context_dim() const { return context_dim_; }
  const DensityEstimatorOptions& options() const { return options_; }
  std::uint64_t seed() const { return seed_; }

  // ---- Training (differentiable in the parameters; one thread).
  // log q̃(z_x | embedding(z_c)) for already z-scored rows (n × d and n × m): log q(x | c) + Σ log x_sd.
  Var standardized_log_prob(Var z_x, Var z_c);
  // log q(x | c) for raw rows, z-scoring on the tape in float.
  Var log_prob(Var x, Var c);
  nn::ParameterList<float> parameters();
  std::size_t parameter_count() const;

  // ---- Reparameterised sampling (variational training). Flows with "direction": "sampling" only
  // (has_rsample()); InputError otherwise. One draw per row of the z-scored context z_c (n × m):
  // z̃ = g(ε; embedding(z_c)) with ε = `noise` (n × d standard-normal values), differentiable in the
  // parameters and in z_c, together with log q̃(z̃ | h), both on z_c's tape. In original units
  // x = x_mean + x_sd ⊙ z̃ and log q(x | c) = log q̃ − log_x_scale().
  struct Draw {
    Var z_x;       // n × d
    Var log_prob;  // n × 1
  };
  bool has_rsample() const { return options_.type != DensityEstimatorOptions::Type::mog &&
                                    options_.direction == DensityEstimatorOptions::Direction::sampling; }
  Draw standardized_rsample(Var z_c, const Mat& noise);                           // training (one thread)
  Draw evaluate_standardized_rsample(Tape& tape, Var z_c, const Mat& noise) const;  // parameters as constants

  // ---- Evaluation (const, thread-safe with one tape per thread): parameters enter as constants.
  Var evaluate_log_prob(Tape& tape, Var x, Var c) const;
  Var evaluate_standardized_log_prob(Tape& tape, Var z_x, Var z_c) const;
  // log q(x_i | c_i) for each row of x (n × d); c has n rows or one row (used for every x).
  Vector log_prob(const RowMatrix& x, const RowMatrix& c) const;
  // n draws of x given one context (length m), from rng in order.
  RowMatrix sample(const Vector& context, Eigen::Index n, Rng& rng) const;
  // One draw per row of `contexts` (n × m).
  RowMatrix sample_each(const RowMatrix& contexts, Rng& rng) const;

  // ---- Standardisation (see the top of this file).
  void set_standardization(Standardization standardization);
  const Standardization& standardization() const { return standardization_; }
  // The maps on plain values, for callers that prepare training batches once.
  Mat standardize_x(const RowMatrix& x) const;
  Mat standardize_c(const RowMatrix& c) const;
  // Σ_j log x_sd_j (0 without standardisation).
  double log_x_scale() const { return log_x_scale_; }

  // ---- Files (format "sbi-nn", kind "conditional_density"; sbi/nn/serialize.hpp). Bit for bit.
  void save(const std::filesystem::path& path) const;

 protected:
  ConditionalDensity(const DensityEstimatorOptions& options, Eigen::Index data_dim, Eigen::Index context_dim, std::uint64_t seed);

  // log q̃(z | h), n × 1, for z-scored data z (n × d) and embedded context h (n × k).
  virtual Var family_log_prob(const Binder& bind, Var z, Var h) const = 0;
  // h.rows() draws of z given the rows of h, noise from rng.
  virtual Mat family_sample(const Binder& bind, Var h, Rng& rng) const = 0;
  virtual void family_parameters(nn::ParameterList<float>& list) = 0;
  // z̃ = g(ε; h) and log q̃(z̃ | h) on the tape (see standardized_rsample); the default throws InputError.
  virtual Draw family_rsample(const Binder& bind, Var h, const Mat& noise) const;

  Eigen::Index embedded_dim() const { return embedding_.output_dim(); }

 private:
  Var raw_log_prob(const Binder& bind, Var x, Var c) const;
  RowMatrix draw(const Binder& bind, Var h, Rng& rng) const;

  DensityEstimatorOptions options_;
  Eigen::Index data_dim_, context_dim_;
  std::uint64_t seed_;
  Embedding embedding_;
  Standardization standardization_;
  Mat x_scale_, x_shift_, c_scale_, c_shift_;  // float forms: z = x ⊙ scale + shift (1 × d)
  double log_x_scale_ = 0;
};

// Builds the estimator of `options` for data of data_dim columns given context_dim columns; weights
// from streams of `seed` (same seed, same bits). Throws InputError when the options are invalid or
// do not fit the dimensions.
std::unique_ptr<ConditionalDensity> make_density(const DensityEstimatorOptions& options, Eigen::Index data_dim,
                                                 Eigen::Index context_dim, std::uint64_t seed);

// Reads a file written by ConditionalDensity::save; FileError naming the file for any problem.
std::unique_ptr<ConditionalDensity> load_density(const std::filesystem::path& path);

}  // namespace sbi::flows
