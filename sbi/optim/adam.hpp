#pragma once
// Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019). Moments are kept in each
// parameter's state slots 0 and 1, so the optimiser can be rebuilt over the same parameters.
#include "sbi/nn/parameter.hpp"

#include <string>

namespace sbi::optim {

struct AdamOptions {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = 0.0;
  // false: L2 penalty added to the gradient (Adam); true: weights shrink by lr·wd each step (AdamW).
  bool decoupled_weight_decay = false;
  bool is_valid(std::string* why = nullptr) const;
};

template <class T>
class BasicAdam {
 public:
  // Throws std::invalid_argument when options.is_valid() fails.
  explicit BasicAdam(nn::ParameterList<T> parameters, AdamOptions options = {});

  void step();       // one update from the current gradients
  void zero_grad();  // of every parameter
  double learning_rate() const { return options_.learning_rate; }
  void set_learning_rate(double rate) { options_.learning_rate = rate; }  // for schedules
  long steps_taken() const { return steps_; }
  void set_steps_taken(long steps) { steps_ = steps; }  // resuming from a checkpoint (bias correction)
  const AdamOptions& options() const { return options_; }
  const nn::ParameterList<T>& parameters() const { return parameters_; }

 private:
  nn::ParameterList<T> parameters_;
  AdamOptions options_;
  long steps_ = 0;
};

// Adam with decoupled weight decay; PyTorch's default decay 0.01.
template <class T>
class BasicAdamW : public BasicAdam<T> {
 public:
  explicit BasicAdamW(nn::ParameterList<T> parameters, AdamOptions options = {.weight_decay = 0.01})
      : BasicAdam<T>(std::move(parameters), with_decoupled(options)) {}

 private:
  static AdamOptions with_decoupled(AdamOptions o) {
    o.decoupled_weight_decay = true;
    return o;
  }
};

using Adam = BasicAdam<float>;
using AdamW = BasicAdamW<float>;

extern template class BasicAdam<float>;
extern template class BasicAdam<double>;

}  // namespace sbi::optim
