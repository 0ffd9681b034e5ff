#include "sbi/priors/prior.hpp"

#include "sbi/core/error.hpp"

#include <Eigen/LU>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>

using namespace sbi;

namespace {

// Composite Simpson rule on [a, b] with n (even) intervals.
template <class F>
double simpson(F f, double a, double b, int n) {
  const double h = (b - a) / n;
  double s = f(a) + f(b);
  for (int i = 1; i < n; ++i) s += f(a + i * h) * (i % 2 ? 4.0 : 2.0);
  return s * h / 3.0;
}

double density_1d(const Prior& p, double x) { return std::exp(p.log_prob(ConstRow(&x, 1))); }

// Sample mean and variance per coordinate from n draws.
std::pair<Vector, Vector> sample_moments(const Prior& prior, Eigen::Index n, std::uint64_t seed) {
  Rng rng(seed);
  const RowMatrix s = prior.sample_batch(rng, n);
  const Vector mean = s.colwise().mean().transpose();
  const Vector var = ((s.rowwise() - mean.transpose()).array().square().colwise().sum() / static_cast<double>(n - 1)).transpose();
  return {mean, var};
}

}  // namespace

TEST_CASE("uniform, normal and log-normal densities integrate to one", "[priors]") {
  UniformPrior uniform(Vector::Constant(1, -1.0), Vector::Constant(1, 3.0));
  NormalPrior normal = NormalPrior::diagonal(Vector::Constant(1, 0.5), Vector::Constant(1, 2.0));
  LogNormalPrior lognormal(Vector::Constant(1, -0.125), Vector::Constant(1, 0.5));
  // Simpson's error for these smooth densities over ±12 sd with 20,000 intervals is far below 1e-6;
  // the uniform's kinks sit on the interval ends.
  CHECK(simpson([&](double x) { return density_1d(uniform, x); }, -1.0, 3.0, 2000) == Approx(1.0).epsilon(1e-9));
  CHECK(simpson([&](double x) { return density_1d(normal, x); }, 0.5 - 24, 0.5 + 24, 20000) == Approx(1.0).epsilon(1e-6));
  CHECK(simpson([&](double x) { return x > 0 ? density_1d(lognormal, x) : 0.0; }, 1e-12, 60.0, 200000) ==
        Approx(1.0).epsilon(1e-6));
}

TEST_CASE("sample moments match the distributions", "[priors]") {
  const Eigen::Index n = 200000;
  // Tolerance: 5 standard errors of the mean (sd/√n) and of the variance (≈ var·√(κ−1)/√n).
  SECTION("uniform") {
    UniformPrior p(Vector::Constant(2, -1.0), Vector::Constant(2, 3.0));
    auto [mean, var] = sample_moments(p, n, 11);
    const double true_var = 16.0 / 12.0;
    for (int i = 0; i < 2; ++i) {
      CHECK(std::abs(mean[i] - 1.0) < 5 * std::sqrt(true_var / n));
      CHECK(std::abs(var[i] - true_var) < 5 * true_var * std::sqrt(0.8 / n));  // excess kurtosis −1.2
    }
  }
  SECTION("full-covariance normal") {
    Matrix cov(2, 2);
    cov << 2.0, 0.8, 0.8, 1.0;
    NormalPrior p(Vector::Constant(2, 1.0), cov);
    CHECK_FALSE(p.is_diagonal());
    Rng rng(12);
    const RowMatrix s = p.sample_batch(rng, n);
    const Vector mean = s.colwise().mean().transpose();
    const RowMatrix centred = s.rowwise() - mean.transpose();
    const Matrix sample_cov = centred.transpose() * centred / static_cast<double>(n - 1);
    for (int i = 0; i < 2; ++i) CHECK(std::abs(mean[i] - 1.0) < 5 * std::sqrt(cov(i, i) / n));
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j)  // Var of a sample covariance entry = (σ_ii σ_jj + σ_ij²)/n
        CHECK(std::abs(sample_cov(i, j) - cov(i, j)) < 5 * std::sqrt((cov(i, i) * cov(j, j) + cov(i, j) * cov(i, j)) / n));
  }
  SECTION("log-normal") {
    const double mu = -0.125, sigma = 0.5;
    LogNormalPrior p(Vector::Constant(1, mu), Vector::Constant(1, sigma));
    auto [mean, var] = sample_moments(p, n, 13);
    const double true_mean = std::exp(mu + sigma * sigma / 2);
    const double true_var = (std::exp(sigma * sigma) - 1) * std::exp(2 * mu + sigma * sigma);
    CHECK(std::abs(mean[0] - true_mean) < 5 * std::sqrt(true_var / n));
    CHECK(std::abs(var[0] - true_var) < 0.05 * true_var);  // heavy tail: sampling sd of var ≈ 1 %
  }
}

TEST_CASE("full-covariance normal log-density matches the closed form", "[priors]") {
  const Matrix cov{{2.0, 0.8}, {0.8, 1.0}};
  NormalPrior p(Vector::Constant(2, 1.0), cov);
  const double x[2] = {0.3, 2.0};
  const Eigen::Vector2d d(x[0] - 1.0, x[1] - 1.0);
  const double expected = -std::log(2 * M_PI) - 0.5 * std::log(cov.determinant()) - 0.5 * d.dot(cov.inverse() * d);
  CHECK(p.log_prob(ConstRow(x, 2)) == Approx(expected).epsilon(1e-12));
}

TEST_CASE("bijections round-trip and their Jacobians match finite differences", "[priors]") {
  std::vector<ElementTransform> transforms = {
      {ElementTransform::Kind::identity}, {ElementTransform::Kind::exp}, {ElementTransform::Kind::interval, -3.0, 2.0}};
  for (const auto& t : transforms) {
    for (double u : {-4.0, -0.7, 0.0, 0.3, 2.5}) {
      const double theta = t.to_constrained(u);
      CHECK(t.to_unconstrained(theta) == Approx(u).epsilon(1e-10).margin(1e-12));
      const double h = 1e-6;
      const double numeric = (t.to_constrained(u + h) - t.to_constrained(u - h)) / (2 * h);
      // Central differences: truncation O(h²) ≈ 1e-12, rounding ≈ ε/h ≈ 1e-10.
      CHECK(t.log_abs_det_jacobian(u) == Approx(std::log(std::abs(numeric))).epsilon(1e-7).margin(1e-8));
    }
  }
  SECTION("interval transform stays strictly inside the box at extreme inputs") {
    const ElementTransform t{ElementTransform::Kind::interval, -1.0, 1.0};
    CHECK(t.to_constrained(800.0) < 1.0);
    CHECK(t.to_constrained(-800.0) > -1.0);
  }
}

TEST_CASE("change of variables: log π(θ) + log|J| integrates to one in unconstrained space", "[priors]") {
  auto check = [](const Prior& p, double lo, double hi) {
    const auto t = p.transforms()[0];
    auto integrand = [&](double u) {
      const double theta = t.to_constrained(u);
      return std::exp(p.log_prob(ConstRow(&theta, 1)) + t.log_abs_det_jacobian(u));
    };
    CHECK(simpson(integrand, lo, hi, 40000) == Approx(1.0).epsilon(1e-5));
  };
  check(UniformPrior(Vector::Constant(1, -2.0), Vector::Constant(1, 5.0)), -40, 40);
  check(LogNormalPrior(Vector::Constant(1, 0.3), Vector::Constant(1, 0.7)), -12, 12);
}

TEST_CASE("support checks", "[priors]") {
  UniformPrior u(Vector::Constant(1, 0.0), Vector::Constant(1, 1.0));
  const double inside = 0.5, outside = 1.5, nan = std::nan("");
  CHECK(u.in_support(ConstRow(&inside, 1)));
  CHECK_FALSE(u.in_support(ConstRow(&outside, 1)));
  CHECK_FALSE(u.in_support(ConstRow(&nan, 1)));
  CHECK(std::isinf(u.log_prob(ConstRow(&outside, 1))));
  LogNormalPrior l(Vector::Constant(1, 0.0), Vector::Constant(1, 1.0));
  const double negative = -0.1;
  CHECK_FALSE(l.in_support(ConstRow(&negative, 1)));
}

TEST_CASE("priors from the spec's JSON, with errors that name the path", "[priors][spec]") {
  const auto spec = nlohmann::json::parse(R"([
    {"name": "alpha", "dist": "lognormal", "mu": -0.125, "sigma": 0.5},
    {"name": "x", "dist": "uniform", "low": -1, "high": 1},
    {"name": "z", "dist": "normal", "mu": 0, "sigma": 1},
    {"dist": "mvnormal", "names": ["a", "b"], "mean": [0, 1], "cov": [[1, 0.5], [0.5, 2]]}])");
  const PriorPtr prior = prior_from_json(spec);
  REQUIRE(prior->dim() == 5);
  CHECK(prior->names() == Names{"alpha", "x", "z", "a", "b"});
  const auto t = prior->transforms();
  CHECK(t[0].kind == ElementTransform::Kind::exp);
  CHECK(t[1].kind == ElementTransform::Kind::interval);
  CHECK(t[2].kind == ElementTransform::Kind::identity);
  // Round trip through to_json.
  const PriorPtr again = prior_from_json(prior->to_json());
  Rng rng(3);
  const RowMatrix s = prior->sample_batch(rng, 5);
  for (Eigen::Index r = 0; r < 5; ++r) CHECK(again->log_prob(row_span(s, r)) == Approx(prior->log_prob(row_span(s, r))));

  auto error_of = [](const char* text) {
    try {
      prior_from_json(nlohmann::json::parse(text));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of(R"([{"name": "a", "dist": "normal", "mu": 0, "sigma": 1}, {"name": "b", "dist": "uniform", "low": 0, "high": 1},
                     {"name": "c", "dist": "lognormal", "mu": 0, "sigma": -1}])") ==
        "prior[2].sigma: expected a positive number, got -1");
  CHECK(error_of(R"([{"name": "a", "dist": "gamma"}])") ==
        "prior[0].dist: expected one of \"uniform\", \"normal\", \"lognormal\" or \"mvnormal\", got \"gamma\"");
  CHECK(error_of(R"([{"name": "a", "dist": "normal", "mu": 0, "sigma": 1, "sgima": 2}])").rfind("prior[0].sgima: unknown key", 0) == 0);
  CHECK(error_of(R"([{"name": "a", "dist": "uniform", "low": 1, "high": 0}])") ==
        "prior[0].high: expected a number greater than low (1), got 0");
  CHECK(error_of(R"([{"name": "a", "dist": "normal", "mu": 0, "sigma": 1}, {"name": "a", "dist": "normal", "mu": 0, "sigma": 1}])") ==
        "prior[1].name: duplicate parameter name \"a\"");
  CHECK(error_of(R"([{"dist": "mvnormal", "names": ["a", "b"], "mean": [0, 1], "cov": [[1, 2], [2, 1]]}])") ==
        "prior[0].cov: covariance is not positive definite");
  CHECK(error_of(R"({"name": "a"})") == "prior: expected a non-empty list of parameters, got an object");
}
