#pragma once
// Causal-direction methods for one pair, on one interface: a signed score (> 0: X → Y, < 0: Y → X,
// its magnitude a confidence used to rank decisions) and the direction it implies.
//
//   cgnn   generative networks fitted by MMD (sbi/causal/cgnn.hpp)
//   meta-cgnn  one meta-learned generator shared by all pairs, compared by MMD in both directions
//          (sbi/causal/meta_cgnn.hpp); needs a trained meta-model in MethodOptions::meta_models (several:
//          an ensemble, whose score is the mean of the models' scores)
//   anm    additive-noise model: kernel ridge regression each way (Gaussian kernel, median-heuristic
//          bandwidth, ridge by leave-one-out), then HSIC between the cause and the residual;
//          score = (HSIC_yx − HSIC_xy) / (HSIC_yx + HSIC_xy)  (Hoyer et al. 2009; Mooij et al. 2016)
//   igci   information-geometric causal inference (Daniusis et al. 2010, Janzing et al. 2012), the
//          estimators of Mooij et al. 2016: "igci" = igci-slope-uniform; also igci-entropy-uniform,
//          igci-slope-gauss, igci-entropy-gauss. score = C_{Y→X} − C_{X→Y}
//   reci   regression error based causal inference (Blöbaum et al. 2018): min-max scale both,
//          monotone (isotonic, the better of increasing/decreasing) regression each way;
//          score = (MSE_yx − MSE_xy) / (MSE_yx + MSE_xy)
//   fit    bivariate fit: kernel ridge regression each way on standardised data, compared by
//          leave-one-out error; score = (MSE_yx − MSE_xy) / (MSE_yx + MSE_xy)
#include "sbi/causal/cgnn.hpp"
#include "sbi/causal/meta_cgnn.hpp"
#include "sbi/causal/pair.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sbi::causal {

struct MethodOptions {
  CgnnOptions cgnn;
  MetaCgnnDecisionOptions meta_cgnn;
  // Required by "meta-cgnn" (MetaCgnnModel::load, meta_train). Several models (e.g. one fine-tuning run
  // with different seeds) decide together: a pair's score and criteria are the means of theirs, each
  // model deciding with the same seed.
  std::vector<std::shared_ptr<const MetaCgnnModel>> meta_models;
  // anm and fit solve an n × n eigenproblem per direction: pairs are subsampled (seeded) to this.
  Eigen::Index kernel_max_samples = 500;
};

struct DirectionResult {
  std::string method;
  double score = 0;         // > 0: X → Y
  int direction = 0;        // +1 (X → Y), −1 (Y → X), 0 (undecided: score exactly 0)
  double criterion_xy = 0;  // the method's quantity for X → Y (MMD², HSIC, C, MSE; lower = more plausible)
  double criterion_yx = 0;
  std::vector<double> run_scores;  // cgnn: per-run scores
  double run_score_sd = 0;         // cgnn: their sample sd
  int hidden = 0;                  // cgnn: hidden units used (cross-validated when asked)
  Eigen::Index samples_used = 0;
  double seconds = 0;
};

// "cgnn", "meta-cgnn", "anm", "igci", "igci-slope-uniform", "igci-entropy-uniform", "igci-slope-gauss",
// "igci-entropy-gauss", "reci", "fit".
const std::vector<std::string>& method_names();
bool is_method(const std::string& name);

// Runs one method. Deterministic for (pair, method, options, seed) at any `threads` (only cgnn uses
// more than one thread). Throws sbi::InputError for an unknown method, and for meta-cgnn without a
// meta-model.
DirectionResult run_method(const std::string& method, const CausePair& pair, const MethodOptions& options,
                           std::uint64_t seed, int threads = 1);

// The individual baselines (score > 0: X → Y).
enum class IgciEstimator { slope, entropy };
enum class IgciReference { uniform, gaussian };
DirectionResult igci(const CausePair& pair, IgciEstimator estimator, IgciReference reference);
DirectionResult anm_hsic(const CausePair& pair, Eigen::Index max_samples, std::uint64_t seed);
DirectionResult reci(const CausePair& pair);
DirectionResult bivariate_fit(const CausePair& pair, Eigen::Index max_samples, std::uint64_t seed);

}  // namespace sbi::causal
