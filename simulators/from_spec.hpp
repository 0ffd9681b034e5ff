#pragma once
// Turns a spec's "simulator" and "prior" sections into a Simulator and its prior.
#include "sbi/spec/spec.hpp"
#include "sbi/simulation/simulator.hpp"
#include "sbi/simulation/imported_table.hpp"
#include "sbi/simulation/table.hpp"
#include "sbi/workflows/run.hpp"

#include <filesystem>
#include <string>

namespace sbi::simulators {

struct SpecModel {
  Simulator simulator;
  PriorPtr prior;
  // The spec's observation in the simulator's data order: a list as given, a file's columns matched
  // to the data names by its header (sbi::match_observation). Empty when the spec has none.
  std::optional<Vector> observation;
};

// Built-in simulators use the spec's prior or, when it has none, the task's own. An external
// simulator needs a prior in the spec (its parameter names come from there). Checks that the
// observation and the true parameters have the simulator's dimensions, and matches an observation
// file's columns to the data names (a missing or extra name is an InputError naming it).
SpecModel build_spec_model(const Spec& spec);

// The inference problem a spec describes: simulator, prior, observation (the spec's, or the CSV file
// `observation_file` when not empty: a header naming the data columns and one row), failure policy,
// and the spec itself for provenance.
InferenceProblem problem_from_spec(const Spec& spec, const std::string& observation_file = {});

// The problem of a spec without a simulator that trains on `table` (simulations made elsewhere):
// the spec's prior (required; its names must be the table's parameter names) and observation (the
// spec's, or `observation_file` when not empty) matched to the table's data names. InputError
// naming the spec field that does not fit.
InferenceProblem problem_from_table_spec(const Spec& spec, const TableMetadata& table, const std::string& observation_file = {});

// A table to train on for `spec`: one written by sbi++ (read_table), or, for a spec without a
// simulator, a plain CSV of simulations made elsewhere imported with the spec's prior naming its θ
// columns (sbi/simulation/imported_table.hpp). A plain CSV with a spec that has a simulator is an
// InputError: nothing ties its rows to that simulator.
ImportedTable load_spec_table(const Spec& spec, const std::filesystem::path& path);

// The path of the spec's "inference": {"table": ...} resolved against the spec's folder; empty when
// the spec names none.
std::filesystem::path spec_table_path(const Spec& spec);

// The observation in `file` for `simulator` (header + one row), its columns matched to the data names by
// the header; InputError naming a missing or unknown column.
Vector read_observation_for(const Simulator& simulator, const std::string& file);

}  // namespace sbi::simulators
