#include "sbi/simulation/runner.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace sbi;

namespace {

// A simulator whose number of random draws varies with θ, so any sharing of streams between
// simulations would show up as different outputs.
Simulator noisy_simulator(bool thread_safe = true) {
  SimulatorInfo info{"noisy", {"a", "b"}, {"y1", "y2", "y3"}, thread_safe};
  return make_simulator(info, [](ConstRow theta, MutableRow y, Rng& rng) {
    const int extra = static_cast<int>(rng.below(5));
    double acc = 0;
    for (int k = 0; k < extra; ++k) acc += rng.normal();
    y[0] = theta[0] + rng.normal();
    y[1] = theta[1] * rng.uniform();
    y[2] = acc;
    return true;
  });
}

UniformPrior box() { return UniformPrior(Vector::Constant(2, 0.0), Vector::Constant(2, 1.0), {"a", "b"}); }

struct Collected {
  std::vector<std::uint64_t> indices;
  RowMatrix theta, y;
};

Collected run(const Simulator& sim, const Prior& prior, std::size_t n, SimulationOptions options, std::uint64_t first = 0,
              SimulationSummary* summary = nullptr) {
  Collected c;
  c.theta.resize(0, 2);
  c.y.resize(0, static_cast<Eigen::Index>(sim.data_dim()));
  auto s = simulate_from_prior(sim, prior, n, 42, first, options, [&](const SimulationChunk& chunk) {
    const auto old = c.theta.rows();
    const auto add = static_cast<Eigen::Index>(chunk.indices.size());
    c.theta.conservativeResize(old + add, Eigen::NoChange);
    c.y.conservativeResize(old + add, Eigen::NoChange);
    c.theta.bottomRows(add) = chunk.theta;
    c.y.bottomRows(add) = chunk.y;
    c.indices.insert(c.indices.end(), chunk.indices.begin(), chunk.indices.end());
  });
  if (summary) *summary = s;
  return c;
}

}  // namespace

TEST_CASE("tables are bit-identical for any thread count and batch size", "[simulation][reproducibility]") {
  const auto sim = noisy_simulator();
  const auto prior = box();
  SimulationOptions one;
  one.threads = 1;
  one.batch_size = 256;
  const Collected reference = run(sim, prior, 3001, one);
  REQUIRE(reference.theta.rows() == 3001);
  for (int threads : {1, 2, 3}) {
    for (std::size_t batch : {1, 7, 1000}) {
      SimulationOptions options;
      options.threads = threads;
      options.batch_size = batch;
      const Collected other = run(sim, prior, 3001, options);
      INFO("threads " << threads << ", batch " << batch);
      CHECK(other.indices == reference.indices);
      CHECK((other.theta.array() == reference.theta.array()).all());
      CHECK((other.y.array() == reference.y.array()).all());
    }
  }
  SECTION("a run split in two continues the same streams") {
    const Collected first = run(sim, prior, 1000, one, 0);
    const Collected second = run(sim, prior, 2001, one, 1000);
    CHECK((first.y.array() == reference.y.topRows(1000).array()).all());
    CHECK((second.y.array() == reference.y.bottomRows(2001).array()).all());
    CHECK(second.indices.front() == 1000);
  }
  SECTION("simulate_given reproduces the prior run for the same θ") {
    SimulationOptions two;
    two.threads = 2;
    const RowMatrix y = simulate_given(sim, reference.theta, 42, 0, two);
    CHECK((y.array() == reference.y.array()).all());
  }
}

TEST_CASE("a simulator that is not thread-safe is refused on several threads", "[simulation]") {
  const auto sim = noisy_simulator(false);
  const auto prior = box();
  SimulationOptions options;
  options.threads = 2;
  CHECK_THROWS_WITH(run(sim, prior, 10, options), Catch::Contains("not thread-safe") && Catch::Contains("--threads 1"));
  options.threads = 1;
  CHECK(run(sim, prior, 10, options).theta.rows() == 10);
}

TEST_CASE("failure policies: drop, redraw and fail are applied and counted", "[simulation]") {
  SimulatorInfo info{"picky", {"a", "b"}, {"y"}};
  const auto sim = make_simulator(info, [](ConstRow theta, MutableRow y, Rng& rng) {
    if (theta[0] > 0.8) return false;                          // fails for 20 % of the prior
    y[0] = theta[0] < 0.1 ? std::nan("") : theta[1] + rng.normal();  // non-finite for 10 %
    return true;
  });
  const auto prior = box();
  SimulationOptions options;
  options.threads = 2;
  options.batch_size = 16;

  SimulationSummary summary;
  options.failure_policy = FailurePolicy::drop;
  const Collected dropped = run(sim, prior, 2000, options, 0, &summary);
  CHECK(summary.kept == static_cast<std::size_t>(dropped.theta.rows()));
  CHECK(summary.dropped == summary.failed + summary.non_finite);
  CHECK(summary.kept + summary.dropped == 2000);
  CHECK(summary.next_index == 2000);
  // 30 % of rows are bad: binomial sd √(2000·0.3·0.7) ≈ 20.5, so ±5 sd ≈ ±103.
  CHECK(std::abs(static_cast<double>(summary.dropped) - 600.0) < 103);
  CHECK((dropped.theta.col(0).array() <= 0.8).all());
  CHECK(summary.first_failure.find("θ = (a=") != std::string::npos);

  options.failure_policy = FailurePolicy::redraw;
  const Collected redrawn = run(sim, prior, 2000, options, 0, &summary);
  CHECK(redrawn.theta.rows() == 2000);
  CHECK(summary.redraws == summary.failed + summary.non_finite);
  CHECK(summary.redraws > 0);
  CHECK(((redrawn.theta.col(0).array() <= 0.8) && (redrawn.theta.col(0).array() >= 0.1)).all());
  options.threads = 1;
  const Collected redrawn_single = run(sim, prior, 2000, options);
  CHECK((redrawn_single.y.array() == redrawn.y.array()).all());

  options.failure_policy = FailurePolicy::fail;
  Collected partial;
  try {
    partial = run(sim, prior, 2000, options, 0, &summary);
    FAIL("expected a SimulationError");
  } catch (const SimulationError& e) {
    CHECK_THAT(e.what(), Catch::Contains("picky: simulation") && Catch::Contains("θ = (a="));
  }
}

TEST_CASE("a stop request ends the run after the chunk in flight", "[simulation]") {
  std::atomic<bool> stop{false};
  std::size_t chunks = 0;
  SimulationOptions options;
  options.threads = 2;
  options.stop = &stop;
  options.on_progress = [&](std::size_t, std::size_t) {
    if (++chunks == 2) stop = true;
  };
  SimulationSummary summary;
  const Collected part = run(noisy_simulator(), box(), 100000, options, 0, &summary);
  CHECK(summary.interrupted);
  CHECK(summary.kept == static_cast<std::size_t>(part.theta.rows()));
  CHECK(summary.kept < 100000);
  CHECK(summary.next_index == summary.kept);
}

TEST_CASE("options and dimensions are validated", "[simulation]") {
  SimulationOptions bad;
  bad.batch_size = 0;
  CHECK_THROWS_AS(run(noisy_simulator(), box(), 10, bad), InputError);
  UniformPrior three(Vector::Constant(3, 0.0), Vector::Constant(3, 1.0));
  CHECK_THROWS_WITH(run(noisy_simulator(), three, 10, SimulationOptions{}), Catch::Contains("has 3 parameters but simulator"));
}

TEST_CASE("a prior that lists the simulator's parameters in another order is refused", "[simulation]") {
  // The simulator takes (a, b): a prior over (b, a) would hand b's values to a without a word.
  const UniformPrior swapped(Vector::Constant(2, 0.0), Vector::Constant(2, 1.0), {"b", "a"});
  CHECK_THROWS_WITH(run(noisy_simulator(), swapped, 10, SimulationOptions{}),
                    Catch::Contains("names parameter 1 \"b\", which simulator \"noisy\" has as parameter 2") &&
                        Catch::Contains("(a, b)"));
  const UniformPrior half_swapped(Vector::Constant(2, 0.0), Vector::Constant(2, 1.0), {"c", "a"});
  CHECK_THROWS_AS(run(noisy_simulator(), half_swapped, 10, SimulationOptions{}), InputError);
  // Names the simulator does not use are labels: the values go by position.
  const UniformPrior relabelled(Vector::Constant(2, 0.0), Vector::Constant(2, 1.0), {"p", "q"});
  CHECK(run(noisy_simulator(), relabelled, 10, SimulationOptions{}).theta.rows() == 10);
  CHECK(prior_misfit(box(), noisy_simulator()).empty());
  CHECK(prior_misfit(swapped, noisy_simulator()).rfind("names parameter 1", 0) == 0);
}
