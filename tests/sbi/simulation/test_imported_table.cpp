// Simulations made elsewhere, read from a plain CSV as a reference table.
#include "sbi/simulation/imported_table.hpp"

#include "sbi/core/error.hpp"
#include "sbi/priors/prior.hpp"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

using namespace sbi;
namespace fs = std::filesystem;

namespace {

struct ScratchCsv {
  fs::path path;
  explicit ScratchCsv(const std::string& text) : path(fs::temp_directory_path() / ("sbi_import_" + std::to_string(::getpid()) + ".csv")) {
    std::ofstream(path) << text;
  }
  ~ScratchCsv() { fs::remove(path); }
};

// a in [0, 1], b in [0, 2].
UniformPrior box() { return UniformPrior((Vector(2) << 0.0, 0.0).finished(), (Vector(2) << 1.0, 2.0).finished(), {"a", "b"}); }

}  // namespace

TEST_CASE("a plain CSV becomes a table: the prior's names pick θ in the prior's order, the other columns are data", "[table][import]") {
  const UniformPrior prior = box();
  // Columns in another order than the prior's; data between and after them.
  const ScratchCsv csv("x_1,b,a,x_2\n10,1.5,0.25,20\n11,0.5,0.75,21\n12,1.0,0.5,22\n");
  const ImportedTable imported = import_csv_simulations(csv.path, prior);
  const ReferenceTable& t = imported.table;
  REQUIRE(t.rows() == 3);
  CHECK(t.theta(0, 0) == 0.25);
  CHECK(t.theta(0, 1) == 1.5);
  CHECK(t.theta(2, 0) == 0.5);
  CHECK(t.theta(2, 1) == 1.0);
  CHECK(t.y(1, 0) == 11);
  CHECK(t.y(1, 1) == 21);
  CHECK(t.indices == std::vector<std::uint64_t>{0, 1, 2});
  CHECK(t.metadata.parameter_names == Names{"a", "b"});
  CHECK(t.metadata.data_names == Names{"x_1", "x_2"});
  CHECK(t.metadata.simulator.empty());
  CHECK(t.metadata.simulator_options["imported_from"] == csv.path.filename().string());
  CHECK(t.metadata.next_index == 3);
  CHECK(imported.dropped == 0);
}

TEST_CASE("an index column gives the simulation indices, rows with non-finite data are failed simulations, left out", "[table][import]") {
  const UniformPrior prior = box();
  const ScratchCsv csv("index,a,b,y\n3,0.1,0.1,1\n7,0.2,0.2,nan\n8,0.3,0.3,inf\n12,0.4,0.4,4\n");
  const ImportedTable imported = import_csv_simulations(csv.path, prior);
  CHECK(imported.dropped == 2);
  CHECK(imported.table.rows() == 2);
  CHECK(imported.table.indices == std::vector<std::uint64_t>{3, 12});
  CHECK(imported.table.theta(1, 0) == 0.4);
  CHECK(imported.table.metadata.next_index == 13);
  CHECK(imported.table.metadata.dropped == 2);
}

TEST_CASE("a spreadsheet's export reads as written: a byte-order mark, blanks around names, CRLF line ends", "[table][import]") {
  const UniformPrior prior = box();
  const ScratchCsv csv("\xEF\xBB\xBF" "a , b,\ty\r\n0.25,1.5,3\r\n0.5,0.5,4\r\n");
  const ImportedTable imported = import_csv_simulations(csv.path, prior);
  REQUIRE(imported.table.rows() == 2);
  CHECK(imported.table.metadata.data_names == Names{"y"});
  CHECK(imported.table.theta(0, 1) == 1.5);
  CHECK(imported.table.y(1, 0) == 4);
}

TEST_CASE("a parameter called index is a parameter, not the simulation indices", "[table][import]") {
  const UniformPrior prior(Vector::Constant(1, 0.0), Vector::Constant(1, 10.0), {"index"});
  const ScratchCsv csv("index,y\n5,1\n2,2\n");
  const ImportedTable imported = import_csv_simulations(csv.path, prior);
  REQUIRE(imported.table.rows() == 2);
  CHECK(imported.table.theta(1, 0) == 2);
  CHECK(imported.table.indices == std::vector<std::uint64_t>{0, 1});
}

TEST_CASE("what cannot be trained on is refused with the file, the row and the column", "[table][import]") {
  const UniformPrior prior = box();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a,y\n0.5,1\n", "no column \"b\"; the prior's parameters (a, b) name the columns of θ, and the file has: a, y"},
      {"a,b\n0.5,1\n", "no data column"},
      {"a,b,y\n", "no rows of simulations"},
      {"a,b,y,y\n0.5,1,2,3\n", "column 4 of the header (\"y\") repeats an earlier column"},
      {"a,b,y\n0.5,1,2\n0.5,nan,2\n", "data row 2, column \"b\": a parameter must be a finite number"},
      {"a,b,y\n0.5,1,2\n0.5,2.5,2\n", "data row 2: θ lies outside the prior's support"},
      {"index,a,b,y\n4,0.5,1,2\n4,0.5,1,2\n", "data row 2, column \"index\": expected whole simulation indices, increasing"},
      {"index,a,b,y\n1.5,0.5,1,2\n", "data row 1, column \"index\""},
      {"a,b,y\n0.5,1,abc\n", ":2: column 3 (y): expected a number"}};
  for (const auto& [text, message] : cases) {
    INFO(text);
    const ScratchCsv csv(text);
    CHECK_THROWS_WITH(import_csv_simulations(csv.path, prior), Catch::Contains(csv.path.string()) && Catch::Contains(message));
  }
}

TEST_CASE("tables written by sbi++ are told from plain CSV files", "[table][import]") {
  const ScratchCsv plain("a,b,y\n0.5,1,2\n");
  CHECK_FALSE(is_sbi_table_file(plain.path));
  const ScratchCsv csv_table("# sbi-table {}\n");
  CHECK(is_sbi_table_file(csv_table.path));
  const ScratchCsv binary("SBITBL02........");
  CHECK(is_sbi_table_file(binary.path));
  const ScratchCsv cut("# sbi-ta");
  CHECK(is_sbi_table_file(cut.path));  // a damaged table, for read_table to name the damage
  CHECK_THROWS_AS(is_sbi_table_file(fs::temp_directory_path() / "sbi_no_such_table.csv"), FileError);
}
