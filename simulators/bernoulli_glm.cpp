#include "simulators/bernoulli_glm.hpp"

#include "simulators/detail/common.hpp"


#include <array>
#include <cmath>

namespace sbi::simulators {

namespace {

constexpr std::size_t kLags = kBernoulliGlmParameters - 1;

// Generated from data/sbibm/bernoulli_glm/stimulus_I.csv (sbibm, MIT licence: the task's
// files/stimulus_I.pt, numpy RandomState(42).randn(100) cast to float32, printed with 9 significant
// digits), embedded so that installed copies of the library need no data files.
constexpr std::array<double, kBernoulliGlmSteps> kStimulus{
    0.496714145, -0.138264298, 0.647688568, 1.5230298, -0.234153375, -0.234136954, 1.57921278, 0.767434716,
    -0.469474375, 0.542560041, -0.463417679, -0.465729743, 0.241962269, -1.91328025, -1.72491789, -0.562287509,
    -1.01283109, 0.31424734, -0.908024073, -1.41230369, 1.46564877, -0.2257763, 0.0675282031, -1.42474818,
    -0.544382751, 0.11092259, -1.15099359, 0.37569803, -0.600638688, -0.291693747, -0.601706624, 1.85227823,
    -0.013497225, -1.05771089, 0.822544932, -1.22084367, 0.208863601, -1.95967007, -1.32818604, 0.196861237,
    0.738466561, 0.171368286, -0.115648285, -0.301103681, -1.47852194, -0.719844222, -0.460638762, 1.05712223,
    0.343618304, -1.76304018, 0.324083984, -0.385082275, -0.676922023, 0.611676276, 1.03099954, 0.931280136,
    -0.839217544, -0.309212387, 0.331263423, 0.975545108, -0.479174227, -0.185658976, -1.10633492, -1.19620657,
    0.812525809, 1.35624003, -0.0720101222, 1.00353289, 0.361636013, -0.645119727, 0.361395597, 1.53803658,
    -0.0358260386, 1.56464362, -2.61974502, 0.821902514, 0.0870470703, -0.299007356, 0.0917607769, -1.98756886,
    -0.21967189, 0.357112557, 1.47789407, -0.518270195, -0.808493614, -0.501757026, 0.915402114, 0.328751117,
    -0.529760182, 0.513267457, 0.0970775485, 0.968644977, -0.70205307, -0.32766214, -0.392108142, -1.46351492,
    0.296120286, 0.261055261, 0.00511345686, -0.234587133,};

}  // namespace

BernoulliGlmOptions BernoulliGlmOptions::from_json(const nlohmann::json& options, const std::string& path) {
  JsonObjectReader reader(options, path);
  BernoulliGlmOptions o;
  o.raw = reader.optional_bool("raw", o.raw);
  reader.reject_unknown_keys();
  return o;
}

nlohmann::json BernoulliGlmOptions::to_json() const { return {{"raw", raw}}; }

std::span<const double, kBernoulliGlmSteps> bernoulli_glm_stimulus() { return kStimulus; }

Matrix bernoulli_glm_design_matrix() {
  Matrix x = Matrix::Zero(kBernoulliGlmSteps, kBernoulliGlmParameters);
  for (std::size_t t = 0; t < kBernoulliGlmSteps; ++t) {
    x(static_cast<Eigen::Index>(t), 0) = 1.0;
    for (std::size_t j = 0; j < kLags && j <= t; ++j)
      x(static_cast<Eigen::Index>(t), static_cast<Eigen::Index>(j + 1)) = kStimulus[t - j];
  }
  return x;
}

void bernoulli_glm_summary(std::span<const double> spikes, MutableRow out) {
  if (spikes.size() != kBernoulliGlmSteps || out.size() != kBernoulliGlmParameters)
    throw InputError("bernoulli_glm_summary: expected 100 spikes and 10 outputs, got " + std::to_string(spikes.size()) +
                     " and " + std::to_string(out.size()));
  std::fill(out.begin(), out.end(), 0.0);
  for (std::size_t t = 0; t < kBernoulliGlmSteps; ++t) {
    const double y = spikes[t];
    out[0] += y;
    for (std::size_t j = 0; j < kLags && j <= t; ++j) out[j + 1] += y * kStimulus[t - j];
  }
}

namespace {
// F = D D + diag(sqrt(i/9)), D = I − (ones on the first sub-diagonal): lower triangular, 9 × 9.
Matrix filter_factor() {
  constexpr auto m = static_cast<Eigen::Index>(kLags);
  Matrix d = Matrix::Identity(m, m);
  for (Eigen::Index i = 1; i < m; ++i) d(i, i - 1) = -1.0;
  Matrix f = d * d;
  for (Eigen::Index i = 0; i < m; ++i) f(i, i) += std::sqrt(static_cast<double>(i) / static_cast<double>(m));
  return f;
}
}  // namespace

Matrix bernoulli_glm_prior_precision() {
  constexpr auto m = static_cast<Eigen::Index>(kLags);
  const Matrix f = filter_factor();
  Matrix p = Matrix::Zero(m + 1, m + 1);
  p(0, 0) = 0.5;
  p.bottomRightCorner(m, m) = f.transpose() * f;
  return p;
}

PriorPtr bernoulli_glm_prior() {
  // P = diag(0.5, FᵀF) with F lower triangular, so P⁻¹ = diag(2, F⁻¹F⁻ᵀ): a triangular solve is more
  // accurate than inverting P and gives an exactly symmetric matrix.
  const Matrix precision = bernoulli_glm_prior_precision();
  constexpr auto m = static_cast<Eigen::Index>(kLags);
  const Matrix f = filter_factor();
  const Matrix f_inv = f.triangularView<Eigen::Lower>().solve(Matrix::Identity(m, m));
  Matrix cov = Matrix::Zero(m + 1, m + 1);
  cov(0, 0) = 1.0 / precision(0, 0);
  cov.bottomRightCorner(m, m) = f_inv * f_inv.transpose();
  cov = (0.5 * (cov + cov.transpose())).eval();  // exactly symmetric whatever the product kernel did
  return std::make_shared<NormalPrior>(Vector::Zero(m + 1), cov, detail::numbered_names("theta", kBernoulliGlmParameters));
}

Simulator make_bernoulli_glm(const BernoulliGlmOptions& options) {
  SimulatorInfo info;
  info.name = "bernoulli_glm";
  info.parameter_names = detail::numbered_names("theta", kBernoulliGlmParameters);
  info.data_names = detail::numbered_names("data", options.raw ? kBernoulliGlmSteps : kBernoulliGlmParameters);
  info.options = options.to_json();
  return make_simulator(std::move(info), [raw = options.raw](ConstRow theta, MutableRow y, Rng& rng) {
    if (theta.size() != kBernoulliGlmParameters)
      throw SimulationError("bernoulli_glm: expected 10 parameters, got " + std::to_string(theta.size()));
    if (!raw) std::fill(y.begin(), y.end(), 0.0);
    for (std::size_t t = 0; t < kBernoulliGlmSteps; ++t) {
      double psi = theta[0];
      for (std::size_t j = 0; j < kLags && j <= t; ++j) psi += theta[j + 1] * kStimulus[t - j];
      // P(spike) = σ(ψ); compare in a form that does not overflow for large |ψ|.
      const double p = psi >= 0 ? 1.0 / (1.0 + std::exp(-psi)) : std::exp(psi) / (1.0 + std::exp(psi));
      const double spike = rng.uniform() < p ? 1.0 : 0.0;
      if (raw) {
        y[t] = spike;
      } else if (spike != 0.0) {
        y[0] += 1.0;
        for (std::size_t j = 0; j < kLags && j <= t; ++j) y[j + 1] += kStimulus[t - j];
      }
    }
    return true;
  });
}

}  // namespace sbi::simulators
