#include "simulators/from_spec.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/simulation/runner.hpp"
#include "simulators/external_process.hpp"
#include "simulators/registry.hpp"

namespace sbi::simulators {

namespace {
std::string joined_names(const Names& names) {
  std::string text = "(";
  text += comma_separated(names);
  text += ")";
  return text;
}
}  // namespace

SpecModel build_spec_model(const Spec& spec) {
  SpecModel model;
  if (!spec.has_simulator())
    throw InputError("simulator: missing (required here): a built-in {\"name\": ...} or an external {\"command\": [...]}; a spec "
                     "without one can only train on simulations made elsewhere (sbi infer with \"inference\": {\"table\": FILE} or --table)");
  if (spec.has_external_simulator()) {
    if (!spec.prior) throw InputError("prior: missing (required with an external simulator: it names the parameters)");
    model.prior = spec.prior;
    const std::size_t data_dim_hint = spec.observation ? static_cast<std::size_t>(spec.observation->size()) : 0;
    model.simulator = make_external_simulator(spec.simulator, "simulator", *spec.prior, data_dim_hint, spec.directory);
  } else {
    JsonObjectReader section(spec.simulator, "simulator");
    const std::string name = section.required_string("name");
    const auto* options_ptr = section.get("options");
    section.reject_unknown_keys();
    const nlohmann::json options = options_ptr ? *options_ptr : nlohmann::json::object();
    if (!options.is_object()) throw InputError("simulator.options: expected an object, got " + json_type_description(options));
    const auto& builtin = find_builtin_simulator(name, "simulator.name");
    model.simulator = builtin.make(options, "simulator.options");
    model.prior = spec.prior ? spec.prior : builtin.default_prior(options);
  }
  const auto p = model.simulator.parameter_dim();
  if (const std::string misfit = prior_misfit(*model.prior, model.simulator); !misfit.empty()) throw InputError("prior: " + misfit);
  if (!spec.observation_names.empty()) {
    const ObservationFile file{spec.observation_names, *spec.observation};
    const std::string where = "observation.file (" + spec.observation_file.string() + ")";
    try {
      model.observation = match_observation(file, model.simulator.info().data_names, where);
    } catch (const InputError& e) {
      if (spec.has_external_simulator() && !spec.simulator.contains("data_names"))
        throw InputError(std::string(e.what()) + " (name the external simulator's outputs with simulator.data_names)");
      throw;
    }
  } else {
    model.observation = spec.observation;
  }
  if (model.observation && static_cast<std::size_t>(model.observation->size()) != model.simulator.data_dim())
    throw InputError("observation: has " + std::to_string(model.observation->size()) + " values but simulator \"" +
                     model.simulator.name() + "\" produces " + std::to_string(model.simulator.data_dim()));
  if (spec.true_parameters && static_cast<std::size_t>(spec.true_parameters->size()) != p)
    throw InputError("true_parameters: has " + std::to_string(spec.true_parameters->size()) + " values but the simulator takes " +
                     std::to_string(p));
  return model;
}

Vector read_observation_for(const Simulator& simulator, const std::string& file) {
  // Matched by the header, as the spec's observation file is: a file whose columns come in another
  // order than the simulator's data gives the same observation.
  return read_observation_csv(file, simulator.info().data_names);
}

InferenceProblem problem_from_spec(const Spec& spec, const std::string& observation_file) {
  SpecModel model = build_spec_model(spec);
  InferenceProblem problem;
  problem.simulator = model.simulator;
  problem.prior = model.prior;
  if (!observation_file.empty()) problem.observation = read_observation_for(model.simulator, observation_file);
  else problem.observation = model.observation;
  problem.spec = spec.document;
  problem.failure_policy = spec.failure_policy;
  problem.max_redraws = spec.max_redraws;
  return problem;
}

InferenceProblem problem_from_table_spec(const Spec& spec, const TableMetadata& table, const std::string& observation_file) {
  if (!spec.prior) throw InputError("prior: missing (required without a simulator: it names the parameters, the table's θ columns)");
  if (table.parameter_names != spec.prior->names())
    throw InputError("prior: names the parameters " + joined_names(spec.prior->names()) + " but the table's are " + joined_names(table.parameter_names));
  InferenceProblem problem;
  problem.prior = spec.prior;
  const std::string data = "the table's data columns " + joined_names(table.data_names);
  if (!observation_file.empty()) {
    problem.observation = read_observation_csv(observation_file, table.data_names);
  } else if (!spec.observation_names.empty()) {
    problem.observation = match_observation({spec.observation_names, *spec.observation}, table.data_names,
                                            "observation.file (" + spec.observation_file.string() + ")");
  } else if (spec.observation) {
    if (static_cast<std::size_t>(spec.observation->size()) != table.data_names.size())
      throw InputError("observation: has " + std::to_string(spec.observation->size()) + " values but " + data + " are " +
                       std::to_string(table.data_names.size()));
    problem.observation = spec.observation;
  }
  if (spec.true_parameters && static_cast<std::size_t>(spec.true_parameters->size()) != spec.prior->dim())
    throw InputError("true_parameters: has " + std::to_string(spec.true_parameters->size()) + " values but the prior has " +
                     std::to_string(spec.prior->dim()) + " parameters");
  problem.spec = spec.document;
  problem.failure_policy = spec.failure_policy;
  problem.max_redraws = spec.max_redraws;
  return problem;
}

ImportedTable load_spec_table(const Spec& spec, const std::filesystem::path& path) {
  if (is_sbi_table_file(path)) return {read_table(path), 0};
  if (spec.has_simulator())
    throw InputError(path.string() + ": not a table written by sbi++ (sbi simulate); a CSV of simulations made elsewhere can only be "
                     "trained on by a spec without a simulator (remove \"simulator\"), since nothing ties its rows to this one");
  if (!spec.prior) throw InputError("prior: missing (required without a simulator: its parameter names pick the θ columns of " + path.string() + ")");
  return import_csv_simulations(path, *spec.prior);
}

std::filesystem::path spec_table_path(const Spec& spec) {
  const std::string table = JsonObjectReader(spec.inference, "inference").optional_string("table", "");
  if (table.empty()) return {};
  return spec.directory / table;  // an absolute name replaces the folder
}

}  // namespace sbi::simulators
