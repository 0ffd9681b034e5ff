// Reference tables (the files `sbi simulate` writes and reads) and simulating one from the prior.
#include "python/src/call_context.hpp"
#include "python/src/common.hpp"
#include "python/src/handles.hpp"
#include "sbi/core/error.hpp"
#include "sbi/simulation/imported_table.hpp"
#include "sbi/simulation/table.hpp"
#include "sbi/workflows/prior_table.hpp"

#include <optional>

namespace sbipp {

namespace {

using TableHandle = std::shared_ptr<sbi::ReferenceTable>;

py::dict summary_dict(const sbi::SimulationSummary& summary) {
  py::dict d;
  d["requested"] = summary.requested;
  d["kept"] = summary.kept;
  d["failed"] = summary.failed;
  d["non_finite"] = summary.non_finite;
  d["dropped"] = summary.dropped;
  d["redraws"] = summary.redraws;
  d["next_index"] = summary.next_index;
  d["interrupted"] = summary.interrupted;
  d["seconds"] = summary.seconds;
  d["first_failure"] = summary.first_failure;
  d["brief"] = summary.brief_report();
  return d;
}

TableHandle table_from_arrays(const DoubleArray& theta, const DoubleArray& y, const sbi::Names& parameter_names, const sbi::Names& data_names,
                              const std::string& simulator, const py::object& simulator_options, std::uint64_t seed,
                              const std::optional<SeedArray>& indices) {
  auto table = std::make_shared<sbi::ReferenceTable>();
  table->theta = to_row_matrix(theta, "theta", static_cast<std::ptrdiff_t>(parameter_names.size()));
  table->y = to_row_matrix(y, "y", static_cast<std::ptrdiff_t>(data_names.size()));
  if (table->theta.rows() != table->y.rows())
    throw sbi::InputError("theta has " + std::to_string(table->theta.rows()) + " rows but y has " + std::to_string(table->y.rows()));
  const auto rows = static_cast<std::size_t>(table->theta.rows());
  if (indices) {
    if (indices->ndim() != 1 || static_cast<std::size_t>(indices->shape(0)) != rows)
      throw sbi::InputError("indices: expected one simulation index per row (" + std::to_string(rows) + ")");
    table->indices.assign(indices->data(), indices->data() + rows);
    for (std::size_t r = 1; r < rows; ++r)
      if (table->indices[r] <= table->indices[r - 1]) throw sbi::InputError("indices: expected increasing simulation indices (row " + std::to_string(r) + ")");
  } else {
    for (std::size_t r = 0; r < rows; ++r) table->indices.push_back(r);
  }
  auto& metadata = table->metadata;
  metadata.simulator = simulator;
  metadata.simulator_options = simulator_options.is_none() ? nlohmann::json::object() : to_json(simulator_options, "simulator_options");
  metadata.seed = seed;
  metadata.next_index = rows ? table->indices.back() + 1 : 0;
  metadata.parameter_names = parameter_names;
  metadata.data_names = data_names;
  return table;
}

}  // namespace

void bind_tables(py::module_& m) {
  py::class_<sbi::ReferenceTable, TableHandle>(m, "Table", R"(A reference table: simulated (θ, y) rows with their simulation indices, the seed and the simulator.

table.theta and table.y are read-only NumPy views; table.save("t.csv") / ("t.sbt") writes the files of
`sbi simulate` (CSV or binary, both exact), sbipp.load_table(path) reads them. Table.from_arrays(...)
makes one from your own simulations.)")
      .def_static("from_arrays", &table_from_arrays, py::arg("theta"), py::arg("y"), py::arg("parameter_names"), py::arg("data_names"),
                  py::arg("simulator") = "", py::arg("simulator_options") = py::none(), py::arg("seed") = 0, py::arg("indices") = py::none())
      .def_static(
          "load", [](const std::filesystem::path& path) { return std::make_shared<sbi::ReferenceTable>(sbi::read_table(path)); }, py::arg("path"),
          "Reads a table file (CSV or binary .sbt).")
      .def_static(
          "import_csv",
          [](const std::filesystem::path& path, const PriorHandle& prior) {
            if (!prior) throw sbi::InputError("prior: missing (its parameter names pick the θ columns)");
            sbi::ImportedTable imported = sbi::import_csv_simulations(path, *prior);
            return py::make_tuple(std::make_shared<sbi::ReferenceTable>(std::move(imported.table)), imported.dropped);
          },
          py::arg("path"), py::arg("prior"),
          "(table, rows dropped): a plain CSV of simulations made elsewhere; see sbipp.load_table.")
      .def_static("is_table_file", &sbi::is_sbi_table_file, py::arg("path"), "True for a file written as an sbi++ table (either format).")
      .def_property_readonly("theta",
                             [](py::object self) {
                               const auto& t = self.cast<const sbi::ReferenceTable&>();
                               return read_only_view(t.theta.data(), t.theta.rows(), t.theta.cols(), self);
                             })
      .def_property_readonly("y",
                             [](py::object self) {
                               const auto& t = self.cast<const sbi::ReferenceTable&>();
                               return read_only_view(t.y.data(), t.y.rows(), t.y.cols(), self);
                             })
      .def_property_readonly("indices",
                             [](const sbi::ReferenceTable& t) {
                               py::array_t<std::uint64_t> out(static_cast<py::ssize_t>(t.indices.size()));
                               std::copy(t.indices.begin(), t.indices.end(), out.mutable_data());
                               return out;
                             })
      .def_property_readonly("rows", &sbi::ReferenceTable::rows)
      .def_property_readonly("parameter_names", [](const sbi::ReferenceTable& t) { return t.metadata.parameter_names; })
      .def_property_readonly("data_names", [](const sbi::ReferenceTable& t) { return t.metadata.data_names; })
      .def_property_readonly("simulator", [](const sbi::ReferenceTable& t) { return t.metadata.simulator; })
      .def_property_readonly("seed", [](const sbi::ReferenceTable& t) { return t.metadata.seed; })
      .def_property_readonly("metadata", [](const sbi::ReferenceTable& t) { return from_json(t.metadata.to_json()); })
      .def(
          "save",
          [](const sbi::ReferenceTable& t, const std::filesystem::path& path, const std::optional<std::string>& format) {
            const sbi::TableFormat f = format ? sbi::table_format_from_string(*format) : sbi::table_format_for_path(path);
            py::gil_scoped_release release;
            sbi::write_table(t, path, f);
          },
          py::arg("path"), py::arg("format") = py::none(), "Writes the table (format \"csv\" or \"bin\"; default from the name: .sbt/.bin = binary).")
      .def(
          "head",
          [](const sbi::ReferenceTable& t, Eigen::Index rows) {
            if (rows < 0) throw py::value_error("rows: expected a count ≥ 0");
            auto copy = std::make_shared<sbi::ReferenceTable>(t);
            copy->truncate(rows);
            return copy;
          },
          py::arg("rows"), "A copy holding the first `rows` rows.")
      .def("__len__", [](const sbi::ReferenceTable& t) { return t.rows(); })
      .def("__repr__", [](const sbi::ReferenceTable& t) {
        return "<sbipp.Table: " + std::to_string(t.rows()) + " rows of \"" + t.metadata.simulator + "\" (" + std::to_string(t.theta.cols()) +
               " parameters, " + std::to_string(t.y.cols()) + " data), seed " + std::to_string(t.metadata.seed) + ">";
      });

  m.def(
      "simulate_prior_table",
      [](const sbi::Simulator& simulator, const PriorHandle& prior, std::size_t n, std::uint64_t seed, int threads, const std::string& failure_policy,
         int max_redraws, const std::filesystem::path& write_to, py::object progress) {
        if (!prior) throw sbi::InputError("prior: missing");
        sbi::PriorTableSettings settings;
        settings.simulations = n;
        settings.seed = seed;
        settings.threads = threads;
        settings.failure_policy = sbi::failure_policy_from_string(failure_policy);
        settings.max_redraws = max_redraws;
        settings.write_to = write_to;
        CallContext context(std::move(progress));
        sbi::PriorTableRun run;
        {
          py::gil_scoped_release release;
          run = sbi::simulate_prior_table(simulator, *prior, settings, context.callbacks());
        }
        context.rethrow_pending();
        return py::make_tuple(std::make_shared<sbi::ReferenceTable>(std::move(run.table)), summary_dict(run.summary), context.interrupted());
      },
      py::arg("simulator"), py::arg("prior"), py::arg("n"), py::arg("seed"), py::arg("threads"), py::arg("failure_policy"), py::arg("max_redraws"),
      py::arg("write_to"), py::arg("progress"), "(table, summary, interrupted); see sbipp.simulate.");
}

}  // namespace sbipp
