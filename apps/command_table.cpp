// sbi table check TABLE | sbi table repair TABLE [-o OUT]: is a reference table intact, and keep what
// is intact of a damaged one.
#include "apps/cli.hpp"

#include "sbi/core/error.hpp"
#include "sbi/simulation/table.hpp"

#include <cstdio>
#include <iostream>

namespace sbi::cli {

namespace {

constexpr const char* kUsage = "sbi table check TABLE | sbi table repair TABLE [-o OUT]";

int run_table(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("action", po::value<std::string>(), "check: read the whole table and report; repair: keep its intact rows")
      ("table", po::value<std::string>(), "the table (.csv or .sbt)")
      ("output,o", po::value<std::string>(), "repair: where to write the repaired table (default: replace TABLE)");
  po::positional_options_description positional;
  positional.add("action", 1).add("table", 1);
  po::variables_map vm;
  if (!parse_command_line(args, kUsage, options, positional, vm)) return kExitOk;
  if (!vm.count("action") || !vm.count("table")) throw po::error(std::string("an action and a table are required: ") + kUsage);
  const std::string action = vm["action"].as<std::string>();
  const std::filesystem::path table = vm["table"].as<std::string>();

  if (action == "check") {
    if (vm.count("output")) throw po::error("-o is for repair");
    const ReferenceTable t = read_table(table);
    const auto& m = t.metadata;
    std::printf("%s: intact, %lld rows; simulator %s (options %s), seed %llu, next index %llu; %zu failed, %zu non-finite, "
                "%zu dropped, %zu redrawn; format version %d\n",
                table.string().c_str(), static_cast<long long>(t.rows()), m.simulator.c_str(),
                m.simulator_options_hash.empty() ? "not hashed" : m.simulator_options_hash.c_str(),
                static_cast<unsigned long long>(m.seed), static_cast<unsigned long long>(m.next_index), m.failed, m.non_finite,
                m.dropped, m.redraws, m.format_version);
    return kExitOk;
  }
  if (action == "repair") {
    const std::filesystem::path output = vm.count("output") ? vm["output"].as<std::string>() : table.string();
    const TableRecovery recovery = recover_table(table, output);
    std::printf("%s: %s\n", output.string().c_str(), recovery.brief_report().c_str());
    return kExitOk;
  }
  throw po::error("unknown action \"" + action + "\": " + kUsage);
}

}  // namespace

Command table_command() {
  return {"table", "check a reference table, or repair a damaged one (keeps the intact rows)",
          [](const std::vector<std::string>& args) { return run_guarded("table", [&] { return run_table(args); }); }};
}

}  // namespace sbi::cli
