#include "cli_runner.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>
#include <string>

using namespace sbi::testing;

namespace {

// Runs `sbi --version` with SBI_KERNELS set to `value` (unset for nullopt), restoring it after.
CliResult version_with_kernels(const std::optional<std::string>& value) {
  const char* old = std::getenv("SBI_KERNELS");
  const std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
  if (value) ::setenv("SBI_KERNELS", value->c_str(), 1);
  else ::unsetenv("SBI_KERNELS");
  CliResult result = run_cli("--version");
  if (saved) ::setenv("SBI_KERNELS", saved->c_str(), 1);
  else ::unsetenv("SBI_KERNELS");
  return result;
}

}  // namespace

TEST_CASE("sbi --version names the network kernels, SBI_KERNELS pins one or is reported as wrong", "[cli][kernels]") {
  const auto automatic = version_with_kernels(std::nullopt);
  CHECK(automatic.exit_code == 0);
  CHECK_THAT(automatic.out, Catch::Contains("network kernels: ") && Catch::Contains("(supported here: portable"));
  const auto pinned = version_with_kernels("portable");
  CHECK_THAT(pinned.out, Catch::Contains("network kernels: portable (supported here: portable"));
  const auto unknown = version_with_kernels("sse9");
  CHECK(unknown.exit_code == 0);
  CHECK_THAT(unknown.out, Catch::Contains("none chosen") && Catch::Contains("SBI_KERNELS=sse9"));
}
