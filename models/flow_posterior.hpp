#pragma once
// Posterior kind "flow", made by the methods "npe", "snpe" and "lfvi" with "generator": "flow"
// (sbi/inference/npe.hpp, snpe.hpp, lfvi_flow.hpp): a conditional density q(θ | y) in the prior's
// unconstrained space. NPE's and LFVI's sample for any observation without retraining; SNPE's was
// trained for one observation (info().observation) and refuses another. Its log_prob is exact and
// normalised on the prior's support.
//
// Files (besides posterior.json; format in sbi/inference/posterior.hpp):
//   density.sbinn        the conditional density estimator (format in sbi/flows/density.hpp)
//   training_curve.csv   epoch, training and validation −log q, seconds
// State in posterior.json: {"training": {epochs, best_epoch, best_validation, stopped_early, ...}}.
#include "sbi/inference/npe.hpp"
#include "sbi/inference/posterior.hpp"

#include <filesystem>
#include <memory>

namespace sbi::models {

inline constexpr const char* kFlowKind = "flow";

class FlowPosterior final : public PosteriorModelBase {
 public:
  // `info` gives method, options and provenance; kind and the log-prob flags are set here.
  FlowPosterior(NpeFit fit, PriorPtr prior, Names data_names, PosteriorInfo info);
  // With the training summary given (methods other than npe: lfvi's flow generator).
  FlowPosterior(NpeFit fit, PriorPtr prior, Names data_names, PosteriorInfo info, nlohmann::json training);

  RowMatrix sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const override;
  Vector log_prob(const RowMatrix& theta, const Vector& observation) const override;
  nlohmann::json save_state(const std::filesystem::path& folder, std::vector<std::string>& files) const override;
  // Training: epochs, best epoch, best validation −log q, how it stopped.
  nlohmann::json diagnostics() const override { return training_; }

  const NpeFit& fit() const { return fit_; }
  static std::shared_ptr<const FlowPosterior> load(const SavedPosterior& saved);

 private:
  void check_made_for(const Vector& observation) const;
  NpeFit fit_;
  nlohmann::json training_;
};

}  // namespace sbi::models
