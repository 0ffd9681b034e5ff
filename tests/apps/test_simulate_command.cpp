#include "cli_runner.hpp"

#include "sbi/simulation/table.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <thread>

using namespace sbi;
using namespace sbi::testing;
namespace fs = std::filesystem;

namespace {
const std::string kSpecDir = std::string(SBI_SOURCE_DIR) + "/data/specs/";

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }
}  // namespace

TEST_CASE("sbi --help lists the commands and each command's options with defaults", "[cli]") {
  const auto top = run_cli("--help");
  CHECK(top.exit_code == 0);
  CHECK_THAT(top.out, Catch::Contains("simulate"));
  const auto simulate = run_cli("simulate --help");
  CHECK(simulate.exit_code == 0);
  CHECK_THAT(simulate.out, Catch::Contains("--threads") && Catch::Contains("(=0)") && Catch::Contains("(=10000)") &&
                               Catch::Contains("--format") && Catch::Contains("--quiet"));
  const auto list = run_cli("simulate --list");
  CHECK(list.exit_code == 0);
  CHECK_THAT(list.out, Catch::Contains("sir") && Catch::Contains("parameters: beta, gamma") &&
                           Catch::Contains("parameters: alpha, beta, gamma, delta") && Catch::Contains("data: 20 values (data_1, ..., data_20)"));
  CHECK(run_cli("frobnicate").exit_code == 2);
  CHECK(run_cli("simulate --no-such-option").exit_code == 2);
}

TEST_CASE("sbi simulate writes the same table for 1 and 2 threads and appends without repeating", "[cli]") {
  const auto dir = cli_scratch_dir("simulate");
  const std::string spec = kSpecDir + "two_moons.json";
  auto one = run_cli("simulate " + spec + " -n 3000 -o " + (dir / "one.csv").string() + " --threads 1 --quiet");
  REQUIRE(one.exit_code == 0);
  auto two = run_cli("simulate " + spec + " -n 3000 -o " + (dir / "two.csv").string() + " --threads 2 --batch-size 7 --quiet");
  REQUIRE(two.exit_code == 0);
  CHECK(read_text(dir / "one.csv") == read_text(dir / "two.csv"));
  CHECK_THAT(one.out, Catch::Contains("3000 of 3000 simulations kept"));

  // An existing table is not overwritten by accident.
  const std::string before = read_text(dir / "one.csv");
  auto refused = run_cli("simulate " + spec + " -n 10 -o " + (dir / "one.csv").string() + " --quiet");
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("already exists") && Catch::Contains("--append"));
  CHECK(read_text(dir / "one.csv") == before);

  // 1000 + 2000 appended = the 3000-row table, in both formats.
  for (const std::string ext : {".csv", ".sbt"}) {
    const auto part = dir / ("part" + ext);
    REQUIRE(run_cli("simulate " + spec + " -n 1000 -o " + part.string() + " --quiet").exit_code == 0);
    REQUIRE(run_cli("simulate " + spec + " -n 2000 -o " + part.string() + " --append --quiet").exit_code == 0);
    const auto appended = read_table(part);
    const auto whole = read_table(dir / "one.csv");
    CHECK(appended.indices == whole.indices);
    CHECK((appended.y.array() == whole.y.array()).all());
  }

  // Appending from a spec whose prior differs would mix draws from two priors: refused, the table kept.
  std::string narrower = read_text(spec);
  const std::string wide = "\"high\": 1.0";
  const auto at = narrower.find(wide);
  REQUIRE(at != std::string::npos);
  narrower.replace(at, wide.size(), "\"high\": 0.5");
  write_text(dir / "narrower.json", narrower);
  const std::string table_before = read_text(dir / "part.sbt");
  const auto mixed = run_cli("simulate " + (dir / "narrower.json").string() + " -n 10 -o " + (dir / "part.sbt").string() + " --append --quiet");
  CHECK(mixed.exit_code == 1);
  CHECK_THAT(mixed.err, Catch::Contains("the table's θ were drawn from another prior"));
  CHECK(read_text(dir / "part.sbt") == table_before);
  CHECK(read_table(dir / "part.sbt").metadata.prior == nlohmann::json::parse(read_text(spec)).at("prior"));
  fs::remove_all(dir);
}

TEST_CASE("sbi simulate reports bad specs with the JSON path and exits non-zero", "[cli]") {
  const auto dir = cli_scratch_dir("badspec");
  write_text(dir / "bad_prior.json", R"({"simulator": {"name": "two_moons"},
    "prior": [{"name": "a", "dist": "uniform", "low": -1, "high": 1}, {"name": "b", "dist": "normal", "mu": 0, "sigma": -1}]})");
  auto r = run_cli("simulate " + (dir / "bad_prior.json").string() + " -n 10 -o " + (dir / "t.csv").string());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("prior[1].sigma: expected a positive number, got -1"));
  CHECK_FALSE(fs::exists(dir / "t.csv"));

  write_text(dir / "bad_name.json", R"({"simulator": {"name": "two_mons"}})");
  r = run_cli("simulate " + (dir / "bad_name.json").string() + " -n 10 -o " + (dir / "t.csv").string());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("simulator.name") && Catch::Contains("two_moons"));

  write_text(dir / "bad_option.json", R"({"simulator": {"name": "lotka_volterra", "options": {"no_such_option": 1}}})");
  r = run_cli("simulate " + (dir / "bad_option.json").string() + " -n 10 -o " + (dir / "t.csv").string());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("simulator.options.no_such_option"));

  // A section parsed after the spec is read still names the spec's file before its JSON path.
  write_text(dir / "bad_inference.json", R"({"simulator": {"name": "two_moons"}, "inference": {"batch_size": 0}})");
  r = run_cli("simulate " + (dir / "bad_inference.json").string() + " -n 10 -o " + (dir / "t.csv").string());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains((dir / "bad_inference.json").string() + ": inference.batch_size"));

  // sbibm's SIR prior written gamma first: refused, not simulated with gamma's prior given to beta.
  write_text(dir / "swapped_prior.json", R"({"simulator": {"name": "sir"},
    "prior": [{"name": "gamma", "dist": "lognormal", "mu": -2.08, "sigma": 0.2}, {"name": "beta", "dist": "lognormal", "mu": -0.92, "sigma": 0.5}]})");
  r = run_cli("simulate " + (dir / "swapped_prior.json").string() + " -n 10 -o " + (dir / "t.csv").string());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("prior: names parameter 1 \"gamma\", which simulator \"sir\" has as parameter 2") &&
                        Catch::Contains("(beta, gamma)"));
  CHECK_FALSE(fs::exists(dir / "t.csv"));
  fs::remove_all(dir);
}

TEST_CASE("the README's example spec simulates", "[cli]") {
  // The first JSON block under "## Specs": a reader copies it, so it must be a spec that runs.
  const std::string readme = read_text(std::string(SBI_SOURCE_DIR) + "/README.md");
  const auto section = readme.find("\n## Specs");
  REQUIRE(section != std::string::npos);
  const auto begin = readme.find("```json\n", section);
  REQUIRE(begin != std::string::npos);
  const auto end = readme.find("```", begin + 8);
  REQUIRE(end != std::string::npos);
  const auto dir = cli_scratch_dir("readme_spec");
  write_text(dir / "spec.json", readme.substr(begin + 8, end - begin - 8));
  const auto r = run_cli("simulate " + (dir / "spec.json").string() + " -n 20 -o " + (dir / "t.csv").string() + " --quiet");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("20 of 20 simulations kept"));
  fs::remove_all(dir);
}

TEST_CASE("Ctrl-C leaves a valid table of the finished rows", "[cli]") {
  const auto dir = cli_scratch_dir("interrupt");
  const auto table = dir / "big.csv";
  const std::string command = std::string("'") + SBI_CLI_PATH + "' simulate " + kSpecDir +
                              "gaussian_linear.json -n 100000000 --quiet -o " + table.string();
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + command + " >/dev/null 2>&1").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until rows are being committed (the table itself grows as they finish), then interrupt.
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::error_code ec;
    if (fs::file_size(table, ec) > 100000 && !ec) break;
  }
  kill(child, SIGINT);
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  const auto t = read_table(table);
  CHECK(t.rows() > 0);
  CHECK(t.rows() < 100000000);
  CHECK(t.metadata.next_index == static_cast<std::uint64_t>(t.rows()));
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);  // no side files
  fs::remove_all(dir);
}
