#pragma once
// Sequential neural likelihood and ratio estimation for one observation y_o (registered as "snle"
// and "snre"; Papamakarios et al. 2019, Hermans et al. 2020, Durkan et al. 2020): the budget is
// spent in rounds, round 1 from the prior and every later round from the current posterior
// estimate, so that the simulations concentrate where the posterior is.
//
//   round 1:        θ ~ π,                      simulate, fit the surrogate on all rows so far
//   round r > 1:    θ ~ p̂_{r−1}(θ | y_o) (MCMC), simulate, fit again on all rows so far
//
// Neither surrogate needs a correction for the proposal: NLE's q(y | θ) is a conditional density
// whatever the θ it was fitted on, and a ratio classifier trained on pairs from any proposal p̃
// learns p(y | θ)/p̃(y), whose denominator does not depend on θ, so π(θ)·exp r(θ, y_o) is still
// the posterior up to a constant. NLE and NRE continue from the last round's weights (their
// standardisation is refitted to all rows, the optimiser starts afresh); SNRE can retrain from
// scratch instead ("retrain_from_scratch").
//
// Budget: `simulations` in total, split evenly over `rounds` (the first rounds take the remainder).
// Simulation indices run on across rounds (round r starts where round r − 1 ended) and each row's
// stream depends on (seed, index) alone, so the run is the same for any thread count. Round r's
// proposal draws come from MCMC seeded by stream_seed(seed, r, 0x5e9).
//
//   "inference": {"method": "snle", "simulations": 10000, "rounds": 5, "mcmc": {...}, <NLE's keys>}
#include "sbi/core/error.hpp"
#include "sbi/inference/nle.hpp"
#include "sbi/inference/nre.hpp"
#include "sbi/optim/training_loop.hpp"
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/runner.hpp"
#include "sbi/simulation/simulator.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sbi {

struct SequentialSettings {
  int rounds = 5;  // at least 1 (1 = the amortised method at this budget, for this observation)
  bool is_valid(std::string* why = nullptr) const;
};

struct SnleOptions {
  NleOptions nle{NleOptions::default_single_estimator(), {}};  // one estimator through the rounds
  SequentialSettings sequential;
  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;  // NLE's keys plus "rounds"
  static SnleOptions from_json(const nlohmann::json& section, const std::string& path = "inference");
};

struct SnreOptions {
  NreOptions nre;
  SequentialSettings sequential;
  // Key "retrain_from_scratch": each round's classifier from fresh weights instead of the last
  // round's. Continuing is the default: at 10^4 it ran 2-4x faster on the six sbibm tasks, with a mean
  // C2ST as good or slightly better on five and worse on slcp (.893 against .867; bench/RESULTS.md,
  // "SNRE continuing from the last round's classifier").
  bool retrain_from_scratch = false;
  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;  // NRE's keys plus "rounds" and "retrain_from_scratch"
  static SnreOptions from_json(const nlohmann::json& section, const std::string& path = "inference");
};

// What the rounds did: the rows (with their round), the simulations spent, the time.
struct SequentialRecord {
  RowMatrix theta, y;
  std::vector<int> round_of_row;          // 0-based round of each kept row
  std::vector<std::uint64_t> index_of_row;  // simulation index of each kept row
  std::vector<std::size_t> simulations;   // simulations spent per round (failures included)
  std::vector<std::string> proposals;     // per round: what its parameters were drawn from ("prior", ...)
  std::vector<double> round_seconds;      // wall time per round (simulating, sampling, training)
  std::size_t failed = 0;                 // simulations dropped (failed or non-finite)
  bool interrupted = false;
  int resumed_rounds = 0;                 // rounds read back from the checkpoint folder
  double seconds = 0;
  nlohmann::json to_json() const;         // per-round counts and times (not the rows)
};

// The common inputs of a sequential run.
struct SequentialProblem {
  Simulator simulator;
  PriorPtr prior;
  Vector observation;
  std::size_t simulations = 0;   // total budget
  std::uint64_t seed = 1;
  int threads = 0;
  FailurePolicy failure_policy = FailurePolicy::drop;  // redraw acts as drop after round 1
  int max_redraws = 100;
  // Optional: a folder that keeps the finished rounds so that an interrupted run resumes (see
  // run_sequential_rounds; every sequential method). Empty = nothing kept.
  std::filesystem::path checkpoint{};
};

// Runs SNLE; the last round's fit is returned and `record` says what happened. Throws InputError for
// invalid options or when a round keeps fewer than 2 rows; callbacks.stop ends the run after the
// step in progress (the fit so far is returned, record.interrupted set; before the first fit: an
// empty optional).
std::optional<NleFit> run_snle(const SequentialProblem& problem, const SnleOptions& options, SequentialRecord& record,
                               const TrainingCallbacks& callbacks = {});
std::optional<NreFit> run_snre(const SequentialProblem& problem, const SnreOptions& options, SequentialRecord& record,
                               const TrainingCallbacks& callbacks = {});

// ---- The rounds themselves, for the sequential methods (SNLE, SNRE, SNPE, SLFVI).
// Round 0 draws from the prior; round r ≥ 1 asks `propose(r, n)` for n parameter rows (inside the
// prior's support; rows whose unconstrained value is not finite are dropped and counted as failed)
// and a description of the proposal, recorded per round. After each round's simulations `fit(r)` fits
// on record.theta/record.y (all rows so far) and returns false when interrupted.
struct RoundProposal {
  RowMatrix theta;
  std::string description;
};
using ProposeRound = std::function<RoundProposal(int round, std::size_t n)>;
using FitRound = std::function<bool(int round)>;

// Resuming. With problem.checkpoint set and `state` given, each finished round k (simulated and
// fitted) leaves in that folder:
//   round_<k>.sbt   the round's rows as a reference table (sbi/simulation/table.hpp) whose metadata
//                   says, under "sequential", the method, the round and its proposal; the simulation
//                   indices run on from the previous round's, so the rounds' tables together hold
//                   every simulation once;
//   state.bin       the fit after round k (state.save; bit for bit);
//   rounds.json     written last (atomically): the run's identity and, per finished round, its
//                   simulations, failures, time and proposal.
// A run whose folder holds finished rounds of the same run (same identity: method and options,
// simulator, prior, observation, budget, seed, rounds) reads their tables, restores the fit
// (state.load) and continues with the next round; nothing finished is simulated again, and the
// result is the same, bit for bit, as the uninterrupted run's. A round interrupted before its fit
// finished is not kept: its simulations are run again (the same parameters and streams, so the same
// rows). A folder from another run is refused (InputError naming the first difference).
struct RoundState {
  std::function<void(const std::filesystem::path& file)> save;
  // JSON and InputError problems while loading become a FileError naming the file.
  std::function<void(const std::filesystem::path& file)> load;
  nlohmann::json identity;  // the method and its options
  // Optional: a small part of the fit kept in rounds.json itself (SNRE's standardisation), written
  // and read with the file above.
  std::function<nlohmann::json()> save_json;
  std::function<void(const nlohmann::json&)> load_json;
};

void run_sequential_rounds(const SequentialProblem& problem, const SequentialSettings& settings, SequentialRecord& record,
                           const TrainingCallbacks& callbacks, const ProposeRound& propose, const FitRound& fit,
                           const RoundState* state = nullptr);

// Splits "rounds" off a method's options section (the rest goes to the method's own parser).
std::pair<nlohmann::json, SequentialSettings> split_sequential_settings(const nlohmann::json& section, const std::string& path);

// Moves `keys` (those present) from `rest` into the object returned: a sequential method's own keys,
// read by its own reader, before the rest goes to the amortised method's.
nlohmann::json take_keys(nlohmann::json& rest, const std::vector<std::string>& keys);

// Runs `parse`, the amortised method's reader of what is left of a sequential method's section at
// `path`. The user wrote one section, so an unknown key there is reported with the sequential
// method's own keys ("rounds" and `own_keys`) among the known ones.
template <class Parse>
auto read_amortised_options(const std::string& path, std::vector<std::string> own_keys, Parse&& parse) {
  try {
    return parse();
  } catch (const UnknownKeyError& error) {
    if (error.object_path() != path) throw;
    own_keys.push_back("rounds");
    throw error.with_known(own_keys);
  }
}

}  // namespace sbi
