#pragma once
// Numeric CSV files: a header line of column names, then rows of numbers. Errors name the file,
// the line and the column. Writes are atomic (temporary file + rename).
//
// Side files (the temporary files of atomic writes) get unpredictable names next to their target,
// are created with O_EXCL and never through a symbolic link, and are removed on every exit path we
// control: by the code that made them on success and on exceptions, and by
// remove_temporary_files() from a signal handler that ends the program.
#include "sbi/core/types.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace sbi {

struct CsvTable {
  Names header;
  RowMatrix values;
};

// Longest line read_csv accepts (a file without line breaks, /dev/zero, ... is refused, not read
// into memory).
inline constexpr std::size_t kMaxCsvLineBytes = std::size_t{64} << 20;

// Reads a header line and numeric rows. Lines starting with '#' are skipped; a UTF-8 byte-order
// mark before the header and blanks around its names are dropped. "nan", "inf" and
// "-inf" are read as such; any other non-numeric cell is an error naming its line and column.
// max_rows = 0 reads all rows. show_content = false keeps the file's text (header names, cells)
// out of error messages, for files named by someone else (an observation in a spec).
CsvTable read_csv(const std::filesystem::path& path, std::size_t max_rows = 0, bool show_content = true);
void write_csv(const std::filesystem::path& path, const Names& header, const RowMatrix& values);

// How columns_in_order matched a file's columns to the names asked for.
enum class ColumnMatch { same, by_name, by_position };
// The file's columns in the order of `names` (as many columns as names, else an error): a header
// holding the same names in another order is reordered to match; a header naming one of `names` at
// another position without being such a reordering is an error (which column is which cannot be
// told); any other header, such as sbibm's LaTeX names, is taken in order. `path` names the file and
// `names_source` where the names come from, in errors.
RowMatrix columns_in_order(const CsvTable& table, const Names& names, const std::string& path, const std::string& names_source,
                           ColumnMatch* how = nullptr);

// Shortest decimal text that reads back as the same double ("nan", "inf", "-inf" for non-finite).
std::string format_double(double value);
// Appends the shortest round-trip text of `value` to `out`.
void append_double(std::string& out, double value);
// Reads one number as read_csv does (surrounding blanks allowed; nan, inf, -inf). False if `text`
// is not a number.
bool parse_csv_number(std::string_view text, double& value);

// Splits one CSV line on commas (no quoting of numbers; quoted header cells are unquoted).
std::vector<std::string> split_csv_line(const std::string& line);

// Why `name` cannot be a column name that reads back as itself from our CSV files: empty, a comma,
// a double quote, a line break or another control character, or a leading '#' (read as a comment
// line). Empty when it can.
std::string csv_name_problem(const std::string& name);
// Checks every name (csv_name_problem) and that none repeats; InputError naming `where`[i].
void check_csv_names(const Names& names, const std::string& where);

// Writes `content` to `path` atomically: a new temporary file in the same folder, written, flushed
// to disk, renamed over `path` (which is replaced, never followed if it is a symbolic link). The
// temporary file is removed if anything fails.
void write_file_atomically(const std::filesystem::path& path, const std::string& content);
// The whole file as bytes; throws InputError naming the file when it cannot be read.
std::string read_text_file(const std::filesystem::path& path);
// As write_file_atomically for a writer that wants a path (a network's or a density's save):
// `write(tmp)` fills a new temporary file next to `path`, which is then renamed over `path`. If
// `write` throws, the temporary file is removed and `path` is left as it was.
void write_atomically_with(const std::filesystem::path& path, const std::function<void(const std::filesystem::path& tmp)>& write);
// Creates an empty file next to `path` with an unpredictable name ("<path>.<tag>-<16 hex digits>",
// O_CREAT | O_EXCL | O_NOFOLLOW) and returns its name. The caller renames it into place or removes
// it; until forget_temporary_path() it is also removed by remove_temporary_files().
std::filesystem::path temporary_path_for(const std::filesystem::path& path, const std::string& tag = "tmp");
// As temporary_path_for, returning the open file descriptor too (O_RDWR | O_CLOEXEC).
std::filesystem::path create_temporary_file(const std::filesystem::path& path, const std::string& tag, int& fd);
// The temporary file has been renamed or removed: remove_temporary_files() no longer touches it.
void forget_temporary_path(const std::filesystem::path& path) noexcept;
// Removes every temporary file made by this process that is still there. Async-signal-safe: call it
// from a signal handler before _exit().
void remove_temporary_files() noexcept;

}  // namespace sbi
