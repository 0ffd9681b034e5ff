#pragma once
// Causal Generative Neural Networks for one pair (Goudet et al. 2017, "Causal generative neural
// networks", arXiv:1711.08936; the pairwise case).
//
// Both variables are standardised. For the direction X → Y a generator ŷ = f(x, z), z ~ N(0, 1), an
// MLP with one hidden layer of `hidden` ReLU units, is trained with Adam on the biased MMD² between
// the generated pairs (x_i, ŷ_i) and the observed pairs (x_j, y_j), fresh noise every step. With the
// weights then fixed, the MMD² is averaged over `eval_epochs` fresh noise draws. The same for
// Y → X; the whole fit is repeated over `runs` independent initialisations and the two averages give
//   score = (MMD_yx − MMD_xy) / (MMD_yx + MMD_xy)   (> 0: X → Y).
//
// What the original did that the first version here did not, each an option (measured in
// bench/causal/RESULTS.md, "CGNN: what the original did"):
//   * minibatches: `batch_size` > 0 trains (and evaluates) on a fresh random minibatch of that many
//     rows each step, so that with `max_samples` = 0 every point of a large pair is used;
//   * hidden units chosen per pair: a non-empty `hidden_candidates` runs a `cv_folds`-fold
//     cross-validation for each candidate width (train on the other folds, the held-out MMD² of the
//     held-out fold, summed over both directions, folds and `cv_runs` runs; the same width serves
//     both directions so that their fits stay comparable) and uses the width with the smallest sum;
//   * more evaluation steps and more runs: `eval_epochs`, `runs`.
//
// Kernel: k(a, b) = Σ_γ exp(−γ |a − b|²) over `gammas`, default {0.01, 0.1, 1, 10, 100}: the default
// "bandwidths" of MMDloss in the authors' Causal Discovery Toolbox (cdt/utils/loss.py), which
// multiply the squared distance (so γ = 1/(2h²) for a length scale h: h ≈ 7.07, 2.24, 0.71, 0.22,
// 0.07 on standardised data). The MMD² and its gradient come from sbi/causal/paired_mmd.hpp; the
// gradient is pushed through the generator on an sbi::ad tape and Adam updates it.
#include "sbi/causal/pair.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace sbi::causal {

struct CgnnOptions {
  int hidden = 20;                 // ReLU units of the generator's hidden layer (when not cross-validated)
  int runs = 12;                   // independent fits per direction, averaged
  int train_epochs = 1000;         // Adam steps (the CGNN authors' toolbox uses 1000)
  int eval_epochs = 200;           // steps with fixed weights whose MMD² is averaged
  double learning_rate = 0.01;     // Adam (the CDT default)
  Eigen::Index max_samples = 500;  // larger pairs are subsampled (seeded) to this many rows; 0 = all
  Eigen::Index batch_size = 0;     // rows per step; 0 = all rows (full batch)
  std::vector<int> hidden_candidates;  // non-empty: choose the hidden units per pair among these by cross-validation
  int cv_folds = 2;                // folds of that cross-validation
  int cv_runs = 1;                 // fits per (candidate, fold, direction)
  // Cost ∝ n² · epochs. These defaults were chosen on data/causal_synthetic (bench/causal/RESULTS.md,
  // "How the CGNN defaults were chosen") and run the 102 Tübingen pairs in about 13 min on 2 cores.
  std::vector<double> gammas = {0.01, 0.1, 1.0, 10.0, 100.0};

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  // Missing keys keep their defaults; InputError names the JSON path of a bad or unknown key.
  static CgnnOptions from_json(const nlohmann::json& j, const std::string& path);
};

struct CgnnResult {
  double score = 0;                // (mmd_yx − mmd_xy) / (mmd_yx + mmd_xy)
  double mmd_xy = 0, mmd_yx = 0;   // averages over runs of the evaluation-phase MMD²
  std::vector<double> run_scores;  // the score from each run's pair of fits
  double run_score_sd = 0;         // spread of run_scores (sample sd)
  Eigen::Index samples_used = 0;
  int hidden = 0;                  // the hidden units used (the cross-validated choice, if any)
  std::vector<double> cv_mmd;      // per candidate of hidden_candidates: the summed held-out MMD²
};

// Deterministic for (pair, options, seed): run r of direction d uses Rng streams derived from
// (seed, r, d) only (the cross-validation its own), so `threads` (parallel over fits) does not
// change the result. Throws InputError when !options.is_valid().
CgnnResult cgnn(const CausePair& pair, const CgnnOptions& options, std::uint64_t seed, int threads = 1);

// One generator fit (exposed for tests): trains cause → effect with `hidden` units on all rows and
// returns the evaluation-phase mean MMD² on the same rows. cause and effect must be standardised,
// same length.
double cgnn_fit_direction(const Vector& cause, const Vector& effect, const CgnnOptions& options, std::uint64_t seed);

// Biased MMD² between generated pairs (c_i, g_i) and observed pairs (c_i, e_i) with the kernel
// above; writes d MMD² / d g_i into `gradient` when it is non-null. (Float, fused; exposed so tests
// can compare it with sbi::nn::mmd2.)
float paired_mmd2(const Eigen::VectorXf& cause, const Eigen::VectorXf& generated, const Eigen::VectorXf& effect,
                  const std::vector<float>& gammas, Eigen::VectorXf* gradient);

}  // namespace sbi::causal
