#include "sbi/optim/training.hpp"

#include "sbi/autodiff/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>

namespace sbi::optim {

template <class T>
double clip_grad_norm(const nn::ParameterList<T>& parameters, double max_norm) {
  if (!(max_norm > 0)) throw std::invalid_argument("clip_grad_norm: max_norm must be positive");
  // The dispatched kernels: in this file's portable build the float-to-double sum ran scalar, 12 % of
  // NPE's training time on two_moons (perf, 2026-12-03).
  const auto& kernel = ad::kernels::active<T>();
  double squared = 0;
  for (const auto* p : parameters) squared += kernel.squared_norm(p->grad.data(), p->grad.size());
  const double norm = std::sqrt(squared);
  if (norm > max_norm) {
    const T scale = static_cast<T>(max_norm / (norm + 1e-12));
    for (auto* p : parameters) kernel.scale(p->grad.data(), scale, p->grad.size());
  }
  return norm;
}

LearningRateSchedule LearningRateSchedule::constant(double rate) {
  LearningRateSchedule s;
  s.kind = Kind::constant;
  s.base_rate = rate;
  return s;
}
LearningRateSchedule LearningRateSchedule::step(double base_rate, int every, double gamma) {
  LearningRateSchedule s;
  s.kind = Kind::step;
  s.base_rate = base_rate;
  s.step_every = every;
  s.gamma = gamma;
  return s;
}
LearningRateSchedule LearningRateSchedule::cosine(double base_rate, int total_steps, double min_rate) {
  LearningRateSchedule s;
  s.kind = Kind::cosine;
  s.base_rate = base_rate;
  s.total_steps = total_steps;
  s.min_rate = min_rate;
  return s;
}

bool LearningRateSchedule::is_valid(std::string* why) const {
  auto fail = [&](const char* message) {
    if (why) *why = message;
    return false;
  };
  if (!(base_rate >= 0)) return fail("base_rate must be >= 0");
  if (kind == Kind::step && step_every <= 0) return fail("step_every must be positive");
  if (kind == Kind::step && !(gamma > 0)) return fail("gamma must be positive");
  if (kind == Kind::cosine && total_steps <= 0) return fail("total_steps must be positive");
  if (kind == Kind::cosine && !(min_rate >= 0 && min_rate <= base_rate)) return fail("min_rate must be in [0, base_rate]");
  return true;
}

double LearningRateSchedule::rate(int step) const {
  step = std::max(step, 0);
  switch (kind) {
    case Kind::constant: return base_rate;
    case Kind::step: return base_rate * std::pow(gamma, step / step_every);
    case Kind::cosine: {
      const double progress = std::min(1.0, static_cast<double>(step) / total_steps);
      return min_rate + 0.5 * (base_rate - min_rate) * (1.0 + std::cos(std::numbers::pi * progress));
    }
  }
  return base_rate;
}

template <class T>
BasicEarlyStopping<T>::BasicEarlyStopping(nn::ParameterList<T> parameters, EarlyStoppingOptions options)
    : parameters_(std::move(parameters)), options_(options), best_loss_(std::numeric_limits<double>::infinity()) {
  if (options_.patience < 1) throw std::invalid_argument("EarlyStoppingOptions: patience must be >= 1");
  if (!(options_.min_delta >= 0)) throw std::invalid_argument("EarlyStoppingOptions: min_delta must be >= 0");
}

template <class T>
bool BasicEarlyStopping<T>::update(double validation_loss) {
  if (validation_loss < best_loss_ - options_.min_delta) {
    best_loss_ = validation_loss;
    best_epoch_ = epoch_;
    epochs_since_best_ = 0;
    best_values_.resize(parameters_.size());
    for (std::size_t k = 0; k < parameters_.size(); ++k) best_values_[k] = parameters_[k]->value;
  } else {
    ++epochs_since_best_;
  }
  ++epoch_;
  return should_stop();
}

template <class T>
void BasicEarlyStopping<T>::restore_best() {
  if (best_epoch_ < 0) return;
  for (std::size_t k = 0; k < parameters_.size(); ++k) parameters_[k]->value = best_values_[k];
}

std::vector<Eigen::Index> permutation(Eigen::Index n, Rng& rng) {
  std::vector<Eigen::Index> order(static_cast<std::size_t>(std::max<Eigen::Index>(n, 0)));
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = static_cast<Eigen::Index>(k);
  for (std::size_t k = order.size(); k > 1; --k) std::swap(order[k - 1], order[rng.below(k)]);
  return order;
}

std::vector<std::vector<Eigen::Index>> shuffled_batches(Eigen::Index n, Eigen::Index batch_size, Rng& rng, bool drop_last) {
  if (batch_size <= 0) throw std::invalid_argument("shuffled_batches: batch_size must be positive");
  const auto order = permutation(n, rng);
  std::vector<std::vector<Eigen::Index>> batches;
  for (std::size_t start = 0; start < order.size(); start += static_cast<std::size_t>(batch_size)) {
    const std::size_t end = std::min(order.size(), start + static_cast<std::size_t>(batch_size));
    if (drop_last && end - start < static_cast<std::size_t>(batch_size)) break;
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start), order.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return batches;
}

Split train_validation_split(Eigen::Index n, double validation_fraction, std::uint64_t seed) {
  if (!(validation_fraction >= 0 && validation_fraction < 1))
    throw std::invalid_argument("train_validation_split: validation_fraction must be in [0, 1)");
  Rng rng = Rng::stream(seed, 0, /*substream=*/0x5e11);
  auto order = permutation(n, rng);
  const auto validation_count = static_cast<std::size_t>(std::llround(validation_fraction * static_cast<double>(n)));
  Split split;
  split.validation.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(validation_count));
  split.train.assign(order.begin() + static_cast<std::ptrdiff_t>(validation_count), order.end());
  std::sort(split.validation.begin(), split.validation.end());
  std::sort(split.train.begin(), split.train.end());
  return split;
}

Eigen::Index minimum_rows_for_split(double validation_fraction, Eigen::Index train, Eigen::Index validation) {
  if (!(validation_fraction > 0 && validation_fraction < 1))
    throw std::invalid_argument("minimum_rows_for_split: validation_fraction must be in (0, 1)");
  // Start below the answer (the counts are n·f and n·(1 − f), rounded to nearest) and step to the first n.
  const double below = std::max((static_cast<double>(validation) - 0.5) / validation_fraction,
                                (static_cast<double>(train) - 0.5) / (1 - validation_fraction));
  Eigen::Index n = std::max<Eigen::Index>(1, static_cast<Eigen::Index>(below) - 1);
  for (;; ++n) {
    const auto held_out = static_cast<Eigen::Index>(std::llround(validation_fraction * static_cast<double>(n)));
    if (held_out >= validation && n - held_out >= train) return n;
  }
}

template <class T>
void gather_rows(const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& data, std::span<const Eigen::Index> rows,
                 Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& out) {
  out.resize(static_cast<Eigen::Index>(rows.size()), data.cols());
  for (Eigen::Index j = 0; j < data.cols(); ++j)
    for (std::size_t r = 0; r < rows.size(); ++r) {
      if (rows[r] < 0 || rows[r] >= data.rows()) throw std::out_of_range("gather_rows: row index out of range");
      out(static_cast<Eigen::Index>(r), j) = data(rows[r], j);
    }
}

template <class T>
Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> gather_rows(const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& data,
                                                             std::span<const Eigen::Index> rows) {
  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> out;
  gather_rows(data, rows, out);
  return out;
}

template double clip_grad_norm(const nn::ParameterList<float>&, double);
template double clip_grad_norm(const nn::ParameterList<double>&, double);
template class BasicEarlyStopping<float>;
template class BasicEarlyStopping<double>;
template Eigen::MatrixXf gather_rows(const Eigen::MatrixXf&, std::span<const Eigen::Index>);
template Eigen::MatrixXd gather_rows(const Eigen::MatrixXd&, std::span<const Eigen::Index>);
template void gather_rows(const Eigen::MatrixXf&, std::span<const Eigen::Index>, Eigen::MatrixXf&);
template void gather_rows(const Eigen::MatrixXd&, std::span<const Eigen::Index>, Eigen::MatrixXd&);

}  // namespace sbi::optim
