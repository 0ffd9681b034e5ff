#pragma once
// Reference tables: simulated (θ, y) pairs with the seed, the simulation indices and the identity of
// the simulator that produced them, so that a table can be appended to without ever re-running a
// simulation index, and is never used with another simulator by mistake.
//
// A table is written as it is made: rows go into the table file itself, block by block, and a commit
// record in the file's head says how far the file is complete. The file is therefore a valid table
// at every moment; a run killed at any point (SIGKILL, out of memory, a power cut after the last
// checkpoint) loses only the rows it had not committed, and `--append` continues from there. A
// writer holds an exclusive lock (flock) on the table, so two runs never append to one table.
//
// File formats, version 2 (both round-trip exactly; version 1 files still read, and are rewritten
// as version 2 when appended to):
//
//  * Binary (.sbt), all integers little-endian uint64:
//      offset 0      "SBITBL02"
//      offset 8      L, the length of the metadata JSON
//      offset 16     the metadata JSON (simulator, options and their hash, seed, names, policy)
//      offset 16+L   two commit records of 80 bytes, each: sequence, end (byte offset where the
//                    committed blocks end), rows, next_index, failed, non_finite, dropped, redraws,
//                    head checksum (of bytes [0, 16+L)), record checksum (of the 72 bytes before it)
//      then blocks   "SBTBLOCK", rows R, payload checksum, header checksum (of the 24 bytes before
//                    it); then R rows of (uint64 index, θ and y as IEEE-754 doubles)
//  * CSV:
//      line 1        # sbi-table {metadata JSON}
//      lines 2, 3    # sbi-commit seq=... end=... rows=... next=... failed=... non_finite=...
//                    dropped=... redraws=... head=<hex> check=<hex>   (fixed width)
//      line 4        index,<θ names>,<y names>
//      then blocks   rows (index as an integer, numbers in shortest round-trip form), each block
//                    closed by a line "# sbi-block rows=R fnv1a64=<checksum of the block's rows>"
//    Generic CSV readers see a header and rows (the '#' lines are comments).
//
// The commit record with the higher sequence number is current; the writer overwrites the other
// one, so a torn record write leaves the previous one intact. Checksums are FNV-1a 64
// (sbi/io/checksum.hpp). Bytes after the committed end are a block whose writer was killed; they are
// ignored when reading and dropped when appending.
//
// While a run writes, each chunk of finished simulations is one block. A finished table (write_table,
// recover_table, TableWriter::finish) is rewritten atomically in blocks of 1024 rows with sequence
// numbers 0 and 1, so that its bytes depend only on its rows and metadata: the same seed gives the
// same file for any number of threads, batch size or interruptions.
//
// A damaged file (a flipped bit, a cut copy, rows out of order) is refused with a FileError that
// names the byte offset of the damage; recover_table() keeps the intact prefix (`sbi table repair`).
#include "sbi/core/types.hpp"
#include "sbi/simulation/runner.hpp"
#include "sbi/simulation/simulator.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <string>

namespace sbi {

enum class TableFormat { csv, binary };
TableFormat table_format_from_string(const std::string& text);  // "csv" | "bin"
// Guess from the file name: ".sbt"/".bin" = binary, anything else = CSV.
TableFormat table_format_for_path(const std::filesystem::path& path);

inline constexpr int kTableFormatVersion = 2;

struct TableMetadata {
  std::string simulator;
  nlohmann::json simulator_options = nlohmann::json::object();
  // simulator_options_hash(info) of the simulator that made the table (empty in version 1 tables).
  std::string simulator_options_hash;
  std::uint64_t seed = 0;
  std::uint64_t next_index = 0;  // first simulation index not yet used
  Names parameter_names;
  Names data_names;
  // Counts accumulated over every run that wrote to the table.
  std::size_t failed = 0;
  std::size_t non_finite = 0;
  std::size_t dropped = 0;
  std::size_t redraws = 0;
  std::string failure_policy = "drop";
  int format_version = kTableFormatVersion;  // of the file it was read from
  // A table written by a sequential run for one of its rounds: {"method", "round", "proposal", ...}
  // (sbi/inference/sequential.hpp); null for any other table (and then not written at all).
  nlohmann::json sequential = nullptr;
  // The prior θ was drawn from, in prior_from_json's form; null when unknown (tables written before
  // it was recorded, a prior without a JSON form, a sequential round's proposal). An append from
  // another prior is refused: the table would mix draws from two priors.
  nlohmann::json prior = nullptr;

  // The metadata of a new table made by `simulator` with `seed`.
  static TableMetadata for_simulator(const SimulatorInfo& simulator, std::uint64_t seed,
                                     FailurePolicy policy = FailurePolicy::drop);

  nlohmann::json to_json() const;
  static TableMetadata from_json(const nlohmann::json& j, const std::string& where);
};

// TableMetadata::prior for draws from `prior`: its JSON form, or null when it has none.
nlohmann::json prior_record(const Prior& prior);

// Throws InputError (naming `where`, the table) unless the table was made by `simulator`: the same
// name, the same options apart from execution settings (SimulatorInfo::execution_option_keys), the
// same parameter and data names. Every command that uses a table made elsewhere calls this.
void check_table_fits(const TableMetadata& table, const SimulatorInfo& simulator, const std::filesystem::path& where);

struct ReferenceTable {
  TableMetadata metadata;
  std::vector<std::uint64_t> indices;
  RowMatrix theta;  // rows × parameter_dim
  RowMatrix y;      // rows × data_dim

  Eigen::Index rows() const { return theta.rows(); }
  void append(const SimulationChunk& chunk);
  // Keeps the first `rows` rows (all when there are fewer).
  void truncate(Eigen::Index rows);
};

// Reads a table (either format, either version). FileError names the byte offset of any damage.
ReferenceTable read_table(const std::filesystem::path& path);
// True when the file starts as a table written by sbi++ (either format; a damaged one too), false
// for anything else (a plain CSV of simulations made elsewhere: sbi/simulation/imported_table.hpp).
// FileError when it cannot be opened.
bool is_sbi_table_file(const std::filesystem::path& path);
// Writes a complete table atomically (temporary file + rename).
void write_table(const ReferenceTable& table, const std::filesystem::path& path, TableFormat format);

struct TableRecovery {
  std::size_t rows_kept = 0;
  std::uint64_t bytes_read = 0;      // size of the damaged file
  std::uint64_t bytes_kept = 0;      // length of the intact prefix whose rows were kept
  std::string problem;               // what stopped the recovery at bytes_kept; empty if intact
  std::uint64_t next_index = 0;      // of the recovered table

  std::string brief_report() const;
};

// Keeps what is intact of a damaged or truncated table: its head and every whole block (version 1:
// every whole row) before the first damage, including complete blocks after the commit record's end.
// Writes the result as a version 2 table of the same format to `output` (atomically; `output` may be
// `path`). FileError if not even the head (the metadata) is intact.
TableRecovery recover_table(const std::filesystem::path& path, const std::filesystem::path& output);

// Writes a table as a run makes it (see the top of this file): each write() appends a block and
// commits it; the file is synced to disk at checkpoints (every checkpoint interval, and at finish()).
// The writer holds an exclusive lock on the table until it is destroyed or finished; a second writer
// on the same table gets an InputError. Nothing is left to clean up on any exit path: there are no
// side files once the constructor has returned.
class TableWriter {
 public:
  // existing = nullptr: a new table replaces whatever is at `path` (at once, atomically).
  // existing = &path: append to that table (it must be intact, of `format`, and have the same
  // simulator, options, names and seed as `metadata`). existing = another file: `path` becomes a
  // copy of that table, then is appended to.
  TableWriter(std::filesystem::path path, TableFormat format, TableMetadata metadata,
              const std::filesystem::path* existing = nullptr);
  ~TableWriter();
  TableWriter(const TableWriter&) = delete;
  TableWriter& operator=(const TableWriter&) = delete;

  // Appends the chunk's rows as one block and commits it with the chunk's counts. Refuses (InputError)
  // indices below next_index() or not increasing: rows are never repeated.
  void write(const SimulationChunk& chunk);
  // Commits the final counts (the larger of the summary's and the chunks' counts; next_index from
  // both), syncs, rewrites the table in its canonical blocks (atomically; if that fails, e.g. for
  // lack of disk space, the committed table stays as it is) and releases the lock. The rewrite
  // holds the table in memory once more.
  void finish(const SimulationSummary& summary);

  std::size_t rows_written() const { return rows_written_; }
  // The first simulation index not in the table (read under the lock when appending): a run
  // continues from here.
  std::uint64_t next_index() const { return committed_.next_index; }
  // Seconds between syncs to disk (default 1; 0 syncs after every block).
  void set_checkpoint_interval(double seconds) { checkpoint_seconds_ = seconds; }

  struct CommitState {
    std::uint64_t end = 0, rows = 0, next_index = 0, failed = 0, non_finite = 0, dropped = 0, redraws = 0;
  };

 private:
  void create_new(const std::filesystem::path* copy_from);
  void open_existing();
  void append_block(const std::vector<std::uint64_t>& indices, const RowMatrix& theta, const RowMatrix& y, std::size_t begin,
                    std::size_t end);
  void commit(bool sync);
  void rewrite_canonical();
  void close_file();

  std::filesystem::path path_;
  TableFormat format_;
  TableMetadata metadata_;
  int fd_ = -1;
  std::uint64_t slot_offset_[2] = {0, 0};
  std::uint64_t head_checksum_ = 0;
  std::uint64_t sequence_ = 0;
  CommitState committed_;
  std::uint64_t base_failed_ = 0, base_non_finite_ = 0, base_dropped_ = 0, base_redraws_ = 0;  // before this run
  std::uint64_t run_failed_ = 0, run_non_finite_ = 0, run_dropped_ = 0, run_redraws_ = 0;      // this run's chunks
  std::size_t rows_written_ = 0;
  double checkpoint_seconds_ = 1.0;
  std::chrono::steady_clock::time_point last_sync_;
  bool finished_ = false;
};

}  // namespace sbi
