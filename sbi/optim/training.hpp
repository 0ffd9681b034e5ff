#pragma once
// Training helpers shared by every method: gradient-norm clipping, learning-rate schedules,
// early stopping on a validation loss, seeded minibatches and train/validation splits.
#include "sbi/nn/parameter.hpp"
#include "sbi/random/rng.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace sbi::optim {

// Scale all gradients together so that their joint Euclidean norm is at most max_norm.
// Returns the norm before clipping.
template <class T>
double clip_grad_norm(const nn::ParameterList<T>& parameters, double max_norm);

// Learning rate as a function of the step (or epoch) counter.
struct LearningRateSchedule {
  enum class Kind { constant, step, cosine };
  Kind kind = Kind::constant;
  double base_rate = 1e-3;
  int step_every = 10;       // step: multiply by gamma every step_every steps
  double gamma = 0.1;
  int total_steps = 100;     // cosine: from base_rate at 0 to min_rate at total_steps (then flat)
  double min_rate = 0.0;

  static LearningRateSchedule constant(double rate);
  static LearningRateSchedule step(double base_rate, int every, double gamma);
  static LearningRateSchedule cosine(double base_rate, int total_steps, double min_rate = 0.0);
  double rate(int step) const;
  bool is_valid(std::string* why = nullptr) const;
};

struct EarlyStoppingOptions {
  int patience = 10;        // epochs without improvement before stopping
  double min_delta = 0.0;   // an improvement must lower the best loss by more than this
};

// Watches a validation loss; keeps a copy of the parameters at the best loss seen.
//   for (epoch...) { train...; if (stopper.update(validation_loss)) break; }
//   stopper.restore_best();
template <class T>
class BasicEarlyStopping {
 public:
  BasicEarlyStopping(nn::ParameterList<T> parameters, EarlyStoppingOptions options = {});
  // Record one epoch's validation loss; true when patience is exhausted. NaN never improves.
  bool update(double validation_loss);
  bool should_stop() const { return epochs_since_best_ >= options_.patience; }
  // Copy the best weights back into the parameters (no-op before the first update).
  void restore_best();
  double best_loss() const { return best_loss_; }
  int best_epoch() const { return best_epoch_; }
  int epochs_since_best() const { return epochs_since_best_; }

 private:
  nn::ParameterList<T> parameters_;
  EarlyStoppingOptions options_;
  std::vector<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>> best_values_;
  double best_loss_;
  int best_epoch_ = -1;
  int epoch_ = 0;
  int epochs_since_best_ = 0;
};

using EarlyStopping = BasicEarlyStopping<float>;

// A uniformly random permutation of 0..n-1 (Fisher–Yates with rng.below).
std::vector<Eigen::Index> permutation(Eigen::Index n, Rng& rng);
// A fresh permutation cut into batches of batch_size (the last one shorter unless drop_last).
std::vector<std::vector<Eigen::Index>> shuffled_batches(Eigen::Index n, Eigen::Index batch_size, Rng& rng,
                                                        bool drop_last = false);

struct Split {
  std::vector<Eigen::Index> train;
  std::vector<Eigen::Index> validation;
};
// round(n · validation_fraction) random rows for validation, the rest for training; both sorted.
// Depends only on (n, fraction, seed).
Split train_validation_split(Eigen::Index n, double validation_fraction, std::uint64_t seed);
// The fewest rows whose split at this fraction has at least `train` training and `validation`
// validation rows (fraction in (0, 1)).
Eigen::Index minimum_rows_for_split(double validation_fraction, Eigen::Index train, Eigen::Index validation);

// Rows of `data` at `rows`, in that order. The second form writes into `out` (reused storage).
template <class T>
Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> gather_rows(const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& data,
                                                             std::span<const Eigen::Index> rows);
template <class T>
void gather_rows(const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& data, std::span<const Eigen::Index> rows,
                 Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& out);

}  // namespace sbi::optim
