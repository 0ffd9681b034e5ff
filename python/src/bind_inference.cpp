// The method registry, running a method (sbi::run_method), the Posterior value, loading a saved
// posterior, and comparing methods (sbi::compare_methods). Methods are reached through the
// registry only, so a newly registered method is available here without a change.
#include "models/implicit_posterior.hpp"
#include "models/methods.hpp"
#include "models/resampled_posterior.hpp"
#include "python/src/call_context.hpp"
#include "python/src/common.hpp"
#include "python/src/handles.hpp"
#include "sbi/core/error.hpp"
#include "sbi/workflows/compare.hpp"
#include "sbi/workflows/run.hpp"

#include <optional>

namespace sbipp {

namespace {

using TableHandle = std::shared_ptr<sbi::ReferenceTable>;

py::object optional_vector(const std::optional<sbi::Vector>& v) { return v ? py::object(to_numpy(*v)) : py::object(py::none()); }

py::dict method_dict(const sbi::Method& method) {
  py::dict d;
  d["name"] = method.name;
  d["summary"] = method.summary;
  d["needs"] = method.needs == sbi::MethodNeeds::table ? "table" : "simulator";
  d["amortized"] = method.amortized;
  return d;
}

py::dict info_dict(const sbi::PosteriorInfo& info) {
  py::dict d;
  d["kind"] = info.kind;
  d["method"] = info.method;
  d["amortized"] = info.amortized;
  d["observation"] = optional_vector(info.observation);
  d["has_log_prob"] = info.has_log_prob;
  d["log_prob_normalized"] = info.log_prob_normalized;
  d["options"] = from_json(info.options);
  d["provenance"] = from_json(info.provenance.to_json());
  return d;
}

// (draws or None, interrupted): MCMC kinds report to `progress` and stop on Ctrl-C, with no samples
// kept; sbipp's Posterior.sample raises Interrupted then.
py::tuple sample_posterior(const sbi::Posterior& posterior, const DoubleArray& observation, Eigen::Index n, std::uint64_t seed,
                           std::optional<int> refine, py::object progress) {
  const sbi::Vector y = to_vector(observation, "observation", static_cast<std::ptrdiff_t>(posterior.data_dim()));
  if (n < 1) throw sbi::InputError("n: expected a positive number of samples, got " + std::to_string(n));
  sbi::check_observation(y, posterior.data_names());
  const auto* implicit = posterior.model_as<sbi::models::ImplicitPosterior>();
  if (refine && !implicit) throw sbi::InputError("refine: applies to implicit-generator posteriors (lfvi, mmd) only");
  CallContext context(std::move(progress));
  sbi::RowMatrix draws;
  bool stopped = false;
  try {
    py::gil_scoped_release release;
    // As `sbi sample`: implicit generators with their saved refinement setting unless told otherwise.
    draws = implicit ? implicit->sample(y, n, seed, refine.value_or(-1), nullptr) : posterior.sample(y, n, seed, context.callbacks());
  } catch (const sbi::Interrupted&) {
    stopped = true;
  }
  context.rethrow_pending();
  if (stopped) return py::make_tuple(py::none(), true);
  return py::make_tuple(to_numpy(std::move(draws)), false);
}

py::tuple run_method(const std::string& name, const py::object& options, const PriorHandle& prior, const std::optional<sbi::Simulator>& simulator,
                     const TableHandle& table, const std::optional<DoubleArray>& observation, const py::object& spec_document,
                     const std::string& failure_policy, int max_redraws, std::size_t simulations, std::uint64_t seed, int threads,
                     const std::string& table_source, const std::filesystem::path& write_table_to, const std::string& options_path,
                     py::object progress) {
  const sbi::Method& method = sbi::builtin_methods().at(name);
  const nlohmann::json json_options = options.is_none() ? nlohmann::json::object() : to_json(options, options_path);
  // Bad options fail here, named under `options_path`, before anything is simulated.
  sbi::parse_method_options(method, json_options, options_path);
  if (!prior) throw sbi::InputError("prior: missing");

  sbi::InferenceProblem problem;
  problem.prior = prior;
  if (simulator) problem.simulator = *simulator;
  if (observation) {
    const std::ptrdiff_t d = table ? table->y.cols() : simulator ? static_cast<std::ptrdiff_t>(simulator->data_dim()) : -1;
    problem.observation = to_vector(*observation, "observation", d);
  }
  if (!spec_document.is_none()) problem.spec = to_json(spec_document, "spec");
  problem.failure_policy = sbi::failure_policy_from_string(failure_policy);
  problem.max_redraws = max_redraws;

  sbi::RunSettings settings;
  settings.simulations = simulations;
  settings.seed = seed;
  settings.threads = threads;
  settings.table = table.get();
  settings.table_source = table_source;
  settings.write_table_to = write_table_to;

  CallContext context(std::move(progress));
  sbi::MethodRun run;
  {
    py::gil_scoped_release release;
    run = sbi::run_method(method, json_options, problem, settings, context.callbacks());
  }
  context.rethrow_pending();
  py::dict details;
  details["simulations"] = run.simulations;
  details["simulation_seconds"] = run.simulation_seconds;
  details["training_seconds"] = run.training_seconds;
  details["simulation"] = run.simulation ? py::object(py::str(run.simulation->brief_report())) : py::object(py::none());
  py::object posterior = run.posterior ? py::cast(run.posterior) : py::none();
  return py::make_tuple(posterior, details, context.interrupted() || run.interrupted);
}

py::dict compared_dict(const sbi::ComparedMethod& m) {
  py::dict d;
  d["name"] = m.name;
  d["summary"] = m.summary;
  d["samples"] = to_numpy(sbi::RowMatrix(m.samples));
  d["simulations"] = m.simulations;
  d["seconds"] = m.seconds;
  d["simulation_seconds"] = m.simulation_seconds;
  d["options"] = from_json(m.options);
  d["diagnostics"] = from_json(m.diagnostics);
  d["c2st"] = m.c2st ? py::object(py::float_(*m.c2st)) : py::object(py::none());
  return d;
}

py::tuple compare_methods(const std::vector<std::pair<std::string, py::object>>& entries, const PriorHandle& prior, const sbi::Simulator& simulator,
                          const DoubleArray& observation, const py::object& spec_document, const std::string& failure_policy, int max_redraws,
                          std::size_t simulations, std::uint64_t seed, int threads, std::size_t samples, const std::optional<DoubleArray>& reference,
                          const std::string& reference_source, const std::string& spec_source, const std::string& observation_source,
                          const std::optional<DoubleArray>& true_parameters, const std::filesystem::path& folder, py::object progress) {
  if (!prior) throw sbi::InputError("prior: missing");
  std::vector<sbi::CompareEntry> compare_entries;
  for (const auto& [name, options] : entries)
    compare_entries.push_back({&sbi::builtin_methods().at(name), options.is_none() ? nlohmann::json::object() : to_json(options, "options." + name)});
  sbi::InferenceProblem problem;
  problem.prior = prior;
  problem.simulator = simulator;
  problem.observation = to_vector(observation, "observation", static_cast<std::ptrdiff_t>(simulator.data_dim()));
  if (!spec_document.is_none()) problem.spec = to_json(spec_document, "spec");
  problem.failure_policy = sbi::failure_policy_from_string(failure_policy);
  problem.max_redraws = max_redraws;
  sbi::CompareSettings settings;
  settings.simulations = simulations;
  settings.seed = seed;
  settings.threads = threads;
  settings.samples = samples;
  if (reference) settings.reference = to_row_matrix(*reference, "reference", static_cast<std::ptrdiff_t>(prior->dim()));
  settings.reference_source = reference_source;
  settings.spec_source = spec_source;
  settings.observation_source = observation_source;
  if (true_parameters) settings.true_parameters = to_vector(*true_parameters, "true_parameters", static_cast<std::ptrdiff_t>(prior->dim()));

  CallContext context(std::move(progress));
  sbi::CompareReport report;
  {
    py::gil_scoped_release release;
    report = sbi::compare_methods(compare_entries, problem, settings, folder, context.callbacks());
  }
  context.rethrow_pending();
  return py::make_tuple(std::move(report), context.interrupted() || report.interrupted);
}

}  // namespace

void bind_inference(py::module_& m) {
  m.def(
      "methods",
      [] {
        py::list out;
        for (const auto& name : sbi::builtin_methods().names()) out.append(method_dict(sbi::builtin_methods().at(name)));
        return out;
      },
      "Every registered method: name, summary, needs (\"table\" or \"simulator\"), amortized.");
  m.def(
      "method_options",
      [](const std::string& name, const py::object& options, const std::string& path) {
        const sbi::Method& method = sbi::builtin_methods().at(name);
        return from_json(sbi::parse_method_options(method, options.is_none() ? nlohmann::json::object() : to_json(options, path), path));
      },
      py::arg("name"), py::arg("options") = py::none(), py::arg("path") = "options",
      "The method's options with every default filled in (errors name the JSON path of a bad one).");
  m.def("run_method", &run_method, py::arg("method"), py::arg("options"), py::arg("prior"), py::arg("simulator"), py::arg("table"),
        py::arg("observation"), py::arg("spec"), py::arg("failure_policy"), py::arg("max_redraws"), py::arg("simulations"), py::arg("seed"),
        py::arg("threads"), py::arg("table_source"), py::arg("write_table_to"), py::arg("options_path"), py::arg("progress"),
        "(posterior or None, details, interrupted); see sbipp.infer.");

  py::class_<sbi::Posterior>(m, "Posterior", R"(A trained posterior, whatever the method: sample, log_prob (when the method has a density), save.

sbipp.load_posterior(folder) reads one saved here or by `sbi infer`; `sbi sample` reads one saved here.)")
      .def("_sample", &sample_posterior, py::arg("observation"), py::arg("n"), py::arg("seed"), py::arg("refine"), py::arg("progress"),
           "(draws or None, interrupted); see Posterior.sample.")
      .def(
          "log_prob",
          [](const sbi::Posterior& posterior, const DoubleArray& theta, const DoubleArray& observation) {
            const sbi::RowMatrix rows = to_row_matrix(theta, "theta", static_cast<std::ptrdiff_t>(posterior.parameter_dim()), true);
            const sbi::Vector y = to_vector(observation, "observation", static_cast<std::ptrdiff_t>(posterior.data_dim()));
            sbi::Vector out;
            {
              py::gil_scoped_release release;
              out = posterior.log_prob(rows, y);
            }
            return to_numpy(out);
          },
          py::arg("theta"), py::arg("observation"), "log q(θ | y) per row of θ (see has_log_prob and log_prob_normalized).")
      .def(
          "save",
          [](const sbi::Posterior& posterior, const std::filesystem::path& folder) {
            py::gil_scoped_release release;
            posterior.save(folder);
          },
          py::arg("folder"), "Writes the posterior folder (posterior.json and the kind's files).")
      .def_property_readonly("kind", &sbi::Posterior::kind)
      .def_property_readonly("method", &sbi::Posterior::method)
      .def_property_readonly("amortized", [](const sbi::Posterior& p) { return p.info().amortized; })
      .def_property_readonly("observation", [](const sbi::Posterior& p) { return optional_vector(p.info().observation); },
                             "The observation a non-amortised posterior was made for (else None).")
      .def_property_readonly("has_log_prob", [](const sbi::Posterior& p) { return p.info().has_log_prob; })
      .def_property_readonly("log_prob_normalized", [](const sbi::Posterior& p) { return p.info().log_prob_normalized; })
      .def_property_readonly("parameter_names", &sbi::Posterior::parameter_names)
      .def_property_readonly("data_names", &sbi::Posterior::data_names)
      .def_property_readonly("prior", [](const sbi::Posterior& p) { return prior_handle(p.prior_ptr()); })
      .def_property_readonly("options", [](const sbi::Posterior& p) { return from_json(p.info().options); })
      .def_property_readonly("provenance", [](const sbi::Posterior& p) { return from_json(p.info().provenance.to_json()); })
      .def_property_readonly("info", [](const sbi::Posterior& p) { return info_dict(p.info()); })
      .def(
          "with_resampling",
          [](const sbi::Posterior& p, std::optional<int> proposals, std::optional<int> moves) {
            const auto* resampled = p.model_as<sbi::models::ImportanceResampledPosterior>();
            if (!resampled)
              throw sbi::InputError("with_resampling: only for importance-resampled posteriors (lfvi with importance_resampling); this one is of kind \"" +
                                    p.kind() + "\"");
            return resampled->with_counts(proposals.value_or(resampled->proposals_per_draw()), moves.value_or(resampled->moves()));
          },
          py::arg("proposals") = py::none(), py::arg("moves") = py::none(),
          "The same flow and target resampled with another number of proposals per draw (2 to 4096) and slice moves after them "
          "(0 to 1000); None keeps the trained value. Nothing is retrained (as `sbi sample --proposals K --moves M`).")
      .def("diagnostics", [](const sbi::Posterior& p) { return from_json(p.diagnostics()); },
           "What the method reports about itself (training: best step, stop reason; ABC: tolerances).")
      .def("__repr__", [](const sbi::Posterior& p) {
        return "<sbipp.Posterior " + p.method() + " (" + p.kind() + "), " + std::to_string(p.parameter_dim()) + " parameters, " +
               std::to_string(p.info().provenance.simulations) + " simulations>";
      });

  m.def(
      "load_posterior",
      [](const std::filesystem::path& folder) {
        py::gil_scoped_release release;
        return sbi::load_posterior(folder);
      },
      py::arg("folder"), "Reads a posterior folder written by Posterior.save or `sbi infer`, whatever its kind.");
  m.def("posterior_kinds", &sbi::posterior_kinds, "The posterior kinds load_posterior reads.");

  py::class_<sbi::CompareReport>(m, "CompareReport", "What sbipp.compare found: per method its draws, C2ST or MMD², simulations and time.")
      .def("brief_report", &sbi::CompareReport::brief_report)
      .def("markdown", &sbi::CompareReport::markdown)
      .def("to_dict", [](const sbi::CompareReport& r) { return from_json(r.to_json()); }, "report.json's content.")
      .def_property_readonly("methods",
                             [](const sbi::CompareReport& r) {
                               py::list out;
                               for (const auto& method : r.methods) out.append(compared_dict(method));
                               return out;
                             })
      .def_property_readonly("samples",
                             [](const sbi::CompareReport& r) {
                               py::dict out;
                               for (const auto& method : r.methods) out[py::str(method.name)] = to_numpy(sbi::RowMatrix(method.samples));
                               return out;
                             })
      .def_property_readonly("c2st",
                             [](const sbi::CompareReport& r) {
                               py::dict out;
                               for (const auto& method : r.methods)
                                 if (method.c2st) out[py::str(method.name)] = *method.c2st;
                               return out;
                             })
      .def_property_readonly("mmd2_between_methods", [](const sbi::CompareReport& r) { return from_json(r.mmd2_between_methods); })
      .def_property_readonly("parameter_names", [](const sbi::CompareReport& r) { return r.parameter_names; })
      .def_property_readonly("interrupted", [](const sbi::CompareReport& r) { return r.interrupted; })
      .def_property_readonly("corner_plot_note", [](const sbi::CompareReport& r) { return r.corner_plot_note; })
      .def_property_readonly("seconds", [](const sbi::CompareReport& r) { return r.seconds; })
      .def("__repr__", [](const sbi::CompareReport& r) { return "<sbipp.CompareReport\n" + r.brief_report() + ">"; });
  m.def("compare_methods", &compare_methods, py::arg("entries"), py::arg("prior"), py::arg("simulator"), py::arg("observation"), py::arg("spec"),
        py::arg("failure_policy"), py::arg("max_redraws"), py::arg("simulations"), py::arg("seed"), py::arg("threads"), py::arg("samples"),
        py::arg("reference"), py::arg("reference_source"), py::arg("spec_source"), py::arg("observation_source"), py::arg("true_parameters"),
        py::arg("folder"), py::arg("progress"), "(report, interrupted); see sbipp.compare.");
}

}  // namespace sbipp
