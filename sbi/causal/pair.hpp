#pragma once
// A cause-effect pair: two numeric columns x and y with one sample per row, read from a CSV file
// (header line, then rows), plus the helpers every method shares (standardising, min-max scaling,
// seeded subsampling).
#include "sbi/core/types.hpp"

#include <cstdint>
#include <filesystem>
#include <string>

namespace sbi::causal {

struct CausePair {
  std::string name;   // file stem ("pair0001") or a label
  Vector x, y;        // same length, finite, neither constant
};

// Reads the first two columns of a CSV file. Throws sbi::InputError naming the file (and the row for
// non-numeric or non-finite cells) when there are fewer than two columns, fewer than `min_rows`
// rows, a cell that is not a finite number, or a constant column.
CausePair read_pair(const std::filesystem::path& path, Eigen::Index min_rows = 10);

// Checks a pair built in memory with the same rules (lengths agree, finite, not constant).
void validate_pair(const CausePair& pair, Eigen::Index min_rows = 10);

// (v - mean) / sd with the population sd.
Vector standardise(const Vector& v);

// FNV-1a over the bytes of x's values, then y's: 16 hex digits naming the data whatever the file is
// called, so that a meta-model can record which pairs it was trained on and a benchmark can tell.
std::string pair_checksum(const CausePair& pair);
// (v - min) / (max - min), into [0, 1].
Vector min_max_scale(const Vector& v);

// At most `cap` rows chosen without replacement from Rng::stream(seed, 0, 0x5ab5) (order kept);
// the pair itself when it has no more than cap rows or cap == 0.
CausePair subsample(const CausePair& pair, Eigen::Index cap, std::uint64_t seed);

}  // namespace sbi::causal
