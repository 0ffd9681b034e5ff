#include "cli_runner.hpp"

#include "sbi/io/csv.hpp"
#include "sbi/random/rng.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

using namespace sbi;
using namespace sbi::testing;
namespace fs = std::filesystem;

namespace {

RowMatrix gaussian_rows(Eigen::Index n, Eigen::Index d, double shift, std::uint64_t seed) {
  Rng rng(seed);
  RowMatrix x(n, d);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < d; ++j) x(i, j) = rng.normal() + shift;
  return x;
}

struct DiagnoseFiles {
  fs::path dir, reference, near, far, wide;
};

DiagnoseFiles make_files() {
  DiagnoseFiles f;
  f.dir = cli_scratch_dir("diagnose");
  f.reference = f.dir / "reference.csv";
  f.near = f.dir / "near.csv";
  f.far = f.dir / "far.csv";
  f.wide = f.dir / "three_columns.csv";
  write_csv(f.reference, {"alpha", "beta"}, gaussian_rows(1500, 2, 0.0, 1));
  RowMatrix near = gaussian_rows(1500, 2, 0.0, 2);
  near(5, 1) = std::numeric_limits<double>::quiet_NaN();
  write_csv(f.near, {"p1", "p2"}, near);
  write_csv(f.far, {"alpha", "beta"}, gaussian_rows(1000, 2, 6.0, 3));
  write_csv(f.wide, {"a", "b", "c"}, gaussian_rows(100, 3, 0.0, 4));
  return f;
}

}  // namespace

TEST_CASE("sbi diagnose --json reports C2ST, its folds, MMD² and both summaries", "[cli][diagnose]") {
  const auto f = make_files();
  const auto far = run_cli("diagnose " + f.far.string() + " --reference " + f.reference.string() + " --json");
  REQUIRE(far.exit_code == 0);
  const auto j = nlohmann::json::parse(far.out);
  for (const char* key : {"c2st", "c2st_folds", "mmd2", "mmd_bandwidth", "n_samples", "n_reference", "summaries"})
    CHECK(j.contains(key));
  CHECK(j.at("c2st").get<double>() > 0.99);
  CHECK(j.at("c2st_folds").size() == 5);
  CHECK(j.at("n_samples") == 1000);
  CHECK(j.at("n_reference") == 1500);
  CHECK(j.at("mmd2").get<double>() > 0.5);
  CHECK(j.at("mmd_bandwidth").get<double>() > 0);
  // The reference's header names the parameters of both sets.
  CHECK(j.at("summaries").at("samples").at(0).at("name") == "alpha");
  CHECK(j.at("summaries").at("reference").at(1).at("name") == "beta");
  CHECK(std::abs(j.at("summaries").at("samples").at(0).at("mean").get<double>() - 6.0) < 0.2);

  // Same distribution: C2ST near 0.5 (sd √(0.25/2999) ≈ 0.009; 5 sd), MMD² near 0; the NaN row is dropped.
  const auto near = run_cli("diagnose " + f.near.string() + " --reference " + f.reference.string() + " --json --seed 3");
  REQUIRE(near.exit_code == 0);
  const auto k = nlohmann::json::parse(near.out);
  CHECK(k.at("n_samples") == 1499);
  CHECK(k.at("dropped_samples") == 1);
  CHECK_THAT(near.err, Catch::Contains("dropping 1 non-finite") && Catch::Contains("taken to be alpha, beta"));
  CHECK(std::abs(k.at("c2st").get<double>() - 0.5) < 0.05);
  CHECK(std::abs(k.at("mmd2").get<double>()) < 0.01);
  CHECK(k.at("summaries").at("samples").at(0).at("name") == "alpha");

  // Reproducible for a seed, whatever the thread count.
  const auto again = run_cli("diagnose " + f.near.string() + " --reference " + f.reference.string() + " --json --seed 3 --threads 1");
  REQUIRE(again.exit_code == 0);
  CHECK(nlohmann::json::parse(again.out).at("c2st_folds") == k.at("c2st_folds"));
  fs::remove_all(f.dir);
}

TEST_CASE("sbi diagnose prints a readable report, --no-c2st and --n", "[cli][diagnose]") {
  const auto f = make_files();
  const auto text = run_cli("diagnose " + f.far.string() + " -r " + f.reference.string() + " --n 500");
  REQUIRE(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("C2ST accuracy") && Catch::Contains("folds") && Catch::Contains("MMD²") &&
                           Catch::Contains("samples:") && Catch::Contains("reference:") && Catch::Contains("alpha") &&
                           Catch::Contains("500 rows"));

  const auto quick = run_cli("diagnose " + f.far.string() + " --reference " + f.reference.string() + " --no-c2st --json --n 300");
  REQUIRE(quick.exit_code == 0);
  const auto j = nlohmann::json::parse(quick.out);
  CHECK(j.at("c2st").is_null());
  CHECK(j.at("c2st_folds").empty());
  CHECK(j.at("n_samples") == 300);
  CHECK(j.at("n_reference") == 300);
  fs::remove_all(f.dir);
}

TEST_CASE("sbi diagnose names both files when their columns differ, and checks its command line", "[cli][diagnose]") {
  const auto f = make_files();
  const auto mismatch = run_cli("diagnose " + f.wide.string() + " --reference " + f.reference.string());
  CHECK(mismatch.exit_code == 1);
  CHECK_THAT(mismatch.err, Catch::Contains(f.wide.string()) && Catch::Contains(f.reference.string()) && Catch::Contains("3 columns"));
  CHECK(run_cli("diagnose " + f.far.string()).exit_code == 2);  // no --reference
  CHECK(run_cli("diagnose --reference " + f.reference.string()).exit_code == 2);
  const auto missing = run_cli("diagnose " + (f.dir / "none.csv").string() + " --reference " + f.reference.string());
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::Contains("none.csv"));
  // The same parameters in another order are matched by name. beta lies 6 sds from alpha, so taken
  // in order the two files would be separable (C2ST near 1); matched, they are the same draws.
  RowMatrix shifted = gaussian_rows(1500, 2, 0.0, 5);
  shifted.col(1).array() += 6.0;
  write_csv(f.dir / "shifted.csv", {"alpha", "beta"}, shifted);
  RowMatrix swapped(shifted.rows(), 2);
  swapped << shifted.col(1), shifted.col(0);
  write_csv(f.dir / "swapped.csv", {"beta", "alpha"}, swapped);
  const auto by_name = run_cli("diagnose " + (f.dir / "swapped.csv").string() + " --reference " + (f.dir / "shifted.csv").string() + " --json");
  REQUIRE(by_name.exit_code == 0);
  CHECK_THAT(by_name.err, Catch::Contains("matched by name"));
  CHECK(nlohmann::json::parse(by_name.out).at("c2st").get<double>() < 0.6);
  write_csv(f.dir / "misplaced.csv", {"gamma", "alpha"}, swapped);
  const auto misplaced = run_cli("diagnose " + (f.dir / "misplaced.csv").string() + " --reference " + (f.dir / "shifted.csv").string());
  CHECK(misplaced.exit_code == 1);
  CHECK_THAT(misplaced.err, Catch::Contains("column 2 (\"alpha\") is parameter 1 of " + (f.dir / "shifted.csv").string()));
  const auto help = run_cli("diagnose --help");
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.out, Catch::Contains("--reference") && Catch::Contains("--no-c2st") && Catch::Contains("(=10000)"));
  fs::remove_all(f.dir);
}
