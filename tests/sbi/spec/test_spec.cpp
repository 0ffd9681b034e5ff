#include "sbi/spec/spec.hpp"

#include "sbi/core/error.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <fstream>

using namespace sbi;
namespace fs = std::filesystem;

namespace {
std::string error_of(const std::string& text, const fs::path& dir = ".") {
  try {
    parse_spec(nlohmann::json::parse(text), dir);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("a complete spec parses", "[spec]") {
  const auto spec = parse_spec(nlohmann::json::parse(R"({
    "description": "demo",
    "simulator": {"name": "lotka_volterra", "options": {}},
    "prior": [{"name": "alpha", "dist": "lognormal", "mu": -0.125, "sigma": 0.5},
              {"name": "x", "dist": "uniform", "low": -1, "high": 1}],
    "observation": [30.1, 12.5],
    "true_parameters": [0.7, 0.1],
    "seed": 7,
    "simulation": {"failure_policy": "redraw", "max_redraws": 5},
    "inference": {"method": "lfvi", "simulations": 10000},
    "output": {"samples": 500}})"), ".");
  CHECK(spec.description == "demo");
  CHECK(spec.prior->dim() == 2);
  CHECK(spec.observation->size() == 2);
  CHECK((*spec.observation)[1] == 12.5);
  CHECK(spec.seed == 7);
  CHECK(spec.failure_policy == FailurePolicy::redraw);
  CHECK(spec.max_redraws == 5);
  CHECK(spec.inference["method"] == "lfvi");
  CHECK(spec.output_samples == 500);
  CHECK_FALSE(spec.has_external_simulator());
}

TEST_CASE("spec errors name the JSON path and what was expected", "[spec]") {
  CHECK(error_of(R"({"simulator": {"name": "x"}, "seed": -1})") == "seed: expected an integer ≥ 0, got -1");
  CHECK(error_of(R"({"simulator": {"name": "x"}, "sede": 1})").rfind("sede: unknown key", 0) == 0);
  CHECK(error_of(R"({"prior": []})") == "simulator: missing (required): a built-in {\"name\": ...} or an external {\"command\": [...]}");
  CHECK(error_of(R"({"simulator": {"name": "x"}, "observation": [1, "a"]})") == "observation[1]: expected a number, got \"a\"");
  CHECK(error_of(R"({"simulator": {"name": "x"}, "simulation": {"failure_policy": "ignore"}})") ==
        "simulation.failure_policy: expected one of \"drop\", \"redraw\" or \"fail\", got \"ignore\"");
  CHECK(error_of(R"({"simulator": {"name": "x"}, "output": {"samples": 0}})") == "output.samples: expected an integer in [1, 100000000], got 0");
  CHECK(error_of(R"({"simulator": {"name": "x"}, "prior": [{"name": "a", "dist": "normal", "mu": 0, "sigma": 1}], "true_parameters": [1, 2]})") ==
        "true_parameters: expected a list of 1 numbers, got 2");
  CHECK(error_of(R"({"simulator": {"name": "x", "command": ["a"]}})") == "simulator: give either \"name\" or \"command\", not both");
}

TEST_CASE("observations can come from a CSV file next to the spec", "[spec]") {
  const auto dir = fs::temp_directory_path() / ("sbi_spec_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream(dir / "obs.csv") << "data_1,data_2\n1.5,2.5\n";
    std::ofstream(dir / "two_rows.csv") << "data_1\n1\n2\n";
    std::ofstream(dir / "spec.json") << R"({"simulator": {"name": "x"}, "observation": {"file": "obs.csv"}})";
    std::ofstream(dir / "broken.json") << "{\n  \"simulator\": {\"name\": \"x\"},\n  \"seed\": 1,,\n}";
  }
  const auto spec = read_spec(dir / "spec.json");
  CHECK((*spec.observation)[0] == 1.5);
  CHECK_THAT(error_of(R"({"simulator": {"name": "x"}, "observation": {"file": "two_rows.csv"}})", dir),
             Catch::StartsWith("observation.file: ") && Catch::Contains("exactly one row"));
  CHECK_THAT(error_of(R"({"simulator": {"name": "x"}, "observation": {"file": "missing.csv"}})", dir),
             Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(read_spec(dir / "broken.json"), Catch::Contains("broken.json:3:") && Catch::Contains("invalid JSON"));
  fs::remove_all(dir);
}
