#include "sbi/spec/spec.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

namespace sbi {

namespace {

// A header name fit to quote in a message: short and made of name characters. Anything else in a
// file that someone pointed us at (a password file, a key) stays out of the message.
std::string shown_header_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return {};
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '_' || c == '-' || c == '.' || c == ' ' || c == '[' || c == ']' || c == '(' || c == ')'))
      return {};
  }
  return "\"" + name + "\"";
}

std::string trimmed(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return {};
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

}  // namespace

ObservationFile read_observation_file(const std::filesystem::path& path) {
  const CsvTable csv = read_csv(path, 2, /*show_content=*/false);
  if (csv.values.rows() != 1)
    throw InputError(path.string() + ": expected a header line and exactly one row (the observation), got " +
                     (csv.values.rows() == 0 ? std::string("no row") : std::string("more than one")));
  ObservationFile file;
  for (const auto& name : csv.header) file.names.push_back(trimmed(name));
  file.values = csv.values.row(0).transpose();
  for (Eigen::Index i = 0; i < file.values.size(); ++i)
    if (!std::isfinite(file.values[i]))
      throw InputError(path.string() + ": column " + std::to_string(i + 1) + " of the observation is not a finite number");
  return file;
}

Vector match_observation(const ObservationFile& file, const Names& data_names, const std::string& where) {
  std::map<std::string, std::size_t> column_of;
  for (std::size_t c = 0; c < file.names.size(); ++c) {
    const auto& name = file.names[c];
    const std::string shown = shown_header_name(name);
    const std::string column = "column " + std::to_string(c + 1) + " of the header" + (shown.empty() ? "" : " (" + shown + ")");
    if (std::find(data_names.begin(), data_names.end(), name) == data_names.end())
      throw InputError(where + ": " + column + " is not a data name; the data are: " + comma_separated(data_names, 12));
    if (!column_of.emplace(name, c).second) throw InputError(where + ": " + column + " repeats an earlier column");
  }
  Vector values(static_cast<Eigen::Index>(data_names.size()));
  for (std::size_t k = 0; k < data_names.size(); ++k) {
    const auto it = column_of.find(data_names[k]);
    if (it == column_of.end())
      throw InputError(where + ": the header has no column \"" + data_names[k] + "\"; the data are: " + comma_separated(data_names, 12));
    values[static_cast<Eigen::Index>(k)] = file.values[static_cast<Eigen::Index>(it->second)];
  }
  return values;
}

Vector read_observation_csv(const std::filesystem::path& path, const Names& data_names) {
  return match_observation(read_observation_file(path), data_names, path.string());
}

Vector read_observation_csv(const std::filesystem::path& path) { return read_observation_file(path).values; }

namespace {
void read_observation(const nlohmann::json& value, const std::filesystem::path& directory, const std::string& path, Spec& spec) {
  if (value.is_array()) {
    const auto numbers = json_number_list_at(value, path);
    spec.observation = Eigen::Map<const Vector>(numbers.data(), static_cast<Eigen::Index>(numbers.size()));
    return;
  }
  if (value.is_object()) {
    JsonObjectReader reader(value, path);
    const std::string file = reader.required_string("file");
    reader.reject_unknown_keys();
    const std::filesystem::path resolved = directory / file;  // an absolute file name replaces directory
    try {
      ObservationFile contents = read_observation_file(resolved);
      spec.observation = std::move(contents.values);
      spec.observation_names = std::move(contents.names);
      spec.observation_file = resolved;
      return;
    } catch (const std::exception& e) {
      throw InputError(path + ".file: " + e.what());
    }
  }
  throw InputError(path + ": expected a list of numbers or {\"file\": \"obs.csv\"}, got " + json_type_description(value));
}
}  // namespace

Spec parse_spec(const nlohmann::json& document, const std::filesystem::path& directory) {
  Spec spec;
  spec.document = document;
  spec.directory = directory;
  JsonObjectReader top(document, "");
  spec.description = top.optional_string("description", "");

  // Optional: a spec without a simulator trains on simulations made elsewhere (sbi infer with a
  // table); the commands that simulate say that they need one (simulators::build_spec_model).
  if (const auto* simulator = top.get("simulator")) {
    if (!simulator->is_object()) throw InputError("simulator: expected an object, got " + json_type_description(*simulator));
    if (!simulator->contains("name") && !simulator->contains("command"))
      throw InputError("simulator: expected a \"name\" (built-in simulator) or a \"command\" (external program)");
    if (simulator->contains("name") && simulator->contains("command"))
      throw InputError("simulator: give either \"name\" or \"command\", not both");
    spec.simulator = *simulator;
  }

  if (const auto* prior = top.get("prior")) spec.prior = prior_from_json(*prior, "prior");

  if (const auto* observation = top.get("observation")) read_observation(*observation, directory, "observation", spec);
  if (const auto* truth = top.get("true_parameters")) {
    const auto numbers = json_number_list_at(*truth, "true_parameters", spec.prior ? spec.prior->dim() : 0);
    spec.true_parameters = Eigen::Map<const Vector>(numbers.data(), static_cast<Eigen::Index>(numbers.size()));
  }
  if (top.get("reference_posterior")) {
    const std::string file = top.optional_string("reference_posterior", "");
    if (file.empty()) throw InputError("reference_posterior: expected the name of a CSV file of posterior samples");
    spec.reference_posterior = std::filesystem::path(file).is_absolute() ? std::filesystem::path(file) : directory / file;
  }
  spec.seed = top.optional_seed("seed", 1);

  if (const auto* simulation = top.get("simulation")) {
    JsonObjectReader reader(*simulation, "simulation");
    spec.failure_policy = failure_policy_from_string(reader.optional_string("failure_policy", "drop", {"drop", "redraw", "fail"}));
    spec.max_redraws = static_cast<int>(reader.optional_integer("max_redraws", 100, 1, 1000000));
    reader.reject_unknown_keys();
  }
  if (const auto* inference = top.get("inference")) {
    if (!inference->is_object()) throw InputError("inference: expected an object, got " + json_type_description(*inference));
    spec.inference = *inference;
  }
  if (const auto* output = top.get("output")) {
    JsonObjectReader reader(*output, "output");
    spec.output_samples = static_cast<std::size_t>(reader.optional_integer("samples", 10000, 1, 100000000));
    reader.reject_unknown_keys();
  }
  top.reject_unknown_keys();
  return spec;
}

Spec read_spec(const std::filesystem::path& path) {
  // A spec is small; a bound keeps /dev/zero or a wrong multi-gigabyte file from filling the memory.
  constexpr std::size_t kMaxSpecBytes = std::size_t{64} << 20;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path.string() + ": cannot open the spec");
  // Read in chunks: zero-filling a buffer of the bound's size cost each run about 0.1 s of page faults.
  std::string text;
  std::array<char, 1 << 16> chunk;
  while (text.size() <= kMaxSpecBytes && in.read(chunk.data(), chunk.size()).gcount() > 0)
    text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
  if (in.bad()) throw FileError(path.string() + ": cannot read the spec");
  if (text.size() > kMaxSpecBytes)
    throw InputError(path.string() + ": larger than " + std::to_string(kMaxSpecBytes >> 20) + " MiB; not a spec");
  const nlohmann::json document = parse_json_text(text, path.string(), /*allow_comments=*/true);
  try {
    return parse_spec(document, path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path());
  } catch (const InputError& e) {
    throw InputError(path.string() + ": " + e.what());
  }
}

std::size_t spec_simulations(const Spec& spec, std::size_t minimum, std::size_t fallback) {
  if (!spec.inference.is_object() || !spec.inference.contains("simulations")) return fallback;
  JsonObjectReader inference(spec.inference, "inference");
  return static_cast<std::size_t>(inference.required_integer("simulations", static_cast<std::int64_t>(minimum), std::int64_t{1} << 40));
}

std::string spec_method(const Spec& spec, const std::string& fallback) {
  if (!spec.inference.is_object() || !spec.inference.contains("method")) return fallback;
  const auto& method = spec.inference.at("method");
  if (!method.is_string()) throw InputError("inference.method: expected a method name, got " + json_type_description(method));
  return method.get<std::string>();
}

}  // namespace sbi
