#include "sbi/util/gnuplot.hpp"

#include <cstdlib>
#include <system_error>

namespace sbi {

namespace {

// 'text' quoted for /bin/sh: a single quote becomes '\''.
std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::string gnuplot_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string gnuplot_program() {
  const char* configured = std::getenv("SBI_GNUPLOT");
  return configured && *configured ? configured : "gnuplot";
}

bool gnuplot_available() {
  const std::string probe = shell_quote(gnuplot_program()) + " --version >/dev/null 2>&1";
  return std::system(probe.c_str()) == 0;
}

std::string run_gnuplot(const std::filesystem::path& folder, const std::string& script, const std::string& png) {
  if (!gnuplot_available())
    return "gnuplot was not found, so there is no " + png + ": install gnuplot-nox (apt-get install gnuplot-nox), then run `gnuplot " +
           script + "` in this folder (the plot data is already there).";
  const std::filesystem::path part = folder / (png + ".part");
  std::error_code ignored;
  std::filesystem::remove(part, ignored);
  const std::string command = "cd " + shell_quote(folder.string()) + " && " + shell_quote(gnuplot_program()) + " " +
                              shell_quote(script) + " >" + shell_quote(script + ".log") + " 2>&1";
  if (std::system(command.c_str()) != 0 || !std::filesystem::exists(part))
    return "gnuplot failed to draw " + png + " (see " + script + ".log in this folder)";
  std::filesystem::rename(part, folder / png);
  return "";
}

}  // namespace sbi
