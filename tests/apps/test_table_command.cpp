#include "cli_runner.hpp"

#include "sbi/simulation/table.hpp"

#include <catch2/catch.hpp>

#include <csignal>

using namespace sbi;
using namespace sbi::testing;
namespace fs = std::filesystem;

TEST_CASE("sbi table check finds the damage in a table and sbi table repair keeps its intact rows", "[cli][table]") {
  const auto dir = cli_scratch_dir("table");
  const auto table = dir / "t.sbt";
  const std::string spec = std::string(SBI_SOURCE_DIR) + "/data/specs/two_moons.json";
  REQUIRE(run_cli("simulate " + spec + " -n 5000 -o " + table.string() + " --quiet").exit_code == 0);
  const auto intact = run_cli("table check " + table.string());
  CHECK(intact.exit_code == 0);
  CHECK_THAT(intact.out, Catch::Contains("intact, 5000 rows") && Catch::Contains("simulator two_moons"));

  // Flip one bit near the end: the last block is damaged.
  std::string bytes = read_text(table);
  bytes[bytes.size() - 20] ^= 0x04;
  { std::ofstream(table, std::ios::binary | std::ios::trunc) << bytes; }
  const auto damaged = run_cli("table check " + table.string());
  CHECK(damaged.exit_code == 1);
  CHECK_THAT(damaged.err, Catch::Contains("byte offset") && Catch::Contains("sbi table repair"));
  // Commands that use the table refuse it too.
  CHECK(run_cli("simulate " + spec + " -n 10 -o " + table.string() + " --append --quiet").exit_code == 1);

  const auto repaired = run_cli("table repair " + table.string() + " -o " + (dir / "fixed.sbt").string());
  CHECK(repaired.exit_code == 0);
  CHECK_THAT(repaired.out, Catch::Contains("rows kept") && Catch::Contains("checksum"));
  const auto fixed = read_table(dir / "fixed.sbt");
  CHECK(fixed.rows() > 0);
  CHECK(fixed.rows() < 5000);
  // The repaired table continues with --append from its last row.
  REQUIRE(run_cli("simulate " + spec + " -n 100 -o " + (dir / "fixed.sbt").string() + " --append --quiet").exit_code == 0);
  CHECK(read_table(dir / "fixed.sbt").rows() == fixed.rows() + 100);

  CHECK(run_cli("table frobnicate " + table.string()).exit_code == 2);
  CHECK(run_cli("table check").exit_code == 2);
  fs::remove_all(dir);
}

TEST_CASE("two concurrent sbi simulate --append runs never duplicate a row", "[cli][table]") {
  // Regression: two concurrent appends to one table ended with 30,000 duplicated rows. Whatever the
  // interleaving, each run either appends whole or is refused (the table's lock, or indices that
  // another run has taken meanwhile); the table stays valid with every index once.
  const auto dir = cli_scratch_dir("concurrent");
  const auto table = dir / "t.sbt";
  const std::string spec = std::string(SBI_SOURCE_DIR) + "/data/specs/two_moons.json";
  REQUIRE(run_cli("simulate " + spec + " -n 1000 -o " + table.string() + " --quiet").exit_code == 0);
  const std::string command = std::string("'") + SBI_CLI_PATH + "' simulate " + spec + " -n 20000 --append --quiet -o " +
                              table.string() + " >/dev/null 2>&1";
  pid_t children[2];
  for (auto& child : children) {
    child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  int succeeded = 0;
  for (const pid_t child : children) {
    int status = 0;
    waitpid(child, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK((WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 1));
    if (WEXITSTATUS(status) == 0) ++succeeded;
  }
  CHECK(succeeded >= 1);
  const auto t = read_table(table);  // refuses repeated or out-of-order indices
  CHECK(t.rows() == 1000 + 20000 * succeeded);
  for (std::size_t r = 0; r < t.indices.size(); ++r) CHECK(t.indices[r] == r);
  fs::remove_all(dir);
}
