#include "sbi/optim/sgd.hpp"

#include <stdexcept>

namespace sbi::optim {

bool SgdOptions::is_valid(std::string* why) const {
  auto fail = [&](const char* message) {
    if (why) *why = message;
    return false;
  };
  if (!(learning_rate >= 0)) return fail("learning_rate must be >= 0");
  if (!(momentum >= 0 && momentum < 1)) return fail("momentum must be in [0, 1)");
  if (!(weight_decay >= 0)) return fail("weight_decay must be >= 0");
  return true;
}

template <class T>
BasicSgd<T>::BasicSgd(nn::ParameterList<T> parameters, SgdOptions options)
    : parameters_(std::move(parameters)), options_(options) {
  std::string why;
  if (!options_.is_valid(&why)) throw std::invalid_argument("SgdOptions: " + why);
  for (auto* p : parameters_) {
    if (p->state.empty()) p->state.resize(1);
    if (p->state[0].rows() != p->value.rows() || p->state[0].cols() != p->value.cols())
      p->state[0].setZero(p->value.rows(), p->value.cols());
    if (p->grad.rows() != p->value.rows() || p->grad.cols() != p->value.cols()) p->zero_grad();
  }
}

template <class T>
void BasicSgd<T>::step() {
  const T lr = static_cast<T>(options_.learning_rate);
  const T mu = static_cast<T>(options_.momentum);
  const T decay = static_cast<T>(options_.weight_decay);
  for (auto* p : parameters_) {
    auto g = p->grad.array();
    if (decay != T(0)) g += decay * p->value.array();
    if (mu != T(0)) {
      auto b = p->state[0].array();
      b = mu * b + g;
      p->value.array() -= lr * b;
    } else {
      p->value.array() -= lr * g;
    }
  }
}

template <class T>
void BasicSgd<T>::zero_grad() {
  for (auto* p : parameters_) p->grad.setZero();
}

template class BasicSgd<float>;
template class BasicSgd<double>;

}  // namespace sbi::optim
