#include "sbi/nn/activation.hpp"

#include "sbi/core/error.hpp"

#include <array>
#include <utility>

namespace sbi::nn {
namespace {
constexpr std::array<std::pair<Activation, const char*>, 7> kNames{{
    {Activation::identity, "identity"},
    {Activation::relu, "relu"},
    {Activation::leaky_relu, "leaky_relu"},
    {Activation::elu, "elu"},
    {Activation::tanh, "tanh"},
    {Activation::sigmoid, "sigmoid"},
    {Activation::softplus, "softplus"},
}};
}  // namespace

std::string to_string(Activation activation) {
  for (const auto& [value, name] : kNames)
    if (value == activation) return name;
  return "unknown";
}

Activation activation_from_string(const std::string& name) {
  for (const auto& [value, known] : kNames)
    if (name == known) return value;
  throw InputError("unknown activation '" + name +
                   "' (expected identity, relu, leaky_relu, elu, tanh, sigmoid or softplus)");
}

bool is_relu_family(Activation activation) {
  return activation == Activation::relu || activation == Activation::leaky_relu || activation == Activation::elu;
}

}  // namespace sbi::nn
