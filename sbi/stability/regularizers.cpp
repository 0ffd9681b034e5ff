#include "sbi/stability/regularizers.hpp"

#include "sbi/core/error.hpp"

#include <Eigen/Cholesky>

#include <cmath>
#include <numbers>

namespace sbi::stability {

double per_layer_spectral_bound(double network_bound, int layers) {
  if (!(network_bound > 0) || !std::isfinite(network_bound)) throw InputError("spectral bound: the network's Lipschitz bound α must be a positive number");
  if (layers < 1) throw InputError("spectral bound: the network needs at least one layer");
  return std::pow(network_bound, 1.0 / layers);
}

void apply_spectral_normalization(nn::MlpOptions& options, double network_bound, int power_iterations) {
  if (options.widths.size() < 2) throw InputError("spectral normalisation: the network has no layers");
  if (options.residual) throw InputError("spectral normalisation with a network bound: residual connections break the product bound (1 + α per block)");
  for (auto a : {options.activation, options.output_activation})
    if (a != nn::Activation::identity && a != nn::Activation::relu && a != nn::Activation::leaky_relu && a != nn::Activation::elu &&
        a != nn::Activation::tanh && a != nn::Activation::softplus && a != nn::Activation::sigmoid)
      throw InputError("spectral normalisation: activation " + nn::to_string(a) + " is not 1-Lipschitz");
  options.spectral_norm = true;
  options.spectral.bound = per_layer_spectral_bound(network_bound, static_cast<int>(options.widths.size()) - 1);
  options.spectral.power_iterations = power_iterations;
}

std::string to_string(GradientPenaltyMode mode) {
  switch (mode) {
    case GradientPenaltyMode::zero_centred: return "zero_centred";
    case GradientPenaltyMode::two_sided: return "two_sided";
    case GradientPenaltyMode::one_sided: return "one_sided";
  }
  return "zero_centred";
}

GradientPenaltyMode gradient_penalty_mode_from_string(const std::string& name) {
  if (name == "zero_centred") return GradientPenaltyMode::zero_centred;
  if (name == "two_sided") return GradientPenaltyMode::two_sided;
  if (name == "one_sided") return GradientPenaltyMode::one_sided;
  throw InputError("gradient penalty mode: expected \"zero_centred\", \"two_sided\" or \"one_sided\", got \"" + name + "\"");
}

template <class T>
ad::Matrix<T> interpolate_rows(const ad::Matrix<T>& real, const ad::Matrix<T>& fake, Rng& rng) {
  if (real.rows() != fake.rows() || real.cols() != fake.cols()) throw InputError("interpolate_rows: the two sets have different shapes");
  ad::Matrix<T> out(real.rows(), real.cols());
  for (Eigen::Index r = 0; r < real.rows(); ++r) {
    const T e = static_cast<T>(rng.uniform());
    out.row(r) = e * real.row(r) + (T(1) - e) * fake.row(r);
  }
  return out;
}

RowMatrix gaussian_kernel_matrix(const RowMatrix& x, const RowMatrix& y) {
  if (x.cols() != y.cols()) throw InputError("gaussian_kernel_matrix: the point sets have different dimensions");
  const Vector xx = x.rowwise().squaredNorm(), yy = y.rowwise().squaredNorm();
  RowMatrix d2 = (-2.0 * x * y.transpose()).eval();
  d2.colwise() += xx;
  d2.rowwise() += yy.transpose();
  return (-std::numbers::pi * d2.array().max(0.0)).exp().matrix();
}

RowMatrix rkhs_support_precision(const RowMatrix& support, double jitter) {
  if (!(jitter > 0)) throw InputError("RKHS penalty: the jitter ε must be positive");
  RowMatrix k = gaussian_kernel_matrix(support, support);
  k.diagonal().array() += jitter;
  Eigen::LLT<Eigen::MatrixXd> llt(k);
  if (llt.info() != Eigen::Success) throw InputError("RKHS penalty: the kernel matrix of the support set is not positive definite");
  return llt.solve(Eigen::MatrixXd::Identity(k.rows(), k.cols()));
}

double rkhs_norm_squared_on_support(const RowMatrix& support, const Vector& values, double jitter) {
  if (values.size() != support.rows()) throw InputError("RKHS norm: one value per support point is needed");
  RowMatrix k = gaussian_kernel_matrix(support, support);
  k.diagonal().array() += jitter;
  Eigen::LLT<Eigen::MatrixXd> llt(k);
  if (llt.info() != Eigen::Success) throw InputError("RKHS norm: the kernel matrix of the support set is not positive definite");
  return values.dot(llt.solve(values));
}

template <class T>
ad::Var<T> rkhs_penalty(ad::Var<T> values, const ad::Matrix<T>& precision) {
  if (values.cols() != 1 || values.rows() != precision.rows() || precision.rows() != precision.cols())
    throw InputError("RKHS penalty: expected one value per support point and a square precision matrix");
  auto& tape = values.tape();
  return ad::sum(ad::mul(values, ad::matmul(tape.constant(precision), values)));
}

double rkhs_norm_squared_of_expansion(const RowMatrix& centres, const Vector& coefficients) {
  if (coefficients.size() != centres.rows()) throw InputError("RKHS norm: one coefficient per centre is needed");
  return coefficients.dot(gaussian_kernel_matrix(centres, centres) * coefficients);
}

template ad::Matrix<float> interpolate_rows(const ad::Matrix<float>&, const ad::Matrix<float>&, Rng&);
template ad::Matrix<double> interpolate_rows(const ad::Matrix<double>&, const ad::Matrix<double>&, Rng&);
template ad::Var<float> rkhs_penalty(ad::Var<float>, const ad::Matrix<float>&);
template ad::Var<double> rkhs_penalty(ad::Var<double>, const ad::Matrix<double>&);

}  // namespace sbi::stability
