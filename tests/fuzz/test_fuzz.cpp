// Mutation fuzzing of the readers (see fuzz_targets.hpp): the long seeded run (slow suite), a short
// run of the same harness, and the replay of every saved regression input (fast suite).
#include "fuzz_targets.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace sbi;
using namespace sbi::fuzz;
namespace fs = std::filesystem;

namespace {

const fs::path kRegressions = fs::path(SBI_TEST_DIR) / "fuzz" / "regressions";
constexpr std::uint64_t kSeed = 20261203;

// Scratch files on a memory file system when there is one: the table target writes a repaired
// table per case (synced to disk), which tmpfs makes free.
fs::path scratch_dir(const std::string& name) {
  const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  auto dir = base / ("sbi_fuzz_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

struct Tally {
  std::size_t cases = 0, accepted = 0, refused = 0, defects = 0;
  std::vector<std::string> saved;
};

// `cases` seeded cases of one target: case k draws from Rng::stream(kSeed, k, target index).
Tally fuzz(const FuzzTarget& target, std::size_t target_index, std::size_t cases) {
  Tally tally;
  for (const auto& entry : target.corpus) {  // the corpus itself must be accepted
    const auto result = run_case(target, entry, kRegressions);
    INFO(target.name << " corpus entry: " << result.what);
    CHECK(result.outcome == Outcome::accepted);
  }
  for (std::size_t k = 0; k < cases; ++k) {
    Rng rng = Rng::stream(kSeed, k, target_index);
    const std::string& base = target.corpus[rng.below(target.corpus.size())];
    std::string input = target.mutate_input ? target.mutate_input(base, target.corpus, rng) : mutate(base, target.corpus, rng);
    if (rng.below(2) == 0) input = target.reseal(std::move(input));
    const auto result = run_case(target, input, kRegressions);
    ++tally.cases;
    if (result.outcome == Outcome::accepted) ++tally.accepted;
    if (result.outcome == Outcome::refused) ++tally.refused;
    if (result.outcome == Outcome::defect) {
      ++tally.defects;
      const auto path = save_regression(kRegressions, target.name, "exception", input);
      if (tally.saved.size() < 5) tally.saved.push_back(path.string() + ": " + result.what);
    }
  }
  return tally;
}

std::size_t cases_per_target(std::size_t fallback) {
  // SBI_FUZZ_CASES overrides the count per target (a longer search; same seeds, more cases).
  if (const char* text = std::getenv("SBI_FUZZ_CASES")) return static_cast<std::size_t>(std::strtoull(text, nullptr, 10));
  return fallback;
}

void run_all(std::size_t cases, const std::string& scratch_name) {
  const auto scratch = scratch_dir(scratch_name);
  const auto targets = fuzz_targets(scratch);
  for (const auto& target : targets) fs::create_directories(kRegressions / target.name);  // for the crash handler
  std::size_t total = 0;
  for (std::size_t t = 0; t < targets.size(); ++t) {
    const Tally tally = fuzz(targets[t], t, cases);
    total += tally.cases;
    INFO("target " << targets[t].name);
    for (const auto& s : tally.saved) INFO("saved " << s);
    CHECK(tally.defects == 0);
    // Both outcomes occur, or the mutations are not reaching the reader.
    CHECK(tally.accepted > 0);
    CHECK(tally.refused > 0);
    WARN(targets[t].name << ": " << tally.cases << " cases, " << tally.accepted << " accepted, " << tally.refused << " refused, "
                         << tally.defects << " defects");
  }
  WARN(total << " fuzz cases in all");
  fs::remove_all(scratch);
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("fuzzing: 100,000 seeded mutations of specs, CSV files, tables, networks and posteriors", "[fuzz][.slow]") {
  run_all(cases_per_target(20000), "long");  // 5 targets × 20,000
}

TEST_CASE("fuzzing: a short seeded run of every target", "[fuzz]") { run_all(150, "short"); }

TEST_CASE("fuzzing: every saved regression input is refused or read, never a crash", "[fuzz]") {
  const auto scratch = scratch_dir("replay");
  const auto targets = fuzz_targets(scratch);
  std::size_t replayed = 0;
  for (const auto& target : targets) {
    const auto folder = kRegressions / target.name;
    if (!fs::is_directory(folder)) continue;
    std::vector<fs::path> inputs;
    for (const auto& entry : fs::directory_iterator(folder))
      if (entry.is_regular_file()) inputs.push_back(entry.path());
    std::sort(inputs.begin(), inputs.end());
    for (const auto& path : inputs) {
      const auto result = run_case(target, read_bytes(path), kRegressions);
      INFO(path.string() << ": " << result.what);
      CHECK(result.outcome != Outcome::defect);
      ++replayed;
    }
  }
  CHECK(replayed > 0);
  fs::remove_all(scratch);
}
