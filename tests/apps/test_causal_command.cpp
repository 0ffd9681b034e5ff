// `sbi causal`: one pair from the command line, and the benchmark over a folder with a malformed
// pair file (named in the warning, skipped, counted in the summary).
#include "cli_runner.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace {

std::filesystem::path synthetic(const std::string& file) {
  return std::filesystem::path(SBI_SOURCE_DIR) / "data" / "causal_synthetic" / file;
}

}  // namespace

TEST_CASE("sbi causal PAIR.csv prints the direction and score", "[causal][cli]") {
  const auto r = sbi::testing::run_cli("causal '" + synthetic("pair0001.csv").string() + "' --method igci");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("direction") && Catch::Contains("score"));
  const auto c = sbi::testing::run_cli("causal '" + synthetic("pair0002.csv").string() +
                                       "' --method cgnn --runs 3 --train-epochs 20 --eval-epochs 3 --max-samples 100 --json");
  INFO(c.err);
  REQUIRE(c.exit_code == 0);
  const auto j = nlohmann::json::parse(c.out);
  CHECK(j["run_scores"].size() == 3);
  CHECK(j["samples_used"] == 100);
  const auto bad = sbi::testing::run_cli("causal '" + synthetic("pair0001.csv").string() + "' --method nosuch");
  CHECK(bad.exit_code == 2);
}

TEST_CASE("sbi causal benchmark skips a malformed pair file and names it", "[causal][cli]") {
  const auto dir = sbi::testing::cli_scratch_dir("causal_bench");
  const auto out = dir / "out";
  for (const char* f : {"pair0001.csv", "pair0002.csv", "pair0003.csv"}) std::filesystem::copy_file(synthetic(f), dir / f);
  {
    std::ofstream bad(dir / "pair0004.csv");
    bad << "x,y\n";
    for (int i = 0; i < 20; ++i) bad << i << "," << (i == 7 ? "oops" : std::to_string(i * 0.5)) << "\n";
    std::ofstream meta(dir / "meta.csv");
    meta << "pair_id,direction,weight\n1,1,1\n2,-1,1\n3,1,0.5\n4,1,1\n";
  }
  const auto r = sbi::testing::run_cli("causal benchmark '" + dir.string() + "' --method igci,reci --quiet --threads 2 -o '" +
                                       out.string() + "'");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("pair0004.csv") && Catch::Contains("pair0004.csv:9:") && Catch::Contains("oops"));
  CHECK_THAT(r.out, Catch::Contains("Skipped pairs: 1"));
  const auto summary = nlohmann::json::parse(sbi::testing::read_text(out / "summary.json"));
  CHECK(summary["skipped_count"] == 1);
  CHECK(summary["summaries"].size() == 2);
  CHECK(summary["summaries"][0]["pairs"] == 3);
  const std::string table = sbi::testing::read_text(out / "pairs.csv");
  CHECK(std::count(table.begin(), table.end(), '\n') == 1 + 2 * 3);
  std::filesystem::remove_all(dir);
}
