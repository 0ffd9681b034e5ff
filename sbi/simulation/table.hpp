#pragma once
// Reference tables: simulated (θ, y) pairs with the seed, the simulation indices and the identity of
// the simulator that produced them, so that a table can be appended to without ever re-running a
// simulation index.
//
// File formats (both round-trip exactly):
//  * CSV: a first line `# sbi-table {json metadata}`, a header `index,<θ names>,<y names>`, then one
//    row per simulation; numbers in shortest round-trip form.
//  * Binary (.sbt): the 8 bytes "SBITBL01", a little-endian uint64 metadata length, the metadata as
//    JSON, then per row a uint64 index followed by (θ, y) as IEEE-754 doubles.
#include "sbi/core/types.hpp"
#include "sbi/simulation/runner.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace sbi {

enum class TableFormat { csv, binary };
TableFormat table_format_from_string(const std::string& text);  // "csv" | "bin"
// Guess from the file name: ".sbt"/".bin" = binary, anything else = CSV.
TableFormat table_format_for_path(const std::filesystem::path& path);

struct TableMetadata {
  std::string simulator;
  nlohmann::json simulator_options = nlohmann::json::object();
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

  nlohmann::json to_json() const;
  static TableMetadata from_json(const nlohmann::json& j, const std::string& where);
};

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

ReferenceTable read_table(const std::filesystem::path& path);
// Writes atomically (temporary file + rename).
void write_table(const ReferenceTable& table, const std::filesystem::path& path, TableFormat format);

// Streams chunks to disk while a run is in progress and publishes the table atomically at the end
// (or when interrupted): rows go to a side file, and finish() writes metadata, any rows of an
// existing table being appended to, and the new rows into a temporary file that replaces `path`.
class TableWriter {
 public:
  // `existing` = the table being appended to (its rows are kept), or nullptr for a new table.
  TableWriter(std::filesystem::path path, TableFormat format, TableMetadata metadata,
              const std::filesystem::path* existing = nullptr);
  ~TableWriter();
  TableWriter(const TableWriter&) = delete;
  TableWriter& operator=(const TableWriter&) = delete;

  void write(const SimulationChunk& chunk);
  // Publishes the table with the final metadata (counts and next_index from `summary` added).
  void finish(const SimulationSummary& summary);
  std::size_t rows_written() const { return rows_written_; }

 private:
  std::filesystem::path path_, body_path_;
  TableFormat format_;
  TableMetadata metadata_;
  std::optional<std::filesystem::path> existing_;
  std::FILE* body_ = nullptr;
  std::size_t rows_written_ = 0;
  bool finished_ = false;
};

}  // namespace sbi
