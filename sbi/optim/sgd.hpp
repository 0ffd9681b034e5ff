#pragma once
// Stochastic gradient descent with (heavy-ball) momentum and L2 weight decay, as in PyTorch:
// b ← μ b + g, w ← w - lr b. The velocity b lives in each parameter's state slot 0.
#include "sbi/nn/parameter.hpp"

#include <string>

namespace sbi::optim {

struct SgdOptions {
  double learning_rate = 1e-2;
  double momentum = 0.0;
  double weight_decay = 0.0;
  bool is_valid(std::string* why = nullptr) const;
};

template <class T>
class BasicSgd {
 public:
  explicit BasicSgd(nn::ParameterList<T> parameters, SgdOptions options = {});
  void step();
  void zero_grad();
  double learning_rate() const { return options_.learning_rate; }
  void set_learning_rate(double rate) { options_.learning_rate = rate; }
  const SgdOptions& options() const { return options_; }

 private:
  nn::ParameterList<T> parameters_;
  SgdOptions options_;
};

using Sgd = BasicSgd<float>;

extern template class BasicSgd<float>;
extern template class BasicSgd<double>;

}  // namespace sbi::optim
