#pragma once
// Classifier two-sample test (C2ST) exactly as sbibm computes it (Lueckmann et al., AISTATS 2021;
// protocol in data/sbibm/TASKS.md, "Metrics / C2ST"): a classifier is trained to tell reference
// samples (label 0) from the samples under test (label 1); its cross-validated accuracy is the
// statistic. 0.5 = indistinguishable, 1.0 = perfectly separable.
//
//   sbi::C2stResult r = sbi::c2st_test(reference, samples);   // sbibm defaults, seed 1
//   std::cout << r.brief_report() << "\n";                    // "C2ST 0.5123 (folds ...)"
//   double accuracy = sbi::c2st(reference, samples);
//
// The defaults are those of sbibm with scikit-learn's MLPClassifier, mirrored one by one:
//   * the first 10,000 rows of each set; rows with a non-finite entry are dropped and counted;
//   * z-scoring of both sets by the reference's column means and unbiased (n-1) sds;
//   * an MLP with two hidden layers of width 10·dim, ReLU, one logistic output, cross-entropy loss;
//     weights and biases drawn uniformly from ±√(6/(fan_in+fan_out)) (sklearn's init for ReLU);
//   * Adam, lr 1e-3, β = (0.9, 0.999), ε = 1e-8; an L2 penalty (α/2)·Σ‖W‖²/batch on the weights
//     (not the biases) added to each minibatch loss, as sklearn does; minibatches of min(200, n),
//     reshuffled every epoch;
//   * at most 10,000 epochs; training stops when the epoch's mean training loss has not been below
//     the best loss so far minus tol = 1e-4 for more than 10 consecutive epochs (sklearn's rule,
//     no validation split);
//   * 5-fold cross-validation over the stacked sets with a shuffled KFold (fold sizes as sklearn);
//     accuracy on each held-out fold at threshold 0.5 (logit > 0 → label 1); the mean over folds.
// The random streams are ours (not NumPy's), so values agree with sklearn statistically, not bit
// for bit (bench/RESULTS.md, "C2ST agreement with scikit-learn").
//
// Networks are float32. The folds are trained in parallel, one network and tape per thread; each fold
// draws from its own stream Rng::stream(seed, fold, ·), so the result depends on the seed only, never
// on the number of threads.
#include "sbi/core/types.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace sbi {

struct C2stOptions {
  Eigen::Index max_samples = 10000;  // first rows of each set used; 0 = all
  std::uint64_t seed = 1;            // KFold shuffle, initial weights and minibatch order
  int folds = 5;
  bool z_score = true;               // standardise by the reference's mean and unbiased sd

  // Classifier (scikit-learn MLPClassifier defaults, hidden widths as sbibm).
  int hidden_layers = 2;
  int width_factor = 10;             // each hidden layer has width_factor · dim units
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double alpha = 1e-4;               // L2 penalty on the weights, (α/2)·Σ‖W‖² / batch size
  Eigen::Index batch_size = 200;     // min(batch_size, training rows)
  int max_epochs = 10000;
  double tol = 1e-4;
  int n_iter_no_change = 10;         // stop after more than this many epochs without a tol improvement

  int threads = 0;                   // worker threads for the folds; 0 = all cores (at most `folds`)

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  static C2stOptions from_json(const nlohmann::json& j);  // missing keys keep their defaults
};

struct C2stFold {
  double accuracy = 0;
  Eigen::Index train_rows = 0;
  Eigen::Index test_rows = 0;
  int epochs = 0;               // epochs trained
  bool converged = false;       // stopped by the tol rule, not by max_epochs
  double final_loss = 0;        // mean training loss of the last epoch (penalty included)
};

struct C2stResult {
  double accuracy = 0;                 // mean of the fold accuracies: the C2ST value
  std::vector<C2stFold> folds;
  Eigen::Index n_reference = 0;        // rows used (after dropping non-finite ones)
  Eigen::Index n_samples = 0;
  Eigen::Index dropped_reference = 0;  // non-finite rows among the first max_samples
  Eigen::Index dropped_samples = 0;
  Eigen::Index dim = 0;
  double seconds = 0;                  // wall time

  std::vector<double> fold_accuracies() const;
  // One line: "C2ST 0.5123 (folds 0.51, ...; 10000 vs 10000, dim 2, 3.1 s)".
  std::string brief_report() const;
  // Adds per-fold epochs, convergence and losses.
  std::string full_report() const;
  nlohmann::json to_json() const;
};

// The full result. Throws sbi::InputError when the column counts differ, a set has fewer finite
// rows than folds, or the options are invalid.
C2stResult c2st_test(const RowMatrix& reference, const RowMatrix& samples, const C2stOptions& options = {});
// The C2ST value alone.
double c2st(const RowMatrix& reference, const RowMatrix& samples, const C2stOptions& options = {});

// KFold(n_splits = folds, shuffle = True) as scikit-learn cuts it: a random permutation of 0..n-1
// split into consecutive test folds, the first n % folds of which have one extra row.
std::vector<std::vector<Eigen::Index>> kfold_test_indices(Eigen::Index n, int folds, std::uint64_t seed);

}  // namespace sbi
