#pragma once
// Runs the `sbi` program built alongside the tests and captures its output.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace sbi::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

inline std::filesystem::path cli_scratch_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("sbi_cli_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `sbi <arguments>` through the shell (arguments are passed as written).
inline CliResult run_cli(const std::string& arguments) {
  const auto dir = cli_scratch_dir("io");
  const auto out = dir / "stdout.txt";
  const auto err = dir / "stderr.txt";
  const std::string command = std::string("'") + SBI_CLI_PATH + "' " + arguments + " >'" + out.string() + "' 2>'" + err.string() + "' </dev/null";
  const int status = std::system(command.c_str());
  CliResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_text(out);
  result.err = read_text(err);
  std::filesystem::remove_all(dir);
  return result;
}

}  // namespace sbi::testing
