// Causal-direction methods: HSIC, IGCI on a case with a known answer, the accuracy–decision-rate
// area on a hand example, the fused CGNN kernel against sbi::nn::mmd2, CGNN reproducibility, pair
// validation, and accuracy above chance on the generated pairs of data/causal_synthetic.
#include "sbi/causal/benchmark.hpp"
#include "sbi/causal/kernel_rows.hpp"
#include "sbi/causal/kernels.hpp"
#include "sbi/causal/methods.hpp"
#include "sbi/core/error.hpp"
#include "sbi/nn/losses.hpp"
#include "sbi/parallel/parallel_for.hpp"
#include "sbi/random/rng.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace {

using namespace sbi::causal;

sbi::Vector normals(Eigen::Index n, std::uint64_t stream) {
  sbi::Rng rng = sbi::Rng::stream(2026, stream);
  sbi::Vector v(n);
  for (Eigen::Index i = 0; i < n; ++i) v[i] = rng.normal();
  return v;
}

std::filesystem::path synthetic_dir() { return std::filesystem::path(SBI_SOURCE_DIR) / "data" / "causal_synthetic"; }

// Correct decisions of `method` over the synthetic pairs (a score of exactly 0 counts as wrong).
int correct_on_synthetic(const std::string& method, const MethodOptions& options, int* total,
                         bool additive_or_location_scale_only = false) {
  auto metas = read_benchmark_meta(synthetic_dir());
  if (additive_or_location_scale_only) metas.resize(32);  // pairs 1-32 (data/causal_synthetic/README.md)
  int correct = 0;
  for (const auto& meta : metas) {
    // All cores: CGNN spreads its runs over them; the result does not depend on the thread count.
    const auto result = run_method(method, read_pair(meta.file), options, sbi::stream_seed(5, static_cast<std::uint64_t>(meta.pair_id)), sbi::hardware_threads());
    correct += result.direction == meta.direction;
  }
  *total = static_cast<int>(metas.size());
  return correct;
}

// Above chance at α = 0.01: under "the method guesses" the number correct is Binomial(48, ½), and
// P(Bin(48, ½) ≥ 33) = 0.0066 ≤ 0.01 while P(≥ 32) = 0.0147 > 0.01 (scipy.stats.binom.sf(32, 48, .5)),
// so 33 of 48 is the smallest count that rejects guessing at the 1 % level.
constexpr int kPairs = 48;
constexpr int kAboveChance = 33;

}  // namespace

TEST_CASE("HSIC is near zero for independent samples and large for dependent ones", "[causal]") {
  const Eigen::Index n = 400;
  const sbi::Vector x = normals(n, 1), z = normals(n, 2);
  const sbi::Vector y = x.array().square() + 0.1 * z.array();
  // Under independence E[HSIC_b] ≈ (1/n)(1 − E k(x,x'))(1 − E l(z,z')) ≤ 1/n, so by Markov's
  // inequality HSIC_b ≥ 10/n has probability ≤ 0.1 (one fixed seed here). The dependent pair is a
  // quadratic dependence that a correlation cannot see (corr(x, x²) = 0); it must exceed the same
  // 10/n level and be clearly above the independent value. Its population HSIC is about 0.037 (the
  // value at n = 200), so n = 400 puts the 10/n level (0.025) below it.
  const double independent = hsic(x, z);
  const double dependent = hsic(x, y);
  CHECK(independent >= 0);
  CHECK(independent < 10.0 / n);
  CHECK(dependent > 10.0 / n);
  CHECK(dependent > 5 * independent);
}

TEST_CASE("IGCI finds a uniform cause of y = x^3 with the expected score", "[causal]") {
  // x ~ U(0, 1), y = x³ (no noise). With the uniform reference, C_{X→Y} = E log f'(X) =
  // log 3 − 2 and C_{Y→X} = −C_{X→Y}, so score = C_yx − C_xy = 2 (2 − log 3) ≈ 1.803 for both
  // estimators. The slope estimate averages n − 1 terms log(3 ξ²) with sd 2·sd(log U) = 2, so its
  // standard error is 2/√n ≈ 0.045 at n = 2000; 0.2 is over four standard errors.
  const Eigen::Index n = 2000;
  sbi::Rng rng = sbi::Rng::stream(2026, 3);
  CausePair pair;
  pair.x.resize(n);
  for (Eigen::Index i = 0; i < n; ++i) pair.x[i] = rng.uniform();
  pair.y = pair.x.array().cube();
  const double expected = 2 * (2 - std::log(3.0));
  for (const auto estimator : {IgciEstimator::slope, IgciEstimator::entropy}) {
    const auto r = igci(pair, estimator, IgciReference::uniform);
    CHECK(r.direction == 1);
    CHECK(r.score == Approx(expected).margin(0.2));
  }
  CausePair swapped{"", pair.y, pair.x};
  CHECK(igci(swapped, IgciEstimator::slope, IgciReference::uniform).direction == -1);
}

TEST_CASE("the baselines give the same score for a pair measured in units near 1e300 or 1e-300", "[causal]") {
  // Standardising such columns with the plain formulas overflows (squares of 1e300) or underflows;
  // dividing by the largest magnitude first changes the standardised values by rounding only
  // (relative 1e-16), so scores agree far below the 1e-6 asked here, and are finite.
  const Eigen::Index n = 100;
  sbi::Rng rng = sbi::Rng::stream(2026, 5);
  CausePair pair;
  pair.x.resize(n);
  pair.y.resize(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    pair.x[i] = rng.normal();
    pair.y[i] = std::pow(pair.x[i], 3) + 0.1 * rng.normal();
  }
  const CausePair tiny_and_huge{"", pair.x * 1e300, pair.y * 1e-300};
  const CausePair near_max{"", pair.x * (1.7e308 / pair.x.cwiseAbs().maxCoeff()), -pair.y * (1.7e308 / pair.y.cwiseAbs().maxCoeff())};
  MethodOptions options;
  for (const std::string method : {"anm", "igci", "igci-slope-uniform", "igci-entropy-gauss", "reci", "fit"}) {
    INFO(method);
    const double plain = run_method(method, pair, options, 1).score;
    REQUIRE(std::isfinite(plain));
    const auto scaled = run_method(method, tiny_and_huge, options, 1);
    CHECK(std::isfinite(scaled.criterion_xy));
    CHECK(std::isfinite(scaled.criterion_yx));
    CHECK(scaled.score == Approx(plain).epsilon(1e-6).margin(1e-9));
    // Y negated: a decreasing mechanism, still finite (its score differs from the plain pair's).
    const auto extreme = run_method(method, near_max, options, 1);
    CHECK(std::isfinite(extreme.score));
    CHECK(std::isfinite(extreme.criterion_xy));
  }
}

TEST_CASE("accuracy and the accuracy-decision-rate area on a hand example", "[causal]") {
  // |score| order: 3 (right), 2 (wrong), 1 (right), 0.5 (wrong): running accuracies 1, 1/2, 2/3, 1/2.
  std::vector<Decision> d = {{1, 1, 3.0}, {1, 1, -2.0}, {1, 1, 1.0}, {-1, 1, 0.5}};
  CHECK(accuracy(d, false) == Approx(0.5));
  CHECK(accuracy_decision_rate_auc(d, false) == Approx((1 + 0.5 + 2.0 / 3 + 0.5) / 4));
  // Weighted, first weight ½ (total 3.5): running weighted accuracies 1, 0.5/1.5, 1.5/2.5, 1.5/3.5,
  // each weighted by its share of the total weight.
  d[0].weight = 0.5;
  CHECK(accuracy(d, true) == Approx(1.5 / 3.5));
  CHECK(accuracy_decision_rate_auc(d, true) == Approx((0.5 * 1 + 1 * (0.5 / 1.5) + 1 * 0.6 + 1 * (1.5 / 3.5)) / 3.5));
  // An undecided pair (score 0) counts half.
  CHECK(accuracy({{1, 1, 0.0}, {1, 1, 1.0}}, false) == Approx(0.75));
}

TEST_CASE("isotonic regression pools adjacent violators", "[causal]") {
  sbi::Vector x(5), y(5);
  x << 1, 2, 3, 4, 5;
  y << 1, 3, 2, 4, 0;
  const sbi::Vector up = isotonic_fit(x, y, true);
  // (3, 2) pool to 2.5, then (4, 0) pool to 2 < 2.5, so (2.5, 2.5, 2, 2) pool to 2.25.
  CHECK(up[0] == Approx(1));
  for (int i = 1; i < 5; ++i) CHECK(up[i] == Approx(2.25));
}

TEST_CASE("the fused CGNN kernel agrees with sbi::nn::mmd2 and its gradient", "[causal]") {
  const Eigen::Index n = 40;
  const Eigen::VectorXf cause = normals(n, 4).cast<float>();
  const Eigen::VectorXf effect = normals(n, 5).cast<float>();
  Eigen::VectorXf generated = normals(n, 6).cast<float>();
  const std::vector<float> gammas = {0.01f, 0.1f, 1.0f, 10.0f, 100.0f};
  Eigen::VectorXf gradient(n);
  const float value = paired_mmd2(cause, generated, effect, gammas, &gradient);
  // sbi::nn::mmd2 uses exp(−d²/(2h²)): h = 1/√(2γ).
  std::vector<double> bandwidths;
  for (float g : gammas) bandwidths.push_back(1.0 / std::sqrt(2.0 * g));
  sbi::ad::Tape<double> tape;
  sbi::ad::Matrix<double> gen(n, 2), obs(n, 2);
  gen << cause.cast<double>(), generated.cast<double>();
  obs << cause.cast<double>(), effect.cast<double>();
  auto g = tape.variable(gen);
  auto loss = sbi::nn::mmd2(g, tape.constant(obs), bandwidths, sbi::nn::MmdEstimator::biased);
  tape.backward(loss);
  const auto reference_gradient = tape.gradient(g);
  // Float sums of n² ≈ 1600 terms of size ≤ 5: relative error ~1e-6; 1e-4 leaves room.
  CHECK(value == Approx(loss.item()).epsilon(1e-4));
  for (Eigen::Index i = 0; i < n; ++i) CHECK(gradient[i] == Approx(reference_gradient(i, 1)).margin(1e-5));
}

TEST_CASE("the vectorisable exponential of the CGNN kernel is accurate to float precision", "[causal]") {
  // Truncating e^r after r⁶ on |r| ≤ ln2/2 leaves (ln2/2)⁷/7! ≈ 1.2e-7 relative; the reduction and
  // the eight rounded operations of the polynomial add a few float ulps (2^-24 ≈ 6e-8 each), so
  // 6e-7 bounds the total with room. Below −87 the result is e^−87 (clamped).
  double worst = 0;
  for (int i = 0; i <= 870000; ++i) {
    const float x = -0.0001f * static_cast<float>(i);
    const double exact = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(sbi::causal::detail::exp_nonpositive(x) - exact) / exact);
  }
  INFO("worst relative error " << worst);
  CHECK(worst < 6e-7);
  CHECK(sbi::causal::detail::exp_nonpositive(0.0f) == 1.0f);
  CHECK(sbi::causal::detail::exp_nonpositive(-0.0f) == 1.0f);
  CHECK(sbi::causal::detail::exp_nonpositive(-1e30f) == Approx(std::exp(-87.0)).epsilon(1e-6));
}

TEST_CASE("the dispatched CGNN kernel row agrees with the portable one", "[causal]") {
  // Both copies run the same operations in the same order; only the vector width differs (and FMA
  // contraction, if the compiler applies it), so they agree to a few float ulps.
  const Eigen::Index m = 203;  // not a multiple of the vector width: the loop tails are exercised
  const Eigen::VectorXf cause = normals(m, 7).cast<float>(), other = normals(m, 8).cast<float>();
  const std::vector<float> gammas = {0.01f, 0.1f, 1.0f, 10.0f, 100.0f, 0.5f};
  const std::vector<char> chained = {0, 1, 0, 1, 0, 0};
  const sbi::causal::detail::KernelRowPlan plan{gammas.data(), chained.data(), static_cast<int>(gammas.size())};
  Eigen::ArrayXf a[5], b[5];
  for (auto& v : a) v.resize(m);
  for (auto& v : b) v.resize(m);
  sbi::causal::detail::kernel_row(plan, cause.data(), other.data(), m, 0.3f, -0.2f, a[0].data(), a[1].data(), a[2].data(),
                                  a[3].data(), a[4].data());
  sbi::causal::detail::kernel_row_portable(plan, cause.data(), other.data(), m, 0.3f, -0.2f, b[0].data(), b[1].data(),
                                           b[2].data(), b[3].data(), b[4].data());
  INFO("dispatched copy: " << sbi::causal::detail::kernel_row_variant());
  for (Eigen::Index j = 0; j < m; ++j) {
    CHECK(a[3][j] == Approx(b[3][j]).epsilon(1e-5));  // total
    CHECK(a[4][j] == Approx(b[4][j]).epsilon(1e-5));  // weighted
    // And against double precision: Σ_γ exp(−γ d) with d = (cause − c)² + (g − other)².
    const double d = std::pow(cause[j] - 0.3, 2) + std::pow(-0.2 - other[j], 2);
    double total = 0;
    for (float g : gammas) total += std::exp(-static_cast<double>(g) * d);
    CHECK(a[3][j] == Approx(total).epsilon(1e-5).margin(1e-7));
  }
}

TEST_CASE("CGNN is reproducible for a seed and does not depend on the thread count", "[causal]") {
  const auto metas = read_benchmark_meta(synthetic_dir());
  const CausePair pair = read_pair(metas[0].file);
  CgnnOptions options;
  options.runs = 3;
  options.train_epochs = 40;
  options.eval_epochs = 5;
  options.max_samples = 120;
  const auto a = cgnn(pair, options, 11, 1);
  const auto b = cgnn(pair, options, 11, 2);
  const auto c = cgnn(pair, options, 12, 1);
  CHECK(a.score == b.score);
  CHECK(a.run_scores == b.run_scores);
  CHECK(a.mmd_xy == b.mmd_xy);
  CHECK(a.samples_used == 120);
  CHECK(a.run_scores.size() == 3);
  CHECK(c.score != a.score);
}

TEST_CASE("pair files: missing columns, non-numeric and non-finite cells, constant columns", "[causal]") {
  const auto dir = std::filesystem::temp_directory_path() / ("sbi_causal_pairs_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return dir / name;
  };
  std::string good = "x,y\n";
  for (int i = 0; i < 12; ++i) good += std::to_string(i) + "," + std::to_string(i * i % 7) + "\n";
  CHECK(read_pair(write("good.csv", good)).x.size() == 12);
  auto message = [](const std::filesystem::path& p) {
    try {
      read_pair(p);
    } catch (const sbi::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string one_column = message(write("one.csv", "x\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n"));
  CHECK_THAT(one_column, Catch::Contains("one.csv") && Catch::Contains("column"));
  std::string bad_cell = good;
  bad_cell.replace(bad_cell.find("3,2"), 3, "3,abc");
  const std::string non_numeric = message(write("bad.csv", bad_cell));
  CHECK_THAT(non_numeric, Catch::Contains("bad.csv") && Catch::Contains(":5:"));  // read_csv: file:line:
  std::string nan_cell = good;
  nan_cell.replace(nan_cell.find("3,2"), 3, "3,nan");
  CHECK_THAT(message(write("nan.csv", nan_cell)), Catch::Contains("nan.csv") && Catch::Contains("line 5"));
  std::string constant = "x,y\n";
  for (int i = 0; i < 12; ++i) constant += std::to_string(i) + ",4\n";
  CHECK_THAT(message(write("flat.csv", constant)), Catch::Contains("flat.csv") && Catch::Contains("constant"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("the classical baselines beat chance on the generated pairs they are meant for", "[causal]") {
  // fit, reci and IGCI with the Gaussian reference on all 48 pairs. ANM assumes additive noise: on
  // the multiplicative pairs (Y = exp(f(X)/2)·U) the reverse direction looks more additive and it
  // is wrong on all 16, so it is held to the 32 additive and location-scale pairs: there
  // P(Bin(32, ½) ≥ 24) = 0.0035 ≤ 0.01 < P(≥ 23) = 0.0100 (binom.sf(22, 32, .5)), so 24 of 32.
  // IGCI with the uniform reference assumes a nearly deterministic mechanism and is near chance
  // with this noise level (28 of 48); its test is the noise-free case above.
  MethodOptions options;
  for (const std::string method : {"igci-slope-gauss", "igci-entropy-gauss", "reci", "fit"}) {
    int total = 0;
    const int correct = correct_on_synthetic(method, options, &total);
    INFO(method << ": " << correct << " of " << total);
    REQUIRE(total == kPairs);
    CHECK(correct >= kAboveChance);
  }
  int total = 0;
  const int correct = correct_on_synthetic("anm", options, &total, /*additive_or_location_scale_only=*/true);
  INFO("anm: " << correct << " of " << total);
  REQUIRE(total == 32);
  CHECK(correct >= 24);
}

// CGNN is too slow for the fast suite over 48 pairs (24 fits of 1000 + 200 steps per pair, about
// 7 CPU-min). The bound is the same α = 0.01 binomial one as for the baselines; the defaults were
// chosen on these pairs but with another seed (the CLI's seed 1, bench/causal/RESULTS.md), and this
// test runs seed 5.
TEST_CASE("CGNN with default settings beats chance on the generated pairs", "[causal][.slow]") {
  int total = 0;
  const int correct = correct_on_synthetic("cgnn", MethodOptions{}, &total);
  INFO("cgnn (defaults): " << correct << " of " << total);
  CHECK(correct >= kAboveChance);
}
