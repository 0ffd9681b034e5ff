// Calibration checks (SBC, expected coverage of HPD regions, TARP) of a posterior against its
// simulator: sbi::run_calibration (sbi/diagnostics/calibration.hpp) and its report files.
#include "python/src/call_context.hpp"
#include "python/src/common.hpp"
#include "python/src/handles.hpp"
#include "sbi/core/error.hpp"
#include "sbi/diagnostics/calibration.hpp"
#include "sbi/diagnostics/calibration_report.hpp"

namespace sbipp {

namespace {

py::tuple run_calibration(const sbi::Posterior& posterior, const sbi::Simulator& simulator, const PriorHandle& prior, const py::object& options,
                          py::object progress) {
  const sbi::CalibrationOptions parsed =
      sbi::CalibrationOptions::from_json(options.is_none() ? nlohmann::json::object() : to_json(options, "options"), "options");
  CallContext context(std::move(progress));
  sbi::CalibrationResult result;
  {
    py::gil_scoped_release release;
    result = prior ? sbi::run_calibration(posterior, simulator, *prior, parsed, context.callbacks())
                   : sbi::run_calibration(posterior, simulator, parsed, context.callbacks());
  }
  context.rethrow_pending();
  const bool interrupted = context.interrupted() || result.interrupted;
  return py::make_tuple(std::move(result), interrupted);
}

}  // namespace

void bind_calibration(py::module_& m) {
  py::class_<sbi::CalibrationResult>(m, "CalibrationResult", R"(What sbipp.calibrate found: the verdict ("calibrated", "over-confident",
"under-confident", "miscalibrated", "inconclusive") from SBC, expected coverage and TARP on N prior-predictive draws.

brief_report(), plain_summary(), full_report(), to_dict() (everything, per-draw ranks included),
save(folder) (calibration.json, calibration.md and, with gnuplot, the pictures).)")
      .def_property_readonly("verdict", [](const sbi::CalibrationResult& r) { return sbi::to_string(r.verdict); })
      .def_readonly("verdict_reason", &sbi::CalibrationResult::verdict_reason)
      .def_property_readonly("passed", &sbi::CalibrationResult::passed)
      .def_readonly("draws", &sbi::CalibrationResult::draws)
      .def_readonly("interrupted", &sbi::CalibrationResult::interrupted)
      .def_property_readonly("resolution", &sbi::CalibrationResult::resolution,
                             "Half-width of the coverage band at level 0.5: smaller deviations go unnoticed at this N.")
      .def_property_readonly("coverage_levels", [](const sbi::CalibrationResult& r) { return r.coverage ? r.coverage->levels : std::vector<double>{}; })
      .def_property_readonly("coverage", [](const sbi::CalibrationResult& r) { return r.coverage ? r.coverage->observed : std::vector<double>{}; },
                             "Share of draws whose θ* lies in the c-HPD region, per level of coverage_levels (empty when not run).")
      .def_property_readonly("sbc_p_values",
                             [](const sbi::CalibrationResult& r) {
                               py::dict out;
                               for (const auto& s : r.sbc) out[py::str(s.parameter)] = s.ranks.chi_square_p;
                               return out;
                             })
      .def("brief_report", &sbi::CalibrationResult::brief_report)
      .def("plain_summary", &sbi::CalibrationResult::plain_summary)
      .def("full_report", &sbi::CalibrationResult::full_report)
      .def("to_dict", [](const sbi::CalibrationResult& r) { return from_json(r.to_json()); })
      .def(
          "save",
          [](const sbi::CalibrationResult& r, const std::filesystem::path& folder, const std::string& title) {
            sbi::CalibrationReportFiles files;
            {
              py::gil_scoped_release release;
              files = sbi::write_calibration_report(r, folder, title);
            }
            py::dict out;
            out["json"] = files.json;
            out["markdown"] = files.markdown;
            out["pictures"] = files.pictures;
            out["notes"] = files.notes;
            return out;
          },
          py::arg("folder"), py::arg("title") = "", "Writes calibration.json, calibration.md and the pictures; returns what was written.")
      .def("__repr__", [](const sbi::CalibrationResult& r) { return "<sbipp.CalibrationResult " + r.brief_report() + ">"; });
  m.def("run_calibration", &run_calibration, py::arg("posterior"), py::arg("simulator"), py::arg("prior"), py::arg("options"), py::arg("progress"),
        "(result, interrupted); see sbipp.calibrate.");
}

}  // namespace sbipp
