#include "sbi/priors/prior.hpp"
#include "simulators/registry.hpp"
#include "test_support.hpp"

#include <fstream>
#include <set>

using namespace sbi;
using namespace sbi::simulators;
using nlohmann::json;

namespace {
const std::vector<std::string> kTasks{"bernoulli_glm", "gaussian_linear", "gaussian_linear_uniform", "gaussian_mixture",
                                      "lotka_volterra", "sir", "slcp", "two_moons"};

json read_spec(const std::string& task) {
  std::ifstream in(test::source_path("data/specs/" + task + ".json"));
  REQUIRE(in.good());
  return json::parse(in);
}
}  // namespace

TEST_CASE("registry: the eight sbibm tasks, each consistent with its prior", "[simulators][registry]") {
  std::set<std::string> names;
  for (const auto& entry : builtin_simulators()) names.insert(entry.name);
  for (const auto& task : kTasks) CHECK(names.count(task) == 1);

  for (const auto& task : kTasks) {
    INFO(task);
    const auto& entry = find_builtin_simulator(task);
    CHECK(!entry.description.empty());
    const Simulator sim = entry.make(json::object(), "simulator.options");
    CHECK(sim.name() == task);
    CHECK(sim.thread_safe());
    const auto prior = entry.default_prior(json::object());
    REQUIRE(prior->dim() == sim.parameter_dim());
    CHECK(prior->names() == sim.info().parameter_names);
    // A null options section counts as empty.
    CHECK(entry.make(json(), "simulator.options").data_dim() == sim.data_dim());

    // Prior draws simulate to finite data; same stream, same data.
    Rng rng(17);
    const RowMatrix theta = prior->sample_batch(rng, 5);
    for (Eigen::Index i = 0; i < theta.rows(); ++i) {
      const Vector a = sim.simulate_one(row_span(theta, i), 100 + static_cast<std::uint64_t>(i));
      const Vector b = sim.simulate_one(row_span(theta, i), 100 + static_cast<std::uint64_t>(i));
      CHECK(a.size() == static_cast<Eigen::Index>(sim.data_dim()));
      CHECK(a.allFinite());
      CHECK(a == b);
    }

    // Unknown options are rejected, naming the path.
    CHECK_THROWS_WITH(entry.make(json{{"bogus", 1}}, "simulator.options"), Catch::StartsWith("simulator.options.bogus: unknown key"));
    CHECK_THROWS_WITH(entry.make(json::array(), "simulator.options"),
                      Catch::StartsWith("simulator.options: expected an object"));
  }
}

TEST_CASE("registry: unknown names list the known ones", "[simulators][registry]") {
  CHECK_THROWS_AS(find_builtin_simulator("lotka_voltera"), InputError);
  CHECK_THROWS_WITH(find_builtin_simulator("lotka_voltera"),
                    Catch::StartsWith("simulator.name: unknown simulator \"lotka_voltera\"") && Catch::Contains("two_moons"));
}

TEST_CASE("specs: data/specs/<task>.json match the registry and sbibm observation 1", "[simulators][specs]") {
  for (const auto& task : kTasks) {
    INFO(task);
    const json spec = read_spec(task);
    CHECK(spec.at("simulator").at("name") == task);
    const auto& entry = find_builtin_simulator(spec["simulator"]["name"].get<std::string>());
    const Simulator sim = entry.make(spec["simulator"]["options"], "simulator.options");
    const auto registry_prior = entry.default_prior(spec["simulator"]["options"]);
    const auto spec_prior = prior_from_json(spec.at("prior"));
    REQUIRE(spec_prior->dim() == registry_prior->dim());
    CHECK(spec_prior->names() == registry_prior->names());

    // Same density at prior draws and at θ*.
    Rng rng(23);
    RowMatrix points = registry_prior->sample_batch(rng, 5);
    const auto truth = test::read_csv_row("data/sbibm/" + task + "/obs_1/true_parameters.csv").values;
    points.conservativeResize(6, Eigen::NoChange);
    for (Eigen::Index j = 0; j < points.cols(); ++j) points(5, j) = truth[static_cast<std::size_t>(j)];
    for (Eigen::Index i = 0; i < points.rows(); ++i) {
      const double expected = registry_prior->log_prob(row_span(points, i));
      CHECK(std::isfinite(expected));
      CHECK(spec_prior->log_prob(row_span(points, i)) == Approx(expected).epsilon(1e-12).margin(1e-12));
    }

    // Observation and true parameters are sbibm's observation 1.
    const auto observation = spec.at("observation").get<std::vector<double>>();
    CHECK(observation == test::read_csv_row("data/sbibm/" + task + "/obs_1/observation.csv").values);
    CHECK(observation.size() == sim.data_dim());
    CHECK(spec.at("true_parameters").get<std::vector<double>>() == truth);
    CHECK(truth.size() == sim.parameter_dim());

    for (const char* key : {"description", "seed", "simulation", "inference", "output"}) CHECK(spec.contains(key));
  }
}
