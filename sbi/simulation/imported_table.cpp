#include "sbi/simulation/imported_table.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

namespace sbi {

namespace {

std::string listed(const Names& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

ImportedTable import_csv_simulations(const std::filesystem::path& path, const Prior& prior) {
  const std::string where = path.string();
  const CsvTable csv = read_csv(path);
  const Names& header = csv.header;
  {
    std::set<std::string> seen;
    for (std::size_t c = 0; c < header.size(); ++c) {
      if (header[c].empty()) throw InputError(where + ": column " + std::to_string(c + 1) + " of the header has no name");
      if (!seen.insert(header[c]).second)
        throw InputError(where + ": column " + std::to_string(c + 1) + " of the header (\"" + header[c] + "\") repeats an earlier column");
    }
  }
  const Names& parameters = prior.names();
  std::vector<Eigen::Index> theta_columns, data_columns;
  Eigen::Index index_column = -1;
  for (const auto& name : parameters) {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end())
      throw InputError(where + ": no column \"" + name + "\"; the prior's parameters (" + listed(parameters) +
                       ") name the columns of θ, and the file has: " + listed(header));
    theta_columns.push_back(static_cast<Eigen::Index>(it - header.begin()));
  }
  Names data_names;
  for (std::size_t c = 0; c < header.size(); ++c) {
    if (std::find(parameters.begin(), parameters.end(), header[c]) != parameters.end()) continue;  // θ (even a parameter called "index")
    if (header[c] == "index") {
      index_column = static_cast<Eigen::Index>(c);
      continue;
    }
    data_columns.push_back(static_cast<Eigen::Index>(c));
    data_names.push_back(header[c]);
  }
  if (data_columns.empty())
    throw InputError(where + ": no data column: every column is a parameter of the prior (" + listed(parameters) +
                     ") or \"index\"; the simulated data go in the other columns");
  const Eigen::Index rows = csv.values.rows();
  if (rows == 0) throw InputError(where + ": no rows of simulations after the header");

  ImportedTable imported;
  ReferenceTable& table = imported.table;
  table.theta.resize(rows, static_cast<Eigen::Index>(theta_columns.size()));
  table.y.resize(rows, static_cast<Eigen::Index>(data_columns.size()));
  Eigen::Index kept = 0;
  double previous_index = -1;
  for (Eigen::Index r = 0; r < rows; ++r) {
    const std::string row = where + ": data row " + std::to_string(r + 1);
    for (std::size_t k = 0; k < theta_columns.size(); ++k) {
      const double v = csv.values(r, theta_columns[k]);
      if (!std::isfinite(v)) throw InputError(row + ", column \"" + parameters[k] + "\": a parameter must be a finite number");
      table.theta(kept, static_cast<Eigen::Index>(k)) = v;
    }
    if (!prior.in_support(row_span(table.theta, kept)))
      throw InputError(row + ": θ lies outside the prior's support (a parameter below or above its bounds?)");
    std::uint64_t index = static_cast<std::uint64_t>(r);
    if (index_column >= 0) {
      const double v = csv.values(r, index_column);
      if (!(v >= 0 && v <= 9.0e15 && std::floor(v) == v) || v <= previous_index)
        throw InputError(row + ", column \"index\": expected whole simulation indices, increasing from row to row");
      previous_index = v;
      index = static_cast<std::uint64_t>(v);
    }
    bool finite = true;
    for (std::size_t k = 0; k < data_columns.size(); ++k) {
      const double v = csv.values(r, data_columns[k]);
      finite = finite && std::isfinite(v);
      table.y(kept, static_cast<Eigen::Index>(k)) = v;
    }
    if (!finite) {
      ++imported.dropped;  // a failed simulation: its index stays spent
      continue;
    }
    table.indices.push_back(index);
    ++kept;
  }
  table.truncate(kept);
  TableMetadata& metadata = table.metadata;
  metadata.simulator_options = {{"imported_from", path.filename().string()}};
  metadata.parameter_names = parameters;
  metadata.data_names = data_names;
  metadata.non_finite = imported.dropped;
  metadata.dropped = imported.dropped;
  metadata.next_index = index_column >= 0 ? static_cast<std::uint64_t>(previous_index) + 1 : static_cast<std::uint64_t>(rows);
  return imported;
}

}  // namespace sbi
