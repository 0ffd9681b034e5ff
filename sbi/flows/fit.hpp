#pragma once
// Maximum-likelihood fitting of a conditional density estimator q(x | c) on rows (x_i, c_i):
// minimise −(1/B) Σ log q(x_i | c_i) over minibatches with Adam, on the shared training loop
// (sbi/optim/training_loop.hpp):
//
//   * a random validation split (validation_fraction of the rows, from the seed);
//   * x and c z-scored with the training rows' means and sds, folded into the estimator
//     (ConditionalDensity::set_standardization), so that log_prob stays exact in original units;
//   * one validation check per epoch: the mean −log q(x | c) over the validation rows (original
//     units); training stops after `patience` epochs without improvement and the best weights are
//     restored;
//   * optionally, when patience runs out, training goes on from the best weights with the learning
//     rate multiplied by `learning_rate_decay`, up to `decays` times: the best weights so far are
//     kept either way, so the validation loss can only improve on a run without decays, and the
//     smaller steps settle into a minimum the full step size only rattles around;
//   * progress and the stop flag through sbi::TrainingCallbacks; the training curve is returned.
//
//   sbi::flows::DensityFitResult r = sbi::flows::fit_density(*q, x, c, {.max_epochs = 200});
//   std::cout << r.brief_report() << "\n";
#include "sbi/core/types.hpp"
#include "sbi/flows/density.hpp"
#include "sbi/flows/options.hpp"
#include "sbi/optim/adam.hpp"
#include "sbi/optim/training_loop.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sbi::flows {

struct DensityFitOptions {
  Eigen::Index batch_size = 200;     // rows per Adam step
  double learning_rate = 5e-4;       // Adam (β = 0.9, 0.999)
  double validation_fraction = 0.1;  // of the rows, held out for early stopping
  int max_epochs = 1000;             // passes over the training rows
  int patience = 20;                 // epochs without a better validation log-likelihood before stopping
  double clip_grad_norm = 5.0;       // joint gradient norm bound per step (0 = no clipping)
  double learning_rate_decay = 1.0;  // factor applied when patience runs out (1 = stop there)
  int decays = 2;                    // how many times training continues with a lower rate
  // fit_best_density only, with two or more candidates: the candidates race. After each epoch past
  // the first race_window, one that trails the leader's best validation −log q by more than
  // race_margin (nats per row) and by more than three times what it gained on the leader over the
  // last race_window epochs stops there (0 = every candidate trains to its own end).
  int race_window = 0;
  double race_margin = 0.1;
  bool z_score_x = true;             // standardise x (and c) with training statistics
  bool z_score_c = true;
  std::uint64_t seed = 1;            // split and minibatch order (the weights come from the estimator's seed)

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  // Keys as the fields; errors name the JSON path under `path`.
  static DensityFitOptions from_json(const nlohmann::json& j, const std::string& path = "training");
};

struct DensityFitResult {
  optim::TrainingCurve curve;        // per epoch: step, train_nll (mean over the epoch), validation, seconds
  int epochs = 0;                    // epochs run
  int best_epoch = 0;                // whose weights were kept
  double best_validation = 0;        // mean −log q(x | c) on the validation rows at best_epoch
  bool stopped_early = false;
  bool interrupted = false;          // the stop flag was set
  bool left_race = false;            // stopped by fit_best_density's race, behind another candidate
  int skipped_steps = 0;             // steps with a non-finite loss (no update made)
  double final_learning_rate = 0;    // after the plateau decays (the initial rate when none)
  double seconds = 0;
  Eigen::Index training_rows = 0, validation_rows = 0;

  // "epochs 84 (best 64, stopped early), validation −log q 1.234, 9000/1000 rows, 3.2 s"
  std::string brief_report() const;
  nlohmann::json to_json() const;
};

// InputError when training ended (not interrupted) without one finite validation loss: the weights
// are whatever the diverged optimiser left, and sampling them would give NaN.
void check_density_trained(const DensityFitResult& result, const DensityFitOptions& options);

// Fits `density` in place. x: n × data_dim, c: n × context_dim, all finite. Throws InputError for
// shapes, non-finite rows or too few rows (at least 2 training and 1 validation row), and when
// training diverged (check_density_trained).
DensityFitResult fit_density(ConditionalDensity& density, const RowMatrix& x, const RowMatrix& c, const DensityFitOptions& options = {},
                             const TrainingCallbacks& callbacks = {});

// One estimator tried by fit_best_density, with how its training went.
struct EstimatorTrial {
  DensityEstimatorOptions estimator;
  DensityFitResult result;
  bool kept = false;
};

// The learning-rate schedule of DensityFitOptions: each time patience runs out, decay() lowers the
// rate and says whether training goes on. Its state goes into checkpoints so that a resumed fit
// continues with the same rate.
class PlateauDecay {
 public:
  PlateauDecay(double initial_rate, double factor, int max_decays);
  // True (and the rate lowered) while decays are left and the factor is below 1.
  bool decay();
  // The same, and `adam` set to the new rate: the body of a training loop's on_plateau hook.
  bool decay(optim::Adam& adam);
  double rate() const;  // initial rate × factor^decays_done
  int decays_done() const { return done_; }
  nlohmann::json state() const;
  void restore(const nlohmann::json& state);  // tolerates a checkpoint written before the schedule existed

 private:
  double initial_rate_, factor_;
  int max_decays_, done_ = 0;
};

// The estimator kept by fit_best_density, its training, and every estimator tried (in the order
// given; empty when only one was given).
struct SelectedDensity {
  std::unique_ptr<ConditionalDensity> density;
  DensityFitResult training;
  std::vector<EstimatorTrial> trials;
};

// Fits each of `candidates` (the first is the method's own estimator, the rest its alternatives) by
// fit_density on the same split and minibatch order, weights from `seed`, up to `threads` at once
// (0 = all cores; each fit runs on one thread, so the result does not depend on it), and keeps the
// one with the best (lowest) validation −log q: the held-out rows estimate the expected KL divergence
// from the truth up to one constant shared by all candidates. Progress is reported for the first
// candidate (usually the slowest); candidate i > 0 checkpoints under checkpoint_key + "-alternative-i",
// the first under checkpoint_key itself, so a run with one candidate resumes as fit_density does.
SelectedDensity fit_best_density(const std::vector<DensityEstimatorOptions>& candidates, const RowMatrix& x, const RowMatrix& c,
                                 std::uint64_t seed, const DensityFitOptions& options = {}, const TrainingCallbacks& callbacks = {},
                                 int threads = 0);

// A training summary for reports and saved posteriors: epochs, best epoch and validation, rows,
// seconds; with several trials, "estimators": each one's type, best validation and seconds, and
// which was kept.
nlohmann::json density_training_summary(const DensityFitResult& result, const std::vector<EstimatorTrial>& trials = {});

// Training-set statistics as fit_density computes them (and every other method's standardisation):
// column means and unbiased sds, with sd = 1 for columns constant up to rounding (sd ≤ 1e-12 |mean|).
void column_statistics(const RowMatrix& data, const std::vector<Eigen::Index>& rows, Vector& mean, Vector& sd);

}  // namespace sbi::flows
