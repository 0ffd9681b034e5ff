#pragma once
// The amortised posterior that LFVI and the MMD method produce: an implicit generator
// θ = T(μ + σ ⊙ f(ỹ, z)), z ~ N(0, I), where ỹ is the standardised observation, (μ, σ) the
// standardisation of the unconstrained parameters and T the prior's bijection (so every sample lies
// in the prior's support). It samples for any observation without retraining, optionally refined
// by importance resampling with the discriminator's ratio estimate.
//
// Saved as a folder:
//   posterior.json       format, version, parameter and data names, prior, standardisation,
//                        options, provenance (spec, seed, simulations, simulator, versions, time)
//   generator.sbinn      the generator network (format in sbi/nn/serialize.hpp)
//   discriminator.sbinn  the discriminator (method "lfvi" only)
//   training_curve.csv   iteration, losses, validation MMD², seconds
// Every file is written to a temporary name and renamed, posterior.json last, so an interrupted
// save never leaves a folder that loads as something else.
#include "sbi/inference/lfvi.hpp"
#include "sbi/priors/prior.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>

namespace sbi::models {

struct Provenance {
  std::string method;              // "lfvi" or "mmd"
  std::string simulator;
  nlohmann::json simulator_options = nlohmann::json::object();
  nlohmann::json spec = nullptr;   // the spec it was trained from, if any
  std::uint64_t seed = 0;
  std::size_t simulations = 0;     // rows of the training table
  std::string table;               // where the table came from ("simulated" or a file)
  double training_seconds = 0;
  double simulation_seconds = 0;
  std::string created;             // UTC time stamp
  std::string sbi_version;

  nlohmann::json to_json() const;
  static Provenance from_json(const nlohmann::json& j);
};

struct SamplingReport {
  std::size_t candidates = 0;            // generator draws
  double effective_sample_size = 0;      // of the importance weights when refining (else = samples)
};

class ImplicitPosterior {
 public:
  ImplicitPosterior(LfviFit fit, PriorPtr prior, Names data_names, LfviOptions options, Provenance provenance);

  // n draws of θ for `observation` (length data_dim), reproducible for a given seed.
  // `refine` = −1 uses the saved option, 0 turns refinement off, k > 0 oversamples k-fold.
  RowMatrix sample(const Vector& observation, Eigen::Index n, std::uint64_t seed, int refine = -1,
                   SamplingReport* report = nullptr);

  void save(const std::filesystem::path& folder) const;
  // Throws FileError naming the folder and the problem (missing file, newer format, mismatch).
  static ImplicitPosterior load(const std::filesystem::path& folder);

  const Names& parameter_names() const { return prior_->names(); }
  const Names& data_names() const { return data_names_; }
  const Prior& prior() const { return *prior_; }
  const LfviOptions& options() const { return options_; }
  const Provenance& provenance() const { return provenance_; }
  const std::vector<TrainingRecord>& training_curve() const { return curve_; }
  bool has_discriminator() const { return discriminator_.has_value(); }

 private:
  ImplicitPosterior() = default;
  ad::Matrix<float> standardised_observation(const Vector& observation) const;
  ad::Matrix<float> generate(const ad::Matrix<float>& y_tilde, Eigen::Index n, Rng& rng);

  std::optional<nn::Mlp> generator_;
  std::optional<nn::Mlp> discriminator_;
  Standardization standardization_;
  PriorPtr prior_;
  Names data_names_;
  LfviOptions options_;
  Provenance provenance_;
  std::vector<TrainingRecord> curve_;
};

inline constexpr int kPosteriorFormatVersion = 1;

}  // namespace sbi::models
