// sbi compare SPEC --methods npe,smc,... --budget N [--reference REF.csv] -o DIR: every method at the
// same simulation budget on the same observation, with a report (sbi/workflows/compare.hpp).
#include "apps/cli.hpp"

#include "models/methods.hpp"
#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/workflows/compare.hpp"
#include "simulators/from_spec.hpp"

#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace sbi::cli {

namespace {

std::vector<std::string> split_methods(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream stream(text);
  std::string item;
  std::set<std::string> seen;
  while (std::getline(stream, item, ',')) {
    if (item.empty()) continue;
    if (!builtin_methods().contains(item)) {
      std::string known;
      for (const auto& n : builtin_methods().names()) known += (known.empty() ? "" : ", ") + n;
      throw po::error("unknown method \"" + item + "\" in --methods (registered: " + known + ")");
    }
    if (!seen.insert(item).second) throw po::error("method \"" + item + "\" is listed twice in --methods");
    out.push_back(item);
  }
  if (out.empty()) throw po::error("--methods lists no method (see sbi infer --list-methods)");
  return out;
}

nlohmann::json parse_json_option(const std::string& flag, const std::string& text) {
  const nlohmann::json value = parse_json_text(text, flag);
  if (!value.is_object()) throw po::error(flag + " must be a JSON object");
  return value;
}

int run_compare(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("spec", po::value<std::string>(), "the JSON spec (simulator, prior, observation; its inference section sets the options of its method)")
      ("methods", po::value<std::string>()->default_value("lfvi,mmd,rejection,smc"), "comma-separated registered methods (sbi infer --list-methods)")
      ("budget", po::value<Count>(), "simulations per method (default: the spec's inference.simulations, else 10000)")
      ("reference,r", po::value<std::string>(), "reference posterior samples (CSV) for C2ST; without it, MMD² between methods")
      ("observation", po::value<std::string>(), "observation CSV (header + one row) instead of the spec's")
      ("table", po::value<std::string>(), "train every method on this table instead of simulating one (a spec without a simulator: a plain CSV "
                                          "of simulations made elsewhere)")
      ("inference", po::value<std::string>(), "JSON object merged over every compared method's options, e.g. '{\"max_iterations\": 2000}'")
      ("options", po::value<std::vector<std::string>>()->composing(), "METHOD=JSON: options of one method, e.g. smc='{\"population\": 500}' (repeatable)")
      ("samples,n", po::value<Count>(), "posterior draws per method (default: the spec's output.samples, 10000)")
      ("output,o", po::value<std::string>(), "report folder")
      ("calibration", po::value<Count>(), "also check each amortised method's calibration on N simulated cases (SBC, coverage, TARP)");
  add_seed_flag(options, "seed (default: the spec's)");
  add_threads_flag(options);
  add_quiet_flag(options);
  po::positional_options_description positional;
  positional.add("spec", 1);
  po::variables_map vm;
  if (!parse_command_line(args, "sbi compare SPEC --methods lfvi,mmd,rejection,smc --budget N [--reference REF.csv] -o DIR", options,
                          positional, vm))
    return kExitOk;
  if (!vm.count("spec")) throw po::error("the spec is required: sbi compare SPEC --methods ... -o DIR");
  if (!vm.count("output")) throw po::error("the report folder is required: -o DIR");
  const auto methods = split_methods(vm["methods"].as<std::string>());
  const bool quiet = quiet_flag(vm);
  const std::filesystem::path folder = vm["output"].as<std::string>();
  const std::string spec_path = vm["spec"].as<std::string>();

  const Spec spec = read_command_spec(spec_path);
  const bool own_observation = vm.count("observation") > 0;
  const std::string observation_file = own_observation ? vm["observation"].as<std::string>() : "";
  std::optional<ReferenceTable> table;
  if (vm.count("table")) {
    if (vm.count("budget")) throw po::error("--budget and --table: the table's rows are the budget");
    table = load_training_table(vm["table"].as<std::string>(), spec);
  }
  if (!spec.has_simulator() && !table)
    throw InputError("simulator: missing: give a simulator, or compare the table methods on simulations made elsewhere with --table FILE");
  const InferenceProblem problem = spec.has_simulator() ? simulators::problem_from_spec(spec, observation_file)
                                                        : simulators::problem_from_table_spec(spec, table->metadata, observation_file);
  if (serve_simulator_if_worker(problem.simulator)) return kExitOk;  // under MPI, a worker rank (apps/main.cpp)

  CompareSettings settings;
  settings.seed = seed_option(vm).value_or(spec.seed);
  settings.threads = threads_flag(vm);
  settings.samples = vm.count("samples") ? count_option(vm, "samples", 2) : spec.output_samples;
  if (vm.count("calibration")) settings.calibration_draws = count_option(vm, "calibration", 1);
  settings.simulations = table ? static_cast<std::size_t>(table->rows()) : vm.count("budget") ? count_option(vm, "budget", 20) : spec_simulations(spec, 20);
  if (table) {
    settings.table = &*table;
    settings.table_source = vm["table"].as<std::string>();
  }
  settings.spec_source = spec_path;
  settings.observation_source = own_observation ? "`" + vm["observation"].as<std::string>() + "`" : "the spec";
  if (!own_observation && spec.true_parameters) settings.true_parameters = spec.true_parameters;
  if (vm.count("reference")) {
    settings.reference_source = vm["reference"].as<std::string>();
    settings.reference = columns_in_order(read_csv(settings.reference_source), problem.prior->names(), settings.reference_source, "the prior");
  }

  // Options per method: the spec's inference section for the spec's own method, defaults for the
  // others; then --inference for all, then --options METHOD=JSON for one.
  const std::string spec_method_name = spec_method(spec);
  const nlohmann::json all_methods = vm.count("inference") ? parse_json_option("--inference", vm["inference"].as<std::string>()) : nlohmann::json::object();
  std::map<std::string, nlohmann::json> per_method;
  if (vm.count("options")) {
    for (const auto& item : vm["options"].as<std::vector<std::string>>()) {
      const auto equals = item.find('=');
      if (equals == std::string::npos) throw po::error("--options expects METHOD=JSON, got \"" + item + "\"");
      const std::string name = item.substr(0, equals);
      if (std::find(methods.begin(), methods.end(), name) == methods.end())
        throw po::error("--options names \"" + name + "\", which is not in --methods");
      per_method[name].merge_patch(parse_json_option("--options " + name, item.substr(equals + 1)));
    }
  }
  std::vector<CompareEntry> entries;
  for (const auto& name : methods) {
    CompareEntry entry;
    entry.method = &builtin_methods().at(name);
    nlohmann::json section = name == spec_method_name ? spec.inference : nlohmann::json::object();
    for (const auto& key : run_level_inference_keys())
      if (key != "seed") section.erase(key);
    section.merge_patch(all_methods);
    if (per_method.count(name)) section.merge_patch(per_method[name]);
    entry.options = section;
    entries.push_back(std::move(entry));
  }

  ProgressDisplay progress(quiet);
  const CompareReport report = compare_methods(entries, problem, settings, folder, progress.callbacks());
  progress.finish();
  std::printf("report written to %s (report.md, report.json%s)\n\n%s", folder.string().c_str(),
              report.corner_plot_note.empty() ? ", corner.png" : "", report.brief_report().c_str());
  if (!report.corner_plot_note.empty()) std::printf("\nnote: %s\n", report.corner_plot_note.c_str());
  return report.interrupted ? kExitInterrupted : kExitOk;
}

}  // namespace

Command compare_command() {
  return {"compare", "run several methods at the same budget and write a comparison report (Markdown, JSON, corner plot)",
          [](const std::vector<std::string>& args) { return run_guarded("compare", [&] { return run_compare(args); }); },
          /*spreads_over_ranks=*/true};
}

}  // namespace sbi::cli
