#pragma once
// Simulations made elsewhere (another program, a cluster job, a colleague's CSV) as a reference
// table, so that the table methods (npe, nle, nre, lfvi, mmd, rejection ABC) can train on them
// without a simulator.
//
//   alpha,beta,x_1,x_2            a header naming every column, then one row per simulation;
//   0.52,0.11,30.2,12.5           the prior's parameter names pick the θ columns (in the prior's
//   ...                           order), an optional "index" column the simulation indices, and
//                                 every other column is data, in the file's order.
//
//   sbi::ImportedTable imported = sbi::import_csv_simulations("sims.csv", prior);
//   // imported.table: θ, y, indices 0..n−1 (or the file's); metadata.simulator is empty and
//   // metadata.simulator_options = {"imported_from": "sims.csv"}
//
// A row whose data hold NaN or ±inf is a failed simulation: dropped and counted (as the "drop"
// failure policy does). Anything else that cannot be trained on is an InputError naming the file,
// the line and the column: a missing parameter column, a repeated or empty column name, no data
// column, a non-numeric cell, a θ that is not finite or lies outside the prior's support, indices
// that are not increasing whole numbers.
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/table.hpp"

#include <filesystem>

namespace sbi {

struct ImportedTable {
  ReferenceTable table;
  std::size_t dropped = 0;  // rows with non-finite data
};

ImportedTable import_csv_simulations(const std::filesystem::path& path, const Prior& prior);

}  // namespace sbi
