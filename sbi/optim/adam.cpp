#include "sbi/optim/adam.hpp"

#include "sbi/autodiff/kernels.hpp"

#include <cmath>
#include <stdexcept>

namespace sbi::optim {

bool AdamOptions::is_valid(std::string* why) const {
  auto fail = [&](const char* message) {
    if (why) *why = message;
    return false;
  };
  if (!(learning_rate >= 0)) return fail("learning_rate must be >= 0");
  if (!(beta1 >= 0 && beta1 < 1)) return fail("beta1 must be in [0, 1)");
  if (!(beta2 >= 0 && beta2 < 1)) return fail("beta2 must be in [0, 1)");
  if (!(epsilon > 0)) return fail("epsilon must be > 0");
  if (!(weight_decay >= 0)) return fail("weight_decay must be >= 0");
  return true;
}

template <class T>
BasicAdam<T>::BasicAdam(nn::ParameterList<T> parameters, AdamOptions options)
    : parameters_(std::move(parameters)), options_(options) {
  std::string why;
  if (!options_.is_valid(&why)) throw std::invalid_argument("AdamOptions: " + why);
  for (auto* p : parameters_) {
    if (p == nullptr) throw std::invalid_argument("BasicAdam: null parameter");
    if (p->state.size() < 2) p->state.resize(2);
    for (int k = 0; k < 2; ++k)
      if (p->state[k].rows() != p->value.rows() || p->state[k].cols() != p->value.cols())
        p->state[k].setZero(p->value.rows(), p->value.cols());
    if (p->grad.rows() != p->value.rows() || p->grad.cols() != p->value.cols()) p->zero_grad();
  }
}

template <class T>
void BasicAdam<T>::step() {
  ++steps_;
  const double t = static_cast<double>(steps_);
  const double correction1 = 1.0 - std::pow(options_.beta1, t);
  const double correction2 = 1.0 - std::pow(options_.beta2, t);
  // w -= lr/c1 · m / (√v/√c2 + ε): the bias corrections folded into two scalars.
  const T step_size = static_cast<T>(options_.learning_rate / correction1);
  const T inverse_sqrt_c2 = static_cast<T>(1.0 / std::sqrt(correction2));
  ad::kernels::AdamScalars<T> scalars{.beta1 = static_cast<T>(options_.beta1),
                                      .beta2 = static_cast<T>(options_.beta2),
                                      .step_size = step_size,
                                      .inverse_sqrt_c2 = inverse_sqrt_c2,
                                      .epsilon = static_cast<T>(options_.epsilon)};
  const T decay = static_cast<T>(options_.weight_decay);
  if (decay != T(0)) {
    if (options_.decoupled_weight_decay) scalars.shrink = T(1) - static_cast<T>(options_.learning_rate) * decay;
    else scalars.l2_decay = decay;
  }
  // One fused pass per parameter in the dispatched kernels (sbi/autodiff/kernels.hpp).
  const auto& kernel = ad::kernels::active<T>();
  for (auto* p : parameters_) {
    if (p->grad.size() != p->value.size())
      throw std::invalid_argument("BasicAdam::step: the gradient of '" + p->name + "' does not have its value's shape");
    kernel.adam_update(scalars, p->value.data(), p->grad.data(), p->state[0].data(), p->state[1].data(), p->value.size());
  }
}

template <class T>
void BasicAdam<T>::zero_grad() {
  for (auto* p : parameters_) p->grad.setZero();
}

template class BasicAdam<float>;
template class BasicAdam<double>;

}  // namespace sbi::optim
