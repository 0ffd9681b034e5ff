#include "sbi/io/csv.hpp"

#include "sbi/core/error.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

using namespace sbi;
namespace fs = std::filesystem;

namespace {

fs::path scratch_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("sbi_csv_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t files_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("atomic writes never follow a planted symbolic link", "[csv][io]") {
  // Regression: the temporary file had the predictable name OUT.tmp-PID, so a symbolic link planted
  // there redirected the write to the link's target.
  const auto dir = scratch_dir("symlink");
  const auto victim = dir / "victim.txt";
  { std::ofstream(victim) << "precious"; }
  const auto out = dir / "out.csv";
  auto predictable = out;
  predictable += ".tmp-" + std::to_string(::getpid());
  fs::create_symlink(victim, predictable);
  write_file_atomically(out, "a,b\n1,2\n");
  CHECK(read_text(victim) == "precious");
  CHECK(read_text(out) == "a,b\n1,2\n");
  CHECK(fs::is_symlink(predictable));  // left alone
  fs::remove(predictable);
  // A symbolic link at the target itself is replaced, not followed.
  const auto link = dir / "link.csv";
  fs::create_symlink(victim, link);
  write_file_atomically(link, "new");
  CHECK(read_text(victim) == "precious");
  CHECK_FALSE(fs::is_symlink(link));
  CHECK(read_text(link) == "new");
  fs::remove_all(dir);
}

TEST_CASE("temporary files have unpredictable names and are cleaned up on every path we control", "[csv][io]") {
  const auto dir = scratch_dir("temporary");
  const auto target = dir / "t.csv";
  std::set<std::string> names;
  for (int i = 0; i < 20; ++i) {
    const auto tmp = temporary_path_for(target, "rows");
    CHECK(fs::is_regular_file(tmp));
    const std::string name = tmp.filename().string();
    CHECK(name.rfind("t.csv.rows-", 0) == 0);
    CHECK(name.size() == std::string("t.csv.rows-").size() + 16);   // 64 random bits
    names.insert(name);
  }
  CHECK(names.size() == 20);
  // What a signal handler calls before the program ends: every temporary file still there goes.
  remove_temporary_files();
  CHECK(files_in(dir) == 0);

  // A failed write (the target is a folder) leaves nothing behind.
  fs::create_directories(dir / "folder");
  CHECK_THROWS_AS(write_file_atomically(dir / "folder", "x"), FileError);
  CHECK(files_in(dir) == 1);
  // Created files get the usual permissions (not 0600).
  write_file_atomically(dir / "p.txt", "x");
  struct stat st {};
  REQUIRE(::stat((dir / "p.txt").c_str(), &st) == 0);
  const mode_t mask = ::umask(0);
  ::umask(mask);
  CHECK((st.st_mode & 0777) == (0666 & ~mask));
  fs::remove_all(dir);
}

TEST_CASE("read_csv checks shapes and bounds its lines", "[csv][io]") {
  const auto dir = scratch_dir("read");
  { std::ofstream(dir / "ok.csv") << "# comment\na,b\n1,2\r\n3,inf\n"; }
  const auto ok = read_csv(dir / "ok.csv");
  CHECK(ok.header == Names{"a", "b"});
  REQUIRE(ok.values.rows() == 2);
  CHECK(ok.values(1, 1) == std::numeric_limits<double>::infinity());
  { std::ofstream(dir / "short.csv") << "a,b\n1\n"; }
  CHECK_THROWS_WITH(read_csv(dir / "short.csv"), Catch::Contains(":2: expected 2 columns"));
  { std::ofstream(dir / "text.csv") << "a,b\n1,secret-password\n"; }
  CHECK_THROWS_WITH(read_csv(dir / "text.csv"), Catch::Contains("column 2 (b)"));
  try {
    read_csv(dir / "text.csv", 0, /*show_content=*/false);
    FAIL("expected an error");
  } catch (const InputError& e) {
    CHECK_THAT(e.what(), !Catch::Contains("secret") && Catch::Contains(":2: column 2: expected a number"));
  }
  // A file without line breaks is refused after kMaxCsvLineBytes, not read into memory.
  CHECK_THROWS_WITH(read_csv("/dev/zero"), Catch::Contains("longer than 64 MiB"));
  fs::remove_all(dir);
}

TEST_CASE("names that cannot round-trip through CSV are named as such", "[csv][io]") {
  CHECK(csv_name_problem("alpha").empty());
  CHECK(csv_name_problem("θ_1 (rate)").empty());
  CHECK_THAT(csv_name_problem(""), Catch::Contains("empty"));
  CHECK_THAT(csv_name_problem("a,b"), Catch::Contains("comma"));
  CHECK_THAT(csv_name_problem("a\nb"), Catch::Contains("line break"));
  CHECK_THAT(csv_name_problem("a\"b"), Catch::Contains("double quote"));
  CHECK_THAT(csv_name_problem("#a"), Catch::Contains("'#'"));
  CHECK_THAT(csv_name_problem(std::string("a\0b", 3)), Catch::Contains("control"));
  CHECK_THROWS_WITH(check_csv_names({"a", "b", "a"}, "prior"), Catch::Contains("prior[2]: \"a\" appears twice"));
  // A name that passes reads back as itself.
  const auto dir = scratch_dir("names");
  const Names names = {"alpha", "β (per day)", "x-1"};
  write_csv(dir / "n.csv", names, RowMatrix::Zero(1, 3));
  CHECK(read_csv(dir / "n.csv").header == names);
  fs::remove_all(dir);
}

TEST_CASE("columns_in_order matches columns by name, else by position, and refuses a misplaced name", "[csv][io]") {
  CsvTable table{{"b", "a"}, RowMatrix(2, 2)};
  table.values << 1, 2, 3, 4;
  ColumnMatch how = ColumnMatch::same;
  const RowMatrix by_name = columns_in_order(table, {"a", "b"}, "s.csv", "r.csv", &how);
  CHECK(how == ColumnMatch::by_name);
  CHECK(by_name(0, 0) == 2);
  CHECK(by_name(1, 1) == 3);
  CHECK(columns_in_order(table, {"b", "a"}, "s.csv", "r.csv", &how) == table.values);
  CHECK(how == ColumnMatch::same);
  // sbibm's references name the columns in LaTeX: no name in common, taken in order.
  CHECK(columns_in_order(table, {"$\\theta_1$", "$\\theta_2$"}, "s.csv", "r.csv", &how) == table.values);
  CHECK(how == ColumnMatch::by_position);
  // "a" is the first parameter, yet the second column here, and "c" is not a parameter: which is which cannot be told.
  const CsvTable partial{{"c", "a"}, table.values};
  CHECK_THROWS_WITH(columns_in_order(partial, {"a", "b"}, "s.csv", "r.csv"),
                    Catch::Contains("s.csv: column 2 (\"a\") is parameter 1 of r.csv (a, b)"));
  CHECK_THROWS_WITH(columns_in_order(table, {"a", "b", "c"}, "s.csv", "r.csv"), Catch::Contains("s.csv has 2 columns (b, a) but r.csv has 3"));
}
