#include "sbi/io/csv.hpp"

#include "sbi/core/error.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace sbi {

void append_double(std::string& out, double value) {
  if (std::isnan(value)) { out += "nan"; return; }
  if (std::isinf(value)) { out += value > 0 ? "inf" : "-inf"; return; }
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, end);
}

std::string format_double(double value) {
  std::string s;
  append_double(s, value);
  return s;
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    else if (c == ',' && !quoted) { cells.push_back(cell); cell.clear(); }
    else if (c != '\r') cell += c;
  }
  cells.push_back(cell);
  return cells;
}

bool parse_csv_number(std::string_view text, double& value) {
  std::size_t begin = 0, end = text.size();
  while (begin < end && (text[begin] == ' ' || text[begin] == '\t')) ++begin;
  while (end > begin && (text[end - 1] == ' ' || text[end - 1] == '\t')) --end;
  if (begin == end) return false;
  const char* first = text.data() + begin;
  const char* last = text.data() + end;
  if (*first == '+') ++first;
  if (first == last) return false;
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec == std::errc() && ptr == last) return true;
  if (last - first > 9) return false;
  std::string lower(first, last);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "nan" || lower == "-nan") { value = std::numeric_limits<double>::quiet_NaN(); return true; }
  if (lower == "inf" || lower == "infinity") { value = std::numeric_limits<double>::infinity(); return true; }
  if (lower == "-inf" || lower == "-infinity") { value = -std::numeric_limits<double>::infinity(); return true; }
  return false;
}

std::string csv_name_problem(const std::string& name) {
  if (name.empty()) return "a name must not be empty";
  if (name.front() == '#') return "a name must not start with '#' (a CSV line starting with it is a comment)";
  for (const char c : name) {
    if (c == ',') return "a name must not contain a comma (it separates CSV columns)";
    if (c == '"') return "a name must not contain a double quote (it quotes CSV cells)";
    if (c == '\n' || c == '\r') return "a name must not contain a line break";
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "a name must not contain control characters";
  }
  return {};
}

void check_csv_names(const Names& names, const std::string& where) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (const auto problem = csv_name_problem(names[i]); !problem.empty()) throw InputError(at + ": " + problem);
    if (!seen.insert(names[i]).second) throw InputError(at + ": \"" + names[i] + "\" appears twice");
  }
}

namespace {

// Reads a file line by line with a bound on the line length.
class LineReader {
 public:
  explicit LineReader(const std::filesystem::path& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) throw FileError(path.string() + ": cannot open for reading");
  }
  // The next line without its '\n' (and a trailing '\r'); false at the end of the file.
  bool next(std::string& line) {
    line.clear();
    for (;;) {
      if (pos_ == size_) {
        in_.read(buffer_, sizeof buffer_);
        size_ = static_cast<std::size_t>(in_.gcount());
        pos_ = 0;
        if (size_ == 0) {
          if (in_.bad()) throw FileError(path_.string() + ": read error");
          if (line.empty() && !pending_) return false;
          pending_ = false;
          ++number_;
          return true;
        }
      }
      const char* start = buffer_ + pos_;
      const void* newline = std::memchr(start, '\n', size_ - pos_);
      const std::size_t take = newline ? static_cast<std::size_t>(static_cast<const char*>(newline) - start) : size_ - pos_;
      if (line.size() + take > kMaxCsvLineBytes)
        throw InputError(path_.string() + ":" + std::to_string(number_ + 1) + ": line longer than " +
                         std::to_string(kMaxCsvLineBytes >> 20) + " MiB (not a CSV file?)");
      line.append(start, take);
      pos_ += take;
      pending_ = true;
      if (newline) {
        ++pos_;
        pending_ = false;
        ++number_;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return true;
      }
    }
  }
  std::size_t line_number() const { return number_; }

 private:
  std::filesystem::path path_;
  std::ifstream in_;
  char buffer_[1 << 16];
  std::size_t pos_ = 0, size_ = 0, number_ = 0;
  bool pending_ = false;  // characters of an unterminated line have been read
};

// A cell for an error message: at most 40 characters, control characters as '?'.
std::string shown_cell(const std::string& cell) {
  std::string out = cell.size() > 40 ? cell.substr(0, 40) + "..." : cell;
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return "\"" + out + "\"";
}

}  // namespace

RowMatrix columns_in_order(const CsvTable& table, const Names& names, const std::string& path, const std::string& names_source,
                           ColumnMatch* how) {
  if (static_cast<std::size_t>(table.values.cols()) != names.size())
    throw InputError(path + " has " + std::to_string(table.values.cols()) + " columns (" + comma_separated(table.header) + ") but " + names_source +
                     " has " + std::to_string(names.size()) + " (" + comma_separated(names) + "); both must hold the same parameters");
  ColumnMatch match = ColumnMatch::same;
  RowMatrix out;
  if (table.header == names) {
    out = table.values;
  } else if (std::is_permutation(table.header.begin(), table.header.end(), names.begin(), names.end()) &&
             std::set<std::string>(names.begin(), names.end()).size() == names.size()) {
    match = ColumnMatch::by_name;
    out.resize(table.values.rows(), table.values.cols());
    for (std::size_t j = 0; j < names.size(); ++j) {
      const auto from = std::find(table.header.begin(), table.header.end(), names[j]) - table.header.begin();
      out.col(static_cast<Eigen::Index>(j)) = table.values.col(from);
    }
  } else {
    for (std::size_t i = 0; i < table.header.size(); ++i) {
      const auto found = std::find(names.begin(), names.end(), table.header[i]);
      if (found == names.end() || found == names.begin() + static_cast<std::ptrdiff_t>(i)) continue;
      throw InputError(path + ": column " + std::to_string(i + 1) + " (\"" + table.header[i] + "\") is parameter " +
                       std::to_string(found - names.begin() + 1) + " of " + names_source + " (" + comma_separated(names) +
                       "), but the other columns do not match by name: name the columns alike, or put them in the same order");
    }
    match = ColumnMatch::by_position;
    out = table.values;
  }
  if (how) *how = match;
  return out;
}

CsvTable read_csv(const std::filesystem::path& path, std::size_t max_rows, bool show_content) {
  LineReader reader(path);
  CsvTable table;
  std::string line;
  std::vector<double> values;
  std::size_t rows = 0;
  bool have_header = false;
  while (reader.next(line)) {
    if (line.empty() || line[0] == '#') continue;
    if (!have_header) {
      // Spreadsheets write a UTF-8 byte-order mark first and may pad names with blanks; neither is
      // part of a name.
      if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
      table.header = split_csv_line(line);
      for (auto& name : table.header) {
        const auto begin = name.find_first_not_of(" \t");
        name = begin == std::string::npos ? std::string() : name.substr(begin, name.find_last_not_of(" \t") - begin + 1);
      }
      have_header = true;
      continue;
    }
    const auto cells = split_csv_line(line);
    const std::string at = path.string() + ":" + std::to_string(reader.line_number());
    if (cells.size() != table.header.size())
      throw InputError(at + ": expected " + std::to_string(table.header.size()) + " columns (as in the header), got " +
                       std::to_string(cells.size()));
    for (std::size_t c = 0; c < cells.size(); ++c) {
      double v;
      if (!parse_csv_number(cells[c], v)) {
        if (show_content)
          throw InputError(at + ": column " + std::to_string(c + 1) + " (" + table.header[c] + "): expected a number, got " +
                           shown_cell(cells[c]));
        throw InputError(at + ": column " + std::to_string(c + 1) + ": expected a number");
      }
      values.push_back(v);
    }
    if (++rows == max_rows) break;
  }
  if (!have_header) throw InputError(path.string() + ": empty file (expected a header line and rows)");
  table.values = Eigen::Map<RowMatrix>(values.data(), static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(table.header.size()));
  return table;
}

void write_csv(const std::filesystem::path& path, const Names& header, const RowMatrix& values) {
  std::string out;
  for (std::size_t c = 0; c < header.size(); ++c) out += (c ? "," : "") + header[c];
  out += '\n';
  out.reserve(out.size() + static_cast<std::size_t>(values.size()) * 12);
  for (Eigen::Index r = 0; r < values.rows(); ++r) {
    for (Eigen::Index c = 0; c < values.cols(); ++c) {
      if (c) out += ',';
      append_double(out, values(r, c));
    }
    out += '\n';
  }
  write_file_atomically(path, out);
}

// ------------------------------------------------------------------------------------------------
// Temporary files

namespace {

// Temporary files of this process, for remove_temporary_files() (which may run in a signal
// handler: fixed storage, no locks; a slot is only read once it is complete).
constexpr int kTemporarySlots = 128;
constexpr std::size_t kTemporaryPathBytes = 4096;
struct TemporarySlot {
  std::atomic<int> state{0};  // 0 free, 1 being filled or emptied, 2 holds a path
  char path[kTemporaryPathBytes];
};
TemporarySlot g_temporary[kTemporarySlots];

void remember_temporary_path(const std::string& path) {
  if (path.size() >= kTemporaryPathBytes) return;
  for (auto& slot : g_temporary) {
    int expected = 0;
    if (!slot.state.compare_exchange_strong(expected, 1)) continue;
    std::memcpy(slot.path, path.c_str(), path.size() + 1);
    slot.state.store(2);
    return;
  }
  // All slots taken: reuse one whose file has gone (renamed into place by a caller that did not
  // call forget_temporary_path). Otherwise this file is still removed by its owner, only not from a
  // signal handler.
  for (auto& slot : g_temporary) {
    int expected = 2;
    if (!slot.state.compare_exchange_strong(expected, 1)) continue;
    if (::access(slot.path, F_OK) != 0) {
      std::memcpy(slot.path, path.c_str(), path.size() + 1);
      slot.state.store(2);
      return;
    }
    slot.state.store(2);
  }
}

std::uint64_t random_suffix() {
  std::uint64_t value = 0;
  if (::getrandom(&value, sizeof value, 0) == static_cast<ssize_t>(sizeof value)) return value;
  // No entropy source: still unique with O_EXCL, only less hard to guess.
  static std::atomic<std::uint64_t> counter{0};
  const auto now = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return (now * 0x9E3779B97F4A7C15ULL) ^ (static_cast<std::uint64_t>(::getpid()) << 32) ^ counter.fetch_add(1);
}

}  // namespace

std::filesystem::path create_temporary_file(const std::filesystem::path& path, const std::string& tag, int& fd) {
  for (int attempt = 0; attempt < 64; ++attempt) {
    char suffix[17];
    std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(random_suffix()));
    auto candidate = path;
    candidate += "." + tag + "-" + suffix;
    fd = ::open(candidate.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0) {
      remember_temporary_path(candidate.string());
      return candidate;
    }
    if (errno != EEXIST) break;
  }
  throw FileError(path.string() + ": cannot create a temporary file next to it (" + std::strerror(errno) + ")");
}

std::filesystem::path temporary_path_for(const std::filesystem::path& path, const std::string& tag) {
  int fd = -1;
  auto created = create_temporary_file(path, tag, fd);
  ::close(fd);
  return created;
}

void forget_temporary_path(const std::filesystem::path& path) noexcept {
  const std::string& text = path.native();
  for (auto& slot : g_temporary) {
    int expected = 2;
    if (!slot.state.compare_exchange_strong(expected, 1)) continue;
    if (std::strcmp(slot.path, text.c_str()) == 0) {
      slot.state.store(0);
      return;
    }
    slot.state.store(2);
  }
}

void remove_temporary_files() noexcept {
  for (auto& slot : g_temporary) {
    int expected = 2;
    if (!slot.state.compare_exchange_strong(expected, 1)) continue;
    ::unlink(slot.path);
    slot.state.store(0);
  }
}

namespace {
void sync_folder_of(const std::filesystem::path& path) {
  const auto folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the rename itself has happened
  ::fsync(fd);
  ::close(fd);
}

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}
}  // namespace

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string() + ": cannot be opened for reading");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw InputError(path.string() + ": could not be read");
  return bytes.str();
}

void write_file_atomically(const std::filesystem::path& path, const std::string& content) {
  if (path.has_parent_path() && !std::filesystem::exists(path.parent_path()))
    std::filesystem::create_directories(path.parent_path());
  int fd = -1;
  const auto tmp = create_temporary_file(path, "tmp", fd);
  const bool ok = write_all(fd, content.data(), content.size()) && ::fsync(fd) == 0;
  const int write_errno = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int code = ok ? errno : write_errno;
    ::unlink(tmp.c_str());
    forget_temporary_path(tmp);
    throw FileError(path.string() + ": write failed (" + std::strerror(code) + ")");
  }
  forget_temporary_path(tmp);
  sync_folder_of(path);
}

void write_atomically_with(const std::filesystem::path& path, const std::function<void(const std::filesystem::path& tmp)>& write) {
  const auto tmp = temporary_path_for(path);
  try {
    write(tmp);
    std::filesystem::rename(tmp, path);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    forget_temporary_path(tmp);
    throw;
  }
  forget_temporary_path(tmp);
}

}  // namespace sbi
