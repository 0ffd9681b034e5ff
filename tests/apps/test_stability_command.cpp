#include "cli_runner.hpp"

#include "sbi/io/csv.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace sbi;
using namespace sbi::testing;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> lines_of(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("sbi stability sweep runs end to end on a tiny grid", "[stability][cli]") {
  const auto dir = cli_scratch_dir("stability_sweep");
  const auto out = dir / "out";
  const auto r = run_cli("stability sweep --target grid25 --points 16 --steps 5 --discriminator-steps 1 --batch 8 --hidden 8 --seeds 2 "
                         "--ratios 1,100000 --configs none,sn+rkhs --threads 2 -q -o '" + out.string() + "'");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto lines = lines_of(out / "sweep.csv");
  REQUIRE(lines.size() == 1 + 2 * 2 * 2);  // header + configs × ratios × seeds
  CHECK(lines[0].rfind("target,config,ratio,gamma,seed,diverged", 0) == 0);
  CHECK(lines[1].rfind("grid25,none,1,0.125,0,", 0) == 0);  // γ0 = 1/(7α + β2) = 1/8 for α = β2 = 1
  CHECK(fs::exists(out / "sweep_plot.dat"));
  CHECK(fs::exists(out / "sweep.png"));  // gnuplot is a build dependency of the project's plots
  // Same command, same seed: identical CSV (threads do not matter).
  const auto out2 = dir / "out2";
  const auto r2 = run_cli("stability sweep --target grid25 --points 16 --steps 5 --discriminator-steps 1 --batch 8 --hidden 8 --seeds 2 "
                          "--ratios 1,100000 --configs none,sn+rkhs --threads 1 -q -o '" + out2.string() + "'");
  REQUIRE(r2.exit_code == 0);
  auto strip_seconds = [](std::vector<std::string> v) {
    for (auto& line : v) line = line.substr(0, line.rfind(','));
    return v;
  };
  CHECK(strip_seconds(lines_of(out2 / "sweep.csv")) == strip_seconds(lines));
  fs::remove_all(dir);
}

TEST_CASE("sbi stability sweep on a CSV data set and bad arguments", "[stability][cli]") {
  const auto dir = cli_scratch_dir("stability_bad");
  const auto csv = dir / "points.csv";
  RowMatrix data(12, 3);
  for (Eigen::Index i = 0; i < 12; ++i) data.row(i) << static_cast<double>(i), std::sin(static_cast<double>(i)), 1.0 + i % 3;
  write_csv(csv, {"a", "b", "c"}, data);
  const auto ok = run_cli("stability sweep --target '" + csv.string() + "' --points 12 --steps 3 --discriminator-steps 1 --batch 6 --hidden 4 "
                          "--seeds 1 --ratios 1 --configs sn -q -o '" + (dir / "csv_out").string() + "'");
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(lines_of(dir / "csv_out" / "sweep.csv").size() == 2);

  const auto bad_config = run_cli("stability sweep --configs none,wgan -o '" + (dir / "x").string() + "'");
  CHECK(bad_config.exit_code == 1);
  CHECK(bad_config.err.find("wgan") != std::string::npos);
  const auto bad_ratio = run_cli("stability sweep --ratios 1,-3 -o '" + (dir / "x").string() + "'");
  CHECK(bad_ratio.exit_code == 2);
  const auto bad_target = run_cli("stability sweep --target nowhere.csv -o '" + (dir / "x").string() + "'");
  CHECK(bad_target.exit_code == 1);
  CHECK(bad_target.err.find("nowhere.csv") != std::string::npos);
  const auto no_output = run_cli("stability sweep");
  CHECK(no_output.exit_code == 2);
  const auto unknown = run_cli("stability frobnicate");
  CHECK(unknown.exit_code == 2);
  CHECK_FALSE(fs::exists(dir / "x" / "sweep.csv"));
  fs::remove_all(dir);
}
