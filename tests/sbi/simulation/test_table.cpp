#include "sbi/simulation/table.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>

using namespace sbi;
namespace fs = std::filesystem;

namespace {

fs::path scratch_dir(const std::string& name = "t") {
  auto dir = fs::temp_directory_path() / ("sbi_table_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::size_t files_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++n;
  return n;
}

Simulator awkward_numbers() {
  SimulatorInfo info{"awkward", {"a", "b"}, {"y1", "y2"}};
  return make_simulator(info, [](ConstRow theta, MutableRow y, Rng& rng) {
    y[0] = theta[0] / 3.0 + 1e-300 * rng.normal();  // digits that only exact printing preserves
    y[1] = std::exp(30 * theta[1]) * rng.uniform();
    return true;
  });
}

TableMetadata metadata_for(const Simulator& sim, std::uint64_t seed) { return TableMetadata::for_simulator(sim.info(), seed); }

ReferenceTable simulate_to(const fs::path& path, TableFormat format, std::size_t n, const fs::path* existing = nullptr,
                           std::uint64_t first = 0, int threads = 2, std::size_t batch_size = 256) {
  const auto sim = awkward_numbers();
  UniformPrior prior(Vector::Constant(2, -1.0), Vector::Constant(2, 1.0));
  TableWriter writer(path, format, metadata_for(sim, 9), existing);
  ReferenceTable in_memory;
  SimulationOptions options;
  options.threads = threads;
  options.batch_size = batch_size;
  const auto summary = simulate_from_prior(sim, prior, n, 9, first, options, [&](const SimulationChunk& c) {
    writer.write(c);
    in_memory.append(c);
  });
  writer.finish(summary);
  return in_memory;
}

// A table written as `blocks` chunks of `rows` rows each (indices 0, 1, ...). Unfinished (as a run
// that was killed leaves it), it keeps one block per chunk; finished, it is rewritten in 1024-row blocks.
void write_blocks(const fs::path& path, TableFormat format, int blocks, int rows, bool finished = false) {
  TableWriter writer(path, format, metadata_for(awkward_numbers(), 9));
  for (int b = 0; b < blocks; ++b) {
    SimulationChunk chunk;
    chunk.theta.resize(rows, 2);
    chunk.y.resize(rows, 2);
    for (int r = 0; r < rows; ++r) {
      const auto index = static_cast<std::uint64_t>(b * rows + r);
      chunk.indices.push_back(index);
      chunk.theta.row(r) << 0.5 * static_cast<double>(index), -1.0 / (1.0 + static_cast<double>(index));
      chunk.y.row(r) << std::sqrt(static_cast<double>(index)), 1e-7 * static_cast<double>(index);
    }
    writer.write(chunk);
  }
  if (!finished) return;
  SimulationSummary summary;
  summary.next_index = static_cast<std::uint64_t>(blocks * rows);
  writer.finish(summary);
}

bool same_rows(const ReferenceTable& a, const ReferenceTable& b) {
  return a.indices == b.indices && a.theta.rows() == b.theta.rows() && (a.theta.array() == b.theta.array()).all() &&
         (a.y.array() == b.y.array()).all();
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
    CHECK(read.metadata.simulator_options_hash == simulator_options_hash(awkward_numbers().info()));
    // write_table gives the same rows back.
    const auto copy = dir / (format == TableFormat::csv ? "copy.csv" : "copy.sbt");
    write_table(read, copy, format);
    CHECK(same_rows(read_table(copy), read));
  }
  // A generic CSV reader sees the header and the rows (the table's own lines are comments).
  const auto csv = read_csv(dir / "t.csv");
  CHECK(csv.header == Names{"index", "a", "b", "y1", "y2"});
  CHECK(csv.values.rows() == 777);
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
    CHECK(same_rows(appended, reference));
    CHECK(appended.metadata.next_index == 500);
    CHECK(read_bytes(part) == read_bytes(whole));  // finished tables: the same bytes
  }
  CHECK(files_in(dir) == 2);
  fs::remove_all(dir);
}

TEST_CASE("appending refuses a table from another simulator or seed", "[table]") {
  const auto dir = scratch_dir();
  const auto path = dir / "t.csv";
  simulate_to(path, TableFormat::csv, 10);
  auto other = metadata_for(awkward_numbers(), 10);  // another seed
  CHECK_THROWS_WITH(TableWriter(path, TableFormat::csv, other, &path), Catch::Contains("cannot append"));
  CHECK(read_table(path).rows() == 10);
  fs::remove_all(dir);
}

TEST_CASE("appending refuses draws from another prior, and accepts a table that recorded none", "[table]") {
  const auto dir = scratch_dir();
  const auto path = dir / "t.sbt";
  simulate_to(path, TableFormat::binary, 10);  // a table that recorded no prior (as before the prior was recorded)
  CHECK(read_table(path).metadata.prior.is_null());
  const UniformPrior box(Vector::Constant(2, -1.0), Vector::Constant(2, 1.0), {"a", "b"});
  const UniformPrior narrower(Vector::Constant(2, -0.5), Vector::Constant(2, 0.5), {"a", "b"});
  auto with_prior = metadata_for(awkward_numbers(), 9);
  with_prior.prior = prior_record(box);
  REQUIRE_FALSE(with_prior.prior.is_null());
  { TableWriter accepted(path, TableFormat::binary, with_prior, &path); }
  const auto fresh = dir / "fresh.sbt";
  { TableWriter created(fresh, TableFormat::binary, with_prior); }
  CHECK(read_table(fresh).metadata.prior == with_prior.prior);
  auto other = with_prior;
  other.prior = prior_record(narrower);
  const std::string before = read_bytes(fresh);
  CHECK_THROWS_WITH(TableWriter(fresh, TableFormat::binary, other, &fresh), Catch::Contains("drawn from another prior"));
  CHECK(read_bytes(fresh) == before);
  { TableWriter same(fresh, TableFormat::binary, with_prior, &fresh); }
  fs::remove_all(dir);
}

TEST_CASE("a table is refused by a run of another simulator", "[table]") {
  SimulatorInfo made_by{"lotka_volterra", {"a", "b"}, {"y1", "y2"}};
  made_by.options = {{"noise", 0.1}, {"steps", 20}};
  const TableMetadata table = TableMetadata::for_simulator(made_by, 1);
  CHECK_NOTHROW(check_table_fits(table, made_by, "t.sbt"));

  SimulatorInfo other = made_by;
  other.name = "sir";
  CHECK_THROWS_WITH(check_table_fits(table, other, "t.sbt"),
                    Catch::Contains("t.sbt") && Catch::Contains("made by simulator \"lotka_volterra\"") && Catch::Contains("\"sir\""));
  other = made_by;
  other.options["noise"] = 0.2;
  CHECK_THROWS_WITH(check_table_fits(table, other, "t.sbt"),
                    Catch::Contains("other options") && Catch::Contains("differ in: noise") && Catch::Contains("fnv1a64:"));
  other = made_by;
  other.data_names = {"y2", "y1"};  // same count, other columns: refused (was accepted by column counts)
  CHECK_THROWS_WITH(check_table_fits(table, other, "t.sbt"), Catch::Contains("data columns (y1, y2)"));
  other = made_by;
  other.parameter_names = {"alpha", "b"};
  CHECK_THROWS_WITH(check_table_fits(table, other, "t.sbt"), Catch::Contains("parameters (a, b)"));

  // Execution settings (an external simulator's worker count) do not make another simulator.
  SimulatorInfo external{"external:python3", {"a"}, {"y"}};
  external.options = {{"command", {"python3", "sim.py"}}, {"workers", 2}, {"timeout_s", 10}};
  external.execution_option_keys = {"workers", "timeout_s", "startup_timeout_s"};
  const TableMetadata external_table = TableMetadata::for_simulator(external, 1);
  SimulatorInfo more_workers = external;
  more_workers.options["workers"] = 8;
  CHECK_NOTHROW(check_table_fits(external_table, more_workers, "t.sbt"));
  CHECK(simulator_options_hash(more_workers) == simulator_options_hash(external));
  SimulatorInfo other_script = external;
  other_script.options["command"] = {"python3", "other.py"};
  CHECK_THROWS_WITH(check_table_fits(external_table, other_script, "t.sbt"), Catch::Contains("differ in: command"));
}

TEST_CASE("a finished table's bytes depend only on its rows: any threads, batch size or interruption", "[table]") {
  const auto dir = scratch_dir("canonical");
  for (auto format : {TableFormat::binary, TableFormat::csv}) {
    simulate_to(dir / "one", format, 3000, nullptr, 0, 1, 256);
    simulate_to(dir / "two", format, 3000, nullptr, 0, 2, 7);
    CHECK(read_bytes(dir / "one") == read_bytes(dir / "two"));
    // An unfinished table (one block per chunk) is finished by the next append.
    write_blocks(dir / "three", format, 3, 4);
    write_blocks(dir / "four", format, 1, 12, true);
    CHECK(read_bytes(dir / "three") != read_bytes(dir / "four"));
    CHECK(same_rows(read_table(dir / "three"), read_table(dir / "four")));
    {
      const auto three = dir / "three";
      TableWriter writer(three, format, metadata_for(awkward_numbers(), 9), &three);
      writer.finish({});
    }
    CHECK(read_bytes(dir / "three") == read_bytes(dir / "four"));
  }
  CHECK(files_in(dir) == 4);
  fs::remove_all(dir);
}

TEST_CASE("every flipped bit of a table is refused with its offset", "[table]") {
  // Regression: bits flipped in a .sbt table were accepted (29 of 40), giving wrong rows silently.
  const auto dir = scratch_dir("flip");
  for (const bool finished : {false, true})
  for (auto format : {TableFormat::binary, TableFormat::csv}) {
    const auto path = dir / (format == TableFormat::csv ? "t.csv" : "t.sbt");
    write_blocks(path, format, 3, 4, finished);
    const std::string original = read_bytes(path);
    const auto reference = read_table(path);
    const auto damaged = dir / "damaged";
    std::size_t refused = 0, flips = 0, without_offset = 0;
    std::string example;
    for (std::size_t byte = 0; byte < original.size(); ++byte) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string bytes = original;
        bytes[byte] = static_cast<char>(bytes[byte] ^ (1 << bit));
        write_bytes(damaged, bytes);
        ++flips;
        try {
          const auto t = read_table(damaged);
          INFO("flip of bit " << bit << " of byte " << byte << " accepted");
          CHECK(same_rows(t, reference));  // never wrong rows
        } catch (const FileError& e) {
          ++refused;
          // Past the first bytes (which say what the file is), every message names where the damage is.
          if (byte >= 12 && std::string(e.what()).find("byte offset") == std::string::npos) {
            ++without_offset;
            example = e.what();
          }
        }
      }
    }
    INFO(refused << " of " << flips << " flips refused; a message without an offset: " << example);
    CHECK(refused == flips);
    CHECK(without_offset == 0);
  }
  fs::remove_all(dir);
}

TEST_CASE("a truncated table is refused, and repair keeps every whole block before the cut", "[table]") {
  const auto dir = scratch_dir("cut");
  for (auto format : {TableFormat::binary, TableFormat::csv}) {
    const auto path = dir / (format == TableFormat::csv ? "t.csv" : "t.sbt");
    write_blocks(path, format, 4, 5);
    const std::string original = read_bytes(path);
    const auto reference = read_table(path);
    const auto cut = dir / "cut";
    const auto repaired = dir / "repaired";
    std::size_t previous_kept = 0;
    for (std::size_t length = 0; length < original.size(); ++length) {
      write_bytes(cut, original.substr(0, length));
      INFO("cut at " << length << " of " << original.size() << " bytes");
      CHECK_THROWS_AS(read_table(cut), FileError);
      try {
        const auto recovery = recover_table(cut, repaired);
        const auto kept = read_table(repaired);
        CHECK(kept.rows() == static_cast<Eigen::Index>(recovery.rows_kept));
        CHECK(recovery.rows_kept % 5 == 0);  // whole blocks only
        CHECK(recovery.rows_kept >= previous_kept);
        previous_kept = recovery.rows_kept;
        CHECK(kept.metadata.next_index == recovery.rows_kept);
        for (std::size_t r = 0; r < recovery.rows_kept; ++r) CHECK(kept.indices[r] == reference.indices[r]);
        CHECK(kept.theta == reference.theta.topRows(kept.rows()));
      } catch (const FileError& e) {
        CHECK_THAT(e.what(), Catch::Contains("byte offset") || Catch::Contains("not an sbi++ table"));
      }
    }
    CHECK(previous_kept == 15);  // a cut inside the last block keeps the three before it
    const auto whole = recover_table(path, repaired);
    CHECK(whole.rows_kept == 20);
    CHECK(whole.problem.empty());
    CHECK(same_rows(read_table(repaired), reference));
  }
  fs::remove_all(dir);
}

TEST_CASE("repair keeps the blocks before a damaged one", "[table]") {
  const auto dir = scratch_dir("repair");
  const auto path = dir / "t.sbt";
  write_blocks(path, TableFormat::binary, 4, 5);
  const auto reference = read_table(path);
  std::string bytes = read_bytes(path);
  // Damage one number in the third block (the last 8 bytes of the file are in the fourth).
  const std::size_t third_block_row = bytes.size() - 2 * (32 + 5 * 40) + 32 + 8;
  bytes[third_block_row] = static_cast<char>(bytes[third_block_row] ^ 0x10);
  write_bytes(path, bytes);
  try {
    read_table(path);
    FAIL("a damaged table was read");
  } catch (const FileError& e) {
    CHECK_THAT(e.what(), Catch::Contains("byte offset " + std::to_string(bytes.size() - 2 * (32 + 5 * 40))) &&
                             Catch::Contains("checksum") && Catch::Contains("sbi table repair"));
  }
  const auto recovery = recover_table(path, path);
  CHECK(recovery.rows_kept == 10);
  CHECK_THAT(recovery.brief_report(), Catch::Contains("10 rows kept") && Catch::Contains("checksum"));
  const auto repaired = read_table(path);
  CHECK(repaired.rows() == 10);
  CHECK(repaired.metadata.next_index == 10);
  CHECK(repaired.theta == reference.theta.topRows(10));
  CHECK(files_in(dir) == 1);
  fs::remove_all(dir);
}

TEST_CASE("rows of an unfinished block are ignored when reading and dropped when appending", "[table]") {
  const auto dir = scratch_dir("tail");
  for (auto format : {TableFormat::binary, TableFormat::csv}) {
    const auto path = dir / (format == TableFormat::csv ? "t.csv" : "t.sbt");
    simulate_to(path, format, 100);
    const auto before = read_table(path);
    // What a writer killed in the middle of a block leaves: bytes after the committed end.
    {
      std::ofstream out(path, std::ios::binary | std::ios::app);
      out << (format == TableFormat::csv ? "100,0.5,0.25,1,2\n101,0." : std::string("SBTBLOCK\x02\0\0", 11));
    }
    CHECK(same_rows(read_table(path), before));
    simulate_to(path, format, 50, &path, before.metadata.next_index);
    const auto after = read_table(path);
    CHECK(after.rows() == 150);
    CHECK(after.indices.back() == 149);
  }
  fs::remove_all(dir);
}

TEST_CASE("an abandoned writer leaves a valid table with every row written, and no side files", "[table]") {
  const auto dir = scratch_dir("abandon");
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
  CHECK(after.rows() == before.rows() + 1);
  CHECK(after.indices.back() == 50);
  CHECK(after.metadata.next_index == 51);
  CHECK(files_in(dir) == 1);  // no temporary files left behind
  fs::remove_all(dir);
}

TEST_CASE("a table survives kill -9 with every committed row, and --append continues from it", "[table]") {
  const auto dir = scratch_dir("kill");
  const auto path = dir / "t.sbt";
  int progress[2];
  REQUIRE(::pipe(progress) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Writes blocks of 10 rows forever, reporting each committed block on the pipe.
    ::close(progress[0]);
    try {
      TableWriter writer(path, TableFormat::binary, metadata_for(awkward_numbers(), 9));
      for (std::uint64_t b = 0;; ++b) {
        SimulationChunk chunk;
        chunk.theta = RowMatrix::Constant(10, 2, static_cast<double>(b));
        chunk.y = RowMatrix::Constant(10, 2, -static_cast<double>(b));
        for (std::uint64_t r = 0; r < 10; ++r) chunk.indices.push_back(10 * b + r);
        chunk.next_index = 10 * b + 10;
        chunk.dropped = 1;
        writer.write(chunk);
        const char done = 'x';
        if (::write(progress[1], &done, 1) != 1) ::_exit(3);
      }
    } catch (...) {
      ::_exit(2);
    }
  }
  ::close(progress[1]);
  // Wait for 25 committed blocks (no timing: the child tells us), then kill it mid-run.
  std::size_t committed = 0;
  char buffer[64];
  while (committed < 25) {
    const ssize_t n = ::read(progress[0], buffer, sizeof buffer);
    REQUIRE(n > 0);
    committed += static_cast<std::size_t>(n);
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(progress[0]);
  REQUIRE(WIFSIGNALED(status));

  const auto table = read_table(path);
  CHECK(table.rows() >= static_cast<Eigen::Index>(10 * committed));
  CHECK(table.rows() % 10 == 0);
  CHECK(table.metadata.next_index == static_cast<std::uint64_t>(table.rows()));
  CHECK(table.metadata.dropped == static_cast<std::size_t>(table.rows() / 10));  // counts committed with the rows
  for (Eigen::Index r = 0; r < table.rows(); ++r) CHECK(table.indices[static_cast<std::size_t>(r)] == static_cast<std::uint64_t>(r));
  CHECK(files_in(dir) == 1);  // no side files

  // --append continues after the last committed row.
  {
    TableWriter writer(path, TableFormat::binary, metadata_for(awkward_numbers(), 9), &path);
    CHECK(writer.next_index() == static_cast<std::uint64_t>(table.rows()));
    SimulationChunk chunk{{writer.next_index()}, RowMatrix::Zero(1, 2), RowMatrix::Zero(1, 2)};
    writer.write(chunk);
    writer.finish({});
  }
  CHECK(read_table(path).rows() == table.rows() + 1);
  fs::remove_all(dir);
}

TEST_CASE("a table being written is locked: a second writer is refused, and no row repeats", "[table]") {
  // Regression: two concurrent `sbi simulate --append` runs on one table ended with 30,000 duplicated rows.
  const auto dir = scratch_dir("lock");
  for (auto format : {TableFormat::binary, TableFormat::csv}) {
    const auto path = dir / (format == TableFormat::csv ? "t.csv" : "t.sbt");
    simulate_to(path, format, 20);
    const auto metadata = metadata_for(awkward_numbers(), 9);
    {
      TableWriter first(path, format, metadata, &path);
      CHECK_THROWS_WITH(TableWriter(path, format, metadata, &path), Catch::Contains("another process is writing to this table"));
      CHECK_THROWS_WITH(TableWriter(path, format, metadata), Catch::Contains("another process is writing to this table"));
      // Readers are not blocked.
      CHECK(read_table(path).rows() == 20);
    }
    // A run that read next_index before another run appended cannot write its stale indices.
    {
      TableWriter late(path, format, metadata, &path);
      SimulationChunk stale{{19}, RowMatrix::Zero(1, 2), RowMatrix::Zero(1, 2)};
      CHECK_THROWS_WITH(late.write(stale), Catch::Contains("already in the table"));
      SimulationChunk backwards{{30, 25}, RowMatrix::Zero(2, 2), RowMatrix::Zero(2, 2)};
      CHECK_THROWS_WITH(late.write(backwards), Catch::Contains("out of order"));
    }
    CHECK(read_table(path).rows() == 20);
  }
  CHECK(files_in(dir) == 2);
  fs::remove_all(dir);
}

TEST_CASE("the fail policy records its failure in the table", "[table]") {
  // Regression: with failure_policy "fail" the table said failed: 0.
  const auto dir = scratch_dir("fail");
  const auto path = dir / "t.sbt";
  SimulatorInfo info{"picky", {"a", "b"}, {"y"}};
  const auto sim = make_simulator(info, [](ConstRow theta, MutableRow y, Rng&) {
    y[0] = theta[0];
    return theta[0] < 0.9;
  });
  UniformPrior prior(Vector::Constant(2, 0.0), Vector::Constant(2, 1.0));
  SimulationOptions options;
  options.threads = 1;
  options.failure_policy = FailurePolicy::fail;
  TableWriter writer(path, TableFormat::binary, TableMetadata::for_simulator(info, 3, FailurePolicy::fail));
  CHECK_THROWS_AS(simulate_from_prior(sim, prior, 1000, 3, 0, options, [&](const SimulationChunk& c) { writer.write(c); }),
                  SimulationError);
  writer.finish({});  // as `sbi simulate` does after the error: an empty summary
  const auto table = read_table(path);
  CHECK(table.metadata.failed == 1);
  CHECK(table.metadata.next_index == static_cast<std::uint64_t>(table.rows()));  // the failed index is not consumed
  fs::remove_all(dir);
}

TEST_CASE("version 1 tables are read, and rewritten as version 2 when appended to", "[table]") {
  const auto dir = scratch_dir("v1");
  const auto csv = dir / "old.csv";
  write_bytes(csv,
              "# sbi-table {\"format_version\":1,\"simulator\":\"awkward\",\"simulator_options\":{},\"seed\":9,\"next_index\":3,"
              "\"parameter_names\":[\"a\",\"b\"],\"data_names\":[\"y1\",\"y2\"],\"failed\":1,\"non_finite\":0,\"dropped\":1,"
              "\"redraws\":0,\"failure_policy\":\"drop\"}\nindex,a,b,y1,y2\n0,0.5,0.25,1,2\n2,0.1,0.2,3,4\n");
  const auto old = read_table(csv);
  CHECK(old.metadata.format_version == 1);
  CHECK(old.indices == std::vector<std::uint64_t>{0, 2});
  CHECK(old.metadata.dropped == 1);
  simulate_to(csv, TableFormat::csv, 5, &csv, old.metadata.next_index);
  const auto appended = read_table(csv);
  CHECK(appended.metadata.format_version == 2);
  CHECK(appended.rows() == 7);
  CHECK(appended.indices[2] == 3);
  CHECK(appended.metadata.dropped == 1);
  CHECK(files_in(dir) == 1);

  // A version 1 binary table cut in the middle of a row.
  const std::string json = "{\"format_version\":1,\"simulator\":\"awkward\",\"seed\":9,\"next_index\":2,"
                           "\"parameter_names\":[\"a\"],\"data_names\":[\"y\"]}";
  std::string bin("SBITBL01", 8);
  const std::uint64_t length = json.size();
  bin.append(reinterpret_cast<const char*>(&length), 8);
  bin += json;
  for (std::uint64_t index : {0, 1}) {
    const double values[2] = {0.5 + static_cast<double>(index), -1.0};
    bin.append(reinterpret_cast<const char*>(&index), 8);
    bin.append(reinterpret_cast<const char*>(values), 16);
  }
  write_bytes(dir / "old.sbt", bin);
  CHECK(read_table(dir / "old.sbt").rows() == 2);
  write_bytes(dir / "old.sbt", bin.substr(0, bin.size() - 3));
  CHECK_THROWS_WITH(read_table(dir / "old.sbt"),
                    Catch::Contains("byte offset " + std::to_string(16 + json.size() + 24)) && Catch::Contains("partial row"));
  const auto recovery = recover_table(dir / "old.sbt", dir / "fixed.sbt");
  CHECK(recovery.rows_kept == 1);
  CHECK(read_table(dir / "fixed.sbt").metadata.next_index == 1);
  fs::remove_all(dir);
}

TEST_CASE("damaged or foreign table files give clear errors", "[table]") {
  const auto dir = scratch_dir("errors");
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
  {
    std::ofstream out(dir / "deep.csv");
    out << "# sbi-table " << std::string(100000, '[') << "\nindex\n";
  }
  CHECK_THROWS_AS(read_table(dir / "deep.csv"), FileError);
  // A row edited by hand: the block's checksum no longer matches.
  const auto csv = dir / "t.csv";
  write_blocks(csv, TableFormat::csv, 1, 3);
  std::string text = read_bytes(csv);
  const auto row = text.find("\n1,");
  const auto end = text.find('\n', row + 1);
  text[end - 1] = text[end - 1] == '8' ? '9' : '8';  // the row's last digit
  write_bytes(csv, text);
  CHECK_THROWS_WITH(read_table(csv), Catch::Contains("byte offset") && Catch::Contains("damaged block"));
  CHECK_THROWS_WITH(read_table(dir / "missing.sbt"), Catch::Contains("cannot open"));
  fs::remove_all(dir);
}
