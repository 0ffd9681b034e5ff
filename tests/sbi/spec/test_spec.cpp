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
  CHECK(error_of(R"({"simulator": {"name": "x"}, "seed": -1})") == "seed: expected a whole number in [0, 2^64), got -1");
  CHECK(error_of(R"({"simulator": {"name": "x"}, "sede": 1})").rfind("sede: unknown key", 0) == 0);
  // No simulator is no error: a spec may describe a table simulated elsewhere (sbi infer --table).
  CHECK(error_of(R"({"seed": 1})") == "no error");
  CHECK(error_of(R"({"simulator": {"name": "x"}, "prior": []})") == "prior: expected a non-empty list of parameters, got an empty list");
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

TEST_CASE("observation files are matched to the data names by their header", "[spec]") {
  // Regression: a header naming the columns in another order was read by position (another
  // posterior, exit 0).
  const auto dir = fs::temp_directory_path() / ("sbi_spec_obs_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream(dir / "ordered.csv") << "y1,y2,y3\n1,2,3\n";
    std::ofstream(dir / "shuffled.csv") << "y3, y1 ,y2\n3,1,2\n";
    std::ofstream(dir / "missing.csv") << "y1,y3\n1,3\n";
    std::ofstream(dir / "extra.csv") << "y1,y2,y3,y4\n1,2,3,4\n";
    std::ofstream(dir / "twice.csv") << "y1,y2,y1\n1,2,1\n";
    std::ofstream(dir / "nan.csv") << "y1,y2,y3\n1,nan,3\n";
  }
  const Names data = {"y1", "y2", "y3"};
  const Vector expected = (Vector(3) << 1, 2, 3).finished();
  CHECK(read_observation_csv(dir / "ordered.csv", data) == expected);
  CHECK(read_observation_csv(dir / "shuffled.csv", data) == expected);
  CHECK_THROWS_WITH(read_observation_csv(dir / "missing.csv", data),
                    Catch::Contains("missing.csv") && Catch::Contains("no column \"y2\""));
  CHECK_THROWS_WITH(read_observation_csv(dir / "extra.csv", data),
                    Catch::Contains("column 4 of the header (\"y4\") is not a data name; the data are: y1, y2, y3"));
  CHECK_THROWS_WITH(read_observation_csv(dir / "twice.csv", data), Catch::Contains("column 3") && Catch::Contains("repeats"));
  CHECK_THROWS_WITH(read_observation_csv(dir / "nan.csv", data), Catch::Contains("column 2") && Catch::Contains("not a finite number"));

  // The spec keeps the file's names; simulators::build_spec_model matches them (tests/simulators).
  {
    std::ofstream(dir / "spec.json") << R"({"simulator": {"name": "x"}, "observation": {"file": "shuffled.csv"}})";
  }
  const auto spec = read_spec(dir / "spec.json");
  CHECK(spec.observation_names == Names{"y3", "y1", "y2"});
  CHECK(spec.observation_file == dir / "shuffled.csv");
  fs::remove_all(dir);
}

TEST_CASE("errors about an observation file never quote the file", "[spec]") {
  // Regression: error messages quoted the first lines of whatever file an observation named.
  const auto dir = fs::temp_directory_path() / ("sbi_spec_quote_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream(dir / "shadow") << "root:$6$s3cr3tHash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n";
    std::ofstream(dir / "keys.csv") << "api_key,token\nhunter2,abc-private\n";
    std::ofstream(dir / "spec.json") << R"({"simulator": {"name": "x"}, "observation": {"file": "shadow"}})";
  }
  for (const auto& file : {dir / "shadow", dir / "keys.csv"}) {
    std::string message;
    try {
      read_observation_csv(file, {"y1", "y2"});
    } catch (const InputError& e) {
      message = e.what();
    }
    INFO(message);
    CHECK_FALSE(message.empty());
    for (const char* secret : {"s3cr3t", "root", "daemon", "hunter2", "abc-private"}) CHECK(message.find(secret) == std::string::npos);
  }
  try {
    read_spec(dir / "spec.json");
    FAIL("expected an error");
  } catch (const InputError& e) {
    CHECK_THAT(e.what(), Catch::Contains("observation.file") && !Catch::Contains("s3cr3t") && !Catch::Contains("root"));
  }
  fs::remove_all(dir);
}

TEST_CASE("parameter names that cannot round-trip through CSV are refused at the spec", "[spec]") {
  // Regression: names with a comma, a newline or a leading '#' gave a samples.csv that could not be
  // read back.
  const auto prior_with = [](const std::string& name) {
    return R"({"simulator": {"name": "x"}, "prior": [{"name": )" + nlohmann::json(name).dump() +
           R"(, "dist": "normal", "mu": 0, "sigma": 1}]})";
  };
  CHECK_THAT(error_of(prior_with("a,b")), Catch::StartsWith("prior[0].name: a name must not contain a comma"));
  CHECK_THAT(error_of(prior_with("a\nb")), Catch::StartsWith("prior[0].name: a name must not contain a line break"));
  CHECK_THAT(error_of(prior_with("#a")), Catch::StartsWith("prior[0].name: a name must not start with '#'"));
  CHECK_THAT(error_of(prior_with("say \"a\"")), Catch::StartsWith("prior[0].name: a name must not contain a double quote"));
  CHECK_THAT(error_of(prior_with("")), Catch::StartsWith("prior[0].name: expected a non-empty name"));
  CHECK_THAT(error_of(R"({"simulator": {"name": "x"}, "prior": [{"dist": "mvnormal", "names": ["ok", "bad,name"],
                           "mean": [0, 0], "cov": [[1, 0], [0, 1]]}]})"),
             Catch::StartsWith("prior[0].names[1]: a name must not contain a comma"));
  CHECK(error_of(prior_with("θ (rate)")) == "no error");
  // Simulators built in code are held to the same rule.
  CHECK_THROWS_WITH(make_simulator(SimulatorInfo{"s", {"a"}, {"y,1"}}, [](ConstRow, MutableRow, Rng&) {}),
                    Catch::Contains("simulator \"s\": data_names[0]: a name must not contain a comma"));
}

TEST_CASE("a spec that is not a small text file is refused without reading it all", "[spec]") {
  CHECK_THROWS_WITH(read_spec("/dev/zero"), Catch::Contains("larger than 64 MiB"));
}

TEST_CASE("a spec longer than one read chunk is read whole, and a folder is refused by name", "[spec]") {
  const auto dir = fs::temp_directory_path() / ("sbi_spec_long_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // The description alone is longer than the 64 KiB chunks read_spec reads in.
  const std::string description(200000, 'x');
  {
    std::ofstream out(dir / "spec.json");
    out << R"({"description": ")" << description << R"(", "simulator": {"name": "x"}})";
  }
  CHECK(read_spec(dir / "spec.json").description == description);
  CHECK_THROWS_WITH(read_spec(dir), Catch::Contains(dir.string()));
  fs::remove_all(dir);
}
