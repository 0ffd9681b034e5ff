// The conditional density estimators with untrained (randomised) weights: gradients, normalisation,
// agreement of samples with log_prob, the autoregressive structure, determinism and files.
#include "flow_test_helpers.hpp"

#include "sbi/core/error.hpp"
#include "sbi/flows/density.hpp"
#include "sbi/flows/network.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

using namespace flow_tests;

namespace {

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("sbi_flows_test_" + name);
}

// Loss = mean log q(x | c) over a batch; analytic gradients against difference quotients in float.
// Tolerance: the loss is O(1–10); float rounding of a difference quotient with step h = 10⁻² is about
// 10⁻⁶·|loss|/(2h) ≈ 3·10⁻⁴, truncation h²·|f⁽³⁾|/6 is ~10⁻⁵: |a − n| ≤ 2·10⁻³ + 2·10⁻²·max(|a|, |n|).
// Splines make the loss only piecewise smooth in the weights (when a knot moves past a data point
// the log-derivative has a kink), so where the central quotient straddles a kink the analytic value
// must match one of the one-sided quotients instead (truncation h·|f''|/2: tolerance 5·10⁻²·max).
void check_parameter_gradients(sbi::flows::ConditionalDensity& q, const RowMatrix& x, const RowMatrix& c) {
  using sbi::flows::Tape;
  Tape tape;
  const sbi::flows::Mat zx = q.standardize_x(x), zc = q.standardize_c(c);
  auto loss_value = [&] {
    Tape eval;
    return static_cast<double>(sbi::ad::mean(q.evaluate_standardized_log_prob(eval, eval.constant(zx), eval.constant(zc))).item());
  };
  auto parameters = q.parameters();
  sbi::nn::zero_grad(parameters);
  tape.backward(sbi::ad::mean(q.standardized_log_prob(tape.constant(zx), tape.constant(zc))));
  sbi::Rng pick = sbi::Rng::stream(3, 3);
  DifferenceQuotients quotients{loss_value};
  quotients.compare_parameters(parameters, pick, 4);
  CHECK(quotients.checked > 8);
  CHECK(quotients.one_sided * 5 <= quotients.checked);  // kinks are the exception, not the rule
}

sbi::flows::Standardization test_standardization() {
  sbi::flows::Standardization s;
  s.x_mean = Eigen::Vector2d(1.0, -2.0);
  s.x_sd = Eigen::Vector2d(2.0, 0.5);
  s.c_mean = Eigen::Vector3d(0.5, 0.0, -1.0);
  s.c_sd = Eigen::Vector3d(1.0, 3.0, 0.2);
  return s;
}

}  // namespace

TEST_CASE("flows: every family has exact parameter gradients", "[flows]") {
  for (const auto& family : family_names()) {
    INFO(family);
    // tanh: finite differences across ReLU kinks would measure the kinks, not the gradient.
    DensityEstimatorOptions options = small_options(family);
    options.activation = sbi::nn::Activation::tanh;
    auto q = sbi::flows::make_density(options, 2, 3, 11);
    randomize(*q, 0.12, 1);
    check_parameter_gradients(*q, normal_rows(8, 2, 2), normal_rows(8, 3, 3));
  }
}

TEST_CASE("flows: log_prob integrates to one in two dimensions, z-scoring included", "[flows]") {
  // Midpoint rule with 600² cells over mean ± 7 sd (h = 0.023 sd). Weights N(0, 0.12²) give clearly
  // non-Gaussian densities (checked below) whose splines stay resolvable at this h: on these seeds
  // the integral agrees with a 2000²-cell grid to < 10⁻⁴ and the mass beyond ± 7 sd is below that,
  // so the margin 10⁻³ leaves a factor 10 (bin widths of random splines are not bounded below, so
  // a much finer feature could in principle appear; with fixed seeds the outcome is deterministic).
  const Eigen::Vector2d low(1.0 - 14.0, -2.0 - 3.5), high(1.0 + 14.0, -2.0 + 3.5);
  for (const auto& family : family_names()) {
    INFO(family);
    auto q = sbi::flows::make_density(small_options(family), 2, 3, 12);
    randomize(*q, 0.12, 2);
    q->set_standardization(test_standardization());
    const Vector context = normal_rows(1, 3, 20).row(0).transpose();
    CHECK(integrate_2d(*q, context, low, high, 600) == Approx(1.0).margin(1e-3));
    // Not trivially a standard normal: log q differs from log N(z)−log sd by more than 0.1 somewhere.
    const RowMatrix x = normal_rows(200, 2, 30);
    const Vector lp = q->log_prob(x, RowMatrix(normal_rows(1, 3, 20)));
    double largest_gap = 0;
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
      const double z0 = (x(r, 0) - 1.0) / 2.0, z1 = (x(r, 1) + 2.0) / 0.5;
      const double normal = -0.5 * (z0 * z0 + z1 * z1) - std::log(2 * M_PI) - std::log(2.0 * 0.5);
      largest_gap = std::max(largest_gap, std::abs(lp(r) - normal));
    }
    CHECK(largest_gap > 0.5);
  }
}

TEST_CASE("flows: one-dimensional data works for every family and integrates to one", "[flows]") {
  for (const auto& family : family_names()) {
    INFO(family);
    auto q = sbi::flows::make_density(small_options(family), 1, 2, 13);
    randomize(*q, 0.3, 3);
    const Vector context = normal_rows(1, 2, 40).row(0).transpose();
    CHECK(integrate_1d(*q, context, -30.0, 30.0, 60000) == Approx(1.0).margin(1e-3));
    sbi::Rng rng(5);
    const RowMatrix draws = q->sample(context, 100, rng);
    CHECK(draws.allFinite());
  }
}

TEST_CASE("flows: samples follow log_prob (binned chi-square test)", "[flows]") {
  // 20,000 draws binned on an 8×8 grid over ±3 around the centre plus one bin for the rest; the
  // expected counts come from quadrature of exp(log_prob) (40² midpoints per bin, error ≪ counting
  // noise). Bins expecting fewer than 5 draws join the outer bin. Under agreement the statistic is
  // χ² with (bins − 1) degrees of freedom; the test fails above its 0.999 quantile.
  const Eigen::Index n = 20000;
  for (const auto& family : family_names()) {
    INFO(family);
    auto q = sbi::flows::make_density(small_options(family), 2, 3, 14);
    randomize(*q, 0.2, 4);
    const Vector context = normal_rows(1, 3, 50).row(0).transpose();
    sbi::Rng rng = sbi::Rng::stream(6, 0);
    const RowMatrix draws = q->sample(context, n, rng);
    REQUIRE(draws.allFinite());
    const int cells = 8, sub = 40;
    const double low = -3.0, width = 6.0 / cells;
    std::vector<double> expected(cells * cells + 1, 0.0), observed(cells * cells + 1, 0.0);
    double inside = 0;
    for (int a = 0; a < cells; ++a)
      for (int b = 0; b < cells; ++b) {
        const double p = integrate_2d(*q, context, Eigen::Vector2d(low + a * width, low + b * width),
                                      Eigen::Vector2d(low + (a + 1) * width, low + (b + 1) * width), sub);
        expected[a * cells + b] = p * n;
        inside += p;
      }
    expected.back() = (1.0 - inside) * n;
    for (Eigen::Index r = 0; r < n; ++r) {
      const int a = static_cast<int>(std::floor((draws(r, 0) - low) / width)), b = static_cast<int>(std::floor((draws(r, 1) - low) / width));
      observed[(a >= 0 && a < cells && b >= 0 && b < cells) ? a * cells + b : cells * cells] += 1;
    }
    double statistic = 0, outer_expected = 0, outer_observed = 0;
    int bins = 0;
    for (std::size_t k = 0; k < expected.size(); ++k) {
      if (expected[k] < 5 || k + 1 == expected.size()) {
        outer_expected += expected[k];
        outer_observed += observed[k];
        continue;
      }
      statistic += (observed[k] - expected[k]) * (observed[k] - expected[k]) / expected[k];
      ++bins;
    }
    if (outer_expected >= 5) {
      statistic += (outer_observed - outer_expected) * (outer_observed - outer_expected) / outer_expected;
      ++bins;
    }
    REQUIRE(bins >= 20);
    const double critical = chi_square_quantile(bins - 1, 3.090);
    INFO("chi-square " << statistic << " with " << bins - 1 << " df, critical " << critical);
    CHECK(statistic < critical);
  }
}

TEST_CASE("flows: MADE outputs depend only on earlier dimensions and on the context", "[flows]") {
  using namespace sbi::flows;
  const Eigen::Index d = 4, k = 2, per = 3;
  std::vector<Eigen::Index> output_dimension;
  for (Eigen::Index col = 0; col < d * per; ++col) output_dimension.push_back(col / per);
  sbi::Rng rng(1);
  Made made(d, k, {12, 12}, output_dimension, sbi::nn::Activation::tanh, rng, "made");
  sbi::nn::ParameterList<float> list;
  made.collect(list);
  for (auto* p : list) p->value.setRandom();  // dense random values; the masks must still cut them
  Tape tape;
  const Binder bind(tape, false);
  const Mat x = Mat::Random(3, d), h = Mat::Random(3, k);
  const Mat base = made.forward(bind, tape.constant(x), tape.constant(h)).value();
  for (Eigen::Index j = 0; j < d; ++j) {
    Mat moved = x;
    moved.col(j).array() += 1.0f;
    const Mat out = made.forward(bind, tape.constant(moved), tape.constant(h)).value();
    for (Eigen::Index col = 0; col < d * per; ++col) {
      const bool may_depend = output_dimension[static_cast<std::size_t>(col)] > j;
      INFO("output " << col << " (dimension " << output_dimension[static_cast<std::size_t>(col)] << "), moved x_" << j);
      if (!may_depend) CHECK((out.col(col) - base.col(col)).cwiseAbs().maxCoeff() == 0.0f);
      else CHECK((out.col(col) - base.col(col)).cwiseAbs().maxCoeff() > 0.0f);
    }
  }
  // Every output, the first dimension's included, depends on the context.
  Mat other_h = h;
  other_h.array() += 1.0f;
  const Mat out = made.forward(bind, tape.constant(x), tape.constant(other_h)).value();
  for (Eigen::Index col = 0; col < d * per; ++col) CHECK((out.col(col) - base.col(col)).cwiseAbs().maxCoeff() > 0.0f);
}

TEST_CASE("flows: the same seed gives the same bits", "[flows]") {
  for (const auto& family : family_names()) {
    INFO(family);
    auto a = sbi::flows::make_density(small_options(family), 3, 2, 21);
    auto b = sbi::flows::make_density(small_options(family), 3, 2, 21);
    auto c = sbi::flows::make_density(small_options(family), 3, 2, 22);
    const auto pa = a->parameters(), pb = b->parameters(), pc = c->parameters();
    REQUIRE(pa.size() == pb.size());
    bool any_different = false;
    for (std::size_t i = 0; i < pa.size(); ++i) {
      CHECK(pa[i]->value == pb[i]->value);
      any_different = any_different || pa[i]->value != pc[i]->value;
    }
    CHECK(any_different);
    sbi::Rng r1(3), r2(3);
    const Vector context = Eigen::Vector2d(0.3, -0.4);
    CHECK(a->sample(context, 50, r1) == b->sample(context, 50, r2));
  }
}

TEST_CASE("flows: save and load round-trip bit for bit, damaged files are FileErrors naming them", "[flows]") {
  for (const auto& family : family_names()) {
    INFO(family);
    DensityEstimatorOptions options = small_options(family);
    options.permutation = DensityEstimatorOptions::Permutation::random;
    auto q = sbi::flows::make_density(options, 3, 3, 23);
    randomize(*q, 0.2, 5);
    sbi::flows::Standardization s;
    s.x_mean = Eigen::Vector3d(0.1, 1e-7, 3.0);
    s.x_sd = Eigen::Vector3d(1.0 / 3.0, 2.0, 1e5);
    q->set_standardization(s);
    const auto path = temp_path(family + ".sbinn");
    q->save(path);
    auto loaded = sbi::flows::load_density(path);
    CHECK(loaded->options().to_json() == q->options().to_json());
    CHECK(loaded->standardization().x_sd == s.x_sd);
    const RowMatrix x = normal_rows(64, 3, 60), c = normal_rows(64, 3, 61);
    const Vector original = q->log_prob(x, c), again = loaded->log_prob(x, c);
    CHECK(original == again);  // bit for bit
    sbi::Rng r1(8), r2(8);
    CHECK(q->sample(c.row(0).transpose(), 40, r1) == loaded->sample(c.row(0).transpose(), 40, r2));

    // Damage: truncation, a flipped byte in the data block, another kind of file.
    std::string bytes;
    {
      std::ifstream in(path, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    const auto damaged = temp_path(family + "_damaged.sbinn");
    auto write = [&](const std::string& content) {
      std::ofstream out(damaged, std::ios::binary | std::ios::trunc);
      out << content;
    };
    write(bytes.substr(0, bytes.size() - 7));
    CHECK_THROWS_AS(sbi::flows::load_density(damaged), sbi::FileError);
    CHECK_THROWS_WITH(sbi::flows::load_density(damaged), Catch::Contains(damaged.string()) && Catch::Contains("truncated"));
    std::string flipped = bytes;
    flipped[flipped.size() - 3] ^= 0x10;
    write(flipped);
    CHECK_THROWS_WITH(sbi::flows::load_density(damaged), Catch::Contains(damaged.string()) && Catch::Contains("checksum"));
    CHECK_THROWS_AS(sbi::flows::load_density(temp_path("no_such_file")), sbi::FileError);
    std::filesystem::remove(path);
    std::filesystem::remove(damaged);
  }
}
