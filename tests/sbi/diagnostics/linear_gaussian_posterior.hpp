#pragma once
// A posterior with a known answer for the calibration tests (and bench/calibration): the linear-
// Gaussian model
//
//   θ ~ N(m0, S0) (d = 2),   y = A θ + ε,  ε ~ N(0, Se) (3 data values),
//
// whose posterior is Gaussian in closed form (conjugate prior):
//
//   Σ = (S0⁻¹ + Aᵀ Se⁻¹ A)⁻¹,   μ(y) = Σ (S0⁻¹ m0 + Aᵀ Se⁻¹ y).
//
// LinearGaussianPosterior is that posterior as an sbi::PosteriorModel, optionally mis-specified: its
// covariance scaled by scale² (scale 0.5: over-confident, 2: under-confident), its mean shifted by
// `shift` posterior sds along θ_1 (biased), and with or without log_prob.
//
// Known coverage: θ* − μ ~ N(0, Σ) and the c-HPD region of N(μ, s²Σ) is {(θ−μ)ᵀ(s²Σ)⁻¹(θ−μ) ≤ χ²₂(c)}
// with χ²₂(c) = −2 ln(1 − c), so the HPD coverage is P(χ²₂ ≤ s² χ²₂(c)) = 1 − (1 − c)^(s²); the
// central interval of one parameter covers 2Φ(s·z_{(1+c)/2}) − 1.
#include "sbi/core/error.hpp"
#include "sbi/inference/posterior.hpp"
#include "sbi/random/rng.hpp"
#include "sbi/simulation/simulator.hpp"

#include <Eigen/Cholesky>
#include <Eigen/LU>

#include <cmath>
#include <memory>
#include <numbers>

namespace sbi::testing {

struct LinearGaussianModel {
  Vector m0{{0.5, -1.0}};
  Matrix S0{{1.0, 0.3}, {0.3, 0.5}};
  Matrix A{{1.0, 0.5}, {-0.4, 1.2}, {0.7, 0.0}};
  Matrix Se{{0.25, 0.0, 0.0}, {0.0, 0.36, 0.05}, {0.0, 0.05, 0.16}};

  Names parameter_names() const { return {"theta1", "theta2"}; }
  Names data_names() const { return {"y1", "y2", "y3"}; }
  PriorPtr prior() const { return std::make_shared<NormalPrior>(m0, S0, parameter_names()); }
  Matrix posterior_cov() const { return (S0.inverse() + A.transpose() * Se.inverse() * A).inverse(); }
  Vector posterior_mean(const Vector& y) const {
    return posterior_cov() * (S0.inverse() * m0 + A.transpose() * Se.inverse() * y);
  }
  Simulator simulator() const {
    const Matrix noise = Se.llt().matrixL();
    const Matrix a = A;
    return make_simulator(SimulatorInfo{.name = "linear_gaussian", .parameter_names = parameter_names(), .data_names = data_names()},
                          [a, noise](ConstRow theta, MutableRow y, Rng& rng) {
                            const Eigen::Map<const Vector> t(theta.data(), static_cast<Eigen::Index>(theta.size()));
                            Vector z(noise.rows());
                            for (Eigen::Index k = 0; k < z.size(); ++k) z[k] = rng.normal();
                            Eigen::Map<Vector>(y.data(), static_cast<Eigen::Index>(y.size())) = a * t + noise * z;
                          });
  }
};

class LinearGaussianPosterior final : public PosteriorModel {
 public:
  struct Settings {
    double scale = 1.0;      // posterior sd multiplied by this
    double shift = 0.0;      // mean moved by this many posterior sds of θ_1, along θ_1
    bool has_log_prob = true;
    bool amortized = true;
  };

  LinearGaussianPosterior(LinearGaussianModel model, Settings settings) : model_(std::move(model)), settings_(settings) {
    prior_ = model_.prior();
    cov_ = model_.posterior_cov();
    chol_ = cov_.llt().matrixL();
    chol_ *= settings_.scale;
    chol_inverse_ = chol_.inverse();
    log_normaliser_ = -chol_.diagonal().array().log().sum() - 0.5 * static_cast<double>(cov_.rows()) * std::log(2.0 * std::numbers::pi);
    info_.kind = "linear_gaussian_test";
    info_.method = settings_.scale == 1.0 && settings_.shift == 0.0 ? "exact" : "mis-specified";
    info_.amortized = settings_.amortized;
    if (!settings_.amortized) info_.observation = Vector::Zero(3);
    info_.has_log_prob = settings_.has_log_prob;
    info_.log_prob_normalized = true;
    names_ = model_.parameter_names();
    data_names_ = model_.data_names();
  }

  static Posterior make(const LinearGaussianModel& model, Settings settings) {
    return Posterior(std::make_shared<LinearGaussianPosterior>(model, settings));
  }

  const PosteriorInfo& info() const override { return info_; }
  const Names& parameter_names() const override { return names_; }
  const Names& data_names() const override { return data_names_; }
  const Prior& prior() const override { return *prior_; }
  PriorPtr prior_ptr() const override { return prior_; }

  Vector mean(const Vector& y) const {
    Vector mu = model_.posterior_mean(y);
    mu[0] += settings_.shift * std::sqrt(cov_(0, 0));
    return mu;
  }

  RowMatrix sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const override {
    if (!info_.amortized && observation != *info_.observation)
      throw InputError("linear_gaussian_test: made for one observation only");
    const Vector mu = mean(observation);
    Rng rng(seed);
    RowMatrix z(n, mu.size());
    for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = rng.normal();
    RowMatrix theta = z * chol_.transpose();
    theta.rowwise() += mu.transpose();
    return theta;
  }

  Vector log_prob(const RowMatrix& theta, const Vector& observation) const override {
    const Vector mu = mean(observation);
    const Matrix centred = (theta.rowwise() - mu.transpose()).transpose();
    const Matrix white = chol_inverse_ * centred;
    return (-0.5 * white.colwise().squaredNorm().array() + log_normaliser_).matrix().transpose();
  }

  nlohmann::json save_state(const std::filesystem::path&, std::vector<std::string>&) const override {
    return {{"scale", settings_.scale}, {"shift", settings_.shift}};
  }

 private:
  LinearGaussianModel model_;
  Settings settings_;
  PriorPtr prior_;
  Matrix cov_, chol_, chol_inverse_;
  double log_normaliser_ = 0;
  PosteriorInfo info_;
  Names names_, data_names_;
};

}  // namespace sbi::testing
