#pragma once
// A spec as the Python object holds it: the parsed document and the inference problem it describes
// (simulator, prior, observation, failure policy), built once as `sbi infer` builds them.
#include "sbi/core/error.hpp"
#include "sbi/spec/spec.hpp"
#include "sbi/workflows/run.hpp"
#include "simulators/from_spec.hpp"

#include <filesystem>
#include <memory>

#include <string>

namespace sbipp {

struct SpecHandle {
  // `observation_file`: a CSV (header + one row) that replaces the spec's observation, or "". A spec
  // without a simulator reads its "inference": {"table": ...} here (a plain CSV of simulations made
  // elsewhere, or an sbi++ table): its data names are what the observation is matched to.
  SpecHandle(sbi::Spec parsed, const std::string& observation_file) : spec(std::move(parsed)) {
    if (spec.has_simulator()) {
      problem = sbi::simulators::problem_from_spec(spec, observation_file);
      return;
    }
    const std::filesystem::path path = sbi::simulators::spec_table_path(spec);
    if (path.empty())
      throw sbi::InputError("simulator: missing: give a simulator, or train on simulations made elsewhere with \"inference\": "
                            "{\"table\": FILE} (a CSV whose header names the prior's parameters and the data)");
    sbi::ImportedTable imported = sbi::simulators::load_spec_table(spec, path);
    dropped_rows = imported.dropped;
    table = std::make_shared<sbi::ReferenceTable>(std::move(imported.table));
    table_source = path.string();
    problem = sbi::simulators::problem_from_table_spec(spec, table->metadata, observation_file);
  }

  sbi::Spec spec;
  sbi::InferenceProblem problem;
  std::shared_ptr<sbi::ReferenceTable> table;  // the spec's table when it has no simulator
  std::string table_source;
  std::size_t dropped_rows = 0;                // of that table: rows with non-finite data
};

}  // namespace sbipp
