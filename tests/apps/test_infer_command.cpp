#include "cli_runner.hpp"

#include "sbi/random/rng.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

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

// kSmallSpec with its "inference" object's contents replaced by `inference` (JSON members, no braces).
std::string small_spec_with(const std::string& inference) {
  std::string spec = kSmallSpec;
  const auto begin = spec.find("\"method\"");
  const auto end = spec.find("},\n  \"output\"");
  spec.replace(begin, end - begin, inference);
  return spec;
}
}

TEST_CASE("sbi infer trains, saves and samples, sbi sample reproduces the draws from the saved posterior", "[cli][infer]") {
  const auto dir = cli_scratch_dir("infer");
  std::ofstream(dir / "spec.json") << kSmallSpec;
  const auto posterior = dir / "posterior";
  const auto r = run_cli("infer " + (dir / "spec.json").string() + " -o " + posterior.string() + " --quiet");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("posterior saved to") && Catch::Contains("theta_1") && Catch::Contains("in 95%"));
  for (const char* file : {"posterior.json", "generator.sbinn", "discriminator.sbinn", "training_curve.csv", "samples.csv", "table.sbt",
                           "calibration/calibration.json", "calibration/calibration.md"})
    CHECK(fs::exists(posterior / file));
  // The quick calibration check ran on the amortised posterior and said what it found.
  CHECK_THAT(r.out, Catch::Contains("calibration (quick check, 300 simulated cases"));
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

TEST_CASE("sbi infer runs every registered method, sbi sample reproduces each from the saved folder", "[cli][infer][registry]") {
  const auto dir = cli_scratch_dir("infer_methods");
  std::ofstream(dir / "obs.csv") << "data_1,data_2\n0.4,-0.2\n";
  const auto list = run_cli("infer --list-methods");
  REQUIRE(list.exit_code == 0);
  // Each method with small settings of its own in the spec's inference section.
  const std::vector<std::pair<std::string, std::string>> methods = {
      {"lfvi", R"("method": "lfvi", "simulations": 300, "max_iterations": 60, "eval_every": 20, "generator": {"hidden": [16]}, "discriminator": {"hidden": [16]})"},
      {"mmd", R"("method": "mmd", "simulations": 300, "max_iterations": 60, "eval_every": 20, "generator": {"hidden": [16]})"},
      {"npe", R"("method": "npe", "simulations": 300, "max_epochs": 5, "density_estimator": {"type": "maf", "transforms": 2, "hidden": [16]})"},
      {"nle", R"("method": "nle", "simulations": 300, "max_epochs": 5, "density_estimator": {"type": "maf", "transforms": 2, "hidden": [16]}, "mcmc": {"chains": 4, "warmup": 40, "init_candidates": 200})"},
      {"nre", R"("method": "nre", "simulations": 300, "max_epochs": 5, "classifier": {"hidden": [16], "batch_size": 64}, "atoms": 4, "mcmc": {"chains": 4, "warmup": 40, "init_candidates": 200})"},
      {"snle", R"("method": "snle", "simulations": 300, "rounds": 2, "max_epochs": 5, "density_estimator": {"type": "maf", "transforms": 2, "hidden": [16]}, "mcmc": {"chains": 4, "warmup": 40, "init_candidates": 200})"},
      {"snpe", R"("method": "snpe", "simulations": 300, "rounds": 2, "max_epochs": 5, "hpd_samples": 500, "density_estimator": {"type": "maf", "transforms": 2, "hidden": [16]})"},
      {"slfvi", R"("method": "slfvi", "simulations": 300, "rounds": 2, "max_iterations": 60, "eval_every": 20, "region_samples": 500, "generator": {"hidden": [16]}, "discriminator": {"hidden": [16]})"},
      {"rejection", R"("method": "rejection", "simulations": 300, "keep": 50)"},
      {"smc", R"("method": "smc", "simulations": 600)"}};
  for (const auto& [method, inference] : methods) {
    INFO("method " << method);
    CHECK_THAT(list.out, Catch::Contains("  " + method + " "));
    std::string spec = small_spec_with(inference);
    std::ofstream(dir / (method + ".json")) << spec;
    const auto folder = dir / method;
    const auto r = run_cli("infer " + (dir / (method + ".json")).string() + " -o " + folder.string() + " --quiet");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(nlohmann::json::parse(read_text(folder / "posterior.json"))["method"] == method);
    // The quick calibration check runs on amortised methods, MCMC kinds included (with at most the
    // posterior's own warm-up); one-observation methods say what a check would cost.
    if (method == "nle" || method == "nre")
      CHECK_THAT(r.out, Catch::Contains("calibration (quick check, MCMC warm-up 40, 300 simulated cases"));
    else if (method == "lfvi" || method == "mmd" || method == "npe")
      CHECK_THAT(r.out, Catch::Contains("calibration (quick check, 300 simulated cases"));
    else
      CHECK_THAT(r.out, Catch::Contains("made for one observation"));
    // Another process, the spec's seed (3) and sample count (500): the same draws as infer wrote.
    const auto s = run_cli("sample " + folder.string() + " --observation " + (dir / "obs.csv").string() + " -n 500 --seed 3 --quiet -o " +
                           (dir / (method + ".csv")).string());
    INFO(s.err);
    REQUIRE(s.exit_code == 0);
    CHECK(read_text(dir / (method + ".csv")) == read_text(folder / "samples.csv"));
  }
  fs::remove_all(dir);
}

TEST_CASE("sbi infer with lfvi's flow refined for the observation: says so, and the posterior refuses other observations", "[cli][infer][lfvi]") {
  const auto dir = cli_scratch_dir("infer_refine");
  std::string spec = small_spec_with(R"("method": "lfvi", "generator": "flow", "simulations": 300, "max_iterations": 60, "min_iterations": 0, "eval_every": 20,
                  "flow": {"type": "maf", "transforms": 2, "hidden": [16]}, "ratio": {"classifier": {"hidden": [16], "batch_size": 64}, "max_epochs": 5},
                  "refine": {"steps": 100, "eval_every": 20})");
  std::ofstream(dir / "spec.json") << spec;
  const auto folder = dir / "posterior";
  const auto r = run_cli("infer " + (dir / "spec.json").string() + " -o " + folder.string() + " --quiet");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("refined for the observation: -bound"));
  const auto saved = nlohmann::json::parse(read_text(folder / "posterior.json"));
  const bool refined = r.out.find("kept the refined flow") != std::string::npos;
  CHECK(saved["amortized"] == !refined);
  if (refined) {
    CHECK_THAT(r.out, Catch::Contains("made for one observation"));
    std::ofstream(dir / "other.csv") << "data_1,data_2\n0.1,0.1\n";
    const auto s = run_cli("sample " + folder.string() + " --observation " + (dir / "other.csv").string() + " -n 10 -o " + (dir / "s.csv").string());
    CHECK(s.exit_code == 1);
    CHECK_FALSE(fs::exists(dir / "s.csv"));
  }
  // Without an observation the spec is refused before anything is simulated.
  std::string without = spec;
  without.erase(without.find("\"observation\""), std::string("\"observation\": [0.4, -0.2],").size());
  std::ofstream(dir / "none.json") << without;
  const auto n = run_cli("infer " + (dir / "none.json").string() + " -o " + (dir / "none").string() + " --quiet");
  CHECK(n.exit_code == 1);
  CHECK_THAT(n.err, Catch::Contains("runs for one observation with these options"));
  CHECK_FALSE(fs::exists(dir / "none" / "table.sbt"));
  fs::remove_all(dir);
}

TEST_CASE("sbi infer with lfvi's flow importance-resampled and moved: reports the weights' ESS, and sbi sample reproduces the draws", "[cli][infer][lfvi]") {
  const auto dir = cli_scratch_dir("infer_resampled");
  std::string spec = small_spec_with(R"("method": "lfvi", "generator": "flow", "simulations": 300, "max_iterations": 60, "min_iterations": 0, "eval_every": 20,
                  "flow": {"type": "maf", "transforms": 2, "hidden": [16]}, "ratio": {"classifier": {"hidden": [16], "batch_size": 64}, "max_epochs": 5},
                  "importance_resampling": 8, "resample_moves": 2)");
  std::ofstream(dir / "spec.json") << spec;
  std::ofstream(dir / "obs.csv") << "data_1,data_2\n0.4,-0.2\n";
  const auto folder = dir / "posterior";
  const auto r = run_cli("infer " + (dir / "spec.json").string() + " -o " + folder.string() + " --quiet");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("importance resampling: each draw one of 8 flow draws; ESS"));
  CHECK_THAT(r.out, Catch::Contains("then 2 slice sweeps per draw on the target ("));
  const auto saved = nlohmann::json::parse(read_text(folder / "posterior.json"));
  CHECK(saved["kind"] == "importance_resampled");
  CHECK(saved["options"]["resample_moves"] == 2);
  CHECK(saved["log_prob_normalized"] == false);
  CHECK(fs::exists(folder / "proposal" / "posterior.json"));
  CHECK(fs::exists(folder / "target" / "posterior.json"));
  // Amortised (no refinement): the quick calibration check runs on it.
  CHECK_THAT(r.out, Catch::Contains("calibration (quick check, 300 simulated cases"));
  const auto s = run_cli("sample " + folder.string() + " --observation " + (dir / "obs.csv").string() + " -n 500 --seed 3 --quiet -o " +
                         (dir / "s.csv").string());
  INFO(s.err);
  REQUIRE(s.exit_code == 0);
  CHECK_THAT(s.out, Catch::Contains("importance resampling: each draw one of 8 flow draws"));
  CHECK_THAT(s.out, Catch::Contains("then 2 slice sweeps per draw"));
  CHECK(read_text(dir / "s.csv") == read_text(folder / "samples.csv"));
  // Another number of proposals and moves at sampling time, from the same saved flow and target.
  const auto other = run_cli("sample " + folder.string() + " --observation " + (dir / "obs.csv").string() +
                             " -n 500 --seed 3 --quiet --proposals 16 --moves 0 -o " + (dir / "k16.csv").string());
  INFO(other.err);
  REQUIRE(other.exit_code == 0);
  CHECK_THAT(other.out, Catch::Contains("importance resampling: each draw one of 16 flow draws"));
  CHECK_THAT(other.out, !Catch::Contains("slice sweeps"));
  CHECK(read_text(dir / "k16.csv") != read_text(folder / "samples.csv"));
  for (const char* bad : {"--proposals 1", "--proposals 5000", "--moves -1", "--moves 1001"}) {
    INFO(bad);
    const auto refused = run_cli("sample " + folder.string() + " --observation " + (dir / "obs.csv").string() + " -n 10 --quiet " + bad + " -o " +
                                 (dir / "bad.csv").string());
    CHECK(refused.exit_code == 2);
    CHECK_THAT(refused.err, Catch::Contains(std::string(bad).substr(0, std::string(bad).find(' '))));
    CHECK_FALSE(fs::exists(dir / "bad.csv"));
  }
  // Only for this kind: the flow alone (proposal/) is refused with its kind named.
  const auto flow_only = run_cli("sample " + (folder / "proposal").string() + " --observation " + (dir / "obs.csv").string() +
                                 " -n 10 --quiet --moves 2 -o " + (dir / "bad.csv").string());
  CHECK(flow_only.exit_code == 2);
  CHECK_THAT(flow_only.err, Catch::Contains("apply to importance-resampled posteriors") && Catch::Contains("kind \"flow\""));
  fs::remove_all(dir);
}

TEST_CASE("counts and seeds are checked, an existing posterior is kept, misspelt inference keys are found early", "[cli][infer]") {
  const auto dir = cli_scratch_dir("infer_flags");
  std::ofstream(dir / "spec.json") << kSmallSpec;
  std::ofstream(dir / "obs.csv") << "data_1,data_2\n0.4,-0.2\n";
  for (const char* bad : {"-n -1", "-n 2.5", "-n 1e3", "--seed -1", "--threads -2"}) {
    INFO(bad);
    const auto r = run_cli("infer " + (dir / "spec.json").string() + " -o " + (dir / "x").string() + " " + bad);
    CHECK(r.exit_code == 2);
    CHECK_FALSE(fs::exists(dir / "x" / "table.sbt"));
  }
  auto r = run_cli("infer " + (dir / "spec.json").string() + " -o " + (dir / "p").string() + " --quiet");
  REQUIRE(r.exit_code == 0);
  const std::string before = read_text(dir / "p" / "posterior.json");
  r = run_cli("infer " + (dir / "spec.json").string() + " -o " + (dir / "p").string() + " --quiet");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("already holds a saved posterior") && Catch::Contains("--force"));
  CHECK(read_text(dir / "p" / "posterior.json") == before);
  r = run_cli("sample " + (dir / "p").string() + " --observation " + (dir / "obs.csv").string() + " -n -1 -o " + (dir / "s.csv").string());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--samples: expected a whole number"));

  std::string misspelt = kSmallSpec;
  misspelt.replace(misspelt.find("\"max_iterations\""), 16, "\"max_iteratons\"");
  std::ofstream(dir / "misspelt.json") << misspelt;
  r = run_cli("simulate " + (dir / "misspelt.json").string() + " -n 10 -o " + (dir / "t.csv").string() + " --quiet");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("inference.max_iteratons: unknown key"));
  CHECK_FALSE(fs::exists(dir / "t.csv"));
  fs::remove_all(dir);
}

TEST_CASE("sbi diagnose --calibration checks a saved posterior on its own simulator and explains what it cannot do cheaply", "[cli][diagnose][calibration]") {
  const auto dir = cli_scratch_dir("diagnose_calibration");
  std::string spec = small_spec_with(R"("method": "npe", "simulations": 500, "max_epochs": 20, "density_estimator": {"type": "maf", "transforms": 2, "hidden": [16]})");
  std::ofstream(dir / "npe.json") << spec;
  auto r = run_cli("infer " + (dir / "npe.json").string() + " -o " + (dir / "npe").string() + " --quiet --no-check");
  REQUIRE(r.exit_code == 0);
  CHECK_FALSE(fs::exists(dir / "npe" / "calibration"));
  r = run_cli("diagnose " + (dir / "npe").string() + " --calibration 100 -L 100 --quiet -o " + (dir / "report").string());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("calibration:") && Catch::Contains("N = 100"));
  for (const char* file : {"calibration.json", "calibration.md"}) CHECK(fs::exists(dir / "report" / file));
  const auto report = nlohmann::json::parse(read_text(dir / "report" / "calibration.json"));
  CHECK(report["draws"] == 100);
  // The same seed gives the same report, whatever the thread count.
  r = run_cli("diagnose " + (dir / "npe").string() + " --calibration 100 -L 100 --quiet --threads 1 -o " + (dir / "again").string());
  REQUIRE(r.exit_code == 0);
  auto again = nlohmann::json::parse(read_text(dir / "again" / "calibration.json"));
  // Only the timings and the thread settings may differ.
  again["timings"] = report["timings"];
  again["threads"] = report["threads"];
  again["options"]["threads"] = report["options"]["threads"];
  again["simulation"]["seconds"] = report["simulation"]["seconds"];
  CHECK(again == report);

  // Bad requests: N = 0; a one-observation posterior without --rerun (the message says the cost).
  r = run_cli("diagnose " + (dir / "npe").string() + " --calibration 0");
  CHECK(r.exit_code == 2);  // a bad command-line value: usage error
  CHECK_THAT(r.err, Catch::Contains("calibration"));
  spec = small_spec_with(R"("method": "rejection", "simulations": 300, "keep": 50)");
  std::ofstream(dir / "rej.json") << spec;
  REQUIRE(run_cli("infer " + (dir / "rej.json").string() + " -o " + (dir / "rej").string() + " --quiet").exit_code == 0);
  r = run_cli("diagnose " + (dir / "rej").string() + " --calibration 20");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("made for one observation") && Catch::Contains("--rerun"));
  r = run_cli("diagnose " + (dir / "rej").string() + " --calibration 20 -L 50 --rerun --quiet -o " + (dir / "rej_report").string());
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(dir / "rej_report" / "calibration.json"));
  fs::remove_all(dir);
}

TEST_CASE("sbi infer reports the C2ST against the spec's reference posterior, and a missing reference file is an early error", "[cli][infer]") {
  const auto dir = cli_scratch_dir("infer_reference");
  // The exact posterior of the spec's observation (0.4, -0.2): N((0.2, -0.1), 0.05 I).
  {
    std::ofstream ref(dir / "ref.csv");
    ref << "theta_1,theta_2\n";
    sbi::Rng rng(11);
    for (int i = 0; i < 500; ++i) ref << 0.2 + std::sqrt(0.05) * rng.normal() << "," << -0.1 + std::sqrt(0.05) * rng.normal() << "\n";
  }
  std::string spec = kSmallSpec;
  spec.replace(spec.find("\"seed\""), 0, "\"reference_posterior\": \"ref.csv\", ");
  spec.replace(spec.find("\"method\""), spec.find("},\n  \"output\"") - spec.find("\"method\""),
               R"("method": "npe", "simulations": 500, "max_epochs": 20, "density_estimator": {"type": "maf", "transforms": 2, "hidden": [16]})");
  std::ofstream(dir / "spec.json") << spec;
  auto r = run_cli("infer " + (dir / "spec.json").string() + " -o " + (dir / "p").string() + " --quiet --no-check");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("C2ST against the reference posterior"));
  fs::remove(dir / "ref.csv");
  r = run_cli("infer " + (dir / "spec.json").string() + " -o " + (dir / "q").string() + " --quiet");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("reference_posterior:") && Catch::Contains("is not a file"));
  CHECK_FALSE(fs::exists(dir / "q" / "posterior.json"));
  fs::remove_all(dir);
}

TEST_CASE("sbi infer --resume continues an interrupted run to the uninterrupted result, and refuses what it cannot continue", "[cli][infer][resume]") {
  const auto dir = cli_scratch_dir("infer_resume");
  std::ofstream(dir / "spec.json") << kSmallSpec;
  const std::string spec = (dir / "spec.json").string();
  auto r = run_cli("infer " + spec + " -o " + (dir / "a").string() + " --quiet --no-check");
  REQUIRE(r.exit_code == 0);
  std::string record = read_text(dir / "a" / "run.json");
  CHECK_THAT(record, Catch::Contains("\"state\": \"finished\""));
  CHECK_FALSE(fs::exists(dir / "a" / "checkpoints"));  // removed once the posterior is saved

  // An interrupted run (as after Ctrl-C or kill -9 while simulating): its record and the first 120 of
  // the 300 rows, with the spec's seed 3.
  fs::create_directories(dir / "b");
  r = run_cli("simulate " + spec + " -n 120 -o " + (dir / "b" / "table.sbt").string() + " --quiet");
  REQUIRE(r.exit_code == 0);
  const auto at = record.find("\"finished\"");
  std::string started = record;
  started.replace(at, 10, "\"started\"");
  std::ofstream(dir / "b" / "run.json") << started;
  r = run_cli("infer --resume " + (dir / "b").string());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("resuming") && Catch::Contains("finished rows are kept"));
  CHECK(read_text(dir / "b" / "samples.csv") == read_text(dir / "a" / "samples.csv"));
  CHECK_THAT(read_text(dir / "b" / "run.json"), Catch::Contains("\"state\": \"finished\""));

  r = run_cli("infer --resume " + (dir / "b").string());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("finished; nothing to resume"));
  r = run_cli("infer --resume " + (dir / "nowhere").string());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("no run.json"));
  r = run_cli("infer --resume " + (dir / "b").string() + " -o " + (dir / "c").string());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--output cannot be given with it"));

  // An unfinished run is not overwritten by accident; a changed spec is not resumed.
  fs::create_directories(dir / "c");
  std::ofstream(dir / "c" / "run.json") << started;
  r = run_cli("infer " + spec + " -o " + (dir / "c").string() + " --quiet");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("unfinished run") && Catch::Contains("--resume"));
  std::ofstream(dir / "spec.json", std::ios::app) << "\n";
  r = run_cli("infer --resume " + (dir / "c").string() + " --quiet");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("the spec changed"));
  fs::remove_all(dir);
}

TEST_CASE("values near 1e308 in the prior or the observation stop sbi infer with a message naming them, not NaN samples", "[cli][infer][hostile]") {
  const auto dir = cli_scratch_dir("infer_huge");
  const std::string npe = R"("method": "npe", "simulations": 300, "max_epochs": 5, "density_estimator": {"type": "maf", "transforms": 2, "hidden": [16]})";
  std::string spec = kSmallSpec;
  const auto begin = spec.find("\"method\""), end = spec.find('}', spec.find("\"discriminator\"")) + 1;
  spec.replace(begin, end - begin, npe);
  // θ ≈ 1.5e308: finite, but its mean over a table overflows double precision.
  std::string huge_prior = spec;
  huge_prior.replace(huge_prior.find("\"seed\""), 0,
                     R"("prior": [{"name": "big", "dist": "normal", "mu": 1.5e308, "sigma": 1e150}, {"name": "small", "dist": "normal", "mu": 0, "sigma": 1}], )");
  std::ofstream(dir / "prior.json") << huge_prior;
  auto r = run_cli("infer " + (dir / "prior.json").string() + " -o " + (dir / "a").string() + " --quiet --no-check");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("prior parameter \"big\"") && Catch::Contains("overflow"));
  CHECK_FALSE(fs::exists(dir / "a" / "posterior.json"));

  std::string huge_observation = spec;
  huge_observation.replace(huge_observation.find("[0.4, -0.2]"), 11, "[0.4, 1e308]");
  std::ofstream(dir / "observation.json") << huge_observation;
  r = run_cli("infer " + (dir / "observation.json").string() + " -o " + (dir / "b").string() + " --quiet --no-check");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("observation data value 2 = 1") && Catch::Contains("standard deviations"));
  CHECK_FALSE(fs::exists(dir / "b" / "samples.csv"));
  fs::remove_all(dir);
}

TEST_CASE("a budget or table too small for the method fails before anything is simulated, and a failed run leaves no unfinished run behind",
          "[cli][infer][hostile]") {
  const auto dir = cli_scratch_dir("infer_budget");
  const auto write_spec = [&](const std::string& name, const std::string& inference) {
    std::string spec = kSmallSpec;
    const auto begin = spec.find("\"method\""), end = spec.find('}', spec.find("\"discriminator\"")) + 1;
    spec.replace(begin, end - begin, inference);
    std::ofstream(dir / name) << spec;
    return (dir / name).string();
  };
  // 30 simulations in 10 rounds: SNLE's first round would hold 3 rows, too few to hold one out.
  auto r = run_cli("infer " + write_spec("snle.json", R"("method": "snle", "simulations": 30, "rounds": 10)") + " -o " + (dir / "a").string() +
                   " --quiet");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("inference.simulations: 30 simulations are too few for snle: it needs at least 41") &&
                        Catch::Contains("10 rounds"));
  CHECK_FALSE(fs::exists(dir / "a"));
  // NRE-C's atoms: 20 simulations cannot give both sets more than 11 rows.
  r = run_cli("infer " + write_spec("nre.json", R"("method": "nre", "simulations": 20)") + " -o " + (dir / "b").string() + " --quiet");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("inference.simulations: 20 simulations are too few for nre: it needs at least 24") && Catch::Contains("atoms"));
  CHECK_FALSE(fs::exists(dir / "b"));
  // The same floor for a given table names the table.
  r = run_cli("simulate " + write_spec("npe.json", R"("method": "npe", "simulations": 20)") + " -n 20 -o " + (dir / "t.sbt").string() + " --quiet");
  REQUIRE(r.exit_code == 0);
  r = run_cli("infer " + (dir / "nre.json").string() + " --table " + (dir / "t.sbt").string() + " -o " + (dir / "c").string() + " --quiet");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("t.sbt (rows): 20 simulations are too few for nre"));
  CHECK_FALSE(fs::exists(dir / "c"));

  // A sequential run that fails in its first round (θ near 1e308 overflows the standardisation) has
  // kept nothing: the folder is left as it was, so the next attempt is not told to --resume.
  std::string huge = kSmallSpec;
  huge.replace(huge.find("\"seed\""), 0,
               R"("prior": [{"name": "big", "dist": "normal", "mu": 1.5e308, "sigma": 1e150}, {"name": "small", "dist": "normal", "mu": 0, "sigma": 1}], )");
  const auto begin = huge.find("\"method\""), end = huge.find('}', huge.find("\"discriminator\"")) + 1;
  huge.replace(begin, end - begin, R"("method": "snpe", "simulations": 100, "rounds": 2, "max_epochs": 2)");
  std::ofstream(dir / "huge.json") << huge;
  for (int attempt = 0; attempt < 2; ++attempt) {
    INFO("attempt " << attempt);
    r = run_cli("infer " + (dir / "huge.json").string() + " -o " + (dir / "d").string() + " --quiet --no-check");
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("\"big\"") && !Catch::Contains("unfinished run"));
    CHECK_FALSE(fs::exists(dir / "d"));
  }
  fs::remove_all(dir);
}

TEST_CASE("training that diverges stops with an error naming the learning rate instead of saving NaN weights", "[cli][infer][hostile]") {
  const auto dir = cli_scratch_dir("infer_diverged");
  // A learning rate of 10^9 sends every trainer's weights to ±∞ or NaN within its first steps.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("method": "npe", "simulations": 200, "max_epochs": 2, "learning_rate": 1e9)", "learning_rate 1e+09"},
      {R"("method": "nre", "simulations": 200, "max_epochs": 2, "classifier": {"learning_rate": 1e9})", "classifier.learning_rate 1e+09"},
      {R"("method": "mmd", "simulations": 200, "max_iterations": 100, "min_iterations": 50, "eval_every": 50,
          "generator": {"hidden": [16], "learning_rate": 1e9})", "generator.learning_rate 1e+09"},
      {R"("method": "lfvi", "simulations": 200, "max_iterations": 100, "min_iterations": 50, "eval_every": 50,
          "generator": {"hidden": [16], "learning_rate": 1e9}, "discriminator": {"hidden": [16]})", "generator.learning_rate 1e+09"}};
  for (const auto& [inference, rate] : cases) {
    INFO(inference);
    std::string spec = kSmallSpec;
    const auto begin = spec.find("\"method\""), end = spec.find('}', spec.find("\"discriminator\"")) + 1;
    spec.replace(begin, end - begin, inference);
    std::ofstream(dir / "spec.json") << spec;
    const auto r = run_cli("infer " + (dir / "spec.json").string() + " -o " + (dir / "out").string() + " --quiet --no-check --force");
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("never finite") && Catch::Contains("diverged") && Catch::Contains(rate));
    CHECK_FALSE(fs::exists(dir / "out" / "posterior.json"));
    CHECK_FALSE(fs::exists(dir / "out" / "samples.csv"));
  }
  fs::remove_all(dir);
}

namespace {
// Starts `sbi <arguments>` in the background with its output in out/err, and returns its pid.
pid_t start_cli(const std::string& arguments, const fs::path& out, const fs::path& err) {
  const std::string command = std::string("exec '") + SBI_CLI_PATH + "' " + arguments + " >'" + out.string() + "' 2>'" + err.string() + "' </dev/null";
  const pid_t child = fork();
  if (child == 0) {
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return child;
}

// Waits until `ready()` or the child's exit (then the test fails with its stderr).
template <class Ready>
void wait_until(pid_t child, const fs::path& err, const Ready& ready) {
  while (!ready()) {
    int status = 0;
    if (waitpid(child, &status, WNOHANG) == child) FAIL("sbi exited before the point to interrupt it:\n" << read_text(err));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int exit_status(pid_t child) {
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::size_t thread_count(pid_t pid) {
  std::error_code ec;
  const fs::path tasks = "/proc/" + std::to_string(pid) + "/task";
  std::size_t n = 0;
  for (auto it = fs::directory_iterator(tasks, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) ++n;
  return n;
}
}  // namespace

TEST_CASE("Ctrl-C while MCMC draws the samples stops the chains: sbi infer keeps the posterior, a calibration check reports the cases done, sbi sample writes nothing",
          "[cli][infer][interrupt]") {
  const auto dir = cli_scratch_dir("mcmc_interrupt");
  // A warm-up of 10^8 iterations: without the stop the chains would run for days. Two threads, so
  // that the chains' worker thread shows that sampling has begun.
  std::string spec = kSmallSpec;
  const auto begin = spec.find("\"method\""), end = spec.find('}', spec.find("\"discriminator\"")) + 1;
  spec.replace(begin, end - begin,
               R"("method": "nle", "simulations": 300, "max_epochs": 5, "density_estimator": {"type": "maf", "transforms": 2, "hidden": [16]},
                  "mcmc": {"chains": 4, "warmup": 100000000, "init_candidates": 200, "threads": 2})");
  std::ofstream(dir / "spec.json") << spec;
  const auto folder = dir / "posterior";
  const pid_t infer = start_cli("infer " + (dir / "spec.json").string() + " -o " + folder.string() + " --quiet --no-check", dir / "out.txt",
                                dir / "err.txt");
  REQUIRE(infer > 0);
  // The run is marked finished once the posterior is saved, just before the samples are drawn.
  wait_until(infer, dir / "err.txt", [&] { return read_text(folder / "run.json").find("\"finished\"") != std::string::npos; });
  kill(infer, SIGINT);
  CHECK(exit_status(infer) == 130);
  CHECK_THAT(read_text(dir / "err.txt"), Catch::Contains("interrupted while drawing samples; the posterior is saved in"));
  CHECK(fs::exists(folder / "posterior.json"));
  CHECK_FALSE(fs::exists(folder / "samples.csv"));

  // `sbi ARGUMENTS`, sent SIGINT once its chains' worker thread runs: its exit status.
  const auto interrupted_once_sampling = [&](const std::string& arguments) {
    const pid_t child = start_cli(arguments, dir / "out.txt", dir / "err.txt");
    REQUIRE(child > 0);
    wait_until(child, dir / "err.txt", [&] { return thread_count(child) >= 2; });
    kill(child, SIGINT);
    return exit_status(child);
  };

  // A calibration check's cases draw by the same chains: Ctrl-C stops them and the report says so.
  CHECK(interrupted_once_sampling("diagnose " + folder.string() + " --calibration 4 --threads 2 -o " + (dir / "calibration").string()) == 130);
  CHECK_THAT(read_text(dir / "out.txt"), Catch::Contains("interrupted"));

  std::ofstream(dir / "obs.csv") << "data_1,data_2\n0.4,-0.2\n";
  CHECK(interrupted_once_sampling("sample " + folder.string() + " --observation " + (dir / "obs.csv").string() + " -n 100 -o " +
                                  (dir / "samples.csv").string()) == 130);
  CHECK_THAT(read_text(dir / "err.txt"), Catch::Contains("sbi sample: interrupted while drawing samples; nothing was written"));
  CHECK_FALSE(fs::exists(dir / "samples.csv"));
  fs::remove_all(dir);
}

TEST_CASE("an observation file is matched to the data by its header, whatever the order of its columns", "[cli][infer][observation]") {
  const auto dir = cli_scratch_dir("observation_order");
  std::ofstream(dir / "forward.csv") << "data_1,data_2\n0.4,-0.2\n";
  std::ofstream(dir / "reversed.csv") << "data_2,data_1\n-0.2,0.4\n";
  std::string spec = kSmallSpec;
  const auto at = spec.find("\"observation\": [0.4, -0.2]");
  REQUIRE(at != std::string::npos);
  spec.replace(at, std::string("\"observation\": [0.4, -0.2]").size(), "\"observation\": {\"file\": \"OBS\"}");
  std::map<std::string, std::string> samples;
  for (const std::string file : {"forward.csv", "reversed.csv"}) {
    std::string s = spec;
    s.replace(s.find("OBS"), 3, file);
    std::ofstream(dir / ("spec_" + file + ".json")) << s;
    const auto r = run_cli("infer " + (dir / ("spec_" + file + ".json")).string() + " -o " + (dir / ("run_" + file)).string() + " --quiet --no-check");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    samples["spec " + file] = read_text(dir / ("run_" + file) / "samples.csv");
    // The same file given on the command line, to infer and to sample.
    const auto o = run_cli("infer " + (dir / "spec_forward.csv.json").string() + " -o " + (dir / ("given_" + file)).string() +
                           " --quiet --no-check --observation " + (dir / file).string());
    REQUIRE(o.exit_code == 0);
    samples["infer --observation " + file] = read_text(dir / ("given_" + file) / "samples.csv");
    const auto d = run_cli("sample " + (dir / "run_forward.csv").string() + " --observation " + (dir / file).string() + " -n 500 --seed 3 -o " +
                           (dir / ("sample_" + file)).string());
    REQUIRE(d.exit_code == 0);
    samples["sample --observation " + file] = read_text(dir / ("sample_" + file));
  }
  for (const std::string how : {"spec ", "infer --observation ", "sample --observation "}) {
    INFO(how);
    CHECK(samples[how + "forward.csv"] == samples[how + "reversed.csv"]);
  }
  CHECK(samples["spec forward.csv"] == samples["sample --observation reversed.csv"]);
  // A column that is not a data name is named, not read by position.
  std::ofstream(dir / "other.csv") << "y_1,y_2\n0.4,-0.2\n";
  const auto bad = run_cli("sample " + (dir / "run_forward.csv").string() + " --observation " + (dir / "other.csv").string() + " -o " +
                           (dir / "x.csv").string());
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("column 1 of the header (\"y_1\") is not a data name; the data are: data_1, data_2"));
  fs::remove_all(dir);
}

TEST_CASE("a spec without a simulator trains on a plain CSV of simulations made elsewhere, as on the same rows simulated here",
          "[cli][infer][import]") {
  const auto dir = cli_scratch_dir("import");
  std::ofstream(dir / "spec.json") << kSmallSpec;
  REQUIRE(run_cli("simulate " + (dir / "spec.json").string() + " -n 300 -o " + (dir / "table.csv").string() + " --quiet").exit_code == 0);
  // The same rows as a plain CSV: no comment lines, no index, the data columns first, renamed.
  {
    std::ifstream in(dir / "table.csv");
    std::ofstream out(dir / "plain.csv");
    out << "x_1,x_2,a,b\n";
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] == '#' || line.rfind("index,", 0) == 0) continue;
      std::vector<std::string> cells;
      std::stringstream cells_in(line);
      for (std::string cell; std::getline(cells_in, cell, ',');) cells.push_back(cell);
      REQUIRE(cells.size() == 5);
      out << cells[3] << ',' << cells[4] << ',' << cells[1] << ',' << cells[2] << '\n';
    }
    out << "0.5,nan,0.1,0.1\n";  // a failed simulation: left out
  }
  // gaussian_linear's prior, N(0, 0.1 I), under the new names; the observation file in another order.
  std::ofstream(dir / "obs.csv") << "x_2,x_1\n-0.2,0.4\n";
  std::ofstream(dir / "no_simulator.json") << R"({
    "prior": [{"name": "a", "dist": "normal", "mu": 0, "sigma": 0.31622776601683794}, {"name": "b", "dist": "normal", "mu": 0, "sigma": 0.31622776601683794}],
    "observation": {"file": "obs.csv"}, "seed": 3,
    "inference": {"method": "npe", "table": "plain.csv", "max_epochs": 5}, "output": {"samples": 500}})";
  std::string spec = kSmallSpec;
  const auto begin = spec.find("\"method\""), end = spec.find('}', spec.find("\"discriminator\"")) + 1;
  spec.replace(begin, end - begin, R"("method": "npe", "max_epochs": 5)");
  std::ofstream(dir / "with_simulator.json") << spec;

  const auto imported = run_cli("infer " + (dir / "no_simulator.json").string() + " -o " + (dir / "imported").string() + " --quiet");
  INFO(imported.err);
  REQUIRE(imported.exit_code == 0);
  CHECK_THAT(imported.err, Catch::Contains("plain.csv: 1 row with NaN or infinite data left out"));
  CHECK_THAT(imported.out, Catch::Contains("calibration: not checked: without a simulator"));
  const auto simulated = run_cli("infer " + (dir / "with_simulator.json").string() + " -o " + (dir / "simulated").string() +
                                 " --quiet --no-check --table " + (dir / "table.csv").string());
  REQUIRE(simulated.exit_code == 0);
  // The same rows, seed and observation: the same draws, under the spec's own parameter names.
  const std::string a = read_text(dir / "imported" / "samples.csv"), b = read_text(dir / "simulated" / "samples.csv");
  CHECK(a.substr(0, a.find('\n')) == "a,b");
  CHECK(a.substr(a.find('\n')) == b.substr(b.find('\n')));
  const auto saved = nlohmann::json::parse(read_text(dir / "imported" / "posterior.json"));
  CHECK(saved["data_names"] == nlohmann::json{"x_1", "x_2"});
  CHECK(saved["provenance"]["simulator_options"]["imported_from"] == "plain.csv");
  // A calibration check needs new simulations: it asks for the simulator's spec, and runs with it.
  auto check = run_cli("diagnose " + (dir / "imported").string() + " --calibration 20 -L 50 --quiet");
  CHECK(check.exit_code == 1);
  CHECK_THAT(check.err, Catch::Contains("trained on simulations made elsewhere") && Catch::Contains("--spec FILE"));

  // Rejection ABC on the same rows: the same draws as on the table simulated here.
  const auto abc_imported = run_cli("abc " + (dir / "no_simulator.json").string() + " --table " + (dir / "plain.csv").string() +
                                    " --keep 30 -n 200 --quiet -o " + (dir / "abc_imported").string());
  INFO(abc_imported.err);
  REQUIRE(abc_imported.exit_code == 0);
  const auto abc_simulated = run_cli("abc " + (dir / "with_simulator.json").string() + " --table " + (dir / "table.csv").string() +
                                     " --budget 300 --keep 30 -n 200 --quiet -o " +
                                     (dir / "abc_simulated").string());
  INFO(abc_simulated.err);
  REQUIRE(abc_simulated.exit_code == 0);
  const std::string c = read_text(dir / "abc_imported" / "samples.csv"), d = read_text(dir / "abc_simulated" / "samples.csv");
  CHECK(c.substr(c.find('\n')) == d.substr(d.find('\n')));

  // What does not fit is named.
  auto r = run_cli("infer " + (dir / "with_simulator.json").string() + " -o " + (dir / "x").string() + " --table " + (dir / "plain.csv").string());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("not a table written by sbi++") && Catch::Contains("remove \"simulator\""));
  r = run_cli("infer " + (dir / "no_simulator.json").string() + " -o " + (dir / "x").string() + " -m snpe");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("method \"snpe\" simulates by itself"));
  r = run_cli("simulate " + (dir / "no_simulator.json").string() + " -n 10 -o " + (dir / "x.csv").string());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("simulator: missing (required here)"));
  std::ofstream(dir / "wrong_observation.json") << R"({
    "prior": [{"name": "a", "dist": "normal", "mu": 0, "sigma": 0.31622776601683794}, {"name": "b", "dist": "normal", "mu": 0, "sigma": 0.31622776601683794}],
    "observation": [1, 2, 3], "inference": {"method": "npe", "table": "plain.csv"}})";
  r = run_cli("infer " + (dir / "wrong_observation.json").string() + " -o " + (dir / "x").string());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("observation: has 3 values but the table's data columns (x_1, x_2) are 2"));
  CHECK_FALSE(fs::exists(dir / "x"));
  fs::remove_all(dir);
}
