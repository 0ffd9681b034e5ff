#pragma once
// Reports of a calibration run (sbi/diagnostics/calibration.hpp): JSON, Markdown and PNG pictures
// (through gnuplot; without gnuplot the JSON and Markdown are complete and say which pictures are
// missing and how to draw them later).
//
//   sbi::CalibrationReportFiles files = sbi::write_calibration_report(result, "out/", "two_moons, NPE");
//
// Files written into `folder` (created if needed; each written atomically):
//   calibration.json   CalibrationResult::to_json() (per-draw ranks included)
//   calibration.md     verdict, what passed, tables, pictures, the rules used
//   coverage.png       expected coverage of HPD regions vs the credibility level, with the band a
//                      calibrated posterior stays within with probability 1 − s (simultaneous over the
//                      levels) and the per-parameter central-interval coverage
//   sbc_ranks.png      one rank histogram per parameter, with the band a uniform histogram stays within
//                      with probability ≥ 1 − s (simultaneous over the bins: Bonferroni) and the
//                      pointwise 1 − s band (dashed)
//   tarp.png           TARP's expected coverage probability vs α, with the KS band (simultaneous)
//   plot/              the pictures' data and gnuplot scripts (`gnuplot plot/coverage.gp` redraws one)
// Pictures of checks that were not run are not drawn.
#include "sbi/diagnostics/calibration.hpp"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace sbi {

struct CalibrationReportFiles {
  std::filesystem::path json, markdown;
  std::vector<std::string> pictures;  // PNG file names drawn (relative to the folder)
  std::vector<std::string> notes;     // one sentence per picture not drawn, and why
};

CalibrationReportFiles write_calibration_report(const CalibrationResult& result, const std::filesystem::path& folder,
                                                const std::string& title = "");

// The pieces, for callers that assemble their own report.
// Writes the data and scripts into folder/plot and draws the PNGs; names of the drawn pictures go to
// `drawn`, the returned notes say what could not be drawn.
std::vector<std::string> write_calibration_plots(const CalibrationResult& result, const std::filesystem::path& folder,
                                                 std::vector<std::string>& drawn);
// The Markdown report; `pictures` are linked where they belong, `notes` listed at the end.
std::string calibration_markdown(const CalibrationResult& result, const std::string& title,
                                 const std::vector<std::string>& pictures, const std::vector<std::string>& notes);

// For comparing methods (`sbi compare`): a Markdown table with one row per labelled result (verdict,
// coverage at 0.5/0.9/0.95, worst coverage deviation, SBC's smallest p, TARP's D and p, time) and a
// picture with one coverage curve per result. Results may come from different N. The picture's note
// is returned ("" when drawn).
std::string calibration_comparison_markdown(const std::vector<std::pair<std::string, const CalibrationResult*>>& results);
std::string write_coverage_comparison_plot(const std::vector<std::pair<std::string, const CalibrationResult*>>& results,
                                           const std::filesystem::path& folder, const std::string& png = "coverage_comparison.png");

}  // namespace sbi
