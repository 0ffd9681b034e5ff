#include "sbi/simulation/table.hpp"

#include "sbi/core/error.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <fstream>

using namespace sbi;
namespace fs = std::filesystem;

namespace {

fs::path scratch_dir() {
  auto dir = fs::temp_directory_path() / ("sbi_table_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

Simulator awkward_numbers() {
  SimulatorInfo info{"awkward", {"a", "b"}, {"y1", "y2"}};
  return make_simulator(info, [](ConstRow theta, MutableRow y, Rng& rng) {
    y[0] = theta[0] / 3.0 + 1e-300 * rng.normal();  // digits that only exact printing preserves
    y[1] = std::exp(30 * theta[1]) * rng.uniform();
    return true;
  });
}

TableMetadata metadata_for(const Simulator& sim, std::uint64_t seed) {
  TableMetadata m;
  m.simulator = sim.name();
  m.seed = seed;
  m.parameter_names = sim.info().parameter_names;
  m.data_names = sim.info().data_names;
  return m;
}

ReferenceTable simulate_to(const fs::path& path, TableFormat format, std::size_t n, const fs::path* existing = nullptr,
                           std::uint64_t first = 0) {
  const auto sim = awkward_numbers();
  UniformPrior prior(Vector::Constant(2, -1.0), Vector::Constant(2, 1.0));
  TableWriter writer(path, format, metadata_for(sim, 9), existing);
  ReferenceTable in_memory;
  SimulationOptions options;
  options.threads = 2;
  const auto summary = simulate_from_prior(sim, prior, n, 9, first, options, [&](const SimulationChunk& c) {
    writer.write(c);
    in_memory.append(c);
  });
  writer.finish(summary);
  return in_memory;
}

}  // namespace

TEST_CASE("CSV and binary tables round-trip exactly", "[table]") {
  const auto dir = scratch_dir();
  for (auto format : {TableFormat::csv, TableFormat::binary}) {
    const auto path = dir / (format == TableFormat::csv ? "t.csv" : "t.sbt");
    const ReferenceTable written = simulate_to(path, format, 777);
    const ReferenceTable read = read_table(path);
    CHECK(read.indices == written.indices);
    CHECK((read.theta.array() == written.theta.array()).all());
    CHECK((read.y.array() == written.y.array()).all());
    CHECK(read.metadata.next_index == 777);
    CHECK(read.metadata.simulator == "awkward");
    CHECK(read.metadata.parameter_names == Names{"a", "b"});
    // write_table gives the same bytes back.
    const auto copy = dir / (format == TableFormat::csv ? "copy.csv" : "copy.sbt");
    write_table(read, copy, format);
    const ReferenceTable again = read_table(copy);
    CHECK((again.y.array() == read.y.array()).all());
  }
  fs::remove_all(dir);
}

TEST_CASE("appending continues the simulation indices and equals one long run", "[table]") {
  const auto dir = scratch_dir();
  for (auto format : {TableFormat::csv, TableFormat::binary}) {
    const auto whole = dir / "whole.tbl";
    const auto part = dir / "part.tbl";
    simulate_to(whole, format, 500);
    simulate_to(part, format, 200);
    const auto first = read_table(part);
    simulate_to(part, format, 300, &part, first.metadata.next_index);
    const auto appended = read_table(part);
    const auto reference = read_table(whole);
    CHECK(appended.indices == reference.indices);
    CHECK((appended.y.array() == reference.y.array()).all());
    CHECK(appended.metadata.next_index == 500);
  }
  fs::remove_all(dir);
}

TEST_CASE("appending refuses a table from another simulator or seed", "[table]") {
  const auto dir = scratch_dir();
  const auto path = dir / "t.csv";
  simulate_to(path, TableFormat::csv, 10);
  auto other = metadata_for(awkward_numbers(), 10);  // another seed
  CHECK_THROWS_WITH(TableWriter(dir / "u.csv", TableFormat::csv, other, &path), Catch::Contains("cannot append"));
  fs::remove_all(dir);
}

TEST_CASE("damaged tables give clear errors", "[table]") {
  const auto dir = scratch_dir();
  const auto bin = dir / "t.sbt";
  simulate_to(bin, TableFormat::binary, 20);
  fs::resize_file(bin, fs::file_size(bin) - 5);
  CHECK_THROWS_WITH(read_table(bin), Catch::Contains("truncated binary table"));

  const auto csv = dir / "t.csv";
  simulate_to(csv, TableFormat::csv, 5);
  {
    std::ofstream out(csv, std::ios::app);
    out << "5,0.1,zz,1,2\n";
  }
  CHECK_THROWS_WITH(read_table(csv), Catch::Contains(":8: column 3 (b): expected a number, got \"zz\""));
  {
    std::ofstream out(dir / "plain.csv");
    out << "a,b\n1,2\n";
  }
  CHECK_THROWS_WITH(read_table(dir / "plain.csv"), Catch::Contains("not an sbi++ table"));
  {
    std::ofstream out(dir / "future.csv");
    out << "# sbi-table {\"format_version\": 99}\nindex\n";
  }
  CHECK_THROWS_WITH(read_table(dir / "future.csv"), Catch::Contains("newer than this sbi++ reads"));
  fs::remove_all(dir);
}

TEST_CASE("an unfinished writer never replaces the table", "[table]") {
  const auto dir = scratch_dir();
  const auto path = dir / "keep.csv";
  simulate_to(path, TableFormat::csv, 50);
  const auto before = read_table(path);
  {
    // A writer appending to the table is abandoned (an exception) before finish().
    auto sim = awkward_numbers();
    TableWriter writer(path, TableFormat::csv, metadata_for(sim, 9), &path);
    SimulationChunk chunk{{50}, RowMatrix::Zero(1, 2), RowMatrix::Zero(1, 2)};
    writer.write(chunk);
  }
  const auto after = read_table(path);
  CHECK(after.indices == before.indices);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++files;
  CHECK(files == 1);  // no temporary files left behind
  fs::remove_all(dir);
}
