// Diagnostics: C2ST (the sbibm protocol), MMD², per-parameter summaries.
#include "python/src/common.hpp"
#include "sbi/diagnostics/c2st.hpp"
#include "sbi/diagnostics/summaries.hpp"
#include "sbi/io/csv.hpp"

namespace sbipp {

void bind_diagnostics(py::module_& m) {
  py::class_<sbi::C2stResult>(m, "C2stResult", "A C2ST result: accuracy (0.5 = indistinguishable, 1 = separable) and the folds.")
      .def_readonly("accuracy", &sbi::C2stResult::accuracy)
      .def_property_readonly("fold_accuracies", &sbi::C2stResult::fold_accuracies)
      .def_readonly("n_reference", &sbi::C2stResult::n_reference)
      .def_readonly("n_samples", &sbi::C2stResult::n_samples)
      .def_readonly("dropped_reference", &sbi::C2stResult::dropped_reference)
      .def_readonly("dropped_samples", &sbi::C2stResult::dropped_samples)
      .def_readonly("seconds", &sbi::C2stResult::seconds)
      .def("brief_report", &sbi::C2stResult::brief_report)
      .def("full_report", &sbi::C2stResult::full_report)
      .def("to_dict", [](const sbi::C2stResult& r) { return from_json(r.to_json()); })
      .def("__float__", [](const sbi::C2stResult& r) { return r.accuracy; })
      .def("__repr__", [](const sbi::C2stResult& r) { return "<sbipp.C2stResult " + r.brief_report() + ">"; });
  m.def(
      "c2st",
      [](const DoubleArray& reference, const DoubleArray& samples, const py::object& options) {
        const sbi::RowMatrix x = to_row_matrix(reference, "reference");
        const sbi::RowMatrix y = to_row_matrix(samples, "samples", x.cols());
        const sbi::C2stOptions parsed = sbi::C2stOptions::from_json(options.is_none() ? nlohmann::json::object() : to_json(options, "options"));
        py::gil_scoped_release release;
        return sbi::c2st_test(x, y, parsed);
      },
      py::arg("reference"), py::arg("samples"), py::arg("options") = py::none());

  py::class_<sbi::MmdResult>(m, "MmdResult", "MMD² between two sample sets and the Gaussian kernel's bandwidth.")
      .def_readonly("mmd2", &sbi::MmdResult::mmd2)
      .def_readonly("bandwidth", &sbi::MmdResult::bandwidth)
      .def("__float__", [](const sbi::MmdResult& r) { return r.mmd2; })
      .def("__repr__", [](const sbi::MmdResult& r) {
        return "<sbipp.MmdResult mmd2=" + py::repr(py::float_(r.mmd2)).cast<std::string>() + " bandwidth=" + py::repr(py::float_(r.bandwidth)).cast<std::string>() + ">";
      });
  m.def(
      "mmd",
      [](const DoubleArray& x, const DoubleArray& y, double bandwidth, bool unbiased, Eigen::Index max_samples) {
        const sbi::RowMatrix a = to_row_matrix(x, "x");
        const sbi::RowMatrix b = to_row_matrix(y, "y", a.cols());
        sbi::MmdOptions options;
        options.bandwidth = bandwidth;
        options.unbiased = unbiased;
        options.max_samples = max_samples;
        py::gil_scoped_release release;
        return sbi::mmd2(a, b, options);
      },
      py::arg("x"), py::arg("y"), py::arg("bandwidth") = 0.0, py::arg("unbiased") = true, py::arg("max_samples") = 5000,
      "MMD² with a Gaussian kernel; bandwidth ≤ 0 = the median pairwise distance within x (sbibm's choice); max_samples rows of each (0 = all).");

  m.def(
      "summary_table",
      [](const DoubleArray& samples, const sbi::Names& names, const std::optional<DoubleArray>& truth) {
        const sbi::RowMatrix s = to_row_matrix(samples, "samples", static_cast<std::ptrdiff_t>(names.size()));
        std::optional<sbi::Vector> t;
        if (truth) t = to_vector(*truth, "truth", static_cast<std::ptrdiff_t>(names.size()));
        return sbi::format_summary_table(sbi::summarise(s, names), t ? &*t : nullptr);
      },
      py::arg("samples"), py::arg("names"), py::arg("truth") = py::none(),
      "The table `sbi infer` prints: mean, sd, 2.5 %, 50 %, 97.5 % per parameter (and the true value when given).");

  // The CSV files of samples and observations the CLI reads and writes (header line, numeric rows).
  m.def(
      "read_csv",
      [](const std::filesystem::path& path, const std::optional<sbi::Names>& names) {
        sbi::CsvTable table = sbi::read_csv(path);
        if (!names) return py::make_tuple(table.header, to_numpy(std::move(table.values)));
        sbi::RowMatrix values = sbi::columns_in_order(table, *names, path.string(), "names");
        return py::make_tuple(*names, to_numpy(std::move(values)));
      },
      py::arg("path"), py::arg("names") = py::none(),
      "(header, values) of a numeric CSV file as `sbi` reads it (errors name the line and column). With names, the columns come\n"
      "in their order, as `sbi diagnose` matches them: reordered by name when the header holds the same names, taken in order\n"
      "when it holds none of them (sbibm's LaTeX names), an error when it names one at another position.");
  m.def(
      "write_csv",
      [](const std::filesystem::path& path, const sbi::Names& header, const DoubleArray& values) {
        sbi::write_csv(path, header, to_row_matrix(values, "values", static_cast<std::ptrdiff_t>(header.size()), true));
      },
      py::arg("path"), py::arg("header"), py::arg("values"), "Writes a CSV as `sbi` does (shortest round-trip numbers; atomic).");
}

}  // namespace sbipp
