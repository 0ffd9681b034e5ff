#include "sbi/nn/mlp.hpp"

#include "sbi/core/error.hpp"

#include <stdexcept>

namespace sbi::nn {

bool MlpOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (widths.size() < 2) return fail("widths needs at least an input and an output size");
  for (auto w : widths)
    if (w <= 0) return fail("every width must be positive");
  if (spectral_norm && !spectral.is_valid(why)) return false;
  return true;
}

nlohmann::json MlpOptions::to_json() const {
  return {{"widths", widths},
          {"activation", to_string(activation)},
          {"output_activation", to_string(output_activation)},
          {"residual", residual},
          {"spectral_norm", spectral_norm},
          {"spectral_bound", spectral.bound},
          {"power_iterations", spectral.power_iterations},
          {"spectral_epsilon", spectral.epsilon}};
}

MlpOptions MlpOptions::from_json(const nlohmann::json& j) {
  MlpOptions o;
  // Integers are checked as integers before conversion: a float like 1e300 converted to an integer
  // type is undefined behaviour, and these options may come from a damaged file.
  const auto integer = [&](const nlohmann::json& value, const char* what, std::int64_t high) {
    if (!value.is_number_integer() || value.get<std::int64_t>() < 1 || value.get<std::int64_t>() > high)
      throw InputError(std::string("MLP options: ") + what + ": expected an integer in [1, " + std::to_string(high) + "]");
    return value.get<std::int64_t>();
  };
  if (!j.is_object()) throw InputError("MLP options: expected an object");
  if (const auto w = j.find("widths"); w != j.end() && w->is_array())
    for (const auto& width : *w) integer(width, "widths", std::int64_t{1} << 40);
  if (const auto k = j.find("power_iterations"); k != j.end()) integer(*k, "power_iterations", 1000000);
  try {
    o.widths = j.at("widths").get<std::vector<Eigen::Index>>();
    o.activation = activation_from_string(j.at("activation").get<std::string>());
    o.output_activation = activation_from_string(j.value("output_activation", std::string("identity")));
    o.residual = j.value("residual", false);
    o.spectral_norm = j.value("spectral_norm", false);
    o.spectral.bound = j.value("spectral_bound", 1.0);
    o.spectral.power_iterations = j.value("power_iterations", 1);
    o.spectral.epsilon = j.value("spectral_epsilon", 1e-12);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("MLP options: ") + e.what());
  }
  std::string why;
  if (!o.is_valid(&why)) throw InputError("MLP options: " + why);
  return o;
}

template <class T>
BasicMlp<T>::BasicMlp(const MlpOptions& options, std::uint64_t seed) : options_(options) {
  std::string why;
  if (!options_.is_valid(&why)) throw std::invalid_argument("MlpOptions: " + why);
  const std::size_t count = options_.widths.size() - 1;
  layers_.reserve(count);
  for (std::size_t k = 0; k < count; ++k) {
    Rng rng = Rng::stream(seed, k);
    const Activation next = k + 1 == count ? options_.output_activation : options_.activation;
    layers_.emplace_back(options_.widths[k], options_.widths[k + 1], next, rng, "layer" + std::to_string(k));
    if (options_.spectral_norm) layers_.back().enable_spectral_norm(options_.spectral, rng);
  }
}

template <class T>
ad::Var<T> BasicMlp<T>::forward(ad::Var<T> x) {
  if (x.cols() != options_.widths.front())
    throw std::invalid_argument("BasicMlp::forward: expected " + std::to_string(options_.widths.front()) +
                                " input columns, got " + std::to_string(x.cols()));
  ad::Var<T> h = standardizer_.apply(x);
  const std::size_t count = layers_.size();
  for (std::size_t k = 0; k + 1 < count; ++k) {
    const ad::Var<T> a = apply(options_.activation, layers_[k].forward(h, training_));
    // The first layer changes the representation, so only later equal-width layers are residual.
    const bool skip = options_.residual && k > 0 && layers_[k].inputs() == layers_[k].outputs();
    h = skip ? ad::add(h, a) : a;
  }
  return apply(options_.output_activation, layers_.back().forward(h, training_));
}

template <class T>
ad::Matrix<T> BasicMlp<T>::predict(const ad::Matrix<T>& x) {
  auto scope = predict_tape_.scope();
  const bool was_training = training_;
  training_ = false;
  ad::Matrix<T> result = forward(predict_tape_.constant(x)).value();
  training_ = was_training;
  return result;
}

template <class T>
ad::Var<T> BasicMlp<T>::forward_constant(ad::Var<T> x) const {
  if (x.cols() != options_.widths.front())
    throw std::invalid_argument("BasicMlp::forward_constant: expected " + std::to_string(options_.widths.front()) +
                                " input columns, got " + std::to_string(x.cols()));
  ad::Var<T> h = standardizer_.apply(x);
  const std::size_t count = layers_.size();
  for (std::size_t k = 0; k + 1 < count; ++k) {
    const ad::Var<T> a = apply(options_.activation, layers_[k].forward_constant(h));
    const bool skip = options_.residual && k > 0 && layers_[k].inputs() == layers_[k].outputs();
    h = skip ? ad::add(h, a) : a;
  }
  return apply(options_.output_activation, layers_.back().forward_constant(h));
}

template <class T>
ad::Matrix<T> BasicMlp<T>::evaluate(const ad::Matrix<T>& x) const {
  if (x.cols() != options_.widths.front())
    throw std::invalid_argument("BasicMlp::evaluate: expected " + std::to_string(options_.widths.front()) +
                                " input columns, got " + std::to_string(x.cols()));
  ad::Tape<T> tape;
  return forward_constant(tape.constant(x)).value();
}

template <class T>
ParameterList<T> BasicMlp<T>::parameters() {
  ParameterList<T> list;
  for (auto& layer : layers_)
    for (auto* p : layer.parameters()) list.push_back(p);
  return list;
}

template <class T>
void BasicMlp<T>::zero_grad() {
  for (auto* p : parameters()) p->zero_grad();
}

template <class T>
void BasicMlp<T>::set_standardizer(BasicStandardizer<T> standardizer) {
  if (!standardizer.empty() && (standardizer.mean.cols() != options_.widths.front() ||
                                standardizer.sd.cols() != options_.widths.front()))
    throw std::invalid_argument("BasicMlp::set_standardizer: standardizer has the wrong number of columns");
  standardizer_ = std::move(standardizer);
}

template <class T>
void BasicMlp<T>::copy_weights_from(const BasicMlp& other) {
  if (other.options_.widths != options_.widths) throw std::invalid_argument("BasicMlp::copy_weights_from: the networks' widths differ");
  for (std::size_t k = 0; k < layers_.size(); ++k) {
    const auto& from = other.layers_[k];
    auto& to = layers_[k];
    to.weight().value = from.weight().value;
    to.bias().value = from.bias().value;
    const auto* from_sn = from.spectral_norm();
    auto* to_sn = to.spectral_norm();
    if ((from_sn == nullptr) != (to_sn == nullptr))
      throw std::invalid_argument("BasicMlp::copy_weights_from: one network has spectral normalisation, the other not");
    if (to_sn) to_sn->set_vectors(from_sn->u(), from_sn->v());
  }
  standardizer_ = other.standardizer_;
}

template class BasicMlp<float>;
template class BasicMlp<double>;

}  // namespace sbi::nn
