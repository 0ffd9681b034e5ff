#pragma once
// Deterministic mutation fuzzing of the readers that take files from outside: specs, CSV files,
// reference tables, network files and saved posteriors.
//
// A target turns one input (bytes) into a call of the reader. Inputs come from a corpus of valid
// files made by the library itself, mutated by byte-level operations chosen by an sbi::Rng stream
// (seed, case): the same seed gives the same cases on every machine. Optionally the mutated input is
// "resealed" (its checksums recomputed), so that the reader gets past its integrity checks and its
// parsing behind them is exercised too.
//
// Success for a case: the reader returns, or throws sbi::InputError, FileError or SimulationError.
// Anything else (another exception, a crash, a sanitizer report) is a defect; the input is saved
// under tests/fuzz/regressions/<target>/ and replayed by a fast test from then on.
#include "sbi/random/rng.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace sbi::fuzz {

struct FuzzTarget {
  std::string name;
  std::vector<std::string> corpus;                      // valid inputs to mutate
  std::function<void(const std::string& input)> run;    // calls the reader; may throw sbi errors
  std::function<std::string(std::string)> reseal;       // recomputes checksums (or returns as is)
  // How an input is mutated (default: sbi::fuzz::mutate on the whole input).
  std::function<std::string(const std::string&, const std::vector<std::string>&, Rng&)> mutate_input = {};
};

// The targets, with corpora written by the library into `scratch` (an empty folder they own).
std::vector<FuzzTarget> fuzz_targets(const std::filesystem::path& scratch);

// One mutated input: 1 to 4 stacked byte-level mutations, sometimes a splice with another corpus
// entry.
std::string mutate(const std::string& input, const std::vector<std::string>& corpus, Rng& rng);

// Packs a folder's files into one input ("name\0<size as 8 bytes>content" per file) and back. unpack
// returns false for input that is not such a pack (the case is then skipped).
std::string pack_folder(const std::filesystem::path& folder);
bool unpack_folder(const std::string& input, const std::filesystem::path& folder);

enum class Outcome { accepted, refused, defect };

struct CaseResult {
  Outcome outcome = Outcome::accepted;
  std::string what;  // the exception's message (a refusal's or a defect's)
};

// Runs one input through a target, classifying the result. Before the call, a crash handler is armed
// that saves the input to `regressions/<target>/crash-<checksum>` if the process dies in the reader.
CaseResult run_case(const FuzzTarget& target, const std::string& input, const std::filesystem::path& regressions);

// Saves an input as a regression case; returns its path.
std::filesystem::path save_regression(const std::filesystem::path& regressions, const std::string& target, const std::string& kind,
                                      const std::string& input);

}  // namespace sbi::fuzz
