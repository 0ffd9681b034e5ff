#include "sbi/simulation/table.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/checksum.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>

namespace sbi {

static_assert(std::endian::native == std::endian::little, "binary tables are little-endian; add byte swapping for big-endian hosts");

namespace {

namespace fs = std::filesystem;

constexpr char kBinaryMagicV1[8] = {'S', 'B', 'I', 'T', 'B', 'L', '0', '1'};
constexpr char kBinaryMagic[8] = {'S', 'B', 'I', 'T', 'B', 'L', '0', '2'};
constexpr char kBlockMagic[8] = {'S', 'B', 'T', 'B', 'L', 'O', 'C', 'K'};
constexpr std::string_view kCsvPrefix = "# sbi-table ";
constexpr std::string_view kCsvCommitPrefix = "# sbi-commit ";
constexpr std::string_view kCsvBlockPrefix = "# sbi-block ";
constexpr std::size_t kBinarySlotBytes = 80;
constexpr std::size_t kBlockHeaderBytes = 32;
// Rows per block of a finished table (write_table, recover_table, TableWriter::finish): the bytes of a
// finished table depend on its rows and metadata only, not on how a run chunked its work.
constexpr std::size_t kRowsPerBlock = 1024;

using CommitState = TableWriter::CommitState;

std::string at_offset(const fs::path& path, std::uint64_t offset) {
  return path.string() + ": byte offset " + std::to_string(offset);
}

void put_u64(std::string& out, std::uint64_t value) { out.append(reinterpret_cast<const char*>(&value), sizeof value); }

std::uint64_t get_u64(const char* at) {
  std::uint64_t value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

// ------------------------------------------------------------------------------------------------
// The head: metadata, two commit records, (CSV) the header line

struct CommitRecord {
  std::uint64_t sequence = 0;
  CommitState state;
  std::uint64_t head_checksum = 0;
};

std::string csv_header_line(const TableMetadata& m) {
  std::string line = "index";
  for (const auto& n : m.parameter_names) line += "," + n;
  for (const auto& n : m.data_names) line += "," + n;
  return line + "\n";
}

// The fixed-width text of a CSV commit record ("# sbi-commit ... check=<hex>\n").
constexpr const char* kCsvCommitFormat =
    "# sbi-commit seq=%020llu end=%020llu rows=%020llu next=%020llu failed=%020llu non_finite=%020llu "
    "dropped=%020llu redraws=%020llu head=%016llx";

std::string encode_commit(const CommitRecord& r, TableFormat format) {
  const auto& s = r.state;
  if (format == TableFormat::binary) {
    std::string out;
    for (std::uint64_t v : {r.sequence, s.end, s.rows, s.next_index, s.failed, s.non_finite, s.dropped, s.redraws, r.head_checksum})
      put_u64(out, v);
    put_u64(out, fnv1a64(out));
    return out;
  }
  char text[400];
  const int n = std::snprintf(text, sizeof text, kCsvCommitFormat, static_cast<unsigned long long>(r.sequence),
                              static_cast<unsigned long long>(s.end), static_cast<unsigned long long>(s.rows),
                              static_cast<unsigned long long>(s.next_index), static_cast<unsigned long long>(s.failed),
                              static_cast<unsigned long long>(s.non_finite), static_cast<unsigned long long>(s.dropped),
                              static_cast<unsigned long long>(s.redraws), static_cast<unsigned long long>(r.head_checksum));
  std::string out(text, static_cast<std::size_t>(n));
  return out + " check=" + hex64(fnv1a64(out)) + "\n";
}

std::size_t commit_bytes(TableFormat format) {
  static const std::size_t csv = encode_commit({}, TableFormat::csv).size();
  return format == TableFormat::binary ? kBinarySlotBytes : csv;
}

std::optional<CommitRecord> decode_commit(std::string_view bytes, TableFormat format) {
  CommitRecord r;
  auto& s = r.state;
  if (format == TableFormat::binary) {
    if (bytes.size() != kBinarySlotBytes || fnv1a64(bytes.substr(0, 72)) != get_u64(bytes.data() + 72)) return std::nullopt;
    std::uint64_t* fields[] = {&r.sequence, &s.end, &s.rows, &s.next_index, &s.failed, &s.non_finite, &s.dropped, &s.redraws, &r.head_checksum};
    for (std::size_t i = 0; i < 9; ++i) *fields[i] = get_u64(bytes.data() + 8 * i);
    return r;
  }
  const std::string text(bytes);
  unsigned long long v[9];
  // scanf has no '0' flag: the same fields without it.
  static const std::string scan_format = [] {
    std::string f = kCsvCommitFormat;
    for (std::size_t at; (at = f.find("%020")) != std::string::npos;) f.replace(at, 4, "%20");
    for (std::size_t at; (at = f.find("%016")) != std::string::npos;) f.replace(at, 4, "%16");
    return f;
  }();
  if (std::sscanf(text.c_str(), scan_format.c_str(), &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) != 9)
    return std::nullopt;
  r.sequence = v[0];
  s.end = v[1];
  s.rows = v[2];
  s.next_index = v[3];
  s.failed = v[4];
  s.non_finite = v[5];
  s.dropped = v[6];
  s.redraws = v[7];
  r.head_checksum = v[8];
  // Canonical text only (fixed width, our checksum): anything else is damage.
  if (encode_commit(r, TableFormat::csv) != text) return std::nullopt;
  return r;
}

nlohmann::json head_json(const TableMetadata& m, std::uint64_t first_index) {
  nlohmann::json j = {{"format_version", kTableFormatVersion},
          {"first_index", first_index},
          {"simulator", m.simulator},
          {"simulator_options", m.simulator_options},
          {"simulator_options_hash", m.simulator_options_hash},
          {"seed", m.seed},
          {"parameter_names", m.parameter_names},
          {"data_names", m.data_names},
          {"failure_policy", m.failure_policy}};
  if (!m.sequential.is_null()) j["sequential"] = m.sequential;
  if (!m.prior.is_null()) j["prior"] = m.prior;
  return j;
}

struct Head {
  std::string bytes;                  // the head as written at creation (commit records included)
  std::uint64_t slot_offset[2] = {0, 0};
  std::uint64_t data_start = 0;
  std::uint64_t checksum = 0;         // of the metadata (and, in CSV, the header line)
};

Head make_head(const TableMetadata& m, TableFormat format, const CommitState& initial) {
  Head head;
  const std::string json = head_json(m, initial.next_index).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string header;
  if (format == TableFormat::binary) {
    head.bytes.assign(kBinaryMagic, 8);
    put_u64(head.bytes, json.size());
    head.bytes += json;
    head.checksum = fnv1a64(head.bytes);
  } else {
    head.bytes = std::string(kCsvPrefix) + json + "\n";
    header = csv_header_line(m);
    head.checksum = fnv1a64(header, fnv1a64(head.bytes));
  }
  const std::size_t slot = commit_bytes(format);
  head.slot_offset[0] = head.bytes.size();
  head.slot_offset[1] = head.bytes.size() + slot;
  head.data_start = head.bytes.size() + 2 * slot + header.size();
  CommitState state = initial;
  state.end = head.data_start;
  // Both records valid from the start: sequence 1 current, sequence 0 the one overwritten next.
  head.bytes += encode_commit({0, state, head.checksum}, format);
  head.bytes += encode_commit({1, state, head.checksum}, format);
  head.bytes += header;
  return head;
}

// ------------------------------------------------------------------------------------------------
// Blocks

std::string encode_block(const std::vector<std::uint64_t>& indices, const RowMatrix& theta, const RowMatrix& y,
                         std::size_t begin, std::size_t end, TableFormat format) {
  std::string rows;
  for (std::size_t r = begin; r < end; ++r) {
    const auto row = static_cast<Eigen::Index>(r);
    if (format == TableFormat::csv) {
      rows += std::to_string(indices[r]);
      for (Eigen::Index c = 0; c < theta.cols(); ++c) { rows += ','; append_double(rows, theta(row, c)); }
      for (Eigen::Index c = 0; c < y.cols(); ++c) { rows += ','; append_double(rows, y(row, c)); }
      rows += '\n';
    } else {
      put_u64(rows, indices[r]);
      rows.append(reinterpret_cast<const char*>(theta.row(row).data()), sizeof(double) * static_cast<std::size_t>(theta.cols()));
      rows.append(reinterpret_cast<const char*>(y.row(row).data()), sizeof(double) * static_cast<std::size_t>(y.cols()));
    }
  }
  const std::uint64_t count = end - begin;
  if (format == TableFormat::csv)
    return rows + std::string(kCsvBlockPrefix) + "rows=" + std::to_string(count) + " fnv1a64=" + hex64(fnv1a64(rows)) + "\n";
  std::string block(kBlockMagic, 8);
  put_u64(block, count);
  put_u64(block, fnv1a64(rows));
  put_u64(block, fnv1a64(block));
  return block + rows;
}

// ------------------------------------------------------------------------------------------------
// Parsing

std::uint64_t json_unsigned(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key)) throw FileError(where + ": table metadata: \"" + key + "\" is missing");
  const auto& v = j.at(key);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
    throw FileError(where + ": table metadata: \"" + key + "\" is not a non-negative integer");
  return v.get<std::uint64_t>();
}

struct Parsed {
  TableMetadata metadata;
  TableFormat format = TableFormat::csv;
  int version = kTableFormatVersion;
  Head head;                         // version 2: layout (bytes not filled)
  CommitRecord commit;               // version 2: the current commit record
  std::vector<std::uint64_t> indices;
  std::vector<double> theta, y;      // row-major
  std::uint64_t intact_end = 0;      // end of the last whole block (row, for version 1) read
  std::string problem;               // recovery: what stopped the scan
  std::uint64_t problem_offset = 0;
  std::uint64_t first_index = 0;     // version 2: the table's first simulation index
};

enum class Mode { strict, recover };

// Thrown inside the parser with the offset; strict mode turns it into a FileError.
struct Damage {
  std::uint64_t offset;
  std::string what;
};

// The metadata JSON that starts at byte `offset` of `path`. expected_version 0: any version.
TableMetadata metadata_from_head(const std::string& json_text, const fs::path& path, std::uint64_t offset, int expected_version,
                                 std::uint64_t* first_index = nullptr) {
  const std::string where = at_offset(path, offset);
  nlohmann::json j;
  try {
    j = parse_json_text(json_text, "metadata");
  } catch (const InputError& e) {
    throw FileError(where + ": damaged table metadata (" + e.what() + ")");
  }
  TableMetadata m = TableMetadata::from_json(j, where + ": metadata");
  if (first_index) {
    *first_index = 0;
    if (const auto it = j.find("first_index"); it != j.end() && it->is_number_unsigned()) *first_index = it->get<std::uint64_t>();
  }
  if (expected_version != 0 && m.format_version != expected_version)
    throw FileError(where + ": table metadata says format version " + std::to_string(m.format_version) + ", the file is version " +
                    std::to_string(expected_version));
  return m;
}


void check_index_order(Parsed& out, std::uint64_t index, std::uint64_t offset) {
  if (!out.indices.empty() && index <= out.indices.back())
    throw Damage{offset, "simulation index " + std::to_string(index) + " repeats or is out of order (after " +
                             std::to_string(out.indices.back()) + ")"};
}

// One CSV row "index,v1,...,vK" (K = p + d) appended to `out`. Damage names the line's offset.
void parse_csv_row(std::string_view line, std::uint64_t offset, std::size_t values, Parsed& out) {
  const std::size_t p = out.metadata.parameter_names.size();
  std::size_t cell = 0, begin = 0;
  for (std::size_t i = 0; i <= line.size(); ++i) {
    if (i < line.size() && line[i] != ',') continue;
    const std::string_view text = line.substr(begin, i - begin);
    if (cell > values) throw Damage{offset, "a row with more than " + std::to_string(values + 1) + " columns"};
    if (cell == 0) {
      std::uint64_t index = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), index);
      if (ec != std::errc() || ptr != text.data() + text.size() || text.empty())
        throw Damage{offset, "the index column is not a non-negative integer"};
      check_index_order(out, index, offset);
      out.indices.push_back(index);
    } else {
      double v;
      if (!parse_csv_number(text, v)) throw Damage{offset, "column " + std::to_string(cell + 1) + " is not a number"};
      (cell <= p ? out.theta : out.y).push_back(v);
    }
    ++cell;
    begin = i + 1;
  }
  if (cell != values + 1)
    throw Damage{offset, "a row with " + std::to_string(cell) + " columns, expected " + std::to_string(values + 1)};
}

void drop_rows_after(Parsed& out, std::size_t rows) {
  const std::size_t p = out.metadata.parameter_names.size(), d = out.metadata.data_names.size();
  out.indices.resize(rows);
  out.theta.resize(rows * p);
  out.y.resize(rows * d);
}

// Scans blocks in [data_start, limit). Strict: every block whole and intact, ending exactly at limit.
// Recover: stops at the first problem (or at limit) keeping the whole blocks before it.
void scan_blocks(const std::string& bytes, std::uint64_t limit, Mode mode, Parsed& out) {
  const std::size_t p = out.metadata.parameter_names.size(), d = out.metadata.data_names.size();
  const std::size_t values = p + d;
  std::uint64_t at = out.head.data_start;
  out.intact_end = at;
  std::size_t block_first_row = out.indices.size();  // rows before the block being read
  try {
    if (out.format == TableFormat::binary) {
      const std::uint64_t row_bytes = 8 * (1 + static_cast<std::uint64_t>(values));
      while (at < limit) {
        block_first_row = out.indices.size();
        if (limit - at < kBlockHeaderBytes) throw Damage{at, "an incomplete block header"};
        const char* h = bytes.data() + at;
        if (std::memcmp(h, kBlockMagic, 8) != 0) throw Damage{at, "not the start of a block"};
        if (fnv1a64(std::string_view(h, 24)) != get_u64(h + 24)) throw Damage{at, "a damaged block header (checksum mismatch)"};
        const std::uint64_t rows = get_u64(h + 8);
        const std::uint64_t available = limit - at - kBlockHeaderBytes;
        if (rows == 0 || rows > available / row_bytes)
          throw Damage{at, "a block of " + std::to_string(rows) + " rows that does not fit in the " + std::to_string(available) +
                               " bytes that follow (truncated?)"};
        const std::uint64_t payload = rows * row_bytes;
        const std::string_view body(bytes.data() + at + kBlockHeaderBytes, payload);
        if (fnv1a64(body) != get_u64(h + 16)) throw Damage{at, "a damaged block of " + std::to_string(rows) + " rows (checksum mismatch)"};
        const char* row = body.data();
        for (std::uint64_t r = 0; r < rows; ++r, row += row_bytes) {
          const std::uint64_t index = get_u64(row);
          check_index_order(out, index, at + kBlockHeaderBytes + r * row_bytes);
          out.indices.push_back(index);
          const auto* numbers = reinterpret_cast<const unsigned char*>(row + 8);
          for (std::size_t c = 0; c < values; ++c) {
            double v;
            std::memcpy(&v, numbers + 8 * c, sizeof v);
            (c < p ? out.theta : out.y).push_back(v);
          }
        }
        at += kBlockHeaderBytes + payload;
        out.intact_end = at;
      }
      return;
    }
    // CSV: row lines, each block closed by its "# sbi-block" line.
    std::uint64_t block_start = at;
    while (at < limit) {
      const auto newline = bytes.find('\n', at);
      if (newline == std::string::npos || newline >= limit) throw Damage{at, "an incomplete line (truncated?)"};
      const std::string_view line(bytes.data() + at, newline - at);
      if (line.substr(0, kCsvBlockPrefix.size()) == kCsvBlockPrefix) {
        const std::size_t rows = out.indices.size() - block_first_row;
        const std::string expected = std::string(kCsvBlockPrefix) + "rows=" + std::to_string(rows) + " fnv1a64=" +
                                     hex64(fnv1a64(std::string_view(bytes.data() + block_start, at - block_start)));
        if (rows == 0 || line != expected) {
          throw Damage{block_start, "a damaged block of " + std::to_string(rows) + " rows (its closing line at byte offset " +
                                        std::to_string(at) + " does not match its rows)"};
        }
        at = newline + 1;
        out.intact_end = at;
        block_start = at;
        block_first_row = out.indices.size();
        continue;
      }
      parse_csv_row(line, at, values, out);
      at = newline + 1;
    }
    if (block_start != at) throw Damage{block_start, "rows without their closing \"# sbi-block\" line (truncated?)"};
  } catch (const Damage& damage) {
    // Only whole blocks are kept: the rows read of the block in which the damage lies go.
    drop_rows_after(out, block_first_row);
    if (mode == Mode::strict) throw;
    out.problem = damage.what;
    out.problem_offset = damage.offset;
  }
}

// Version 1 tables (sbi++ 0.1): metadata with the counts, then rows with no checksums.
void parse_v1(const std::string& bytes, const fs::path& path, Mode mode, Parsed& out) {
  out.version = 1;
  std::uint64_t rows_start = 0;
  if (out.format == TableFormat::binary) {
    const std::uint64_t length = get_u64(bytes.data() + 8);
    if (length > bytes.size() - 16) throw FileError(at_offset(path, 8) + ": a metadata length beyond the end of the file (truncated?)");
    out.metadata = metadata_from_head(bytes.substr(16, length), path, 16, 1);
    rows_start = 16 + length;
  } else {
    const auto first_end = bytes.find('\n');
    const auto second_end = first_end == std::string::npos ? std::string::npos : bytes.find('\n', first_end + 1);
    if (second_end == std::string::npos) throw FileError(at_offset(path, bytes.size()) + ": the end of the file before the header line (truncated)");
    out.metadata = metadata_from_head(bytes.substr(kCsvPrefix.size(), first_end - kCsvPrefix.size()), path, kCsvPrefix.size(), 1);
    std::string header = bytes.substr(first_end + 1, second_end - first_end);
    if (header.size() >= 2 && header[header.size() - 2] == '\r') header.erase(header.size() - 2, 1);
    if (header != csv_header_line(out.metadata))
      throw FileError(at_offset(path, first_end + 1) + ": a header line that does not match the table metadata");
    rows_start = second_end + 1;
  }
  out.head.data_start = rows_start;
  out.intact_end = rows_start;
  const std::size_t p = out.metadata.parameter_names.size(), d = out.metadata.data_names.size();
  try {
    if (out.format == TableFormat::binary) {
      const std::uint64_t row_bytes = 8 * (1 + static_cast<std::uint64_t>(p + d));
      const std::uint64_t body = bytes.size() - rows_start;
      const std::uint64_t rows = body / row_bytes;
      for (std::uint64_t r = 0; r < rows; ++r) {
        const std::uint64_t at = rows_start + r * row_bytes;
        const std::uint64_t index = get_u64(bytes.data() + at);
        check_index_order(out, index, at);
        out.indices.push_back(index);
        for (std::size_t c = 0; c < p + d; ++c) {
          double v;
          std::memcpy(&v, bytes.data() + at + 8 + 8 * c, sizeof v);
          (c < p ? out.theta : out.y).push_back(v);
        }
        out.intact_end = at + row_bytes;
      }
      if (body % row_bytes != 0)
        throw Damage{rows_start + rows * row_bytes, "a partial row of " + std::to_string(body % row_bytes) + " bytes (truncated?)"};
    } else {
      std::uint64_t at = rows_start;
      while (at < bytes.size()) {
        const auto newline = bytes.find('\n', at);
        if (newline == std::string::npos) throw Damage{at, "an incomplete last line (truncated?)"};
        std::string_view line(bytes.data() + at, newline - at);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.empty() && line.front() != '#') {
          // Version 1 wrote indices as shortest doubles: "1e+06" for 1000000.
          const auto comma = line.find(',');
          const std::string first(line.substr(0, comma));
          double index;
          if (!parse_csv_number(first, index) || !(index >= 0) || index != std::floor(index) || index >= 18446744073709551616.0)
            throw Damage{at, "the index column is not a non-negative integer"};
          std::string rebuilt = std::to_string(static_cast<std::uint64_t>(index));
          rebuilt += line.substr(comma == std::string_view::npos ? line.size() : comma);
          const std::size_t rows_before = out.indices.size();
          try {
            parse_csv_row(rebuilt, at, p + d, out);
          } catch (...) {
            drop_rows_after(out, rows_before);
            throw;
          }
        }
        at = newline + 1;
        out.intact_end = at;
      }
    }
  } catch (const Damage& damage) {
    if (mode == Mode::strict) throw;
    out.problem = damage.what;
    out.problem_offset = damage.offset;
  }
  out.metadata.format_version = 1;
}

Parsed parse_table(const std::string& bytes, const fs::path& path, Mode mode) {
  Parsed out;
  const std::string where = path.string();
  const bool binary_v1 = bytes.size() >= 16 && std::memcmp(bytes.data(), kBinaryMagicV1, 8) == 0;
  const bool binary = bytes.size() >= 16 && std::memcmp(bytes.data(), kBinaryMagic, 8) == 0;
  // A file cut inside the magic or the length that follows it.
  const auto starts_like = [&](std::string_view magic) {
    return bytes.size() < 16 && !bytes.empty() && bytes.compare(0, std::min(bytes.size(), magic.size()), magic, 0, std::min(bytes.size(), magic.size())) == 0;
  };
  if (starts_like(std::string_view(kBinaryMagic, 8)) || starts_like(std::string_view(kBinaryMagicV1, 8)) ||
      (bytes.size() < kCsvPrefix.size() && starts_like(kCsvPrefix)))
    throw FileError(at_offset(path, bytes.size()) + ": the end of the file inside the table's first bytes (truncated)");
  if (!binary && !binary_v1 && bytes.compare(0, kCsvPrefix.size(), kCsvPrefix) != 0) {
    if (bytes.size() >= 8 && std::memcmp(bytes.data(), kBinaryMagic, 6) == 0)
      throw FileError(where + ": a binary table of a format this sbi++ does not read (newer?)");
    throw FileError(where + ": not an sbi++ table (a CSV table starts with \"" + std::string(kCsvPrefix) +
                    "\", a binary one with SBITBL02)");
  }
  out.format = binary || binary_v1 ? TableFormat::binary : TableFormat::csv;
  try {
    // Version: binary from the magic; CSV from the JSON (a v1 CSV head has no commit records).
    bool v1 = binary_v1;
    if (!binary && !binary_v1) {
      const auto first_end = bytes.find('\n');
      if (first_end == std::string::npos) throw FileError(at_offset(path, bytes.size()) + ": the end of the file inside the first line (truncated)");
      v1 = metadata_from_head(bytes.substr(kCsvPrefix.size(), first_end - kCsvPrefix.size()), path, kCsvPrefix.size(), 0).format_version == 1;
    }
    if (v1) {
      parse_v1(bytes, path, mode, out);
    } else {
      // Version 2: the metadata, the head checksum, both commit records.
      std::string json_text;
      if (out.format == TableFormat::binary) {
        const std::uint64_t length = get_u64(bytes.data() + 8);
        if (length > bytes.size() - 16) throw Damage{8, "a metadata length beyond the end of the file"};
        json_text = bytes.substr(16, length);
      } else {
        const auto first_end = bytes.find('\n');
        json_text = bytes.substr(kCsvPrefix.size(), first_end - kCsvPrefix.size());
      }
      out.metadata = metadata_from_head(json_text, path, out.format == TableFormat::binary ? 16 : kCsvPrefix.size(), 2, &out.first_index);
      // The layout follows from the file's own bytes (the checksum covers them, not a re-encoding).
      Head layout;
      const std::size_t slot = commit_bytes(out.format);
      const std::uint64_t meta_end = out.format == TableFormat::binary ? 16 + json_text.size() : kCsvPrefix.size() + json_text.size() + 1;
      layout.slot_offset[0] = meta_end;
      layout.slot_offset[1] = meta_end + slot;
      std::uint64_t header_bytes = 0;
      std::uint64_t checksum = fnv1a64(std::string_view(bytes.data(), meta_end));
      if (out.format == TableFormat::csv) {
        const std::string header = csv_header_line(out.metadata);
        header_bytes = header.size();
        if (bytes.size() < meta_end + 2 * slot + header_bytes) throw Damage{meta_end, "a truncated head"};
        if (bytes.compare(meta_end + 2 * slot, header_bytes, header) != 0)
          throw Damage{meta_end + 2 * slot, "a header line that does not match the table metadata"};
        checksum = fnv1a64(header, checksum);
      } else if (bytes.size() < meta_end + 2 * slot) {
        throw Damage{meta_end, "a truncated head"};
      }
      layout.data_start = meta_end + 2 * slot + header_bytes;
      layout.checksum = checksum;
      out.head = layout;
      std::optional<CommitRecord> records[2];
      for (int k = 0; k < 2; ++k) {
        records[k] = decode_commit(std::string_view(bytes.data() + layout.slot_offset[k], slot), out.format);
        if (records[k] && records[k]->head_checksum != checksum)
          throw Damage{0, "damaged metadata (its checksum does not match the one in the commit records)"};
      }
      std::uint64_t limit = bytes.size();
      if (records[0] && records[1]) {
        const int current = records[1]->sequence > records[0]->sequence ? 1 : 0;
        const auto& c = *records[current];
        const auto& other = *records[1 - current];
        const bool consistent = c.sequence == other.sequence + 1 && other.state.end <= c.state.end &&
                                other.state.rows <= c.state.rows && c.state.end >= layout.data_start;
        if (mode == Mode::strict) {
          if (!consistent) throw Damage{layout.slot_offset[0], "commit records that contradict each other"};
          if (c.state.end > bytes.size())
            throw Damage{bytes.size(), "the end of the file, but the table's commit record says its rows end at byte offset " +
                                           std::to_string(c.state.end) + " (truncated)"};
          limit = c.state.end;
        }
        out.commit = c;
      } else if (mode == Mode::strict) {
        const int bad = records[0] ? 1 : 0;
        throw Damage{layout.slot_offset[bad], "a damaged commit record"};
      } else {
        out.commit = records[0] ? *records[0] : records[1] ? *records[1] : CommitRecord{};
      }
      // Recovery keeps every whole block to the end of the file, committed or not.
      scan_blocks(bytes, limit, mode, out);
      if (mode == Mode::strict) {
        if (out.indices.size() != out.commit.state.rows)
          throw Damage{layout.slot_offset[0], "a commit record that counts " + std::to_string(out.commit.state.rows) +
                                                  " rows where the blocks hold " + std::to_string(out.indices.size())};
        if (!out.indices.empty() && out.indices.back() >= out.commit.state.next_index)
          throw Damage{layout.slot_offset[0], "a commit record whose next index " + std::to_string(out.commit.state.next_index) +
                                                  " is not after the last row's " + std::to_string(out.indices.back())};
      }
      auto& m = out.metadata;
      m.next_index = out.commit.state.next_index;
      m.failed = out.commit.state.failed;
      m.non_finite = out.commit.state.non_finite;
      m.dropped = out.commit.state.dropped;
      m.redraws = out.commit.state.redraws;
    }
  } catch (const Damage& damage) {
    throw FileError(at_offset(path, damage.offset) + ": " + damage.what +
                    (mode == Mode::strict ? "; `sbi table repair` keeps the intact rows before it" : ""));
  }
  if (!out.indices.empty() && out.metadata.next_index <= out.indices.back()) out.metadata.next_index = out.indices.back() + 1;
  return out;
}

ReferenceTable to_reference_table(Parsed&& parsed) {
  ReferenceTable table;
  table.metadata = std::move(parsed.metadata);
  const auto rows = static_cast<Eigen::Index>(parsed.indices.size());
  const auto p = static_cast<Eigen::Index>(table.metadata.parameter_names.size());
  const auto d = static_cast<Eigen::Index>(table.metadata.data_names.size());
  if (parsed.theta.size() != static_cast<std::size_t>(rows * p) || parsed.y.size() != static_cast<std::size_t>(rows * d))
    throw std::logic_error("table reader: rows and values out of step");  // a bug, never input
  table.indices = std::move(parsed.indices);
  table.theta = Eigen::Map<const RowMatrix>(parsed.theta.data(), rows, p);
  table.y = Eigen::Map<const RowMatrix>(parsed.y.data(), rows, d);
  return table;
}

// ------------------------------------------------------------------------------------------------
// File helpers

std::string read_fd(int fd, const fs::path& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw FileError(path.string() + ": cannot read (" + std::strerror(errno) + ")");
  std::string bytes;
  std::size_t capacity = static_cast<std::size_t>(std::max<off_t>(st.st_size, 0)) + 1;
  bytes.resize(capacity);
  std::size_t got = 0;
  for (;;) {
    if (got == bytes.size()) bytes.resize(bytes.size() * 2);
    const ssize_t n = ::pread(fd, bytes.data() + got, bytes.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw FileError(path.string() + ": read error (" + std::strerror(errno) + ")");
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(got);
  return bytes;
}

std::string read_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw FileError(path.string() + ": cannot open for reading (" + std::strerror(errno) + ")");
  try {
    std::string bytes = read_fd(fd, path);
    ::close(fd);
    return bytes;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

void pwrite_all(int fd, const std::string& bytes, std::uint64_t offset, const fs::path& path) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw FileError(path.string() + ": write failed (" + std::strerror(errno) + ")");
    done += static_cast<std::size_t>(n);
  }
}

// Takes the exclusive lock without waiting. False if another writer holds it. File systems without
// flock support count as unlocked.
bool try_lock(int fd) {
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    return errno != EWOULDBLOCK;
  }
  return true;
}

bool same_file(int fd, const fs::path& path) {
  struct stat a {}, b {};
  return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

[[noreturn]] void throw_locked(const fs::path& path) {
  throw InputError(path.string() + ": another process is writing to this table (it holds the table's lock); wait for it to "
                   "finish, or write to another file");
}

void sync_folder_of(const fs::path& path) {
  const auto folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Replaces `path` by a new file holding `bytes`: written to a fresh temporary file that is locked
// first, synced, renamed over `path`. Returns the new file's descriptor, which holds the lock (the
// caller closes its old one). `what` completes the error message.
int replace_with_locked_copy(const fs::path& path, const std::string& bytes, const std::string& tag, const std::string& what) {
  int fd = -1;
  const auto tmp = create_temporary_file(path, tag, fd);
  try {
    try_lock(fd);
    pwrite_all(fd, bytes, 0, tmp);
    if (::fsync(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0)
      throw FileError(path.string() + ": " + what + " (" + std::strerror(errno) + ")");
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    forget_temporary_path(tmp);
    throw;
  }
  forget_temporary_path(tmp);
  sync_folder_of(path);
  return fd;
}

// Why rows made with `run`'s settings cannot be appended to a table with metadata `table`: empty when
// they can. `path` names the table.
std::string append_refusal(const TableMetadata& table, const TableMetadata& run, const std::string& path) {
  const bool same_options = (!table.simulator_options_hash.empty() && table.simulator_options_hash == run.simulator_options_hash) ||
                            table.simulator_options == run.simulator_options;
  if (table.simulator != run.simulator || !same_options || table.parameter_names != run.parameter_names ||
      table.data_names != run.data_names || table.seed != run.seed)
    return path + ": cannot append: the table was made by simulator \"" + table.simulator + "\" with seed " + std::to_string(table.seed) +
           " and its own options and names; appending needs the same simulator, options, parameters and seed";
  if (!table.prior.is_null() && !run.prior.is_null() && table.prior != run.prior)
    return path + ": cannot append: the table's θ were drawn from another prior (" + table.prior.dump() +
           ") than this run's; its rows and the new ones would mix draws from two priors";
  return {};
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Metadata

TableFormat table_format_from_string(const std::string& text) {
  if (text == "csv") return TableFormat::csv;
  if (text == "bin" || text == "binary") return TableFormat::binary;
  throw InputError("table format: expected \"csv\" or \"bin\", got \"" + text + "\"");
}

TableFormat table_format_for_path(const std::filesystem::path& path) {
  const auto ext = path.extension().string();
  return ext == ".sbt" || ext == ".bin" ? TableFormat::binary : TableFormat::csv;
}

TableMetadata TableMetadata::for_simulator(const SimulatorInfo& simulator, std::uint64_t seed, FailurePolicy policy) {
  TableMetadata m;
  m.simulator = simulator.name;
  m.simulator_options = simulator.options;
  m.simulator_options_hash = sbi::simulator_options_hash(simulator);
  m.seed = seed;
  m.parameter_names = simulator.parameter_names;
  m.data_names = simulator.data_names;
  m.failure_policy = to_string(policy);
  return m;
}

nlohmann::json prior_record(const Prior& prior) {
  const auto json = portable_prior_json(prior);
  return json ? nlohmann::json::parse(*json) : nlohmann::json();
}

nlohmann::json TableMetadata::to_json() const {
  nlohmann::json j = {{"format_version", format_version},
          {"simulator", simulator},
          {"simulator_options", simulator_options},
          {"simulator_options_hash", simulator_options_hash},
          {"seed", seed},
          {"next_index", next_index},
          {"parameter_names", parameter_names},
          {"data_names", data_names},
          {"failed", failed},
          {"non_finite", non_finite},
          {"dropped", dropped},
          {"redraws", redraws},
          {"failure_policy", failure_policy}};
  if (!sequential.is_null()) j["sequential"] = sequential;
  if (!prior.is_null()) j["prior"] = prior;
  return j;
}

TableMetadata TableMetadata::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw FileError(where + ": table metadata is not a JSON object");
  try {
    const auto version = json_unsigned(j, "format_version", where);
    if (version > static_cast<std::uint64_t>(kTableFormatVersion))
      throw FileError(where + ": table format version " + std::to_string(version) + " is newer than this sbi++ reads (" +
                      std::to_string(kTableFormatVersion) + "); upgrade sbi++");
    if (version < 1) throw FileError(where + ": invalid table format version 0");
    TableMetadata m;
    m.format_version = static_cast<int>(version);
    m.simulator = j.at("simulator").get<std::string>();
    m.simulator_options = j.value("simulator_options", nlohmann::json::object());
    m.simulator_options_hash = j.value("simulator_options_hash", std::string());
    m.seed = json_unsigned(j, "seed", where);
    if (version == 1 || j.contains("next_index")) m.next_index = json_unsigned(j, "next_index", where);
    m.parameter_names = j.at("parameter_names").get<Names>();
    m.data_names = j.at("data_names").get<Names>();
    for (const char* key : {"failed", "non_finite", "dropped", "redraws"}) {
      if (!j.contains(key)) continue;
      const auto value = static_cast<std::size_t>(json_unsigned(j, key, where));
      if (std::strcmp(key, "failed") == 0) m.failed = value;
      else if (std::strcmp(key, "non_finite") == 0) m.non_finite = value;
      else if (std::strcmp(key, "dropped") == 0) m.dropped = value;
      else m.redraws = value;
    }
    m.failure_policy = j.value("failure_policy", std::string("drop"));
    if (const auto it = j.find("sequential"); it != j.end()) m.sequential = *it;
    if (const auto it = j.find("prior"); it != j.end()) m.prior = *it;
    try {
      check_csv_names(m.parameter_names, "parameter_names");
      check_csv_names(m.data_names, "data_names");
    } catch (const InputError& e) {
      throw FileError(where + ": table metadata: " + e.what());
    }
    return m;
  } catch (const nlohmann::json::exception& e) {
    throw FileError(where + ": table metadata is incomplete or corrupted (" + e.what() + ")");
  }
}

void ReferenceTable::truncate(Eigen::Index rows) {
  if (rows >= theta.rows()) return;
  rows = std::max<Eigen::Index>(rows, 0);
  theta.conservativeResize(rows, Eigen::NoChange);
  y.conservativeResize(rows, Eigen::NoChange);
  if (indices.size() > static_cast<std::size_t>(rows)) indices.resize(static_cast<std::size_t>(rows));
}

void check_table_fits(const TableMetadata& table, const SimulatorInfo& simulator, const std::filesystem::path& where) {
  const std::string w = where.string();
  if (table.simulator != simulator.name)
    throw InputError(w + ": the table was made by simulator \"" + table.simulator + "\", this run's simulator is \"" +
                     simulator.name + "\"; a table is used only with the simulator that made it");
  const auto recorded = identity_options(table.simulator_options, simulator.execution_option_keys);
  const auto current = identity_options(simulator.options, simulator.execution_option_keys);
  if (recorded != current) {
    std::string keys;
    if (recorded.is_object() && current.is_object()) {
      std::set<std::string> all;
      for (const auto& [k, v] : recorded.items()) all.insert(k);
      for (const auto& [k, v] : current.items()) all.insert(k);
      for (const auto& k : all) {
        const bool same = recorded.contains(k) && current.contains(k) && recorded.at(k) == current.at(k);
        if (!same) keys += (keys.empty() ? "" : ", ") + k;
      }
    }
    SimulatorInfo recorded_info = simulator;
    recorded_info.options = table.simulator_options;
    throw InputError(w + ": the table was made by simulator \"" + table.simulator + "\" with other options" +
                     (keys.empty() ? std::string() : " (they differ in: " + keys + ")") + "; options hash " +
                     simulator_options_hash(recorded_info) + " in the table, " + simulator_options_hash(simulator) +
                     " in this run");
  }
  if (table.parameter_names != simulator.parameter_names)
    throw InputError(w + ": the table's parameters (" + comma_separated(table.parameter_names, 12) + ") are not those of simulator \"" +
                     simulator.name + "\" (" + comma_separated(simulator.parameter_names, 12) + ")");
  if (table.data_names != simulator.data_names)
    throw InputError(w + ": the table's data columns (" + comma_separated(table.data_names, 12) + ") are not those of simulator \"" +
                     simulator.name + "\" (" + comma_separated(simulator.data_names, 12) + ")");
}

void ReferenceTable::append(const SimulationChunk& chunk) {
  const auto old_rows = theta.rows();
  const auto added = static_cast<Eigen::Index>(chunk.indices.size());
  if (old_rows == 0) {
    theta.resize(0, chunk.theta.cols());
    y.resize(0, chunk.y.cols());
  }
  theta.conservativeResize(old_rows + added, chunk.theta.cols());
  y.conservativeResize(old_rows + added, chunk.y.cols());
  theta.bottomRows(added) = chunk.theta;
  y.bottomRows(added) = chunk.y;
  indices.insert(indices.end(), chunk.indices.begin(), chunk.indices.end());
}

// ------------------------------------------------------------------------------------------------
// Reading, writing, recovering

bool is_sbi_table_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path.string() + ": cannot open for reading");
  char head[12] = {};
  in.read(head, sizeof head);
  const auto got = static_cast<std::size_t>(in.gcount());
  const std::string_view start(head, got);
  if (got >= 6 && std::memcmp(head, kBinaryMagic, 6) == 0) return true;  // "SBITBL", any version
  return got > 0 && kCsvPrefix.substr(0, std::min(got, kCsvPrefix.size())) == start.substr(0, std::min(got, kCsvPrefix.size()));
}

ReferenceTable read_table(const std::filesystem::path& path) {
  // A writer may be rewriting a commit record while we read it: a table that fails to parse is read
  // again, and the error stands once two reads give the same bytes (readers take no lock, so they
  // never stand in a writer's way).
  std::string previous;
  for (int attempt = 0;; ++attempt) {
    std::string bytes = read_file(path);
    try {
      return to_reference_table(parse_table(bytes, path, Mode::strict));
    } catch (const FileError&) {
      if (attempt >= 5 || bytes == previous) throw;
      previous = std::move(bytes);
    }
  }
}

namespace {
// The bytes of a complete version 2 table.
std::string encode_table(const ReferenceTable& table, const std::filesystem::path& path, TableFormat format) {
  if (static_cast<std::size_t>(table.theta.cols()) != table.metadata.parameter_names.size() ||
      static_cast<std::size_t>(table.y.cols()) != table.metadata.data_names.size() ||
      table.indices.size() != static_cast<std::size_t>(table.theta.rows()) || table.theta.rows() != table.y.rows())
    throw InputError(path.string() + ": write_table: the rows do not match the table's names");
  check_csv_names(table.metadata.parameter_names, path.string() + ": parameter_names");
  check_csv_names(table.metadata.data_names, path.string() + ": data_names");
  const auto& m = table.metadata;
  CommitState state;
  state.rows = table.indices.size();
  state.next_index = m.next_index;
  if (!table.indices.empty()) state.next_index = std::max(state.next_index, table.indices.back() + 1);
  state.failed = m.failed;
  state.non_finite = m.non_finite;
  state.dropped = m.dropped;
  state.redraws = m.redraws;
  for (std::size_t r = 1; r < table.indices.size(); ++r)
    if (table.indices[r] <= table.indices[r - 1])
      throw InputError(path.string() + ": write_table: simulation index " + std::to_string(table.indices[r]) +
                       " repeats or is out of order");
  CommitState head_state = state;  // the head records where the table starts: its first row
  if (!table.indices.empty()) head_state.next_index = table.indices.front();
  Head head = make_head(m, format, head_state);
  std::string out = head.bytes;
  for (std::size_t begin = 0; begin < table.indices.size(); begin += kRowsPerBlock)
    out += encode_block(table.indices, table.theta, table.y, begin, std::min(table.indices.size(), begin + kRowsPerBlock), format);
  state.end = out.size();
  // Both records describe the whole table.
  const std::string first = encode_commit({0, state, head.checksum}, format);
  const std::string second = encode_commit({1, state, head.checksum}, format);
  out.replace(head.slot_offset[0], first.size(), first);
  out.replace(head.slot_offset[1], second.size(), second);
  return out;
}
}  // namespace

void write_table(const ReferenceTable& table, const std::filesystem::path& path, TableFormat format) {
  write_file_atomically(path, encode_table(table, path, format));
}

std::string TableRecovery::brief_report() const {
  std::string text = std::to_string(rows_kept) + " rows kept (" + std::to_string(bytes_kept) + " of " + std::to_string(bytes_read) +
                     " bytes); next simulation index " + std::to_string(next_index);
  if (!problem.empty()) text += "; dropped from byte offset " + std::to_string(bytes_kept) + ": " + problem;
  return text;
}

TableRecovery recover_table(const std::filesystem::path& path, const std::filesystem::path& output) {
  const std::string bytes = read_file(path);
  Parsed parsed = parse_table(bytes, path, Mode::recover);
  TableRecovery recovery;
  recovery.rows_kept = parsed.indices.size();
  recovery.bytes_read = bytes.size();
  recovery.bytes_kept = parsed.intact_end;
  if (!parsed.problem.empty()) {
    recovery.problem = parsed.problem + " (at byte offset " + std::to_string(parsed.problem_offset) + ")";
  } else if (parsed.version == 2 && parsed.intact_end < bytes.size()) {
    recovery.problem = std::to_string(bytes.size() - parsed.intact_end) + " bytes of an unfinished block";
  }
  const TableFormat format = parsed.format;
  // Counts are those of the commit record when it covers exactly what was kept; else unknown (0).
  const bool commit_matches = parsed.version == 2 && parsed.commit.state.end == parsed.intact_end &&
                              parsed.commit.state.rows == parsed.indices.size();
  const bool version1_whole = parsed.version == 1 && parsed.problem.empty();
  const std::uint64_t first_index = parsed.version == 2 ? parsed.first_index : 0;
  ReferenceTable table = to_reference_table(std::move(parsed));
  if (!commit_matches && !version1_whole) {
    table.metadata.failed = table.metadata.non_finite = table.metadata.dropped = table.metadata.redraws = 0;
    table.metadata.next_index = table.indices.empty() ? first_index : table.indices.back() + 1;
  }
  recovery.next_index = table.metadata.next_index;
  write_table(table, output, format);
  return recovery;
}

// ------------------------------------------------------------------------------------------------
// TableWriter

TableWriter::TableWriter(std::filesystem::path path, TableFormat format, TableMetadata metadata,
                         const std::filesystem::path* existing)
    : path_(std::move(path)), format_(format), metadata_(std::move(metadata)) {
  check_csv_names(metadata_.parameter_names, path_.string() + ": parameter_names");
  check_csv_names(metadata_.data_names, path_.string() + ": data_names");
  if (metadata_.simulator_options_hash.empty()) {
    SimulatorInfo info;
    info.options = metadata_.simulator_options;
    metadata_.simulator_options_hash = simulator_options_hash(info);
  }
  if (path_.has_parent_path() && !fs::exists(path_.parent_path())) fs::create_directories(path_.parent_path());
  std::error_code ec;
  if (existing && fs::equivalent(*existing, path_, ec)) {
    open_existing();
  } else {
    create_new(existing);
  }
  last_sync_ = std::chrono::steady_clock::now();
}

TableWriter::~TableWriter() { close_file(); }

void TableWriter::close_file() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock; every written block is already committed
  fd_ = -1;
}

// Writes the head and `copy_from`'s rows (if any) into a new temporary file, then renames it over
// path_ once no other writer holds the lock of the table there.
void TableWriter::create_new(const std::filesystem::path* copy_from) {
  std::optional<ReferenceTable> source;
  if (copy_from) {
    source = read_table(*copy_from);
    if (const std::string refusal = append_refusal(source->metadata, metadata_, copy_from->string()); !refusal.empty())
      throw InputError(refusal);
  }
  CommitState initial;
  initial.next_index = metadata_.next_index;
  if (source) {
    initial.next_index = source->metadata.next_index;
    initial.failed = source->metadata.failed;
    initial.non_finite = source->metadata.non_finite;
    initial.dropped = source->metadata.dropped;
    initial.redraws = source->metadata.redraws;
  }
  const Head head = make_head(metadata_, format_, initial);
  int fd = -1;
  const auto tmp = create_temporary_file(path_, "new", fd);
  const auto discard = [&] {
    ::close(fd);
    ::unlink(tmp.c_str());
    forget_temporary_path(tmp);
    fd_ = -1;
  };
  try {
    try_lock(fd);
    pwrite_all(fd, head.bytes, 0, tmp);
    fd_ = fd;
    slot_offset_[0] = head.slot_offset[0];
    slot_offset_[1] = head.slot_offset[1];
    head_checksum_ = head.checksum;
    sequence_ = 1;
    committed_ = initial;
    committed_.end = head.data_start;
    base_failed_ = initial.failed;
    base_non_finite_ = initial.non_finite;
    base_dropped_ = initial.dropped;
    base_redraws_ = initial.redraws;
    if (source) {
      for (std::size_t begin = 0; begin < source->indices.size(); begin += kRowsPerBlock)
        append_block(source->indices, source->theta, source->y, begin, std::min(source->indices.size(), begin + kRowsPerBlock));
      commit(false);
    }
    if (::fsync(fd) != 0) throw FileError(path_.string() + ": cannot sync to disk (" + std::strerror(errno) + ")");
    // A writer busy with the table at path_ keeps it: replacing it would lose its rows.
    const int old = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (old >= 0 && !try_lock(old)) {
      ::close(old);
      throw_locked(path_);
    }
    const int renamed = ::rename(tmp.c_str(), path_.c_str());
    const int code = errno;
    if (old >= 0) ::close(old);
    if (renamed != 0) throw FileError(path_.string() + ": cannot create the table (" + std::strerror(code) + ")");
  } catch (...) {
    discard();
    throw;
  }
  forget_temporary_path(tmp);
  sync_folder_of(path_);
}

void TableWriter::open_existing() {
  for (int attempt = 0;; ++attempt) {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) throw FileError(path_.string() + ": cannot open for appending (" + std::strerror(errno) + ")");
    if (!try_lock(fd)) {
      ::close(fd);
      throw_locked(path_);
    }
    // Another writer may have replaced the file between our open and our lock: lock the one there now.
    if (!same_file(fd, path_)) {
      ::close(fd);
      if (attempt < 10) continue;
      throw_locked(path_);
    }
    fd_ = fd;
    break;
  }
  try {
    const std::string bytes = read_fd(fd_, path_);
    Parsed parsed = parse_table(bytes, path_, Mode::strict);
    if (parsed.format != format_)
      throw InputError(path_.string() + ": cannot append " + (format_ == TableFormat::csv ? "CSV" : "binary") +
                       " rows to a table in the other format");
    if (const std::string refusal = append_refusal(parsed.metadata, metadata_, path_.string()); !refusal.empty())
      throw InputError(refusal);
    if (parsed.version == 1) {
      // Rewritten as version 2 (the same rows), then appended to; we hold the old file's lock meanwhile
      // and take the new one's before it replaces the old.
      const std::string upgraded = encode_table(to_reference_table(std::move(parsed)), path_, format_);
      const int fd = replace_with_locked_copy(path_, upgraded, "v2", "cannot rewrite the version 1 table as version 2");
      ::close(fd_);
      fd_ = fd;
      parsed = parse_table(upgraded, path_, Mode::strict);
    }
    slot_offset_[0] = parsed.head.slot_offset[0];
    slot_offset_[1] = parsed.head.slot_offset[1];
    head_checksum_ = parsed.head.checksum;
    sequence_ = parsed.commit.sequence;
    committed_ = parsed.commit.state;
    base_failed_ = committed_.failed;
    base_non_finite_ = committed_.non_finite;
    base_dropped_ = committed_.dropped;
    base_redraws_ = committed_.redraws;
    // Drop the unfinished block of a run that was killed.
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && static_cast<std::uint64_t>(st.st_size) > committed_.end && ::ftruncate(fd_, static_cast<off_t>(committed_.end)) != 0)
      throw FileError(path_.string() + ": cannot drop the unfinished block (" + std::strerror(errno) + ")");
  } catch (...) {
    close_file();
    throw;
  }
}

void TableWriter::append_block(const std::vector<std::uint64_t>& indices, const RowMatrix& theta, const RowMatrix& y,
                               std::size_t begin, std::size_t end) {
  const std::string block = encode_block(indices, theta, y, begin, end, format_);
  pwrite_all(fd_, block, committed_.end, path_);
  committed_.end += block.size();
  committed_.rows += end - begin;
  if (end > begin) committed_.next_index = std::max(committed_.next_index, indices[end - 1] + 1);
}

void TableWriter::commit(bool sync) {
  if (sync && ::fdatasync(fd_) != 0) throw FileError(path_.string() + ": cannot sync to disk (" + std::strerror(errno) + ")");
  ++sequence_;
  const std::string record = encode_commit({sequence_, committed_, head_checksum_}, format_);
  pwrite_all(fd_, record, slot_offset_[sequence_ % 2], path_);
  if (sync) {
    if (::fdatasync(fd_) != 0) throw FileError(path_.string() + ": cannot sync to disk (" + std::strerror(errno) + ")");
    last_sync_ = std::chrono::steady_clock::now();
  }
}

void TableWriter::write(const SimulationChunk& chunk) {
  if (finished_ || fd_ < 0) throw std::logic_error("TableWriter::write after finish()");
  const std::size_t n = chunk.indices.size();
  if (static_cast<std::size_t>(chunk.theta.rows()) != n || static_cast<std::size_t>(chunk.y.rows()) != n ||
      static_cast<std::size_t>(chunk.theta.cols()) != metadata_.parameter_names.size() ||
      static_cast<std::size_t>(chunk.y.cols()) != metadata_.data_names.size())
    throw InputError(path_.string() + ": a chunk whose shape does not match the table's columns");
  for (std::size_t r = 0; r < n; ++r) {
    const std::uint64_t index = chunk.indices[r];
    if (index < committed_.next_index || (r > 0 && index <= chunk.indices[r - 1]))
      throw InputError(path_.string() + ": simulation index " + std::to_string(index) +
                       " is already in the table or out of order (the table continues at index " +
                       std::to_string(committed_.next_index) + "); rows are never repeated");
  }
  if (n > 0) append_block(chunk.indices, chunk.theta, chunk.y, 0, n);
  committed_.next_index = std::max(committed_.next_index, chunk.next_index);
  run_failed_ += chunk.failed;
  run_non_finite_ += chunk.non_finite;
  run_dropped_ += chunk.dropped;
  run_redraws_ += chunk.redraws;
  committed_.failed = base_failed_ + run_failed_;
  committed_.non_finite = base_non_finite_ + run_non_finite_;
  committed_.dropped = base_dropped_ + run_dropped_;
  committed_.redraws = base_redraws_ + run_redraws_;
  const auto now = std::chrono::steady_clock::now();
  commit(checkpoint_seconds_ <= 0 || std::chrono::duration<double>(now - last_sync_).count() >= checkpoint_seconds_);
  rows_written_ += n;
}

void TableWriter::finish(const SimulationSummary& summary) {
  if (finished_) return;
  finished_ = true;
  if (fd_ < 0) return;
  committed_.next_index = std::max(committed_.next_index, summary.next_index);
  committed_.failed = base_failed_ + std::max<std::uint64_t>(run_failed_, summary.failed);
  committed_.non_finite = base_non_finite_ + std::max<std::uint64_t>(run_non_finite_, summary.non_finite);
  committed_.dropped = base_dropped_ + std::max<std::uint64_t>(run_dropped_, summary.dropped);
  committed_.redraws = base_redraws_ + std::max<std::uint64_t>(run_redraws_, summary.redraws);
  try {
    commit(true);
  } catch (...) {
    close_file();
    throw;
  }
  try {
    rewrite_canonical();
  } catch (const std::exception&) {
    // The table is complete and committed as it is; only its blocks keep the run's chunking.
  }
  close_file();
}

void TableWriter::rewrite_canonical() {
  const std::string bytes = read_fd(fd_, path_);
  const std::string canonical = encode_table(to_reference_table(parse_table(bytes, path_, Mode::strict)), path_, format_);
  if (canonical == bytes) return;
  const int fd = replace_with_locked_copy(path_, canonical, "final", "cannot rewrite the finished table");
  ::close(fd_);
  fd_ = fd;
}

}  // namespace sbi
