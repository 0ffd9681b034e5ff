// `sbi compare`: a report for several methods at one budget; bad input.
#include "cli_runner.hpp"

#include "sbi/io/csv.hpp"
#include "sbi/random/rng.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

using sbi::testing::cli_scratch_dir;
using sbi::testing::read_text;
using sbi::testing::run_cli;

namespace {

const std::string kSpec = std::string(SBI_SOURCE_DIR) + "/data/specs/gaussian_linear.json";
const std::string kTestSpec = std::string(SBI_SOURCE_DIR) + "/data/specs/gaussian_linear_2d_test.json";

bool gnuplot_available() { return std::system("gnuplot --version >/dev/null 2>&1") == 0; }

}  // namespace

TEST_CASE("sbi compare runs rejection, smc and a short lfvi at one budget and writes the report", "[.slow][abc][compare][cli]") {
  const auto dir = cli_scratch_dir("compare");
  // The 2-d test spec's posterior is N(y_o / 2, 0.05 I) with y_o = (0.6, −0.4): 1000 reference draws.
  const auto reference = dir / "reference.csv";
  {
    sbi::Rng rng(5);
    sbi::RowMatrix draws(1000, 2);
    for (Eigen::Index i = 0; i < draws.rows(); ++i) {
      draws(i, 0) = 0.3 + std::sqrt(0.05) * rng.normal();
      draws(i, 1) = -0.2 + std::sqrt(0.05) * rng.normal();
    }
    sbi::write_csv(reference, {"theta_1", "theta_2"}, draws);
  }
  const auto r = run_cli("compare '" + kTestSpec + "' --methods rejection,smc,lfvi --budget 1000 --reference '" + reference.string() +
                         "' -o '" + dir.string() + "/report' --quiet");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto report = nlohmann::json::parse(read_text(dir / "report" / "report.json"));
  REQUIRE(report["methods"].size() == 3);
  for (const auto& m : report["methods"]) {
    CHECK(m["simulations"] == 1000);
    CHECK(m["c2st"].get<double>() >= 0.4);
    CHECK(m["c2st"].get<double>() <= 1.0);
    CHECK(m["summaries"].size() == 2);
    CHECK(m["seconds"].get<double>() >= 0);
    CHECK(std::filesystem::exists(dir / "report" / m["samples"].get<std::string>()));
  }
  const std::string md = read_text(dir / "report" / "report.md");
  CHECK(md.find("| rejection |") != std::string::npos);
  CHECK(md.find("| lfvi |") != std::string::npos);
  CHECK(md.find("C2ST") != std::string::npos);
  CHECK(md.find("true value 0.35") != std::string::npos);
  CHECK(std::filesystem::exists(dir / "report" / "plot" / "corner.gp"));
  if (gnuplot_available()) {
    REQUIRE(std::filesystem::exists(dir / "report" / "corner.png"));
    const std::string png = read_text(dir / "report" / "corner.png");
    CHECK(png.substr(1, 3) == "PNG");
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("sbi compare without a reference reports MMD² between methods, and without gnuplot says how to install it", "[abc][compare][cli]") {
  const auto dir = cli_scratch_dir("compare_mmd");
  const auto r = run_cli("compare '" + kTestSpec + "' --methods rejection,smc --budget 600 -n 1000 -o '" + dir.string() + "' --quiet");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto report = nlohmann::json::parse(read_text(dir / "report.json"));
  CHECK(report["mmd2_between_methods"]["rejection"].contains("smc"));
  CHECK(report["methods"][0]["c2st"].is_null());
  CHECK(read_text(dir / "report.md").find("MMD²") != std::string::npos);
  if (gnuplot_available()) {
    REQUIRE(std::filesystem::exists(dir / "corner.png"));
    CHECK(read_text(dir / "corner.png").substr(1, 3) == "PNG");
  }

  // SBI_GNUPLOT points at a program that does not exist: the report still completes.
  const auto no_plot = cli_scratch_dir("compare_noplot");
  const std::string command = std::string("SBI_GNUPLOT=/nonexistent/gnuplot '") + SBI_CLI_PATH + "' compare '" + kSpec +
                              "' --methods rejection --budget 300 -n 500 -o '" + no_plot.string() + "/x' --quiet >/dev/null 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
  const std::string md = read_text(no_plot / "x" / "report.md");
  CHECK(md.find("apt-get install gnuplot-nox") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(no_plot / "x" / "corner.png"));
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(no_plot);
}

TEST_CASE("sbi compare --calibration adds a calibration table per amortised method and says why the others are not checked", "[compare][calibration][cli]") {
  const auto dir = cli_scratch_dir("compare_calibration");
  const auto r = run_cli("compare '" + kTestSpec + "' --methods npe,rejection --budget 500 -n 500 --calibration 60 -o '" + dir.string() +
                         "' --quiet --options npe='{\"max_epochs\": 20, \"density_estimator\": {\"type\": \"maf\", \"transforms\": 2, \"hidden\": [16]}}'");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto report = nlohmann::json::parse(read_text(dir / "report.json"));
  REQUIRE(report["methods"].size() == 2);
  const auto& npe = report["methods"][0];
  const auto& rejection = report["methods"][1];
  REQUIRE(npe["calibration"].is_object());
  CHECK(npe["calibration"]["draws"] == 60);
  CHECK(npe["calibration"].contains("verdict"));
  CHECK(rejection["calibration"].is_null());
  CHECK_THAT(rejection["calibration_note"].get<std::string>(), Catch::Contains("one observation"));
  const std::string md = read_text(dir / "report.md");
  CHECK(md.find("## Calibration") != std::string::npos);
  if (gnuplot_available()) CHECK(std::filesystem::exists(dir / "coverage_comparison.png"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("sbi compare rejects an unknown method with a clear message", "[abc][compare][cli]") {
  const auto dir = cli_scratch_dir("compare_bad");
  auto r = run_cli("compare '" + kSpec + "' --methods rejection,nuts --budget 100 -o '" + dir.string() + "'");
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("unknown method \"nuts\"") != std::string::npos);
  r = run_cli("compare '" + kSpec + "' --methods rejection,rejection --budget 100 -o '" + dir.string() + "'");
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("listed twice") != std::string::npos);
  r = run_cli("compare '" + kSpec + "' --methods mmd --inference '{\"max_iterations\": \"many\"}' --budget 100 -o '" + dir.string() + "'");
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("max_iterations") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "report.md"));
  // A budget too small for one of the methods (SNRE's 5 rounds of at least 24 rows) fails before
  // any method runs.
  r = run_cli("compare '" + kSpec + "' --methods rejection,snre --budget 100 -o '" + dir.string() + "'");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("the budget: 100 simulations are too few for snre: it needs at least 116") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "report.md"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("sbi compare trains every method on a given table: a plain CSV of simulations made elsewhere, or a table simulated here",
          "[abc][compare][cli][import]") {
  const auto dir = cli_scratch_dir("compare_table");
  REQUIRE(run_cli("simulate '" + kTestSpec + "' -n 600 -o '" + (dir / "table.csv").string() + "' --quiet").exit_code == 0);
  {
    // The same rows without sbi++'s comment lines and index column.
    std::ifstream in(dir / "table.csv");
    std::ofstream out(dir / "plain.csv");
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && line[0] != '#') out << line.substr(line.find(',') + 1) << '\n';
  }
  std::ofstream(dir / "no_simulator.json") << R"({
    "prior": [{"name": "theta_1", "dist": "normal", "mu": 0.0, "sigma": 0.31622776601683794},
              {"name": "theta_2", "dist": "normal", "mu": 0.0, "sigma": 0.31622776601683794}],
    "observation": [0.6, -0.4], "seed": 1})";
  const auto imported = run_cli("compare '" + (dir / "no_simulator.json").string() + "' --table '" + (dir / "plain.csv").string() +
                                "' --methods rejection,npe --options 'npe={\"max_epochs\": 5}' -n 500 -o '" + (dir / "imported").string() + "' --quiet");
  INFO(imported.err);
  REQUIRE(imported.exit_code == 0);
  const auto report = nlohmann::json::parse(read_text(dir / "imported" / "report.json"));
  CHECK(report["budget"] == 600);
  CHECK(report["table"] == (dir / "plain.csv").string());
  CHECK_THAT(read_text(dir / "imported" / "report.md"), Catch::Contains("Every method trains on the same table"));
  // The spec with its simulator, on the table simulated here: the same rows, the same draws.
  const auto simulated = run_cli("compare '" + kTestSpec + "' --table '" + (dir / "table.csv").string() + "' --methods rejection -n 500 -o '" +
                                 (dir / "simulated").string() + "' --quiet");
  INFO(simulated.err);
  REQUIRE(simulated.exit_code == 0);
  CHECK(read_text(dir / "imported" / "samples_rejection.csv") == read_text(dir / "simulated" / "samples_rejection.csv"));
  // Methods that simulate, calibration, and a budget beside the table are refused.
  auto r = run_cli("compare '" + (dir / "no_simulator.json").string() + "' --table '" + (dir / "plain.csv").string() + "' --methods rejection,smc -o '" +
                   (dir / "x").string() + "' --quiet");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("method \"smc\" simulates by itself"));
  r = run_cli("compare '" + (dir / "no_simulator.json").string() + "' --table '" + (dir / "plain.csv").string() +
              "' --methods npe --calibration 10 -o '" + (dir / "x").string() + "' --quiet");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("calibration check simulates new cases"));
  r = run_cli("compare '" + (dir / "no_simulator.json").string() + "' --methods rejection -o '" + (dir / "x").string() + "' --quiet");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("simulator: missing"));
  r = run_cli("compare '" + kTestSpec + "' --table '" + (dir / "table.csv").string() + "' --budget 100 --methods rejection -o '" + (dir / "x").string() + "'");
  CHECK(r.exit_code == 2);
  std::filesystem::remove_all(dir);
}
