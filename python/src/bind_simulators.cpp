// Simulators (built-in by name, a Python function on a batch, an external process) and specs.
#include "python/src/call_context.hpp"
#include "python/src/common.hpp"
#include "python/src/handles.hpp"
#include "python/src/python_simulator.hpp"
#include "python/src/spec_handle.hpp"
#include "sbi/core/error.hpp"
#include "sbi/simulation/runner.hpp"
#include "simulators/external_process.hpp"
#include "simulators/from_spec.hpp"
#include "simulators/registry.hpp"

#include <set>

namespace sbipp {

namespace {

// Column names: a list of strings, or a count n for "<stem>_1" .. "<stem>_n".
sbi::Names column_names(const py::object& given, const std::string& stem, const std::string& what) {
  sbi::Names names;
  if (py::isinstance<py::int_>(given)) {
    const auto n = given.cast<long long>();
    if (n < 1) throw sbi::InputError(what + ": expected at least one column, got " + std::to_string(n));
    for (long long i = 1; i <= n; ++i) names.push_back(stem + "_" + std::to_string(i));
  } else {
    names = given.cast<sbi::Names>();
  }
  if (names.empty()) throw sbi::InputError(what + ": expected at least one name");
  std::set<std::string> seen;
  for (const auto& name : names) {
    if (name.empty()) throw sbi::InputError(what + ": a name is empty");
    if (!seen.insert(name).second) throw sbi::InputError(what + ": \"" + name + "\" appears twice");
  }
  return names;
}

sbi::Simulator python_simulator(py::function function, const py::object& parameter_names, const py::object& data_names, const std::string& name,
                                const py::object& options) {
  if (name.empty()) throw sbi::InputError("name: expected a non-empty name");
  sbi::SimulatorInfo info;
  info.name = name;
  info.parameter_names = column_names(parameter_names, "theta", "parameter_names");
  info.data_names = column_names(data_names, "y", "data_names");
  info.options = options.is_none() ? nlohmann::json::object() : to_json(options, "options");
  return sbi::Simulator(std::make_shared<PythonSimulator>(std::move(function), std::move(info)));
}

py::array_t<double> simulate_given(const sbi::Simulator& simulator, const DoubleArray& theta, std::uint64_t seed, std::uint64_t first_index, int threads,
                                   const std::string& failure_policy) {
  const sbi::RowMatrix rows = to_row_matrix(theta, "theta", static_cast<std::ptrdiff_t>(simulator.parameter_dim()), true);
  sbi::SimulationOptions options;
  options.threads = threads;
  options.failure_policy = sbi::failure_policy_from_string(failure_policy);
  std::vector<sbi::SimulationOutcome> outcomes;
  sbi::RowMatrix y;
  {
    py::gil_scoped_release release;
    y = sbi::simulate_given(simulator, rows, seed, first_index, options, &outcomes);
  }
  // A failed simulation is a row of NaN (the library leaves such rows undefined).
  for (std::size_t r = 0; r < outcomes.size(); ++r)
    if (!outcomes[r].ok()) y.row(static_cast<Eigen::Index>(r)).setConstant(std::numeric_limits<double>::quiet_NaN());
  return to_numpy(std::move(y));
}

std::string simulator_repr(const sbi::Simulator& simulator) {
  auto list = [](const sbi::Names& names) {
    std::string text;
    for (const auto& n : names) text += (text.empty() ? "" : ", ") + n;
    return text;
  };
  return "<sbipp.Simulator \"" + simulator.name() + "\": (" + list(simulator.info().parameter_names) + ") -> (" + list(simulator.info().data_names) +
         ")>";
}

}  // namespace

void bind_simulators(py::module_& m) {
  py::class_<sbi::Simulator>(m, "Simulator", R"(A simulator: a Python function on a batch, a built-in one, or an external program.

Simulator(f, parameter_names, data_names, name="python") wraps y = f(theta, seeds): theta a float64
array (n, P), seeds a uint64 array (n,) with the seed of each row's own stream, y an array (n, D).
Row r must draw its randomness from seeds[r] alone (sbipp.normals(seeds, k), sbipp.Rng(seeds[r]) or
numpy.random.default_rng(seeds[r])): then a table is the same for the same seed, whatever the batch
sizes. A row with NaN or inf is a failed simulation (the failure policy applies); an exception
stops the run and is raised. Names may be given as counts (2 -> theta_1, theta_2).

Simulator.builtin("two_moons") is a built-in simulator (sbipp.builtin_simulators() lists them),
Simulator.external({"command": [...], ...}, prior) a program speaking the line protocol of
simulators/external_process.hpp.)")
      .def(py::init(&python_simulator), py::arg("function"), py::arg("parameter_names"), py::arg("data_names"), py::arg("name") = "python",
           py::arg("options") = py::none())
      .def_static(
          "builtin",
          [](const std::string& name, const py::dict& options) {
            return sbi::simulators::find_builtin_simulator(name, "name").make(to_json(options, "options"), "options");
          },
          py::arg("name"), py::arg("options") = py::dict(), "A built-in simulator by name with its options (errors name the option).")
      .def_static(
          "external",
          [](const py::dict& section, const std::shared_ptr<sbi::Prior>& prior, std::size_t data_dim, const std::filesystem::path& directory) {
            if (!prior) throw sbi::InputError("prior: an external simulator needs the prior (it names the parameters)");
            return sbi::simulators::make_external_simulator(to_json(section, "simulator"), "simulator", *prior, data_dim, directory);
          },
          py::arg("section"), py::arg("prior"), py::arg("data_dim") = 0, py::arg("directory") = std::filesystem::path("."),
          "An external program, from a spec's \"simulator\" section ({\"command\": [...], \"workers\": 2, ...}).")
      .def_property_readonly("name", &sbi::Simulator::name)
      .def_property_readonly("parameter_names", [](const sbi::Simulator& s) { return s.info().parameter_names; })
      .def_property_readonly("data_names", [](const sbi::Simulator& s) { return s.info().data_names; })
      .def_property_readonly("parameter_dim", &sbi::Simulator::parameter_dim)
      .def_property_readonly("data_dim", &sbi::Simulator::data_dim)
      .def_property_readonly("thread_safe", &sbi::Simulator::thread_safe)
      .def_property_readonly("options", [](const sbi::Simulator& s) { return from_json(s.info().options); })
      .def("simulate", &simulate_given, py::arg("theta"), py::arg("seed") = 1, py::arg("first_index") = 0, py::arg("threads") = 0,
           py::arg("failure_policy") = "drop",
           "y for given θ (rows): row r is simulation first_index + r of a run with `seed`. Failed simulations are rows of NaN "
           "(failure_policy \"fail\" raises SimulationError instead).")
      .def("__repr__", &simulator_repr);

  m.def(
      "builtin_simulators",
      [] {
        py::list out;
        for (const auto& entry : sbi::simulators::builtin_simulators()) out.append(py::make_tuple(entry.name, entry.description));
        return out;
      },
      "(name, description) of every built-in simulator.");

  py::class_<SpecHandle, std::shared_ptr<SpecHandle>>(m, "Spec", R"(A JSON spec, as `sbi` reads it: simulator, prior, observation, seed, inference settings.

sbipp.load_spec("spec.json") or sbipp.load_spec({...dict...}); errors name the JSON path.)")
      .def_static(
          "load",
          [](const std::filesystem::path& path, const std::string& observation_file) {
            return std::make_shared<SpecHandle>(sbi::read_spec(path), observation_file);
          },
          py::arg("path"), py::arg("observation_file") = "")
      .def_static(
          "from_dict",
          [](const py::dict& document, const std::filesystem::path& directory, const std::string& observation_file) {
            return std::make_shared<SpecHandle>(sbi::parse_spec(to_json(document, "spec"), directory), observation_file);
          },
          py::arg("document"), py::arg("directory") = std::filesystem::path("."), py::arg("observation_file") = "")
      .def_property_readonly("simulator", [](const SpecHandle& s) -> py::object { return s.problem.simulator ? py::cast(s.problem.simulator) : py::none(); },
                             "The simulator, or None for a spec that trains on simulations made elsewhere (see table).")
      .def_property_readonly("table", [](const SpecHandle& s) -> py::object { return s.table ? py::cast(s.table) : py::none(); },
                             "A spec without a simulator: the table its inference.table names (read when the spec was loaded); else None.")
      .def_property_readonly("table_source", [](const SpecHandle& s) { return s.table_source; })
      .def_property_readonly("dropped_rows", [](const SpecHandle& s) { return s.dropped_rows; },
                             "Rows of that table left out for NaN or infinite data (failed simulations).")
      .def_property_readonly("prior", [](const SpecHandle& s) { return prior_handle(s.problem.prior); })
      .def_property_readonly("observation",
                             [](const SpecHandle& s) -> py::object { return s.problem.observation ? py::object(to_numpy(*s.problem.observation)) : py::none(); })
      .def_property_readonly("true_parameters",
                             [](const SpecHandle& s) -> py::object { return s.spec.true_parameters ? py::object(to_numpy(*s.spec.true_parameters)) : py::none(); })
      .def_property_readonly("seed", [](const SpecHandle& s) { return s.spec.seed; })
      .def_property_readonly("method", [](const SpecHandle& s) { return sbi::spec_method(s.spec); }, "inference.method, else npe (as sbi infer).")
      .def_property_readonly("simulations", [](const SpecHandle& s) { return sbi::spec_simulations(s.spec, 20); },
                             "inference.simulations, else 10000 (at least 20, as sbi infer).")
      .def_property_readonly("inference", [](const SpecHandle& s) { return from_json(s.spec.inference); })
      .def_property_readonly("failure_policy", [](const SpecHandle& s) { return sbi::to_string(s.spec.failure_policy); })
      .def_property_readonly("max_redraws", [](const SpecHandle& s) { return s.spec.max_redraws; })
      .def_property_readonly("output_samples", [](const SpecHandle& s) { return s.spec.output_samples; })
      .def_property_readonly("description", [](const SpecHandle& s) { return s.spec.description; })
      .def_property_readonly("directory", [](const SpecHandle& s) { return s.spec.directory; })
      .def_property_readonly("document", [](const SpecHandle& s) { return from_json(s.spec.document); })
      .def("__repr__", [](const SpecHandle& s) {
        const std::string source = s.problem.simulator ? "simulator \"" + s.problem.simulator.name() + "\"" : "table " + s.table_source;
        return "<sbipp.Spec: " + source + ", method " + sbi::spec_method(s.spec) + ">";
      });
}

}  // namespace sbipp
