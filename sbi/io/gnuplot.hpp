#pragma once
// Pictures drawn by gnuplot (Debian gnuplot-nox): the report writers put their data and a script in a
// folder and call run_gnuplot. Without gnuplot the reports still complete and say how to get it.
#include <filesystem>
#include <string>

namespace sbi {

// Runs `gnuplot SCRIPT` in `folder` (the script path relative to it), where the script writes
// `output` + ".part"; on success renames it to `output` (so a PNG is never half-written). Returns an
// empty string on success, else a note for the report (gnuplot missing, or failed: see the log).
// The program is $SBI_GNUPLOT when set, else "gnuplot".
std::string run_gnuplot(const std::filesystem::path& folder, const std::string& script, const std::string& output);

// 'text' quoted for a gnuplot script.
std::string gnuplot_quote(const std::string& text);

}  // namespace sbi
