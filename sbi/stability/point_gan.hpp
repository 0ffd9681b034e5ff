#pragma once
// The learnable-points experiment of Chu, Minami & Fukumizu (ICLR 2020) at CPU scale: the generator
// *is* N points x_1..x_N, trained by plain gradient descent against a target distribution, with an
// MLP discriminator φ trained in alternation. The loss is the Wasserstein-type (integral
// probability metric) objective the smoothness theory is stated for:
//   discriminator: maximise  mean φ(real) − mean φ(generated) − (1/(2β2))·‖φ‖²_H   (RKHS penalty on)
//                  subject to φ α-Lipschitz                                     (spectral norm on)
//   generator:     x_i ← x_i + γ·∇φ(x_i)
// The generator step is gradient descent on −mean φ(x_i) in the root-mean-square norm of the points
// (A = 1, B = 0), so the theory's step size is γ0 = 1/(7α + β2) (learnable_points_step_size) and
// runs are compared at γ = ratio·γ0 for one nominal (α, β2) whatever the configuration — the
// unregularised control therefore uses the same absolute step sizes.
//
// The discriminator: widths {d, hidden..., 1}, ELU (1-Lipschitz and 1-smooth), Adam. Under
// spectral normalisation every layer has bound α^(1/layers). The RKHS penalty uses the
// support-set form of sbi/stability/regularizers.hpp on each step's batch of real and generated
// points. Without either regulariser φ is unconstrained (the objective is unbounded): the control.
#include "sbi/core/types.hpp"
#include "sbi/random/rng.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sbi::stability {

// A distribution to fit: samples, and the reference set the final points are compared with.
class PointTarget {
 public:
  virtual ~PointTarget() = default;
  virtual std::string name() const = 0;
  virtual Eigen::Index dim() const = 0;
  virtual RowMatrix sample(Rng& rng, Eigen::Index n) const = 0;
};

// 25 isotropic Gaussians (sd 0.05) centred on the grid {−4, −2, 0, 2, 4}², equal weights.
std::unique_ptr<PointTarget> grid25_target();
// 8 isotropic Gaussians (sd 0.5) in 8 dimensions centred at 3·e_c (c = 1..8), equal weights.
std::unique_ptr<PointTarget> gauss8d_target();
// A data set (rows = points), z-scored by its column means and sds; sampled with replacement.
std::unique_ptr<PointTarget> dataset_target(const std::string& name, const RowMatrix& data);
// "grid25", "gauss8d", or the path of a CSV file with a header (every column numeric).
std::unique_ptr<PointTarget> make_point_target(const std::string& name_or_csv);

struct PointGanConfig {
  std::string name = "none";   // "none", "sn", "rkhs", "sn+rkhs"
  bool spectral_norm = false;
  bool rkhs = false;
};
// Throws InputError for an unknown name.
PointGanConfig point_gan_config(const std::string& name);

struct PointGanOptions {
  Eigen::Index points = 256;          // N
  int steps = 1000;                   // generator steps
  int discriminator_steps = 5;        // per generator step
  Eigen::Index batch = 64;            // real and generated rows per discriminator step
  std::vector<Eigen::Index> hidden = {64, 64};
  double discriminator_learning_rate = 1e-3;  // Adam (β1 = 0.5)
  double alpha = 1.0;                 // Lipschitz bound under spectral normalisation
  double beta2 = 1.0;                 // RKHS penalty weight 1/(2β2)
  double rkhs_jitter = 1e-3;
  // A run has diverged when a point is non-finite or farther than this many target radii from
  // the origin (the target radius: the largest norm in a reference sample).
  double divergence_radius = 100.0;
  Eigen::Index evaluation_points = 0; // reference sample size for MMD²/W1; 0 = N
  bool exact_w1 = true;               // off for large N (cubic cost)
  bool is_valid(std::string* why = nullptr) const;
};

struct PointGanResult {
  double mmd2 = 0;         // fixed-bandwidth Gaussian MMD² (unbiased) to a fresh target sample
  double w1 = 0;           // exact W1 to a fresh target sample of N points (NaN when off)
  double initial_mmd2 = 0, initial_w1 = 0;
  bool diverged = false;
  int steps_done = 0;
  double final_grad_norm = 0;  // mean ‖∇φ(x_i)‖ at the last generator step
  // Measured constants of the final discriminator (estimators.hpp) on the final points, the
  // reference sample and segments between them; NaN after divergence.
  double discriminator_lipschitz = 0, discriminator_smoothness = 0;
  double seconds = 0;
};

// One run. `learning_rate` is γ; `seed` selects the initial points, the discriminator's weights
// and all sampling; `evaluation_seed` the reference sample (shared by every run that compares).
// `mmd_bandwidth` is the fixed kernel bandwidth of the MMD² (the same for all runs of a target).
PointGanResult run_point_gan(const PointTarget& target, const PointGanConfig& config, const PointGanOptions& options,
                             double learning_rate, double mmd_bandwidth, std::uint64_t seed, std::uint64_t evaluation_seed,
                             const std::atomic<bool>* stop = nullptr);

// A fixed MMD bandwidth for a target: the median pairwise distance of a reference sample.
double point_target_bandwidth(const PointTarget& target, std::uint64_t seed, Eigen::Index n = 500);

struct SweepJob {
  std::string config;
  double ratio = 1;     // γ/γ0
  int seed = 0;         // seed index 0..K−1
};

struct SweepRow {
  SweepJob job;
  double gamma = 0;
  PointGanResult result;
};

struct SweepOptions {
  std::vector<std::string> configs = {"none", "sn", "rkhs", "sn+rkhs"};
  std::vector<double> ratios = {0.1, 1, 10, 100, 1000, 10000, 100000};
  int seeds = 3;
  std::uint64_t base_seed = 1;
  int threads = 0;      // 0 = all cores
  PointGanOptions run;
};

// All (config, ratio, seed) runs, in parallel; rows in job order (config-major, then ratio, seed).
// Job i draws from seed stream (base_seed, seed index) for the run — the same initial points and
// discriminator initialisation for every configuration and ratio at a seed — so results do not
// depend on threads. γ0 = learnable_points_step_size(α, β2). on_done(finished, total) after each job.
std::vector<SweepRow> run_sweep(const PointTarget& target, const SweepOptions& options,
                                const std::function<void(std::size_t, std::size_t)>& on_done = {},
                                const std::atomic<bool>* stop = nullptr);

}  // namespace sbi::stability
