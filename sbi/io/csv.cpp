#include "sbi/io/csv.hpp"

#include "sbi/core/error.hpp"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

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

namespace {
bool parse_cell(const std::string& text, double& value) {
  std::size_t begin = 0, end = text.size();
  while (begin < end && (text[begin] == ' ' || text[begin] == '\t')) ++begin;
  while (end > begin && (text[end - 1] == ' ' || text[end - 1] == '\t')) --end;
  if (begin == end) return false;
  const char* first = text.data() + begin;
  const char* last = text.data() + end;
  if (*first == '+') ++first;
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec == std::errc() && ptr == last) return true;
  std::string lower(first, last);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "nan" || lower == "-nan") { value = std::numeric_limits<double>::quiet_NaN(); return true; }
  if (lower == "inf" || lower == "infinity") { value = std::numeric_limits<double>::infinity(); return true; }
  if (lower == "-inf" || lower == "-infinity") { value = -std::numeric_limits<double>::infinity(); return true; }
  return false;
}
}  // namespace

CsvTable read_csv(const std::filesystem::path& path, std::size_t max_rows) {
  std::ifstream in(path);
  if (!in) throw FileError(path.string() + ": cannot open for reading");
  CsvTable table;
  std::string line;
  std::size_t line_number = 0;
  std::vector<double> values;
  std::size_t rows = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty() || line == "\r" || line[0] == '#') continue;
    if (table.header.empty()) {
      table.header = split_csv_line(line);
      continue;
    }
    const auto cells = split_csv_line(line);
    if (cells.size() != table.header.size())
      throw InputError(path.string() + ":" + std::to_string(line_number) + ": expected " + std::to_string(table.header.size()) +
                       " columns (as in the header), got " + std::to_string(cells.size()));
    for (std::size_t c = 0; c < cells.size(); ++c) {
      double v;
      if (!parse_cell(cells[c], v))
        throw InputError(path.string() + ":" + std::to_string(line_number) + ": column " + std::to_string(c + 1) + " (" +
                         table.header[c] + "): expected a number, got \"" + cells[c] + "\"");
      values.push_back(v);
    }
    if (++rows == max_rows) break;
  }
  if (table.header.empty()) throw InputError(path.string() + ": empty file (expected a header line and rows)");
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

std::filesystem::path temporary_path_for(const std::filesystem::path& path, const std::string& tag) {
  auto p = path;
  p += "." + tag + "-" + std::to_string(::getpid());
  return p;
}

void write_file_atomically(const std::filesystem::path& path, const std::string& content) {
  if (path.has_parent_path() && !std::filesystem::exists(path.parent_path()))
    std::filesystem::create_directories(path.parent_path());
  const auto tmp = temporary_path_for(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw FileError(path.string() + ": cannot open " + tmp.string() + " for writing");
  const bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size() && std::fflush(f) == 0 &&
                  ::fsync(::fileno(f)) == 0;
  std::fclose(f);
  if (!ok) {
    std::filesystem::remove(tmp);
    throw FileError(path.string() + ": write failed (disk full?)");
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace sbi
