#include "sbi/inference/posterior.hpp"

#include "sbi/core/error.hpp"
#include "sbi/flows/options.hpp"
#include "sbi/io/checksum.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/optim/training_loop.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>

namespace sbi {

namespace fs = std::filesystem;

nlohmann::json Provenance::to_json() const {
  return {{"method", method},         {"simulator", simulator}, {"simulator_options", simulator_options},
          {"spec", spec},             {"seed", seed},           {"simulations", simulations},
          {"table", table},           {"training_seconds", training_seconds},
          {"simulation_seconds", simulation_seconds}, {"created", created}, {"sbi_version", sbi_version}};
}

Provenance Provenance::from_json(const nlohmann::json& j) {
  Provenance p;
  if (!j.is_object()) return p;
  p.method = j.value("method", "");
  p.simulator = j.value("simulator", "");
  p.simulator_options = j.value("simulator_options", nlohmann::json::object());
  p.spec = j.value("spec", nlohmann::json());
  p.seed = j.value("seed", std::uint64_t{0});
  p.simulations = j.value("simulations", std::size_t{0});
  p.table = j.value("table", "");
  p.training_seconds = j.value("training_seconds", 0.0);
  p.simulation_seconds = j.value("simulation_seconds", 0.0);
  p.created = j.value("created", "");
  p.sbi_version = j.value("sbi_version", "");
  return p;
}

Vector PosteriorModel::log_prob(const RowMatrix&, const Vector&) const {
  throw InputError("log_prob: a posterior of kind \"" + info().kind + "\" (method \"" + info().method +
                   "\") has no density; it can only be sampled");
}

RowMatrix PosteriorModel::sample_watched(const Vector& observation, Eigen::Index n, std::uint64_t seed, const TrainingCallbacks&) const {
  return sample(observation, n, seed);
}

PosteriorModelBase::PosteriorModelBase(PriorPtr prior, Names data_names, PosteriorInfo info)
    : prior_(std::move(prior)), data_names_(std::move(data_names)), info_(std::move(info)) {
  if (!prior_) throw InputError("posterior: no prior");
}

const PosteriorModel& Posterior::model() const {
  if (!model_) throw std::logic_error("sbi::Posterior: empty (default-constructed) posterior used");
  return *model_;
}

void check_observation(const Vector& observation, const Names& data_names) {
  if (static_cast<std::size_t>(observation.size()) != data_names.size())
    throw InputError("observation has " + std::to_string(observation.size()) + " values; the posterior was trained on " +
                     std::to_string(data_names.size()) + " data columns");
  for (Eigen::Index i = 0; i < observation.size(); ++i)
    if (!std::isfinite(observation[i]))
      throw InputError("observation: " + data_names[static_cast<std::size_t>(i)] + " = " + format_double(observation[i]) +
                       " is not a finite number");
}

RowMatrix Posterior::sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const {
  if (n < 1) throw InputError("sample: the number of samples must be at least 1, got " + std::to_string(n));
  check_observation(observation, data_names());
  return model().sample(observation, n, seed);
}

RowMatrix Posterior::sample(const Vector& observation, Eigen::Index n, std::uint64_t seed, const TrainingCallbacks& callbacks) const {
  if (n < 1) throw InputError("sample: the number of samples must be at least 1, got " + std::to_string(n));
  check_observation(observation, data_names());
  return model().sample_watched(observation, n, seed, callbacks);
}

Vector Posterior::log_prob(const RowMatrix& theta, const Vector& observation) const {
  if (static_cast<std::size_t>(theta.cols()) != parameter_dim())
    throw InputError("log_prob: θ has " + std::to_string(theta.cols()) + " columns; the posterior has " +
                     std::to_string(parameter_dim()) + " parameters");
  check_observation(observation, data_names());
  if (!info().has_log_prob) return model().PosteriorModel::log_prob(theta, observation);
  return model().log_prob(theta, observation);
}

std::string file_checksum(const fs::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw FileError(path.string() + ": cannot be read");
  std::uint64_t hash = kFnv1a64Basis;
  char buffer[1 << 16];
  std::size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, f)) > 0) hash = fnv1a64(std::string_view(buffer, got), hash);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) throw FileError(path.string() + ": read error");
  return hex64(hash);
}

void Posterior::save(const fs::path& folder) const {
  const auto& m = model();
  const auto& info = m.info();
  fs::create_directories(folder);
  std::vector<std::string> files;
  nlohmann::json state = m.save_state(folder, files);
  nlohmann::json listed = nlohmann::json::object();
  for (const auto& name : files)
    listed[name] = {{"bytes", fs::file_size(folder / name)}, {"fnv1a64", file_checksum(folder / name)}};
  nlohmann::json observation = nullptr;
  if (info.observation) observation = std::vector<double>(info.observation->data(), info.observation->data() + info.observation->size());
  const nlohmann::json document = {{"format", "sbi-posterior"},
                                   {"format_version", kPosteriorFormatVersion},
                                   {"kind", info.kind},
                                   {"method", info.method},
                                   {"parameter_names", m.parameter_names()},
                                   {"data_names", m.data_names()},
                                   {"prior", m.prior().to_json()},
                                   {"amortized", info.amortized},
                                   {"observation", observation},
                                   {"has_log_prob", info.has_log_prob},
                                   {"log_prob_normalized", info.log_prob_normalized},
                                   {"options", info.options},
                                   {"provenance", info.provenance.to_json()},
                                   {"state", std::move(state)},
                                   {"files", std::move(listed)}};
  write_file_atomically(folder / "posterior.json", document.dump(2) + "\n");
}

optim::TrainingCurve read_training_curve(const SavedPosterior& saved) {
  const fs::path file = saved.file("training_curve.csv");
  if (!fs::exists(file)) return {};
  try {
    const CsvTable table = read_csv(file);
    return optim::TrainingCurve::from_table(table.header, table.values);
  } catch (const InputError& e) {
    throw FileError(file.string() + ": " + e.what());
  }
}

const nlohmann::json& SavedPosterior::state() const {
  if (format_version >= 2) return document.at("state");
  return document;
}

SavedPosterior read_saved_posterior(const fs::path& folder) {
  const auto json_file = folder / "posterior.json";
  if (!fs::is_directory(folder)) throw FileError(folder.string() + ": not a saved posterior (not a folder; a saved posterior is a folder with posterior.json)");
  std::ifstream in(json_file, std::ios::binary);
  if (!in) throw FileError(folder.string() + ": not a saved posterior (no posterior.json)");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  SavedPosterior saved;
  saved.folder = folder;
  saved.document = parse_json_text(text, json_file.string());
  const auto& d = saved.document;
  auto where = [&](const std::string& key) { return json_file.string() + ": " + key; };
  if (!d.is_object() || d.value("format", std::string()) != "sbi-posterior")
    throw FileError(json_file.string() + ": not an sbi++ posterior (no \"format\": \"sbi-posterior\")");
  try {
    if (!d.contains("format_version") || !d.at("format_version").is_number_integer())
      throw FileError(where("format_version") + " is missing or not an integer");
    saved.format_version = d.at("format_version").get<int>();
    if (saved.format_version < 1) throw FileError(where("format_version") + " = " + std::to_string(saved.format_version) + " is not a valid version");
    if (saved.format_version > kPosteriorFormatVersion)
      throw FileError(json_file.string() + ": posterior format version " + std::to_string(saved.format_version) +
                      " is newer than this sbi++ reads (" + std::to_string(kPosteriorFormatVersion) + "); upgrade sbi++");
    if (!d.contains("kind") || !d.at("kind").is_string()) throw FileError(where("kind") + " is missing or not a string");
    saved.kind = d.at("kind").get<std::string>();
    // Version 1 (sbi++ 0.1) saved only implicit generators and kept the method in the provenance.
    const nlohmann::json provenance = d.value("provenance", nlohmann::json::object());
    saved.info.kind = saved.kind;
    saved.info.provenance = Provenance::from_json(provenance);
    saved.info.method = d.contains("method") ? d.at("method").get<std::string>() : saved.info.provenance.method;
    saved.info.amortized = d.value("amortized", true);
    if (d.contains("observation") && !d.at("observation").is_null()) {
      const auto values = d.at("observation").get<std::vector<double>>();
      saved.info.observation = Eigen::Map<const Vector>(values.data(), static_cast<Eigen::Index>(values.size()));
    }
    saved.info.has_log_prob = d.value("has_log_prob", false);
    saved.info.log_prob_normalized = d.value("log_prob_normalized", false);
    saved.info.options = d.value("options", nlohmann::json::object());
    flows::complete_saved_estimator_options(saved.info.options);
    // Estimator options saved before "alternatives" existed trained their density_estimator alone.
    if (saved.info.options.is_object() && saved.info.options.contains("density_estimator") && !saved.info.options.contains("alternatives"))
      saved.info.options["alternatives"] = nlohmann::json::array();
    saved.parameter_names = d.at("parameter_names").get<Names>();
    saved.data_names = d.at("data_names").get<Names>();
    try {
      saved.prior = prior_from_json(d.at("prior"), "prior");
    } catch (const InputError& e) {
      throw FileError(json_file.string() + ": " + e.what());
    }
    if (saved.prior->names() != saved.parameter_names)
      throw FileError(where("parameter_names") + " do not match the prior's parameter names");
    if (saved.format_version >= 2) {
      if (!d.contains("state") || !d.at("state").is_object()) throw FileError(where("state") + " is missing or not an object");
      if (!d.contains("files") || !d.at("files").is_object()) throw FileError(where("files") + " is missing or not an object");
      for (const auto& [name, entry] : d.at("files").items()) {
        const fs::path file = folder / name;
        if (name.empty() || name.find('/') != std::string::npos || name == "posterior.json")
          throw FileError(where("files") + ": invalid file name \"" + name + "\"");
        if (!fs::is_regular_file(file)) throw FileError(file.string() + ": missing (listed in posterior.json)");
        const auto bytes = entry.at("bytes").get<std::uintmax_t>();
        const auto size = fs::file_size(file);
        if (size != bytes)
          throw FileError(file.string() + ": damaged or truncated (" + std::to_string(size) + " bytes, posterior.json lists " +
                          std::to_string(bytes) + ")");
        if (file_checksum(file) != entry.at("fnv1a64").get<std::string>())
          throw FileError(file.string() + ": damaged (its checksum does not match the one in posterior.json)");
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw FileError(json_file.string() + ": incomplete or corrupted (" + e.what() + ")");
  }
  return saved;
}

}  // namespace sbi
