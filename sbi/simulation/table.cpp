#include "sbi/simulation/table.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"

#include <cstring>
#include <fstream>

namespace sbi {

namespace {
constexpr char kBinaryMagic[8] = {'S', 'B', 'I', 'T', 'B', 'L', '0', '1'};
constexpr const char* kCsvPrefix = "# sbi-table ";
constexpr int kFormatVersion = 1;

std::string csv_header_line(const TableMetadata& m) {
  std::string line = "index";
  for (const auto& n : m.parameter_names) line += "," + n;
  for (const auto& n : m.data_names) line += "," + n;
  return line + "\n";
}

std::string table_head(const TableMetadata& m, TableFormat format) {
  const std::string json = m.to_json().dump();
  if (format == TableFormat::csv) return kCsvPrefix + json + "\n" + csv_header_line(m);
  std::string head(kBinaryMagic, 8);
  std::uint64_t length = json.size();
  head.append(reinterpret_cast<const char*>(&length), sizeof length);
  return head + json;
}

void append_rows(std::string& out, const std::vector<std::uint64_t>& indices, const RowMatrix& theta, const RowMatrix& y,
                 TableFormat format) {
  for (std::size_t r = 0; r < indices.size(); ++r) {
    const auto row = static_cast<Eigen::Index>(r);
    if (format == TableFormat::csv) {
      out += std::to_string(indices[r]);
      for (Eigen::Index c = 0; c < theta.cols(); ++c) { out += ','; append_double(out, theta(row, c)); }
      for (Eigen::Index c = 0; c < y.cols(); ++c) { out += ','; append_double(out, y(row, c)); }
      out += '\n';
    } else {
      out.append(reinterpret_cast<const char*>(&indices[r]), sizeof(std::uint64_t));
      out.append(reinterpret_cast<const char*>(theta.row(row).data()), sizeof(double) * static_cast<std::size_t>(theta.cols()));
      out.append(reinterpret_cast<const char*>(y.row(row).data()), sizeof(double) * static_cast<std::size_t>(y.cols()));
    }
  }
}

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path.string() + ": cannot open for reading");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct ParsedHead {
  TableMetadata metadata;
  TableFormat format;
  std::size_t rows_offset;  // byte offset of the first row
};

ParsedHead parse_head(const std::string& bytes, const std::filesystem::path& path) {
  ParsedHead head;
  if (bytes.size() >= 16 && std::memcmp(bytes.data(), kBinaryMagic, 8) == 0) {
    std::uint64_t length;
    std::memcpy(&length, bytes.data() + 8, sizeof length);
    if (16 + length > bytes.size()) throw FileError(path.string() + ": truncated binary table header");
    head.format = TableFormat::binary;
    head.rows_offset = 16 + length;
    nlohmann::json j = nlohmann::json::parse(bytes.substr(16, length), nullptr, false);
    if (j.is_discarded()) throw FileError(path.string() + ": corrupted binary table metadata");
    head.metadata = TableMetadata::from_json(j, path.string());
    return head;
  }
  if (bytes.rfind(kCsvPrefix, 0) != 0)
    throw FileError(path.string() + ": not an sbi++ table (first line should start with \"" + kCsvPrefix +
                    "\", or the file should be a binary table)");
  const auto first_end = bytes.find('\n');
  const auto second_end = first_end == std::string::npos ? std::string::npos : bytes.find('\n', first_end + 1);
  if (second_end == std::string::npos) throw FileError(path.string() + ": truncated table (no header line)");
  const std::string json_text = bytes.substr(std::strlen(kCsvPrefix), first_end - std::strlen(kCsvPrefix));
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded()) throw FileError(path.string() + ":1: corrupted table metadata (not valid JSON)");
  head.format = TableFormat::csv;
  head.metadata = TableMetadata::from_json(j, path.string() + ":1");
  const std::string header = bytes.substr(first_end + 1, second_end - first_end);
  if (header != csv_header_line(head.metadata))
    throw FileError(path.string() + ":2: header does not match the table metadata (expected \"" +
                    csv_header_line(head.metadata).substr(0, 200) + "\")");
  head.rows_offset = second_end + 1;
  return head;
}

bool same_identity(const TableMetadata& a, const TableMetadata& b) {
  return a.simulator == b.simulator && a.simulator_options == b.simulator_options && a.parameter_names == b.parameter_names &&
         a.data_names == b.data_names && a.seed == b.seed;
}
}  // namespace

TableFormat table_format_from_string(const std::string& text) {
  if (text == "csv") return TableFormat::csv;
  if (text == "bin" || text == "binary") return TableFormat::binary;
  throw InputError("table format: expected \"csv\" or \"bin\", got \"" + text + "\"");
}

TableFormat table_format_for_path(const std::filesystem::path& path) {
  const auto ext = path.extension().string();
  return ext == ".sbt" || ext == ".bin" ? TableFormat::binary : TableFormat::csv;
}

nlohmann::json TableMetadata::to_json() const {
  return {{"format_version", kFormatVersion},
          {"simulator", simulator},
          {"simulator_options", simulator_options},
          {"seed", seed},
          {"next_index", next_index},
          {"parameter_names", parameter_names},
          {"data_names", data_names},
          {"failed", failed},
          {"non_finite", non_finite},
          {"dropped", dropped},
          {"redraws", redraws},
          {"failure_policy", failure_policy}};
}

TableMetadata TableMetadata::from_json(const nlohmann::json& j, const std::string& where) {
  try {
    const int version = j.at("format_version").get<int>();
    if (version > kFormatVersion)
      throw FileError(where + ": table format version " + std::to_string(version) + " is newer than this sbi++ reads (" +
                      std::to_string(kFormatVersion) + "); upgrade sbi++");
    TableMetadata m;
    m.simulator = j.at("simulator").get<std::string>();
    m.simulator_options = j.value("simulator_options", nlohmann::json::object());
    m.seed = j.at("seed").get<std::uint64_t>();
    m.next_index = j.at("next_index").get<std::uint64_t>();
    m.parameter_names = j.at("parameter_names").get<Names>();
    m.data_names = j.at("data_names").get<Names>();
    m.failed = j.value("failed", std::size_t{0});
    m.non_finite = j.value("non_finite", std::size_t{0});
    m.dropped = j.value("dropped", std::size_t{0});
    m.redraws = j.value("redraws", std::size_t{0});
    m.failure_policy = j.value("failure_policy", std::string("drop"));
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

ReferenceTable read_table(const std::filesystem::path& path) {
  const std::string bytes = read_all(path);
  const ParsedHead head = parse_head(bytes, path);
  ReferenceTable table;
  table.metadata = head.metadata;
  const auto p = static_cast<Eigen::Index>(head.metadata.parameter_names.size());
  const auto d = static_cast<Eigen::Index>(head.metadata.data_names.size());
  std::vector<std::uint64_t>& indices = table.indices;
  if (head.format == TableFormat::binary) {
    const std::size_t row_bytes = sizeof(std::uint64_t) + sizeof(double) * static_cast<std::size_t>(p + d);
    const std::size_t body = bytes.size() - head.rows_offset;
    if (body % row_bytes != 0)
      throw FileError(path.string() + ": truncated binary table (" + std::to_string(body % row_bytes) + " stray bytes after " +
                      std::to_string(body / row_bytes) + " complete rows)");
    const auto rows = static_cast<Eigen::Index>(body / row_bytes);
    table.theta.resize(rows, p);
    table.y.resize(rows, d);
    indices.resize(static_cast<std::size_t>(rows));
    const char* at = bytes.data() + head.rows_offset;
    for (Eigen::Index r = 0; r < rows; ++r) {
      std::memcpy(&indices[static_cast<std::size_t>(r)], at, sizeof(std::uint64_t));
      at += sizeof(std::uint64_t);
      std::memcpy(table.theta.row(r).data(), at, sizeof(double) * static_cast<std::size_t>(p));
      at += sizeof(double) * static_cast<std::size_t>(p);
      std::memcpy(table.y.row(r).data(), at, sizeof(double) * static_cast<std::size_t>(d));
      at += sizeof(double) * static_cast<std::size_t>(d);
    }
    return table;
  }
  // CSV rows: parse through the shared reader for its row-numbered errors.
  const auto csv = read_csv(path);
  if (csv.values.cols() != 1 + p + d)
    throw FileError(path.string() + ": expected " + std::to_string(1 + p + d) + " columns, got " + std::to_string(csv.values.cols()));
  const auto rows = csv.values.rows();
  indices.resize(static_cast<std::size_t>(rows));
  for (Eigen::Index r = 0; r < rows; ++r) {
    const double index = csv.values(r, 0);
    if (!(index >= 0) || index != std::floor(index))
      throw InputError(path.string() + ": row " + std::to_string(r + 1) + ": index must be a non-negative integer");
    indices[static_cast<std::size_t>(r)] = static_cast<std::uint64_t>(index);
  }
  table.theta = csv.values.middleCols(1, p);
  table.y = csv.values.rightCols(d);
  return table;
}

void write_table(const ReferenceTable& table, const std::filesystem::path& path, TableFormat format) {
  std::string out = table_head(table.metadata, format);
  append_rows(out, table.indices, table.theta, table.y, format);
  write_file_atomically(path, out);
}

TableWriter::TableWriter(std::filesystem::path path, TableFormat format, TableMetadata metadata,
                         const std::filesystem::path* existing)
    : path_(std::move(path)), format_(format), metadata_(std::move(metadata)) {
  if (existing) {
    const std::string bytes = read_all(*existing);
    const ParsedHead head = parse_head(bytes, *existing);
    if (head.format != format_)
      throw InputError(existing->string() + ": cannot append " + (format_ == TableFormat::csv ? "CSV" : "binary") +
                       " rows to a table in the other format");
    if (!same_identity(head.metadata, metadata_))
      throw InputError(existing->string() + ": cannot append: the table was made by simulator \"" + head.metadata.simulator +
                       "\" with seed " + std::to_string(head.metadata.seed) +
                       " and its own options and names; appending needs the same simulator, options, parameters and seed");
    existing_ = *existing;
  }
  if (path_.has_parent_path() && !std::filesystem::exists(path_.parent_path()))
    std::filesystem::create_directories(path_.parent_path());
  body_path_ = temporary_path_for(path_, "rows");
  body_ = std::fopen(body_path_.c_str(), "wb");
  if (!body_) throw FileError(path_.string() + ": cannot create " + body_path_.string());
}

TableWriter::~TableWriter() {
  if (body_) std::fclose(body_);
  std::error_code ignored;
  std::filesystem::remove(body_path_, ignored);
}

void TableWriter::write(const SimulationChunk& chunk) {
  std::string out;
  append_rows(out, chunk.indices, chunk.theta, chunk.y, format_);
  if (std::fwrite(out.data(), 1, out.size(), body_) != out.size() || std::fflush(body_) != 0)
    throw FileError(body_path_.string() + ": write failed (disk full?)");
  rows_written_ += chunk.indices.size();
}

void TableWriter::finish(const SimulationSummary& summary) {
  if (finished_) return;
  finished_ = true;
  std::fclose(body_);
  body_ = nullptr;
  TableMetadata final_metadata = metadata_;
  std::string existing_rows;
  if (existing_) {
    const std::string bytes = read_all(*existing_);
    const ParsedHead head = parse_head(bytes, *existing_);
    existing_rows = bytes.substr(head.rows_offset);
    final_metadata.failed += head.metadata.failed;
    final_metadata.non_finite += head.metadata.non_finite;
    final_metadata.dropped += head.metadata.dropped;
    final_metadata.redraws += head.metadata.redraws;
  }
  final_metadata.failed += summary.failed;
  final_metadata.non_finite += summary.non_finite;
  final_metadata.dropped += summary.dropped;
  final_metadata.redraws += summary.redraws;
  final_metadata.next_index = summary.next_index;

  const auto tmp = temporary_path_for(path_);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw FileError(path_.string() + ": cannot open " + tmp.string() + " for writing");
    out << table_head(final_metadata, format_) << existing_rows;
    if (std::filesystem::file_size(body_path_) > 0) {
      std::ifstream body(body_path_, std::ios::binary);
      out << body.rdbuf();
    }
    out.flush();
    if (!out) {
      std::filesystem::remove(tmp);
      throw FileError(path_.string() + ": write failed (disk full?)");
    }
  }
  std::filesystem::rename(tmp, path_);
  std::filesystem::remove(body_path_);
}

}  // namespace sbi
