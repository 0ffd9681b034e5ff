#pragma once
// Posterior kind "abc_samples", made by the methods "rejection" and "smc": the weighted particles ABC
// accepted for ONE observation. sample() draws from them (a Gaussian KDE in the prior's unconstrained
// space, or the particles themselves; sbi/abc/result.hpp resample_particles) with the bandwidth fixed
// when the posterior was made, so draws are reproducible and cheap. Asking for another observation is
// an InputError that says why: ABC has to be run again for it. It has no density.
//
// Files (besides posterior.json; format in sbi/inference/posterior.hpp):
//   particles.csv   one row per particle: θ, then its normalised weight and its distance
// State in posterior.json: {"resample": "kde"|"multinomial", "bandwidth": b, "diagnostics": {...}}
// (diagnostics: sbi::AbcResult::to_json(): ε, generations, simulations, stop reason).
#include "sbi/abc/result.hpp"
#include "sbi/inference/posterior.hpp"

namespace sbi::models {

inline constexpr const char* kAbcSamplesKind = "abc_samples";

class AbcPosterior final : public PosteriorModelBase {
 public:
  // `result` holds particles, weights, distances and diagnostics; `info.observation` must be set.
  // With resample.method kde and bandwidth ≤ 0 the bandwidth is chosen here, once.
  AbcPosterior(AbcResult result, PriorPtr prior, Names data_names, PosteriorInfo info, ResampleOptions resample);

  RowMatrix sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const override;
  nlohmann::json save_state(const std::filesystem::path& folder, std::vector<std::string>& files) const override;
  // sbi::AbcResult::to_json(): tolerance, generations, simulations, stop reason.
  nlohmann::json diagnostics() const override { return diagnostics_; }

  static std::shared_ptr<const AbcPosterior> load(const SavedPosterior& saved);

  const AbcResult& result() const { return result_; }  // particles, weights, diagnostics
  const ResampleOptions& resample_options() const { return resample_; }

 private:
  AbcPosterior() = default;
  AbcResult result_;
  nlohmann::json diagnostics_;
  ResampleOptions resample_;
};

}  // namespace sbi::models
