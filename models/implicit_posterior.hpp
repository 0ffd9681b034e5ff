#pragma once
// Posterior kind "implicit_generator", made by the methods "lfvi" and "mmd": an implicit generator
// θ = T(μ + σ ⊙ f(ỹ, z)), z ~ N(0, I), where ỹ is the standardised observation, (μ, σ) the
// standardisation of the unconstrained parameters and T the prior's bijection (so every sample lies
// in the prior's support). It samples for any observation without retraining, optionally refined by
// importance resampling with the discriminator's ratio estimate (lfvi only). It has no density.
//
// Files (besides posterior.json; format in sbi/inference/posterior.hpp):
//   generator.sbinn      the generator network (format in sbi/nn/serialize.hpp)
//   discriminator.sbinn  the discriminator (lfvi only)
//   training_curve.csv   step, losses, validation MMD², seconds
// State in posterior.json: {"standardization": {...}, "noise_dim": k, "refine_oversample": r}.
#include "sbi/inference/implicit_generator.hpp"
#include "sbi/inference/posterior.hpp"

#include <filesystem>
#include <optional>

namespace sbi::models {

inline constexpr const char* kImplicitGeneratorKind = "implicit_generator";

struct SamplingReport {
  std::size_t candidates = 0;            // generator draws
  double effective_sample_size = 0;      // of the importance weights when refining (else = samples)
};

class ImplicitPosterior final : public PosteriorModelBase {
 public:
  // `info` gives method, options and provenance; kind and the log-prob flags are set here.
  // `refine_oversample` > 0 needs the fit's discriminator.
  ImplicitPosterior(ImplicitGeneratorFit fit, PriorPtr prior, Names data_names, PosteriorInfo info, int refine_oversample = 0);

  RowMatrix sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const override;
  nlohmann::json save_state(const std::filesystem::path& folder, std::vector<std::string>& files) const override;
  // Training: best step, best validation MMD², steps run, how it stopped.
  nlohmann::json diagnostics() const override;

  // `refine` = −1 uses the saved setting, 0 turns refinement off, k > 0 oversamples k-fold.
  RowMatrix sample(const Vector& observation, Eigen::Index n, std::uint64_t seed, int refine, SamplingReport* report) const;

  static std::shared_ptr<const ImplicitPosterior> load(const SavedPosterior& saved);
  // Sequential LFVI knows its record only after the last round: the info is replaced then (kind and
  // log-prob flags kept). A posterior whose info is not amortised samples only for info.observation.
  void replace_info(PosteriorInfo info);

  const optim::TrainingCurve& training_curve() const { return curve_; }
  bool has_discriminator() const { return discriminator_.has_value(); }
  int refine_oversample() const { return refine_oversample_; }

 private:
  ImplicitPosterior() = default;
  ad::Matrix<float> generate(const ad::Matrix<float>& y_tilde, Eigen::Index n, Rng& rng) const;

  std::optional<nn::Mlp> generator_;
  std::optional<nn::Mlp> discriminator_;
  Standardization standardization_;
  int noise_dim_ = 2;
  int refine_oversample_ = 0;
  optim::TrainingCurve curve_;
  nlohmann::json training_ = nlohmann::json::object();
};

}  // namespace sbi::models
