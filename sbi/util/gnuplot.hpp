#pragma once
// Drawing PNG pictures with gnuplot (gnuplot-nox is a dependency of the project's pictures, not of the
// library): the caller writes the data and a script; run_gnuplot() runs it and says in one sentence
// what happened when no picture came out, so that reports stay complete without gnuplot.
//
//   write_file_atomically(folder / "plot/coverage.gp", script);   // script writes 'coverage.png.part'
//   std::string note = run_gnuplot(folder, "plot/coverage.gp", "coverage.png");
//   if (!note.empty()) report << note;                             // e.g. "gnuplot was not found, ..."
//
// The program is $SBI_GNUPLOT when set (tests point it at a missing file), else `gnuplot` on the PATH.
#include <filesystem>
#include <string>

namespace sbi {

// 'text' quoted for a gnuplot script (single quotes, a quote doubled).
std::string gnuplot_quote(const std::string& text);

// The gnuplot program to run ($SBI_GNUPLOT or "gnuplot") and whether it answers `--version`.
std::string gnuplot_program();
bool gnuplot_available();

// Runs the script `script` (a path relative to `folder`) with `folder` as the working directory. The
// script must write `<png>.part` (relative to folder); on success it is renamed to `png`. Returns ""
// when the picture was drawn, else a note for the report: gnuplot missing (with the install command
// and how to draw the picture later from the data already written) or failed (with its log, kept
// next to the script as <script>.log).
std::string run_gnuplot(const std::filesystem::path& folder, const std::string& script, const std::string& png);

}  // namespace sbi
