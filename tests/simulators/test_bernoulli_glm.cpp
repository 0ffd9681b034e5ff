#include "simulators/bernoulli_glm.hpp"
#include "test_support.hpp"

#include <Eigen/LU>

#include <cmath>

using namespace sbi;
using namespace sbi::simulators;

TEST_CASE("bernoulli_glm: the embedded stimulus equals stimulus_I.csv", "[simulators][bernoulli_glm]") {
  const auto csv = test::read_csv_column("data/sbibm/bernoulli_glm/stimulus_I.csv");
  const auto stimulus = bernoulli_glm_stimulus();
  REQUIRE(csv.size() == stimulus.size());
  for (std::size_t t = 0; t < csv.size(); ++t) CHECK(stimulus[t] == csv[t]);
}

TEST_CASE("bernoulli_glm: the summary Xᵀy of the raw spikes reproduces sbibm's observations", "[simulators][bernoulli_glm]") {
  const Matrix x = bernoulli_glm_design_matrix();
  REQUIRE(x.rows() == 100);
  REQUIRE(x.cols() == 10);
  CHECK(x(5, 0) == 1.0);
  CHECK(x(3, 4) == bernoulli_glm_stimulus()[0]);  // lag 3 at t = 3
  CHECK(x(2, 4) == 0.0);                          // before the stimulus starts
  for (int k = 1; k <= 5; ++k) {
    const std::string dir = "data/sbibm/bernoulli_glm/obs_" + std::to_string(k) + "/";
    const auto raw = test::read_csv_row(dir + "observation_raw.csv").values;
    const auto observed = test::read_csv_row(dir + "observation.csv").values;
    REQUIRE(raw.size() == 100);
    std::vector<double> summary(10);
    bernoulli_glm_summary(raw, summary);
    const Vector by_matrix = x.transpose() * Eigen::Map<const Vector>(raw.data(), 100);
    for (std::size_t j = 0; j < 10; ++j) {
      INFO("observation " << k << ", entry " << j);
      // observation.csv holds float32 values printed with ~8 digits.
      CHECK(summary[j] == Approx(observed[j]).epsilon(1e-5).margin(1e-5));
      CHECK(summary[j] == Approx(by_matrix[static_cast<Eigen::Index>(j)]).epsilon(1e-12).margin(1e-12));
    }
  }
}

TEST_CASE("bernoulli_glm: prior N(0, P⁻¹) with sbibm's precision", "[simulators][bernoulli_glm]") {
  const Matrix p = bernoulli_glm_prior_precision();
  CHECK(p(0, 0) == 0.5);
  CHECK(p.row(0).tail(9).isZero());
  // F = DD + diag(sqrt(i/9)): P_f = FᵀF; spot checks by hand: F has 1 + sqrt(i/9) on the diagonal,
  // −2 on the first and 1 on the second sub-diagonal; (FᵀF)_88 = (1 + sqrt(8/9))².
  CHECK(p(9, 9) == Approx(std::pow(1 + std::sqrt(8.0 / 9.0), 2)).epsilon(1e-14));
  CHECK(p(1, 1) == Approx(1 + 4 + 1).epsilon(1e-14));  // column 0 of F: (1, −2, 1)
  const auto prior = bernoulli_glm_prior();
  const auto& normal = dynamic_cast<const NormalPrior&>(*prior);
  CHECK((normal.cov() * p - Matrix::Identity(10, 10)).cwiseAbs().maxCoeff() < 1e-12);
  CHECK(normal.mean().isZero());
  // log_prob(θ) − log_prob(0) = −½ θᵀPθ
  Vector theta = Vector::LinSpaced(10, -1, 1);
  CHECK(prior->log_prob({theta.data(), 10}) - prior->log_prob(std::vector<double>(10, 0.0)) ==
        Approx(-0.5 * theta.dot(p * theta)).epsilon(1e-10));
}

TEST_CASE("bernoulli_glm: simulated summaries have mean Xᵀσ(Xθ)", "[simulators][bernoulli_glm]") {
  const auto sim = make_bernoulli_glm();
  CHECK(sim.info().data_names == test::read_csv_row("data/sbibm/bernoulli_glm/obs_1/observation.csv").header);
  const auto theta = test::read_csv_row("data/sbibm/bernoulli_glm/obs_1/true_parameters.csv").values;
  const Matrix x = bernoulli_glm_design_matrix();
  const Vector psi = x * Eigen::Map<const Vector>(theta.data(), 10);
  const Vector prob = (1.0 + (-psi.array()).exp()).inverse().matrix();
  const Vector expected = x.transpose() * prob;
  // Var of summary j = Σ_t X_tj² p_t (1 − p_t).
  const Vector variance = x.array().square().matrix().transpose() * (prob.array() * (1 - prob.array())).matrix();
  const Eigen::Index n = 10000;
  const RowMatrix y = test::simulate_repeated(sim, theta, n);
  const Vector mean = test::column_means(y);
  for (Eigen::Index j = 0; j < 10; ++j) {
    INFO("entry " << j);
    CHECK(std::abs(mean[j] - expected[j]) < 5 * test::se_mean(variance[j], n));
  }
  CHECK(sim.simulate_one(theta, 4) == sim.simulate_one(theta, 4));
}

TEST_CASE("bernoulli_glm: raw option gives the 100 spikes", "[simulators][bernoulli_glm]") {
  const auto sim = make_bernoulli_glm(BernoulliGlmOptions::from_json({{"raw", true}}));
  CHECK(sim.data_dim() == 100);
  const std::vector<double> theta{0.5, 1, 0.5, 0, 0, 0, 0, 0, 0, 0};
  const Vector y = sim.simulate_one(theta, 2);
  CHECK(((y.array() == 0) || (y.array() == 1)).all());
  CHECK(y.sum() > 0);
  CHECK_THROWS_WITH(BernoulliGlmOptions::from_json({{"raw", 1}}), "simulator.options.raw: expected true or false, got 1");
  CHECK_THROWS_WITH(BernoulliGlmOptions::from_json({{"stimulus_file", "x.csv"}}),
                    Catch::StartsWith("simulator.options.stimulus_file: unknown key"));
}
