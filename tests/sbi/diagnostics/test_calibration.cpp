#include "sbi/diagnostics/calibration.hpp"
#include "sbi/diagnostics/calibration_report.hpp"

#include "sbi/core/error.hpp"
#include "tests/sbi/diagnostics/linear_gaussian_posterior.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cmath>
#include <mutex>
#include <stdexcept>

using namespace sbi;
using sbi::testing::LinearGaussianModel;
using sbi::testing::LinearGaussianPosterior;

namespace {

// N = 400 pairs, L = 200 draws: big enough that the 0.5/2 sd errors are found with power ≈ 1, small
// enough to run in well under a second.
CalibrationOptions test_options(int threads = 2) {
  CalibrationOptions o;
  o.draws = 400;
  o.posterior_samples = 200;
  o.seed = 11;
  o.threads = threads;
  return o;
}

Posterior gaussian(double scale, bool log_prob = true, double shift = 0.0) {
  return LinearGaussianPosterior::make(LinearGaussianModel{}, {.scale = scale, .shift = shift, .has_log_prob = log_prob});
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// z with Φ(z) = p, by bisection (only for the tests' known answers).
double normal_quantile(double p) {
  double low = -10, high = 10;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (low + high);
    (normal_cdf(mid) < p ? low : high) = mid;
  }
  return 0.5 * (low + high);
}

// The observed coverage at every level lies within the band a Binomial(N, expected) count stays in
// with probability 1 − 0.001 (Bonferroni over the levels): a check of the closed form with a chance
// of a false alarm of at most 0.001.
void check_coverage_matches(const std::vector<double>& levels, const std::vector<double>& observed, std::size_t n,
                            const std::function<double(double)>& expected) {
  for (std::size_t k = 0; k < levels.size(); ++k) {
    const auto [low, high] = binomial_band(n, expected(levels[k]), 0.001 / static_cast<double>(levels.size()));
    INFO("level " << levels[k] << ": observed " << observed[k] << ", expected " << expected(levels[k]));
    CHECK(observed[k] * static_cast<double>(n) >= static_cast<double>(low) - 1e-9);
    CHECK(observed[k] * static_cast<double>(n) <= static_cast<double>(high) + 1e-9);
  }
}

}  // namespace

TEST_CASE("calibration options: defaults, validation, JSON with paths", "[diagnostics][calibration]") {
  const CalibrationOptions o;
  CHECK(o.draws == 1000);
  CHECK(o.posterior_samples == 1000);
  CHECK(o.levels.size() == 19);
  CHECK(o.levels.front() == Approx(0.05));
  CHECK(o.levels.back() == Approx(0.95));
  CHECK(o.significance == 0.01);
  CHECK(o.failure_policy == FailurePolicy::redraw);
  CHECK(o.is_valid());
  CHECK(CalibrationOptions::quick().draws == 300);

  const auto round_trip = CalibrationOptions::from_json(o.to_json(), "calibration");
  CHECK(round_trip.to_json() == o.to_json());
  auto changed = CalibrationOptions::from_json(
      nlohmann::json::parse(R"({"draws": 50, "seed": 18446744073709551615, "levels": [0.5, 0.9], "coverage_density": "kde", "failure_policy": "drop"})"),
      "check");
  CHECK(changed.draws == 50);
  CHECK(changed.seed == 18446744073709551615ULL);
  CHECK(changed.levels == std::vector<double>{0.5, 0.9});
  CHECK(changed.coverage_density == "kde");
  CHECK(changed.failure_policy == FailurePolicy::drop);

  auto error_of = [](const char* text) {
    try {
      CalibrationOptions::from_json(nlohmann::json::parse(text), "calibration");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error_of(R"({"drawz": 5})"), Catch::Contains("calibration") && Catch::Contains("drawz"));
  CHECK_THAT(error_of(R"({"levels": [0.5, 0.4]})"), Catch::Contains("calibration.levels[1]"));
  CHECK_THAT(error_of(R"({"levels": [0.5, 1.0]})"), Catch::Contains("calibration.levels[1]"));
  CHECK_THAT(error_of(R"({"failure_policy": "retry"})"), Catch::Contains("calibration.failure_policy"));
  CHECK_THAT(error_of(R"({"seed": -1})"), Catch::Contains("calibration.seed"));
  CHECK_THAT(error_of(R"({"draws": 0})"), Catch::Contains("calibration.draws"));
  CHECK_THAT(error_of(R"({"sbc": false, "coverage": false, "tarp": false})"), Catch::Contains("at least one"));

  CalibrationOptions bad;
  bad.significance = 0.7;
  std::string why;
  CHECK_FALSE(bad.is_valid(&why));
  CHECK_THAT(why, Catch::Contains("significance"));
}

TEST_CASE("calibration: the exact linear-Gaussian posterior passes SBC, coverage and TARP", "[diagnostics][calibration]") {
  const LinearGaussianModel model;
  const auto r = run_calibration(gaussian(1.0), model.simulator(), test_options());
  INFO(r.full_report());
  // A calibrated posterior fails one of the three checks with probability at most 3 × 0.01 (union
  // bound; calibration.hpp). Fixed seed: this is one draw of that event.
  CHECK(r.verdict == CalibrationVerdict::calibrated);
  CHECK(r.passed());
  CHECK(r.draws == 400);
  CHECK(r.simulation.kept == 400);
  REQUIRE(r.sbc.size() == 2);
  CHECK(r.sbc[0].parameter == "theta1");
  for (const auto& p : r.sbc) CHECK(p.passed);
  REQUIRE(r.coverage);
  CHECK(r.coverage->density == "log_prob");
  CHECK(r.coverage->passed);
  CHECK(r.coverage->below == 0);
  CHECK(r.coverage->above == 0);
  REQUIRE(r.tarp);
  CHECK(r.tarp->passed);
  CHECK(r.tarp->alpha.size() == 101);
  CHECK(r.tarp->ecp.front() == 0.0);
  CHECK(r.tarp->ecp.back() == 1.0);
  // Coverage matches 1 − (1 − c)^1 = c, the marginal central intervals too.
  check_coverage_matches(r.coverage->levels, r.coverage->observed, r.draws, [](double c) { return c; });
  for (const auto& m : r.coverage->marginal) check_coverage_matches(r.coverage->levels, m, r.draws, [](double c) { return c; });
  // Integer ranks lie in 0..L and agree with the fractional ones: u·(L+1) ∈ [k, k+1).
  for (Eigen::Index i = 0; i < r.ranks.rows(); ++i)
    for (Eigen::Index j = 0; j < r.ranks.cols(); ++j) {
      CHECK(r.ranks(i, j) >= 0);
      CHECK(r.ranks(i, j) <= 200);
      CHECK(std::floor(r.rank_fractions(i, j) * 201) == static_cast<double>(r.ranks(i, j)));
    }
  CHECK(r.brief_report().rfind("calibration: calibrated", 0) == 0);
  CHECK_THAT(r.plain_summary(), Catch::StartsWith("calibrated: its 90 % credible regions held the true parameter in 8") ||
                                    Catch::StartsWith("calibrated: its 90 % credible regions held the true parameter in 9"));
  CHECK(r.resolution() > 0.05);
  CHECK(r.resolution() < 0.1);  // ±3.45·√(0.25/400) ≈ 0.086 at N = 400
}

TEST_CASE("calibration: an over-confident posterior (sd × 0.5) fails with coverage below nominal and ∪-shaped ranks",
          "[diagnostics][calibration]") {
  const LinearGaussianModel model;
  const auto r = run_calibration(gaussian(0.5), model.simulator(), test_options());
  INFO(r.full_report());
  CHECK(r.verdict == CalibrationVerdict::over_confident);
  REQUIRE(r.coverage);
  CHECK_FALSE(r.coverage->passed);
  CHECK(r.coverage->above == 0);
  // Expected coverage 1 − (1 − c)^0.25 (linear_gaussian_posterior.hpp): 0.16 at c = 0.5, 0.53 at 0.95,
  // far below the band at every level from 0.15 up (the band at 0.15 starts near 0.10 at N = 400).
  CHECK(r.coverage->below >= 17);
  check_coverage_matches(r.coverage->levels, r.coverage->observed, r.draws, [](double c) { return 1 - std::pow(1 - c, 0.25); });
  // Marginal central intervals: 2Φ(0.5·z_{(1+c)/2}) − 1.
  for (const auto& m : r.coverage->marginal)
    check_coverage_matches(r.coverage->levels, m, r.draws, [](double c) { return 2 * normal_cdf(0.5 * normal_quantile(0.5 + c / 2)) - 1; });
  CHECK(r.coverage->hpd_ranks.mean_z < -5);  // θ* in the posterior's low-density places
  // SBC: ranks ∪-shaped. At N = 400, L = 200 a simulation of this model (NumPy, 100 runs) gave spread z
  // between 13.5 and 19.7 (mean 16.9), so > 5 is far inside; the χ² test rejects in every run.
  for (const auto& p : r.sbc) {
    CHECK_FALSE(p.passed);
    CHECK(p.ranks.spread_z > 5);
    CHECK(p.ranks.shape() == "∪-shaped");
  }
  // TARP: f ∪-shaped too (same simulation: spread z 13.9 to 19.5).
  REQUIRE(r.tarp);
  CHECK_FALSE(r.tarp->passed);
  CHECK(r.tarp->f.spread_z > 5);
  // sbi's "area to curve" agrees: its sd under calibration is √(∫∫_{[½,1]²}(min(s,t) − st)/N) =
  // √(0.0260/400) = 0.008, and a run at N = 1000 of this posterior gave −0.075.
  CHECK(r.tarp->atc < 0);
  CHECK(r.brief_report().find("over-confident") != std::string::npos);
  // Expected coverage at 0.9: 1 − 0.1^0.25 = 0.438; its 99.9 % band at N = 400 is within 0.36–0.52.
  CHECK_THAT(r.plain_summary(), Catch::StartsWith("over-confident: its 90 % credible regions held the true parameter in only 4") ||
                                    Catch::StartsWith("over-confident: its 90 % credible regions held the true parameter in only 3") ||
                                    Catch::StartsWith("over-confident: its 90 % credible regions held the true parameter in only 5"));
}

TEST_CASE("calibration: an under-confident posterior (sd × 2) fails with coverage above nominal and ∩-shaped ranks",
          "[diagnostics][calibration]") {
  const LinearGaussianModel model;
  const auto r = run_calibration(gaussian(2.0), model.simulator(), test_options());
  INFO(r.full_report());
  CHECK(r.verdict == CalibrationVerdict::under_confident);
  REQUIRE(r.coverage);
  CHECK_FALSE(r.coverage->passed);
  CHECK(r.coverage->below == 0);
  // Expected coverage 1 − (1 − c)^4: 0.19 at c = 0.05, 0.94 at 0.5: above the band at most levels.
  CHECK(r.coverage->above >= 10);
  check_coverage_matches(r.coverage->levels, r.coverage->observed, r.draws, [](double c) { return 1 - std::pow(1 - c, 4.0); });
  for (const auto& m : r.coverage->marginal)
    check_coverage_matches(r.coverage->levels, m, r.draws, [](double c) { return 2 * normal_cdf(2.0 * normal_quantile(0.5 + c / 2)) - 1; });
  CHECK(r.coverage->hpd_ranks.mean_z > 5);
  // Simulation as above: SBC spread z between −14.7 and −12.1, TARP between −13.0 and −10.2.
  for (const auto& p : r.sbc) {
    CHECK_FALSE(p.passed);
    CHECK(p.ranks.spread_z < -5);
    CHECK(p.ranks.shape() == "∩-shaped");
  }
  REQUIRE(r.tarp);
  CHECK_FALSE(r.tarp->passed);
  CHECK(r.tarp->f.spread_z < -5);
  // Expected coverage at 0.9: 1 − 0.1^4 = 0.9999, so 99.x % or 100 % of 400.
  CHECK_THAT(r.plain_summary(), Catch::StartsWith("under-confident: its 90 % credible regions held the true parameter in 100 %") ||
                                    Catch::StartsWith("under-confident: its 90 % credible regions held the true parameter in 99"));
  CHECK(r.tarp->atc > 0);  // +0.069 at N = 1000 (null sd 0.008 at N = 400, see above)
}

TEST_CASE("calibration: a biased posterior (mean + 1.5 sd) has skewed ranks and coverage below nominal", "[diagnostics][calibration]") {
  const LinearGaussianModel model;
  const auto r = run_calibration(gaussian(1.0, true, 1.5), model.simulator(), test_options());
  INFO(r.full_report());
  CHECK(r.verdict == CalibrationVerdict::over_confident);  // its regions miss θ* too often
  // Draws too high in θ1: θ*_1 ranks low. u = Φ(Z − 1.5) has mean Φ(−1.5/√2) ≈ 0.144 below ½, i.e.
  // mean z ≈ −0.356·√(12·400) ≈ −25.
  CHECK(r.sbc[0].ranks.mean_z < -15);
  CHECK(r.sbc[0].ranks.shape() == "skewed towards 0");
  CHECK_FALSE(r.sbc[0].passed);
  CHECK(r.coverage->below > 0);
}

TEST_CASE("calibration: a small bias (mean + 0.4 sd) that coverage misses is called miscalibrated, not over-confident",
          "[diagnostics][calibration]") {
  // HPD regions are Mahalanobis balls, so θ* lies in q's c-region with the non-central χ²₂ probability
  // of λ = 0.4²/(1 − ρ²) = 0.162 (ρ = 0.105, the posterior correlation): at most 0.36 of the 99 %
  // band's half-width below nominal at N = 400 (scipy.stats.ncx2), about 1.2 binomial sds, so every
  // level stays inside its band with high probability. SBC of θ_1 sees it: the ranks Φ(Z − 0.4) have
  // mean z −7.7 and a χ² non-centrality about N(e^{0.16} − 1) ≈ 69, far past the p < 0.005 threshold.
  const LinearGaussianModel model;
  const auto r = run_calibration(gaussian(1.0, true, 0.4), model.simulator(), test_options());
  INFO(r.full_report());
  REQUIRE(r.coverage);
  CHECK(r.coverage->passed);
  CHECK_FALSE(r.sbc[0].passed);
  CHECK(r.sbc[0].ranks.shape(0.0) == "skewed towards 0");
  CHECK(r.verdict == CalibrationVerdict::miscalibrated);
  CHECK_THAT(r.plain_summary(), Catch::StartsWith("miscalibrated: SBC ranks not uniform for theta1 (skewed towards 0"));
}

TEST_CASE("calibration: the same bits on 1 and 2 threads, other seeds give other draws", "[diagnostics][calibration]") {
  const LinearGaussianModel model;
  for (bool log_prob : {true, false}) {
    const auto one = run_calibration(gaussian(1.3, log_prob), model.simulator(), test_options(1));
    const auto two = run_calibration(gaussian(1.3, log_prob), model.simulator(), test_options(2));
    CHECK(one.threads == 1);
    CHECK(two.threads == 2);
    CHECK(one.draw_index == two.draw_index);
    CHECK(one.ranks == two.ranks);
    CHECK(one.rank_fractions == two.rank_fractions);  // exact equality of doubles
    CHECK(one.hpd_ranks == two.hpd_ranks);
    CHECK(one.tarp_f == two.tarp_f);
    auto strip = [](nlohmann::json j) {
      j.erase("timings");
      j.erase("threads");
      j["options"].erase("threads");
      j["simulation"].erase("seconds");
      return j.dump();
    };
    CHECK(strip(one.to_json()) == strip(two.to_json()));
    CHECK(one.verdict_reason == two.verdict_reason);
  }
  auto other_seed = test_options();
  other_seed.seed = 12;
  const auto a = run_calibration(gaussian(1.0), model.simulator(), test_options());
  const auto b = run_calibration(gaussian(1.0), model.simulator(), other_seed);
  CHECK(a.hpd_ranks != b.hpd_ranks);
}

TEST_CASE("calibration without log_prob uses a kernel density estimate and still finds the direction", "[diagnostics][calibration]") {
  const LinearGaussianModel model;
  const auto exact = run_calibration(gaussian(1.0, false), model.simulator(), test_options());
  INFO(exact.full_report());
  REQUIRE(exact.coverage);
  CHECK(exact.coverage->density == "kde");
  // The symmetric KDE keeps the HPD rank exactly uniform under calibration (calibration.hpp).
  CHECK(exact.coverage->passed);
  CHECK(exact.verdict == CalibrationVerdict::calibrated);
  const auto narrow = run_calibration(gaussian(0.5, false), model.simulator(), test_options());
  CHECK(narrow.coverage->density == "kde");
  CHECK(narrow.coverage->below >= 10);
  CHECK(narrow.coverage->above == 0);
  CHECK(narrow.verdict == CalibrationVerdict::over_confident);
  const auto wide = run_calibration(gaussian(2.0, false), model.simulator(), test_options());
  CHECK(wide.coverage->above >= 5);
  CHECK(wide.coverage->below == 0);
  CHECK(wide.verdict == CalibrationVerdict::under_confident);
  // Forcing the KDE on a posterior with log_prob, or log_prob on one without it.
  auto kde = test_options();
  kde.coverage_density = "kde";
  CHECK(run_calibration(gaussian(1.0), model.simulator(), kde).coverage->density == "kde");
  auto log_prob = test_options();
  log_prob.coverage_density = "log_prob";
  CHECK_THROWS_WITH(run_calibration(gaussian(1.0, false), model.simulator(), log_prob), Catch::Contains("no log_prob"));
}

TEST_CASE("calibration: checks can be switched off, progress is reported, the stop flag is honoured", "[diagnostics][calibration]") {
  const LinearGaussianModel model;
  auto only_sbc = test_options();
  only_sbc.coverage = false;
  only_sbc.tarp = false;
  const auto r = run_calibration(gaussian(1.0), model.simulator(), only_sbc);
  CHECK(r.sbc.size() == 2);
  CHECK_FALSE(r.coverage);
  CHECK_FALSE(r.tarp);
  CHECK(r.hpd_ranks.empty());
  CHECK(r.to_json()["coverage"].is_null());

  std::mutex mutex;
  std::vector<TrainingProgress> reports;
  TrainingCallbacks callbacks;
  callbacks.on_progress = [&](const TrainingProgress& p) {
    std::lock_guard lock(mutex);
    reports.push_back(p);
  };
  run_calibration(gaussian(1.0), model.simulator(), test_options(), callbacks);
  REQUIRE_FALSE(reports.empty());
  CHECK(reports.front().stage == "simulate");
  CHECK(reports.back().stage == "calibrate");
  CHECK(reports.back().done == 400);
  CHECK(reports.back().total == 400);
  CHECK(reports.back().unit == "draw");
  std::size_t last = 0;
  for (const auto& p : reports)
    if (p.stage == "calibrate") {
      CHECK(p.done > last);  // increasing
      last = p.done;
    }

  std::atomic<bool> stop{false};
  TrainingCallbacks stopping;
  stopping.stop = &stop;
  stopping.on_progress = [&](const TrainingProgress& p) {
    if (p.stage == "calibrate" && p.done >= 100) stop = true;
  };
  const auto interrupted = run_calibration(gaussian(1.0), model.simulator(), test_options(), stopping);
  CHECK(interrupted.interrupted);
  CHECK(interrupted.draws >= 100);
  CHECK(interrupted.draws < 400);
  CHECK(interrupted.draw_index.size() == interrupted.draws);
  CHECK(interrupted.brief_report().find("interrupted") != std::string::npos);

  stop = true;  // before anything starts
  const auto nothing = run_calibration(gaussian(1.0), model.simulator(), test_options(), stopping);
  CHECK(nothing.draws == 0);
  CHECK(nothing.verdict == CalibrationVerdict::inconclusive);
  // No statistics of zero cases (they would read as passed).
  CHECK_THAT(nothing.full_report(), Catch::Contains("no simulated case was evaluated"));
  CHECK_THAT(nothing.full_report(), !Catch::Contains("SBC (") && !Catch::Contains("expected coverage (") && !Catch::Contains("TARP ("));
  const std::string markdown = calibration_markdown(nothing, "nothing", {}, {});
  CHECK_THAT(markdown, Catch::Contains("No simulated case was evaluated, so nothing was checked."));
  CHECK_THAT(markdown, !Catch::Contains("passed"));
  CHECK_THAT(markdown, !Catch::Contains("plot/"));  // no pictures were drawn
}

TEST_CASE("calibration: failed simulations follow the failure policy", "[diagnostics][calibration]") {
  const LinearGaussianModel model;
  // A simulator that fails whenever θ1 > 1.5 (about 16 % of prior draws).
  const Simulator base = model.simulator();
  const Simulator failing = make_simulator(
      SimulatorInfo{.name = "failing", .parameter_names = model.parameter_names(), .data_names = model.data_names()},
      [base](ConstRow theta, MutableRow y, Rng& rng) {
        if (theta[0] > 1.5) return false;
        RowMatrix t(1, 2), out(1, 3);
        t << theta[0], theta[1];
        std::uint64_t seed = rng();
        SimulationOutcome outcome;
        base.simulate_batch(t, out, {&seed, 1}, {&outcome, 1});
        for (std::size_t k = 0; k < 3; ++k) y[k] = out(0, static_cast<Eigen::Index>(k));
        return true;
      });
  auto o = test_options();
  const auto redrawn = run_calibration(gaussian(1.0), failing, o);
  CHECK(redrawn.draws == 400);
  CHECK(redrawn.simulation.redraws > 0);
  CHECK(redrawn.simulation.failed > 0);
  o.failure_policy = FailurePolicy::drop;
  const auto dropped = run_calibration(gaussian(1.0), failing, o);
  CHECK(dropped.draws < 400);
  CHECK(dropped.draws + dropped.simulation.dropped == 400);
  CHECK(dropped.draw_index.back() > dropped.draws - 1);  // indices of the kept simulations, with gaps
  CHECK(dropped.full_report().find("dropped") != std::string::npos);
  o.failure_policy = FailurePolicy::fail;
  CHECK_THROWS_AS(run_calibration(gaussian(1.0), failing, o), SimulationError);
}

TEST_CASE("calibration refuses what it cannot check, with a message", "[diagnostics][calibration]") {
  const LinearGaussianModel model;
  const Posterior single = LinearGaussianPosterior::make(model, {.amortized = false});
  CHECK_THROWS_WITH(run_calibration(single, model.simulator(), test_options()), Catch::Contains("one observation"));
  // A simulator with other data dimensions.
  const Simulator wrong = make_simulator(SimulatorInfo{.name = "wrong", .parameter_names = {"a", "b"}, .data_names = {"y"}},
                                         [](ConstRow, MutableRow y, Rng&) { y[0] = 0; });
  CHECK_THROWS_WITH(run_calibration(gaussian(1.0), wrong, test_options()), Catch::Contains("data values"));
  auto bad = test_options();
  bad.levels = {};
  CHECK_THROWS_AS(run_calibration(gaussian(1.0), model.simulator(), bad), InputError);
  CHECK_THROWS_AS(run_calibration(Posterior{}, model.simulator(), test_options()), InputError);
}

TEST_CASE("calibration of per-observation posteriors through a factory gives the amortised result", "[diagnostics][calibration]") {
  const LinearGaussianModel model;
  const Posterior posterior = gaussian(1.0);
  std::atomic<int> calls{0};
  const PosteriorForObservation factory = [&](const Vector&, std::uint64_t) {
    ++calls;
    return posterior;
  };
  const auto amortized = run_calibration(posterior, model.simulator(), test_options());
  const auto per_observation = run_calibration(factory, model.simulator(), *model.prior(), test_options());
  CHECK(calls == 400);
  CHECK(per_observation.hpd_ranks == amortized.hpd_ranks);
  CHECK(per_observation.rank_fractions == amortized.rank_fractions);
  CHECK(per_observation.posterior_kind == "linear_gaussian_test");
}

namespace {

// The exact posterior, but every 10th draw has a NaN entry and log_prob is NaN for every 7th point:
// a broken posterior kind must not crash the check, and its damage is counted.
class DamagedPosterior final : public PosteriorModel {
 public:
  explicit DamagedPosterior(Posterior inner) : inner_(std::move(inner)) {}
  const PosteriorInfo& info() const override { return inner_.info(); }
  const Names& parameter_names() const override { return inner_.parameter_names(); }
  const Names& data_names() const override { return inner_.data_names(); }
  const Prior& prior() const override { return inner_.prior(); }
  PriorPtr prior_ptr() const override { return inner_.prior_ptr(); }
  RowMatrix sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const override {
    RowMatrix theta = inner_.sample(observation, n, seed);
    for (Eigen::Index i = 0; i < n; i += 10) theta(i, 1) = std::nan("");
    return theta;
  }
  Vector log_prob(const RowMatrix& theta, const Vector& observation) const override {
    Vector lp = inner_.log_prob(theta, observation);
    for (Eigen::Index i = 3; i < lp.size(); i += 7) lp[i] = std::nan("");
    return lp;
  }
  nlohmann::json save_state(const std::filesystem::path&, std::vector<std::string>&) const override { return {}; }

 private:
  Posterior inner_;
};

}  // namespace

namespace {

// Sampling that only stops when asked (as MCMC chains): the 41st call raises the stop flag and, like
// the chains, then throws sbi::Interrupted because callbacks.stop is set; the 40 calls before it always
// finish (whatever another thread does meanwhile). The unwatched sample() must not be used by a caller
// that can be interrupted.
class StopsOnlyWhenAsked final : public PosteriorModel {
 public:
  StopsOnlyWhenAsked(Posterior inner, std::atomic<bool>& stop) : inner_(std::move(inner)), stop_(stop) {}
  const PosteriorInfo& info() const override { return inner_.info(); }
  const Names& parameter_names() const override { return inner_.parameter_names(); }
  const Names& data_names() const override { return inner_.data_names(); }
  const Prior& prior() const override { return inner_.prior(); }
  PriorPtr prior_ptr() const override { return inner_.prior_ptr(); }
  RowMatrix sample(const Vector&, Eigen::Index, std::uint64_t) const override {
    throw std::logic_error("sampled without a way to stop it");
  }
  RowMatrix sample_watched(const Vector& observation, Eigen::Index n, std::uint64_t seed, const TrainingCallbacks& callbacks) const override {
    const int call = ++calls_;
    if (call == 41) stop_ = true;
    if (call >= 41 && callbacks.stop_requested()) throw Interrupted("stopped");
    return inner_.sample(observation, n, seed);
  }
  Vector log_prob(const RowMatrix& theta, const Vector& observation) const override { return inner_.log_prob(theta, observation); }
  nlohmann::json save_state(const std::filesystem::path&, std::vector<std::string>&) const override { return {}; }

 private:
  Posterior inner_;
  std::atomic<bool>& stop_;
  mutable std::atomic<int> calls_{0};
};

}  // namespace

TEST_CASE("calibration: Ctrl-C reaches a case's sampling and a re-run, the cases finished are kept", "[diagnostics][calibration]") {
  const LinearGaussianModel model;
  for (const int threads : {1, 2}) {
    INFO(threads << " threads");
    std::atomic<bool> stop{false};
    TrainingCallbacks callbacks;
    callbacks.stop = &stop;
    const Posterior stoppable(std::make_shared<StopsOnlyWhenAsked>(gaussian(1.0), stop));
    const auto r = run_calibration(stoppable, model.simulator(), test_options(threads), callbacks);
    CHECK(r.interrupted);
    // 40 cases finished before the stop; on two threads the other one may finish its case too.
    CHECK(r.draws >= 40);
    CHECK(r.draws <= 41);
    CHECK(r.draw_index.size() == r.draws);
    CHECK(r.brief_report().find("interrupted") != std::string::npos);
  }
  // A re-run per observation that is stopped says so with sbi::Interrupted: its case is left out, not
  // evaluated on a half-trained posterior, and no case starts after the stop.
  std::atomic<bool> stop{false};
  TrainingCallbacks callbacks;
  callbacks.stop = &stop;
  std::atomic<int> calls{0};
  const Posterior posterior = gaussian(1.0);
  const PosteriorForObservation rerun = [&](const Vector&, std::uint64_t) {
    if (++calls == 25) {
      stop = true;
      throw Interrupted("a re-run was interrupted");
    }
    return posterior;
  };
  const auto r = run_calibration(rerun, model.simulator(), *model.prior(), test_options(1), callbacks);
  CHECK(r.interrupted);
  CHECK(r.draws == 24);
  CHECK(calls == 25);
}

TEST_CASE("calibration: non-finite posterior draws and NaN log_prob values are counted, not fatal", "[diagnostics][calibration]") {
  const LinearGaussianModel model;
  const Posterior damaged(std::make_shared<DamagedPosterior>(gaussian(1.0)));
  const auto r = run_calibration(damaged, model.simulator(), test_options());
  CHECK(r.draws == 400);
  CHECK(r.non_finite_samples == 400 * 20);  // rows 0, 10, ..., 190 of each 200
  CHECK(r.non_finite_log_prob > 0);
  CHECK(r.full_report().find("non-finite") != std::string::npos);
  // Ranks are taken among the 180 finite draws.
  for (Eigen::Index i = 0; i < r.ranks.rows(); ++i) CHECK(r.ranks(i, 0) <= 180);
  // Dropping every 10th draw keeps the others exchangeable with θ*: SBC still passes.
  for (const auto& p : r.sbc) CHECK(p.passed);
}

TEST_CASE("calibration: the verdict's false-alarm rate on the exact posterior stays below 3 s (many seeds)", "[diagnostics][calibration][.slow]") {
  // calibration.hpp: a calibrated posterior fails one of the three checks with probability at most
  // 3s = 0.03 (union bound; exact for coverage, up to the χ² and Kolmogorov approximations for SBC and
  // TARP). Over 1000 seeds the number of false alarms is then at most Binomial(1000, 0.03), whose
  // 99.9 % quantile is the bound below; each check alone against Binomial(1000, 0.01). (3000 seeds on
  // 2026-12-02 gave 68 alarms, 2.3 %: coverage 14, SBC 17 + 7, TARP 31.)
  const LinearGaussianModel model;
  const Posterior exact = gaussian(1.0);
  int alarms = 0, coverage = 0, sbc = 0, tarp = 0;
  const int runs = 1000;
  for (int seed = 1; seed <= runs; ++seed) {
    auto o = test_options();
    o.seed = static_cast<std::uint64_t>(seed) * 7919;
    const auto r = run_calibration(exact, model.simulator(), o);
    alarms += !r.passed();
    coverage += !r.coverage->passed;
    sbc += !(r.sbc[0].passed && r.sbc[1].passed);
    tarp += !r.tarp->passed;
  }
  INFO("false alarms " << alarms << " of " << runs << " (coverage " << coverage << ", SBC " << sbc << ", TARP " << tarp << ")");
  CHECK(static_cast<std::size_t>(alarms) <= binomial_quantile(runs, 0.03, 0.999));
  CHECK(static_cast<std::size_t>(coverage) <= binomial_quantile(runs, 0.01, 0.999));
  CHECK(static_cast<std::size_t>(sbc) <= binomial_quantile(runs, 0.01, 0.999));
  CHECK(static_cast<std::size_t>(tarp) <= binomial_quantile(runs, 0.01, 0.999));
}
