#pragma once
// A trainable tensor: its value, the gradient that backward() accumulates into, and the state an
// optimiser keeps for it (Adam's moments, SGD's velocity), so that optimisers stay stateless about
// which parameter is which.
#include "sbi/autodiff/tape.hpp"

#include <string>
#include <vector>

namespace sbi::nn {

template <class T>
struct BasicParameter {
  ad::Matrix<T> value;
  ad::Matrix<T> grad;                     // same shape as value once used
  std::vector<ad::Matrix<T>> state;       // optimiser slots, created by the optimiser
  std::string name;                       // "layer0.weight": used in files and messages

  // The parameter as a leaf of `tape`; backward() adds into `grad`.
  ad::Var<T> on(ad::Tape<T>& tape) {
    if (grad.rows() != value.rows() || grad.cols() != value.cols()) grad.setZero(value.rows(), value.cols());
    return tape.parameter(value, grad);
  }
  void zero_grad() { grad.setZero(value.rows(), value.cols()); }
};

template <class T>
using ParameterList = std::vector<BasicParameter<T>*>;

using Parameter = BasicParameter<float>;

// Zero the gradients of every parameter in the list.
template <class T>
void zero_grad(const ParameterList<T>& parameters) {
  for (auto* p : parameters) p->zero_grad();
}

}  // namespace sbi::nn
