#include "sbi/spec/spec.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"

#include <fstream>
#include <sstream>

namespace sbi {

Vector read_observation_csv(const std::filesystem::path& path) {
  const CsvTable csv = read_csv(path);
  if (csv.values.rows() != 1)
    throw InputError(path.string() + ": expected a header line and exactly one row (the observation), got " +
                     std::to_string(csv.values.rows()) + " rows");
  if (!csv.values.allFinite()) throw InputError(path.string() + ": the observation has non-finite values");
  return csv.values.row(0).transpose();
}

namespace {
Vector read_observation(const nlohmann::json& value, const std::filesystem::path& directory, const std::string& path) {
  if (value.is_array()) {
    const auto numbers = json_number_list_at(value, path);
    return Eigen::Map<const Vector>(numbers.data(), static_cast<Eigen::Index>(numbers.size()));
  }
  if (value.is_object()) {
    JsonObjectReader reader(value, path);
    const std::string file = reader.required_string("file");
    reader.reject_unknown_keys();
    const std::filesystem::path resolved = directory / file;  // an absolute file name replaces directory
    try {
      return read_observation_csv(resolved);
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

  const auto* simulator = top.get("simulator");
  if (!simulator) throw InputError("simulator: missing (required): a built-in {\"name\": ...} or an external {\"command\": [...]}");
  if (!simulator->is_object()) throw InputError("simulator: expected an object, got " + json_type_description(*simulator));
  if (!simulator->contains("name") && !simulator->contains("command"))
    throw InputError("simulator: expected a \"name\" (built-in simulator) or a \"command\" (external program)");
  if (simulator->contains("name") && simulator->contains("command"))
    throw InputError("simulator: give either \"name\" or \"command\", not both");
  spec.simulator = *simulator;

  if (const auto* prior = top.get("prior")) spec.prior = prior_from_json(*prior, "prior");

  if (const auto* observation = top.get("observation")) spec.observation = read_observation(*observation, directory, "observation");
  if (const auto* truth = top.get("true_parameters")) {
    const auto numbers = json_number_list_at(*truth, "true_parameters", spec.prior ? spec.prior->dim() : 0);
    spec.true_parameters = Eigen::Map<const Vector>(numbers.data(), static_cast<Eigen::Index>(numbers.size()));
  }
  spec.seed = static_cast<std::uint64_t>(top.optional_integer("seed", 1, 0));

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
  std::ifstream in(path);
  if (!in) throw FileError(path.string() + ": cannot open the spec");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
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
