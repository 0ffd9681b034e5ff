#pragma once
// Numeric CSV files: a header line of column names, then rows of numbers. Errors name the file,
// the line and the column. Writes are atomic (temporary file + rename).
#include "sbi/core/types.hpp"

#include <filesystem>
#include <string>

namespace sbi {

struct CsvTable {
  Names header;
  RowMatrix values;
};

// Reads a header line and numeric rows. Lines starting with '#' are skipped. "nan", "inf" and
// "-inf" are read as such; any other non-numeric cell is an error naming its line and column.
// max_rows = 0 reads all rows.
CsvTable read_csv(const std::filesystem::path& path, std::size_t max_rows = 0);
void write_csv(const std::filesystem::path& path, const Names& header, const RowMatrix& values);

// Shortest decimal text that reads back as the same double ("nan", "inf", "-inf" for non-finite).
std::string format_double(double value);
// Appends the shortest round-trip text of `value` to `out`.
void append_double(std::string& out, double value);

// Splits one CSV line on commas (no quoting of numbers; quoted header cells are unquoted).
std::vector<std::string> split_csv_line(const std::string& line);

// Writes `content` to `path` atomically: a temporary file in the same folder, flushed, renamed.
void write_file_atomically(const std::filesystem::path& path, const std::string& content);
// A temporary path next to `path` that is unique to this process.
std::filesystem::path temporary_path_for(const std::filesystem::path& path, const std::string& tag = "tmp");

}  // namespace sbi
