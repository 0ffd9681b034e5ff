// `sbi abc`: outputs, summary, reproducibility and bad input.
#include "cli_runner.hpp"

#include "sbi/io/csv.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

using sbi::testing::cli_scratch_dir;
using sbi::testing::read_text;
using sbi::testing::run_cli;

namespace {
const std::string kSpec = std::string(SBI_SOURCE_DIR) + "/data/specs/gaussian_linear.json";
}

TEST_CASE("sbi abc rejection writes 10,000 draws and a summary with diagnostics", "[abc][cli]") {
  const auto dir = cli_scratch_dir("abc_rejection");
  const auto result = run_cli("abc '" + kSpec + "' --method rejection --budget 2000 --regression -o '" + dir.string() + "' --quiet");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.find("rejection+regression") != std::string::npos);
  CHECK(result.out.find("in 95%") != std::string::npos);  // the summary table with the true parameters
  const auto samples = sbi::read_csv(dir / "samples.csv");
  CHECK(samples.values.rows() == 10000);
  CHECK(samples.header.size() == 10);
  CHECK(samples.header.front() == "theta_1");
  const auto summary = nlohmann::json::parse(read_text(dir / "summary.json"));
  CHECK(summary["method"] == "rejection+regression");
  CHECK(summary["diagnostics"]["simulations"] == 2000);
  CHECK(summary["diagnostics"]["particles"] == 100);
  CHECK(summary["summaries"].size() == 10);
  std::filesystem::remove_all(dir);
}

TEST_CASE("sbi abc smc spends exactly the budget and is reproducible across thread counts", "[abc][cli]") {
  const auto one = cli_scratch_dir("abc_smc_1");
  const auto two = cli_scratch_dir("abc_smc_2");
  const auto a = run_cli("abc '" + kSpec + "' --method smc --budget 1500 --threads 1 -n 500 -o '" + one.string() + "' --quiet");
  const auto b = run_cli("abc '" + kSpec + "' --method smc --budget 1500 --threads 2 -n 500 -o '" + two.string() + "' --quiet");
  INFO(a.err << b.err);
  REQUIRE(a.exit_code == 0);
  REQUIRE(b.exit_code == 0);
  CHECK(read_text(one / "samples.csv") == read_text(two / "samples.csv"));
  const auto summary = nlohmann::json::parse(read_text(one / "summary.json"));
  CHECK(summary["diagnostics"]["simulations"] == 1500);
  CHECK(summary["diagnostics"]["generations"].size() >= 2);
  CHECK(sbi::read_csv(one / "samples.csv").values.rows() == 500);
  std::filesystem::remove_all(one);
  std::filesystem::remove_all(two);
}

TEST_CASE("sbi abc rejects bad input with a clear message and a non-zero exit", "[abc][cli]") {
  const auto dir = cli_scratch_dir("abc_bad");
  auto r = run_cli("abc '" + kSpec + "' --method magic -o '" + dir.string() + "'");
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("unknown method \"magic\"") != std::string::npos);
  r = run_cli("abc '" + kSpec + "' --method smc --quantile 0.1 -o '" + dir.string() + "'");
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("rejection only") != std::string::npos);
  r = run_cli("abc '" + kSpec + "' --method rejection --keep 10 --quantile 0.1 -o '" + dir.string() + "'");
  CHECK(r.exit_code != 0);
  r = run_cli("abc '" + kSpec + "' --method rejection");
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("-o DIR") != std::string::npos);
  // A budget taken from the spec is checked like sbi infer checks it, with its JSON path.
  nlohmann::json spec = nlohmann::json::parse(read_text(kSpec));
  spec["inference"]["simulations"] = "many";
  std::filesystem::create_directories(dir);
  const auto bad_spec = dir / "bad_simulations.json";
  std::ofstream(bad_spec) << spec.dump();
  r = run_cli("abc '" + bad_spec.string() + "' --method rejection -o '" + (dir / "out").string() + "'");
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("inference.simulations") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "samples.csv"));
  std::filesystem::remove_all(dir);
}
