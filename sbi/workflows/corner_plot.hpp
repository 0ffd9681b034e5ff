#pragma once
// The corner plot of `sbi compare`: pairwise scatter plots of several sample sets (a random subset of
// 400 draws each) under the diagonal, marginal histograms on it, one colour per set, drawn by gnuplot.
#include "sbi/core/types.hpp"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace sbi {

// Writes folder/plot/<label>_points.dat, <label>_hist.dat and corner.gp, then draws folder/corner.png.
// Returns an empty string on success, else a note for the report (sbi/util/gnuplot.hpp).
std::string make_corner_plot(const std::filesystem::path& folder, const Names& names,
                             const std::vector<std::pair<std::string, const RowMatrix*>>& sets, std::uint64_t seed);

// A fixed colour per known method name ("reference" black); grey for others.
std::string colour_of(const std::string& name);

}  // namespace sbi
