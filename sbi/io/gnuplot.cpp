#include "sbi/io/gnuplot.hpp"

#include <cstdlib>

namespace sbi {

std::string gnuplot_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

namespace {
// 'text' quoted for /bin/sh.
std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}
}  // namespace

std::string run_gnuplot(const std::filesystem::path& folder, const std::string& script, const std::string& output) {
  const char* configured = std::getenv("SBI_GNUPLOT");
  const std::string gnuplot = configured && *configured ? configured : "gnuplot";
  const std::string probe = shell_quote(gnuplot) + " --version >/dev/null 2>&1";
  if (std::system(probe.c_str()) != 0)
    return "gnuplot was not found, so there is no " + output + ": install gnuplot-nox (apt-get install gnuplot-nox), then run `gnuplot " +
           script + "` in this folder (the plot data is already there).";
  const std::filesystem::path log = std::filesystem::path(script).replace_extension(".log");
  const std::string command = "cd " + shell_quote(folder.string()) + " && " + shell_quote(gnuplot) + " " + shell_quote(script) + " >" +
                              shell_quote(log.string()) + " 2>&1";
  const auto part = folder / (output + ".part");
  if (std::system(command.c_str()) != 0 || !std::filesystem::exists(part))
    return "gnuplot failed to draw " + output + " (see " + log.string() + " in this folder)";
  std::filesystem::rename(part, folder / output);
  return {};
}

}  // namespace sbi
