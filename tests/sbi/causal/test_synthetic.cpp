// The generated cause–effect pairs (sbi/causal/synthetic.hpp): each family's defining property,
// reproducibility, balance of the stored directions, the folder format, and the benchmark's
// summaries by meta.csv column.
#include "sbi/causal/benchmark.hpp"
#include "sbi/causal/synthetic.hpp"
#include "sbi/core/error.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <set>
#include <unistd.h>

namespace {

using namespace sbi::causal;

const sbi::Vector& cause_of(const GeneratedPair& g) { return g.direction == 1 ? g.pair.x : g.pair.y; }
const sbi::Vector& effect_of(const GeneratedPair& g) { return g.direction == 1 ? g.pair.y : g.pair.x; }

std::size_t distinct_values(const sbi::Vector& v) { return std::set<double>(v.data(), v.data() + v.size()).size(); }

double explained_share(const sbi::Vector& x, const sbi::Vector& y, Eigen::Index bins) {
  return detail::explained_share(detail::sorted_order(x), y, bins);
}

}  // namespace

TEST_CASE("generated pairs are reproducible and depend on the seed and the index", "[causal][synthetic]") {
  for (const auto family : all_mechanism_families()) {
    const auto a = generate_pair(family, 100, 7, 3);
    const auto b = generate_pair(family, 100, 7, 3);
    const auto c = generate_pair(family, 100, 7, 4);
    const auto d = generate_pair(family, 100, 8, 3);
    INFO(to_string(family));
    CHECK(a.pair.x == b.pair.x);
    CHECK(a.pair.y == b.pair.y);
    CHECK(a.direction == b.direction);
    CHECK(a.pair.x != c.pair.x);
    CHECK(a.pair.x != d.pair.x);
    CHECK(a.pair.x.size() == 100);
    CHECK_NOTHROW(validate_pair(a.pair));  // finite, not constant
  }
  CHECK_THROWS_AS(generate_pair(MechanismFamily::additive, 5, 1, 0), sbi::InputError);
  CHECK(mechanism_family_from_string("post-nonlinear") == MechanismFamily::post_nonlinear);
  CHECK_THROWS_WITH(mechanism_family_from_string("linear"), Catch::Contains("heteroscedastic"));
}

TEST_CASE("each mechanism family has its defining property", "[causal][synthetic]") {
  // Checked on 40 pairs per family (exact properties, no tolerance needed).
  for (std::uint64_t k = 0; k < 40; ++k) {
    // The cause is standardised (mean 0, sd 1) unless discretised afterwards.
    const auto additive = generate_pair(MechanismFamily::additive, 200, 11, k);
    CHECK(std::abs(cause_of(additive).mean()) < 1e-9);
    CHECK(std::abs((cause_of(additive).array() - cause_of(additive).mean()).square().mean() - 1.0) < 1e-9);
    // Multiplicative: a positive level times positive noise, so the effect is positive.
    const auto multiplicative = generate_pair(MechanismFamily::multiplicative, 200, 11, k);
    CHECK(effect_of(multiplicative).minCoeff() > 0);
    // Post-nonlinear: the drawn nonlinearity is recorded.
    const auto pnl = generate_pair(MechanismFamily::post_nonlinear, 200, 11, k);
    CHECK_THAT(pnl.function, Catch::Contains("+cube") || Catch::Contains("+exp") || Catch::Contains("+tanh") ||
                                 Catch::Contains("+sinh"));
    // Discretised: the rounded column(s) take at most 20 values (continuous ones take all 200).
    const auto discrete = generate_pair(MechanismFamily::discretised, 200, 11, k);
    const bool cause_rounded = discrete.function.find("discrete-cause") != std::string::npos ||
                               discrete.function.find("discrete-both") != std::string::npos;
    const bool effect_rounded = discrete.function.find("discrete-effect") != std::string::npos ||
                                discrete.function.find("discrete-both") != std::string::npos;
    CHECK((cause_rounded || effect_rounded));
    if (cause_rounded) CHECK(distinct_values(cause_of(discrete)) <= 20);
    if (effect_rounded) CHECK(distinct_values(effect_of(discrete)) <= 20);
    if (!cause_rounded) CHECK(distinct_values(cause_of(discrete)) > 20);
  }
}

TEST_CASE("heteroscedastic pairs have a noise scale that varies with the cause", "[causal][synthetic]") {
  // Y = f(X) + σ exp(β r(X)) E: the spread of Y around a local mean differs between regions of X.
  // Averaged over 40 pairs of 2000 rows, the ratio of the larger to the smaller residual sd of the
  // two halves of X (split at the median, residuals from a local mean over 100 bins of 20 rows) is clearly above that
  // of the additive family, whose noise scale is constant: a population ratio of 1 there, estimated
  // with a relative error of a few per cent at 1000 rows per half.
  auto spread_ratio = [](const GeneratedPair& g) {
    const sbi::Vector& x = cause_of(g);
    const sbi::Vector& y = effect_of(g);
    std::vector<Eigen::Index> order(static_cast<std::size_t>(x.size()));
    std::iota(order.begin(), order.end(), Eigen::Index{0});
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return x[a] < x[b]; });
    const std::size_t bins = 100, per = order.size() / bins;
    double ss[2] = {0, 0};
    for (std::size_t b = 0; b < bins; ++b) {
      double mean = 0;
      for (std::size_t i = b * per; i < (b + 1) * per; ++i) mean += y[order[i]] / static_cast<double>(per);
      for (std::size_t i = b * per; i < (b + 1) * per; ++i) ss[b < bins / 2] += std::pow(y[order[i]] - mean, 2);
    }
    return std::sqrt(std::max(ss[0], ss[1]) / std::min(ss[0], ss[1]));
  };
  double heteroscedastic = 0, additive = 0;
  for (std::uint64_t k = 0; k < 40; ++k) {
    heteroscedastic += spread_ratio(generate_pair(MechanismFamily::heteroscedastic, 2000, 12, k)) / 40;
    additive += spread_ratio(generate_pair(MechanismFamily::additive, 2000, 12, k)) / 40;
  }
  INFO("mean spread ratio: heteroscedastic " << heteroscedastic << ", additive " << additive);
  CHECK(additive < 1.3);
  CHECK(heteroscedastic > additive + 0.3);
}

TEST_CASE("spline and non-additive pairs: the cause explains the share of the effect it should", "[causal][synthetic]") {
  // Spline: Y = f(X) + σ h(X) E with sd f(X) = 1, σ ≤ 1, 0 < h ≤ 1 and Var E = 1, so X explains at
  // least half of Y's variance in the population. Estimated by a binned conditional mean (bins of 20
  // rows on 2000), whose error is a few per cent (the sample variance of Student t₅ noise has a
  // relative sd of √(8/2000) ≈ 6 %): every pair above 0.4. Non-additive: the generator redraws g
  // while this statistic (bins of n/10 rows) is below 0.3 on the pair itself, up to 8 times; with
  // 2000 rows a pair can only miss when all 8 draws did, so nearly every one of the 40 holds it.
  for (std::uint64_t k = 0; k < 40; ++k) {
    const auto spline = generate_pair(MechanismFamily::spline, 2000, 13, k);
    INFO(spline.function << " " << spline.cause_law);
    CHECK_THAT(spline.cause_law, Catch::StartsWith("mixture-"));
    CHECK_THAT(spline.function, Catch::StartsWith("spline"));
    CHECK(explained_share(cause_of(spline), effect_of(spline), 100) > 0.4);
  }
  int non_additive_explained = 0;
  for (std::uint64_t k = 0; k < 40; ++k) {
    const auto g = generate_pair(MechanismFamily::non_additive, 2000, 13, k);
    CHECK(g.function == "gp-plane");
    non_additive_explained += explained_share(cause_of(g), effect_of(g), 200) > 0.3;
  }
  CHECK(non_additive_explained >= 38);
}

TEST_CASE("a cause warp changes the cause's law, not its order, and leaves unwarped pairs alone", "[causal][synthetic]") {
  // The warp is monotone and has its own stream: a warped pair's cause has the same order as the
  // unwarped pair's, or the reverse (the same draws), a different law, is standardised again, and the direction coin
  // is unchanged. The discretised family rounds after the warp (ties), the non-additive one is always
  // warped already: both are checked separately.
  for (const auto family : {MechanismFamily::additive, MechanismFamily::multiplicative, MechanismFamily::post_nonlinear,
                            MechanismFamily::heteroscedastic, MechanismFamily::spline}) {
    for (std::uint64_t k = 0; k < 5; ++k) {
      const auto plain = generate_pair(family, 200, 5, k);
      const auto warped = generate_pair(family, 200, 5, k, {.cause_warp = 1.0});
      INFO(to_string(family) << " pair " << k);
      CHECK_THAT(warped.cause_law, Catch::StartsWith("warped-"));
      CHECK(warped.cause_law == "warped-" + plain.cause_law);
      CHECK(warped.direction == plain.direction);
      CHECK(cause_of(warped) != cause_of(plain));
      // Increasing or decreasing (the warp's sign is drawn, as f's): the same order or its reverse
      // (continuous values, no ties).
      const auto order = detail::sorted_order(cause_of(warped));
      auto plain_order = detail::sorted_order(cause_of(plain));
      const bool same = order == plain_order;
      std::reverse(plain_order.begin(), plain_order.end());
      CHECK((same || order == plain_order));
      CHECK(std::abs(cause_of(warped).mean()) < 1e-9);
      CHECK(std::abs((cause_of(warped).array() - cause_of(warped).mean()).square().mean() - 1.0) < 1e-9);
    }
  }
  const auto discretised = generate_pair(MechanismFamily::discretised, 200, 5, 0, {.cause_warp = 1.0});
  CHECK_THAT(discretised.cause_law, Catch::StartsWith("warped-"));
  const auto non_additive = generate_pair(MechanismFamily::non_additive, 200, 5, 0, {.cause_warp = 1.0});
  CHECK(non_additive.pair.x == generate_pair(MechanismFamily::non_additive, 200, 5, 0).pair.x);
  CHECK_THAT(non_additive.cause_law, Catch::StartsWith("warped-") && !Catch::StartsWith("warped-warped-"));
  // p = 0.5: the number warped among 200 additive pairs is Binomial(200, 1/2): mean 100, sd 7.1; four
  // standard deviations either side.
  int warped = 0;
  for (std::uint64_t k = 0; k < 200; ++k)
    warped += generate_pair(MechanismFamily::additive, 20, 9, k, {.cause_warp = 0.5}).cause_law.starts_with("warped-");
  CHECK(warped > 100 - 28);
  CHECK(warped < 100 + 28);
  CHECK_THROWS_WITH(generate_pair(MechanismFamily::additive, 20, 9, 0, {.cause_warp = 1.5}), Catch::Contains("cause_warp"));
}

TEST_CASE("measurement error on the cause and a hidden confounder, each from its own stream", "[causal][synthetic]") {
  for (const auto family : all_mechanism_families()) {
    for (std::uint64_t k = 0; k < 4; ++k) {
      INFO(to_string(family) << " pair " << k);
      const auto plain = generate_pair(family, 2000, 21, k);
      // Cause noise: the effect responds to the true cause, so it keeps its bits; the cause gains an
      // error whose sd is τ ∈ [0.1, 0.5] of the standardised cause's (bounds widened by 10 % for the
      // sd's sampling error at 2000 rows, about 1.6 %); a rounded cause is rounded after the error.
      const auto noisy = generate_pair(family, 2000, 21, k, {.cause_noise = 1.0});
      CHECK_THAT(noisy.cause_law, Catch::StartsWith("noisy-"));
      CHECK(noisy.direction == plain.direction);
      CHECK(effect_of(noisy) == effect_of(plain));
      const sbi::Vector error = cause_of(noisy) - cause_of(plain);
      const bool rounded = plain.function.find("discrete-cause") != std::string::npos ||
                           plain.function.find("discrete-both") != std::string::npos;
      if (rounded) {
        std::vector<double> values(cause_of(noisy).begin(), cause_of(noisy).end());
        std::sort(values.begin(), values.end());
        CHECK(std::unique(values.begin(), values.end()) - values.begin() <= 20);
      } else {
        const double sd = std::sqrt((error.array() - error.mean()).square().mean());
        CHECK(sd > 0.09);
        CHECK(sd < 0.55);
      }
      // Confounding: the cause is moved before the mechanism (and standardised again unless rounded),
      // the effect too; the direction coin is the pair's own.
      const auto confounded = generate_pair(family, 2000, 21, k, {.confounding = 1.0});
      CHECK_THAT(confounded.function, Catch::EndsWith("+confounded"));
      CHECK(confounded.direction == plain.direction);
      CHECK(cause_of(confounded) != cause_of(plain));
      CHECK(effect_of(confounded) != effect_of(plain));
      if (!rounded) {
        CHECK(std::abs(cause_of(confounded).mean()) < 1e-9);
        CHECK(std::abs((cause_of(confounded).array() - cause_of(confounded).mean()).square().mean() - 1.0) < 1e-9);
      }
    }
  }
  // p = 0.5 each: the pairs a distortion leaves alone are exactly those of p = 0, and how many it
  // touches among 200 is Binomial(200, 1/2) (mean 100, sd 7.1; four sd either side).
  int noisy = 0, confounded = 0;
  for (std::uint64_t k = 0; k < 200; ++k) {
    const auto plain = generate_pair(MechanismFamily::heteroscedastic, 30, 9, k);
    const auto both = generate_pair(MechanismFamily::heteroscedastic, 30, 9, k, {.cause_noise = 0.5, .confounding = 0.5});
    const bool is_noisy = both.cause_law.starts_with("noisy-"), is_confounded = both.function.ends_with("+confounded");
    noisy += is_noisy;
    confounded += is_confounded;
    if (!is_noisy && !is_confounded) {
      CHECK(both.pair.x == plain.pair.x);
      CHECK(both.pair.y == plain.pair.y);
    }
  }
  CHECK(std::abs(noisy - 100) < 28);
  CHECK(std::abs(confounded - 100) < 28);
  CHECK_THROWS_WITH(generate_pair(MechanismFamily::additive, 20, 9, 0, {.confounding = -1}), Catch::Contains("confounding"));
}

TEST_CASE("the stored direction is a fair coin", "[causal][synthetic]") {
  // 80 pairs per family: under a fair coin the count of +1 among n pairs is Binomial(n, ½), sd √n/2;
  // five sd from n/2 has probability below 1e-6.
  SyntheticPairsOptions options;
  options.sizes = {20};
  options.pairs_per_cell = 80;
  const auto pairs = generate_pairs(options);
  const auto n = static_cast<double>(80 * all_mechanism_families().size());
  REQUIRE(pairs.size() == static_cast<std::size_t>(n));
  int forward = 0;
  for (const auto& p : pairs) forward += p.direction == 1;
  CHECK(std::abs(forward - n / 2) <= 5 * std::sqrt(n) / 2);
}

TEST_CASE("a generated folder reads back as a benchmark, summarised by family and size", "[causal][synthetic]") {
  const auto dir = std::filesystem::temp_directory_path() / ("sbi_synthetic_" + std::to_string(::getpid()));
  SyntheticPairsOptions options;
  options.families = {"additive", "discretised"};
  options.sizes = {30, 60};
  options.pairs_per_cell = 3;
  const auto pairs = generate_pairs(options);
  write_pairs_folder(dir, pairs);
  const auto metas = read_benchmark_meta(dir);
  REQUIRE(metas.size() == 12);
  CHECK(metas[0].labels.at("family") == "additive");
  CHECK(metas[11].labels.at("family") == "discretised");
  CHECK(metas[3].labels.at("n_samples") == "60");
  const CausePair first = read_pair(metas[0].file);
  CHECK(first.x.isApprox(pairs[0].pair.x, 1e-12));  // written with round-trip precision
  CHECK(metas[0].direction == pairs[0].direction);

  BenchmarkOptions b;
  b.methods = {"reci"};
  b.group_by = {"family", "family+n_samples"};
  const auto result = run_benchmark(dir, b, {});
  // all, 2 families, 4 combinations.
  REQUIRE(result.summaries.size() == 7);
  CHECK(result.summaries[1].subset == "family=additive");
  CHECK(result.summaries[1].pairs == 6);
  CHECK(result.summaries[3].subset == "family=additive,n_samples=30");
  CHECK(result.summaries[3].pairs == 3);
  b.group_by = {"colour"};
  CHECK_THROWS_WITH(run_benchmark(dir, b, {}), Catch::Contains("meta.csv") && Catch::Contains("colour"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("synthetic pair options read from JSON with located errors", "[causal][synthetic]") {
  const auto o = SyntheticPairsOptions::from_json(nlohmann::json::parse(R"({"sizes": [50, 100], "pairs_per_cell": 4})"), "pairs");
  CHECK(o.sizes == std::vector<Eigen::Index>{50, 100});
  CHECK(o.pairs_per_cell == 4);
  CHECK(SyntheticPairsOptions::from_json(o.to_json(), "pairs").to_json() == o.to_json());
  CHECK_THROWS_WITH(SyntheticPairsOptions::from_json(nlohmann::json::parse(R"({"sizes": [5]})"), "pairs"),
                    Catch::Contains("pairs.sizes"));
  CHECK_THROWS_WITH(SyntheticPairsOptions::from_json(nlohmann::json::parse(R"({"families": ["linear"]})"), "pairs"),
                    Catch::Contains("families"));
  CHECK_THROWS_WITH(SyntheticPairsOptions::from_json(nlohmann::json::parse(R"({"size": [50]})"), "pairs"),
                    Catch::Contains("size"));
  CHECK(SyntheticPairsOptions::from_json(nlohmann::json::parse(R"({"cause_warp": 0.25})"), "pairs").distortions.cause_warp == 0.25);
  CHECK(SyntheticPairsOptions::from_json(nlohmann::json::parse(R"({"cause_noise": 0.5})"), "pairs").distortions.cause_noise == 0.5);
  CHECK_THROWS_WITH(SyntheticPairsOptions::from_json(nlohmann::json::parse(R"({"cause_noise": 1.5})"), "pairs"),
                    Catch::Contains("pairs.cause_noise"));
  CHECK_THROWS_WITH(SyntheticPairsOptions::from_json(nlohmann::json::parse(R"({"cause_warp": 1.5})"), "pairs"),
                    Catch::Contains("pairs.cause_warp"));
}
