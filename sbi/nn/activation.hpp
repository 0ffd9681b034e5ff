#pragma once
// Activation functions by name, for building networks from options and files.
#include "sbi/autodiff/ops.hpp"

#include <string>

namespace sbi::nn {

enum class Activation { identity, relu, leaky_relu, elu, tanh, sigmoid, softplus };

// "identity", "relu", "leaky_relu", "elu", "tanh", "sigmoid", "softplus".
std::string to_string(Activation activation);
// Throws sbi::InputError naming the accepted values.
Activation activation_from_string(const std::string& name);

// ReLU family: He initialisation; the rest: Xavier/Glorot.
bool is_relu_family(Activation activation);

template <class T>
ad::Var<T> apply(Activation activation, ad::Var<T> x) {
  switch (activation) {
    case Activation::identity: return x;
    case Activation::relu: return ad::relu(x);
    case Activation::leaky_relu: return ad::leaky_relu(x, T(0.01));  // PyTorch's default slope
    case Activation::elu: return ad::elu(x, T(1));
    case Activation::tanh: return ad::tanh(x);
    case Activation::sigmoid: return ad::sigmoid(x);
    case Activation::softplus: return ad::softplus(x);
  }
  return x;
}

}  // namespace sbi::nn
