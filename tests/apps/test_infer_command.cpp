#include "cli_runner.hpp"

#include <catch2/catch.hpp>

using namespace sbi::testing;
namespace fs = std::filesystem;

namespace {
const char* kSmallSpec = R"({
  "simulator": {"name": "gaussian_linear", "options": {"dim": 2}},
  "observation": [0.4, -0.2],
  "true_parameters": [0.2, -0.1],
  "seed": 3,
  "inference": {"method": "lfvi", "simulations": 300, "max_iterations": 60, "eval_every": 20,
                "generator": {"hidden": [16]}, "discriminator": {"hidden": [16]}},
  "output": {"samples": 500}})";
}

TEST_CASE("sbi infer trains, saves and samples; sbi sample reproduces the draws from the saved posterior", "[cli][infer]") {
  const auto dir = cli_scratch_dir("infer");
  std::ofstream(dir / "spec.json") << kSmallSpec;
  const auto posterior = dir / "posterior";
  const auto r = run_cli("infer " + (dir / "spec.json").string() + " -o " + posterior.string() + " --quiet");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("posterior saved to") && Catch::Contains("theta_1") && Catch::Contains("in 95%"));
  for (const char* file : {"posterior.json", "generator.sbinn", "discriminator.sbinn", "training_curve.csv", "samples.csv", "table.sbt"})
    CHECK(fs::exists(posterior / file));
  // The spec's observation, seed 3 (the spec's seed), 500 draws: the same file as infer wrote.
  std::ofstream(dir / "obs.csv") << "data_1,data_2\n0.4,-0.2\n";
  const auto s = run_cli("sample " + posterior.string() + " --observation " + (dir / "obs.csv").string() +
                         " -n 500 --seed 3 -o " + (dir / "again.csv").string());
  REQUIRE(s.exit_code == 0);
  CHECK(read_text(dir / "again.csv") == read_text(posterior / "samples.csv"));
  // Training on the saved table gives the same posterior.
  const auto t = run_cli("infer " + (dir / "spec.json").string() + " -o " + (dir / "from_table").string() + " --quiet --table " +
                         (posterior / "table.sbt").string());
  REQUIRE(t.exit_code == 0);
  CHECK(read_text(dir / "from_table" / "samples.csv") == read_text(posterior / "samples.csv"));
  fs::remove_all(dir);
}

TEST_CASE("sbi infer and sbi sample report bad settings and inputs clearly", "[cli][infer]") {
  const auto dir = cli_scratch_dir("infer_errors");
  std::string spec = kSmallSpec;
  spec.replace(spec.find("\"method\": \"lfvi\""), 16, "\"method\": \"lfvi\", \"discriminator_steps\": -2");
  std::ofstream(dir / "bad.json") << spec;
  auto r = run_cli("infer " + (dir / "bad.json").string() + " -o " + (dir / "out").string() + " --quiet");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("inference.discriminator_steps: expected an integer in [1, 100], got -2"));
  CHECK_FALSE(fs::exists(dir / "out" / "posterior.json"));

  r = run_cli("sample " + (dir / "nowhere").string() + " --observation x.csv -o y.csv");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("not a saved posterior"));
  fs::remove_all(dir);
}
