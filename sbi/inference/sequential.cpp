#include "sbi/inference/sequential.hpp"

#include "sbi/core/error.hpp"
#include "sbi/inference/standardization.hpp"
#include "sbi/inference/watched_chains.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/mcmc/unconstrained.hpp"
#include "sbi/nn/serialize.hpp"
#include "sbi/random/rng.hpp"
#include "sbi/simulation/table.hpp"
#include "sbi/util/clock.hpp"

#include <chrono>
#include <fstream>
#include <functional>

namespace sbi {

std::pair<nlohmann::json, SequentialSettings> split_sequential_settings(const nlohmann::json& section, const std::string& path) {
  if (!section.is_object()) throw InputError(path + ": expected an object");
  nlohmann::json rest = section;
  SequentialSettings settings;
  if (const auto it = rest.find("rounds"); it != rest.end()) {
    const nlohmann::json rounds_only = {{"rounds", *it}};
    JsonObjectReader r(rounds_only, path);
    settings.rounds = static_cast<int>(r.optional_integer("rounds", settings.rounds, 1, 1000));
    rest.erase("rounds");
  }
  return {rest, settings};
}

nlohmann::json take_keys(nlohmann::json& rest, const std::vector<std::string>& keys) {
  nlohmann::json taken = nlohmann::json::object();
  for (const auto& key : keys)
    if (const auto it = rest.find(key); it != rest.end()) {
      taken[key] = *it;
      rest.erase(it);
    }
  return taken;
}

namespace {

// Budget of round r (0-based): an even split, the first rounds taking the remainder.
std::size_t round_budget(std::size_t total, int rounds, int r) {
  const auto k = static_cast<std::size_t>(rounds);
  return total / k + (static_cast<std::size_t>(r) < total % k ? 1 : 0);
}

// Appends rows keep[k] of (theta, y), simulation indices indices[keep[k]].
void append_rows(SequentialRecord& record, const RowMatrix& theta, const RowMatrix& y, const std::vector<Eigen::Index>& keep,
                 const std::vector<std::uint64_t>& indices, int round) {
  const Eigen::Index old = record.theta.rows(), add = static_cast<Eigen::Index>(keep.size());
  record.theta.conservativeResize(old + add, theta.cols());
  record.y.conservativeResize(old + add, y.cols());
  for (Eigen::Index k = 0; k < add; ++k) {
    const auto row = keep[static_cast<std::size_t>(k)];
    record.theta.row(old + k) = theta.row(row);
    record.y.row(old + k) = y.row(row);
    record.round_of_row.push_back(round);
    record.index_of_row.push_back(indices[static_cast<std::size_t>(row)]);
  }
}

// ---- The checkpoint folder (see RoundState in the header).

nlohmann::json run_identity(const SequentialProblem& problem, const SequentialSettings& settings, const RoundState& state) {
  const SimulatorInfo& info = problem.simulator.info();
  return {{"method", state.identity},
          {"simulator", problem.simulator.name()},
          {"simulator_options_hash", simulator_options_hash(info)},
          {"prior", problem.prior->to_json()},
          {"observation", std::vector<double>(problem.observation.data(), problem.observation.data() + problem.observation.size())},
          {"simulations", problem.simulations},
          {"seed", problem.seed},
          {"rounds", settings.rounds},
          {"failure_policy", to_string(problem.failure_policy)}};
}

std::string round_table_name(int round) { return "round_" + std::to_string(round) + ".sbt"; }
std::string state_name(int round) { return "state_" + std::to_string(round) + ".bin"; }

// Reads the finished rounds back into `record`; returns how many, and the next simulation index.
int resume_rounds(const SequentialProblem& problem, const nlohmann::json& identity, const RoundState& state, SequentialRecord& record,
                  std::uint64_t& next_index) {
  const auto file = problem.checkpoint / "rounds.json";
  if (!std::filesystem::exists(file)) return 0;
  std::ifstream in(file, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const nlohmann::json saved = parse_json_text(text, file.string());
  if (!saved.contains("identity") || !saved.contains("rounds") || !saved.contains("state"))
    throw FileError(file.string() + ": not a sequential run's record (no identity, rounds or state)");
  const nlohmann::json& theirs = saved.at("identity");
  for (const auto& [key, value] : identity.items())
    if (!theirs.contains(key) || theirs.at(key) != value)
      throw InputError(problem.checkpoint.string() + " holds the rounds of another run (its " + key +
                       " differs); remove the folder or give another one to start afresh");
  int rounds = 0;
  for (const auto& entry : saved.at("rounds")) {
    const int round = entry.at("round").get<int>();
    if (round != rounds) throw FileError(file.string() + ": rounds out of order");
    const ReferenceTable table = read_table(problem.checkpoint / entry.at("table").get<std::string>());
    std::vector<Eigen::Index> all(static_cast<std::size_t>(table.rows()));
    for (Eigen::Index i = 0; i < table.rows(); ++i) all[static_cast<std::size_t>(i)] = i;
    append_rows(record, table.theta, table.y, all, table.indices, round);
    record.simulations.push_back(entry.at("simulations").get<std::size_t>());
    record.proposals.push_back(entry.at("proposal").get<std::string>());
    record.failed += entry.at("failed").get<std::size_t>();
    record.round_seconds.push_back(entry.at("seconds").get<double>());
    next_index = entry.at("next_index").get<std::uint64_t>();
    ++rounds;
  }
  if (rounds > 0) {
    // A kept fit that does not read back is a damaged file, named as such.
    const auto read_from = [](const std::filesystem::path& where, const auto& read) {
      try {
        read();
      } catch (const nlohmann::json::exception& e) {
        throw FileError(where.string() + ": " + e.what());
      } catch (const InputError& e) {
        throw FileError(where.string() + ": " + e.what());
      }
    };
    const auto state_file = problem.checkpoint / saved.at("state").get<std::string>();
    read_from(state_file, [&] { state.load(state_file); });
    if (state.load_json) read_from(file, [&] { state.load_json(saved.at("state_json")); });
  }
  return rounds;
}

// Keeps finished round `round`: its table, the fit, then rounds.json (the commit point).
void keep_round(const SequentialProblem& problem, const nlohmann::json& identity, const RoundState& state, const SequentialRecord& record,
                int round, std::uint64_t next_index, std::size_t failed_in_round) {
  ReferenceTable table;
  table.metadata = TableMetadata::for_simulator(problem.simulator.info(), problem.seed, problem.failure_policy);
  table.metadata.sequential = {{"method", identity.at("method")}, {"round", round}, {"rounds", identity.at("rounds")},
                               {"proposal", record.proposals[static_cast<std::size_t>(round)]}};
  table.metadata.next_index = next_index;
  table.metadata.dropped = failed_in_round;
  table.metadata.failed = failed_in_round;
  std::vector<Eigen::Index> rows;
  for (std::size_t i = 0; i < record.round_of_row.size(); ++i)
    if (record.round_of_row[i] == round) rows.push_back(static_cast<Eigen::Index>(i));
  table.theta.resize(static_cast<Eigen::Index>(rows.size()), record.theta.cols());
  table.y.resize(static_cast<Eigen::Index>(rows.size()), record.y.cols());
  for (std::size_t k = 0; k < rows.size(); ++k) {
    table.theta.row(static_cast<Eigen::Index>(k)) = record.theta.row(rows[k]);
    table.y.row(static_cast<Eigen::Index>(k)) = record.y.row(rows[k]);
    table.indices.push_back(record.index_of_row[static_cast<std::size_t>(rows[k])]);
  }
  write_table(table, problem.checkpoint / round_table_name(round), TableFormat::binary);
  write_atomically_with(problem.checkpoint / state_name(round), [&](const std::filesystem::path& tmp) { state.save(tmp); });
  nlohmann::json rounds = nlohmann::json::array();
  std::uint64_t end = 0;
  for (int r = 0; r <= round; ++r) {
    std::size_t rows_in_round = 0;
    for (int k : record.round_of_row) rows_in_round += k == r ? 1 : 0;
    end = r == round ? next_index : end;
    rounds.push_back({{"round", r},
                      {"table", round_table_name(r)},
                      {"proposal", record.proposals[static_cast<std::size_t>(r)]},
                      {"simulations", record.simulations[static_cast<std::size_t>(r)]},
                      {"rows", rows_in_round},
                      {"failed", r == round ? failed_in_round : std::size_t{0}},
                      {"seconds", record.round_seconds[static_cast<std::size_t>(r)]}});
  }
  // Earlier rounds' entries keep what they said when they were written.
  const auto file = problem.checkpoint / "rounds.json";
  if (round > 0 && std::filesystem::exists(file)) {
    std::ifstream in(file, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const nlohmann::json before = parse_json_text(text, file.string());
    for (int r = 0; r < round && r < static_cast<int>(before.at("rounds").size()); ++r) rounds[static_cast<std::size_t>(r)] = before.at("rounds")[static_cast<std::size_t>(r)];
  }
  rounds.back()["next_index"] = end;
  nlohmann::json document = {{"identity", identity}, {"rounds", rounds}, {"state", state_name(round)}};
  if (state.save_json) document["state_json"] = state.save_json();
  write_file_atomically(file, document.dump(2) + "\n");
  if (round > 0) std::filesystem::remove(problem.checkpoint / state_name(round - 1));
}

}  // namespace

void run_sequential_rounds(const SequentialProblem& problem, const SequentialSettings& settings, SequentialRecord& record,
                           const TrainingCallbacks& callbacks, const ProposeRound& propose, const FitRound& fit_round, const RoundState* state) {
  if (!problem.simulator) throw InputError("a sequential method needs a simulator");
  if (!problem.prior) throw InputError("a sequential method needs a prior");
  if (problem.observation.size() != static_cast<Eigen::Index>(problem.simulator.info().data_names.size()))
    throw InputError("the observation has " + std::to_string(problem.observation.size()) + " values, the simulator " +
                     std::to_string(problem.simulator.info().data_names.size()));
  if (problem.simulations < static_cast<std::size_t>(settings.rounds) * 2)
    throw InputError("a budget of " + std::to_string(problem.simulations) + " simulations is too small for " +
                     std::to_string(settings.rounds) + " rounds");
  const auto start = std::chrono::steady_clock::now();
  const Prior& prior = *problem.prior;
  record = SequentialRecord{};
  record.theta.resize(0, static_cast<Eigen::Index>(prior.dim()));
  record.y.resize(0, problem.observation.size());
  std::uint64_t next_index = 0;
  const bool keep = state && !problem.checkpoint.empty();
  nlohmann::json identity;
  int first_round = 0;
  if (keep) {
    identity = run_identity(problem, settings, *state);
    std::filesystem::create_directories(problem.checkpoint);
    first_round = record.resumed_rounds = resume_rounds(problem, identity, *state, record, next_index);
    if (first_round > 0)
      callbacks.report({"resumed after round " + std::to_string(first_round) + "/" + std::to_string(settings.rounds), 0, 0, "step",
                        std::to_string(record.theta.rows()) + " rows"});
  }
  for (int round = first_round; round < settings.rounds; ++round) {
    const std::size_t failed_before = record.failed;
    const auto round_start = std::chrono::steady_clock::now();
    const std::size_t n = round_budget(problem.simulations, settings.rounds, round);
    const std::string stage = "round " + std::to_string(round + 1) + "/" + std::to_string(settings.rounds);
    SimulationOptions options;
    options.threads = problem.threads;
    options.failure_policy = round == 0 || problem.failure_policy != FailurePolicy::redraw ? problem.failure_policy : FailurePolicy::drop;
    options.max_redraws = problem.max_redraws;
    options.stop = callbacks.stop;
    options.on_progress = [&](std::size_t done, std::size_t total) { callbacks.report({stage + ": simulate", done, total, "sim", ""}); };
    std::size_t kept_before = static_cast<std::size_t>(record.theta.rows());
    if (round == 0) {
      const SimulationSummary summary =
          simulate_from_prior(problem.simulator, prior, n, problem.seed, 0, options, [&](const SimulationChunk& chunk) {
            std::vector<Eigen::Index> all(static_cast<std::size_t>(chunk.theta.rows()));
            for (Eigen::Index i = 0; i < chunk.theta.rows(); ++i) all[static_cast<std::size_t>(i)] = i;
            append_rows(record, chunk.theta, chunk.y, all, chunk.indices, 0);
          });
      next_index = summary.next_index;
      record.simulations.push_back(summary.requested + summary.redraws);
      record.proposals.push_back("prior");
      record.failed += summary.dropped;
      if (summary.interrupted) {
        record.interrupted = true;
        break;
      }
    } else {
      callbacks.report({stage + ": propose", 0, n, "draw", ""});
      RoundProposal proposal;
      try {
        proposal = propose(round, n);
      } catch (const Interrupted&) {
        // Stopped while sampling the proposal (MCMC): the finished rounds are kept, this one is redone on resume.
        record.interrupted = true;
        break;
      }
      RowMatrix& proposals = proposal.theta;
      if (proposals.cols() != static_cast<Eigen::Index>(prior.dim()))
        throw std::logic_error("run_sequential_rounds: the proposal has the wrong number of columns");
      record.proposals.push_back(std::move(proposal.description));
      if (callbacks.stop_requested()) {
        record.interrupted = true;
        break;
      }
      std::vector<SimulationOutcome> outcomes;
      const RowMatrix y = simulate_given(problem.simulator, proposals, problem.seed, next_index, options, &outcomes);
      next_index += static_cast<std::uint64_t>(proposals.rows());
      // Rows kept: simulated, finite, and strictly inside the support (a draw that rounded onto its
      // boundary has no unconstrained value to fit on).
      const RowMatrix u = prior.to_unconstrained(proposals);
      std::vector<Eigen::Index> kept;
      for (Eigen::Index i = 0; i < proposals.rows(); ++i)
        if (outcomes[static_cast<std::size_t>(i)].ok() && y.row(i).allFinite() && u.row(i).allFinite()) kept.push_back(i);
      record.failed += static_cast<std::size_t>(proposals.rows()) - kept.size();
      record.simulations.push_back(static_cast<std::size_t>(proposals.rows()));
      std::vector<std::uint64_t> indices(static_cast<std::size_t>(proposals.rows()));
      for (std::size_t i = 0; i < indices.size(); ++i) indices[i] = next_index - static_cast<std::uint64_t>(proposals.rows()) + i;
      append_rows(record, proposals, y, kept, indices, round);
      if (callbacks.stop_requested()) {
        record.interrupted = true;
        break;
      }
    }
    if (static_cast<std::size_t>(record.theta.rows()) - kept_before < 2)
      throw InputError(stage + ": fewer than 2 of " + std::to_string(n) + " simulations succeeded");
    callbacks.report({stage + ": train", 0, 0, "step", std::to_string(record.theta.rows()) + " rows"});
    const bool completed = fit_round(round);
    record.round_seconds.push_back(seconds_since(round_start));
    if (!completed) {
      record.interrupted = true;
      break;
    }
    if (keep) keep_round(problem, identity, *state, record, round, next_index, record.failed - failed_before);
    if (callbacks.stop_requested()) {
      record.interrupted = true;
      break;
    }
  }
  record.seconds = seconds_since(start);
}

namespace {

// SNLE's and SNRE's proposal: the current posterior estimate π(θ)·exp(surrogate), by MCMC in the
// prior's unconstrained space, seeded by stream_seed(seed, round, 0x5e9).
using LogSurrogate = std::function<Vector(const RowMatrix& theta)>;
// The chains stop with callbacks.stop (sbi::Interrupted) and report their progress as the round's
// "propose" stage.
ProposeRound mcmc_proposal(const SequentialProblem& problem, const McmcOptions& mcmc, LogSurrogate log_surrogate,
                           const TrainingCallbacks& callbacks, int rounds) {
  return [&problem, mcmc, log_surrogate = std::move(log_surrogate), &callbacks, rounds](int round, std::size_t n) {
    const UnconstrainedPosterior target(problem.prior, [&](const RowMatrix& theta, Eigen::Ref<Vector> out) { out = log_surrogate(theta); });
    const McmcOptions chains =
        watched_by(mcmc, callbacks, "round " + std::to_string(round + 1) + "/" + std::to_string(rounds) + ": propose (MCMC)");
    RoundProposal proposal;
    proposal.theta =
        target.sample(static_cast<Eigen::Index>(n), stream_seed(problem.seed, static_cast<std::uint64_t>(round), 0x5e9), chains).samples;
    proposal.description = "posterior estimate (MCMC)";
    return proposal;
  };
}

}  // namespace

bool SequentialSettings::is_valid(std::string* why) const {
  if (rounds < 1) {
    if (why) *why = "rounds: must be at least 1";
    return false;
  }
  return true;
}

bool SnleOptions::is_valid(std::string* why) const { return nle.is_valid(why) && sequential.is_valid(why); }
bool SnreOptions::is_valid(std::string* why) const { return nre.is_valid(why) && sequential.is_valid(why); }

nlohmann::json SnleOptions::to_json() const {
  nlohmann::json j = nle.to_json();
  j["rounds"] = sequential.rounds;
  return j;
}

nlohmann::json SnreOptions::to_json() const {
  nlohmann::json j = nre.to_json();
  j["rounds"] = sequential.rounds;
  j["retrain_from_scratch"] = retrain_from_scratch;
  return j;
}

SnleOptions SnleOptions::from_json(const nlohmann::json& section, const std::string& path) {
  auto [rest, settings] = split_sequential_settings(section, path);
  SnleOptions o;
  o.nle = read_amortised_options(path, {}, [&] { return NleOptions::from_json(rest, path, NleOptions::default_single_estimator()); });
  if (!o.nle.estimator.alternatives.empty())
    throw InputError(path + ".alternatives: SNLE trains one estimator through its rounds; name it in density_estimator (alternatives are for npe and nle)");
  o.sequential = settings;
  return o;
}

SnreOptions SnreOptions::from_json(const nlohmann::json& section, const std::string& path) {
  auto [rest, settings] = split_sequential_settings(section, path);
  SnreOptions o;
  const std::vector<std::string> own_keys = {"retrain_from_scratch"};
  const nlohmann::json own = take_keys(rest, own_keys);
  o.retrain_from_scratch = JsonObjectReader(own, path).optional_bool("retrain_from_scratch", o.retrain_from_scratch);
  o.nre = read_amortised_options(path, own_keys, [&] { return NreOptions::from_json(rest, path); });
  o.sequential = settings;
  return o;
}

nlohmann::json SequentialRecord::to_json() const {
  std::vector<std::size_t> rows_per_round(simulations.size(), 0);
  for (int r : round_of_row)
    if (static_cast<std::size_t>(r) < rows_per_round.size()) ++rows_per_round[static_cast<std::size_t>(r)];
  return {{"rounds", simulations.size()},
          {"simulations_per_round", simulations},
          {"proposals", proposals},
          {"rows_per_round", rows_per_round},
          {"round_seconds", round_seconds},
          {"failed", failed},
          {"interrupted", interrupted},
          {"resumed_rounds", resumed_rounds},
          {"seconds", seconds}};
}

std::optional<NleFit> run_snle(const SequentialProblem& problem, const SnleOptions& options, SequentialRecord& record,
                               const TrainingCallbacks& callbacks) {
  std::string why;
  if (!options.is_valid(&why)) throw InputError("SNLE options: " + why);
  const auto p = static_cast<Eigen::Index>(problem.prior ? problem.prior->dim() : 0);
  std::shared_ptr<flows::ConditionalDensity> density =
      flows::make_density(options.nle.estimator.density_estimator, problem.observation.size(), p, options.nle.estimator.seed);
  std::optional<NleFit> fit;
  const auto fit_round = [&](int round) {
    const RowMatrix u = problem.prior->to_unconstrained(record.theta);
    check_standardizable(u, problem.prior->names(), "prior parameter", "SNLE");
    check_standardizable(record.y, {}, "data column", "SNLE");
    // A fresh optimiser each round, from the last weights (as SNPE; a resumed run is then the same).
    for (auto* parameter : density->parameters()) parameter->state.clear();
    flows::DensityFitOptions fit_options = options.nle.estimator.fit_options();
    fit_options.seed = stream_seed(options.nle.estimator.seed, static_cast<std::uint64_t>(round), 0xf17);
    flows::DensityFitResult result = flows::fit_density(*density, record.y, u, fit_options, callbacks);
    fit.emplace(density, options.nle);
    fit->training = std::move(result);
    return !fit->training.interrupted;
  };
  const auto log_surrogate = [&](const RowMatrix& theta) { return fit->log_likelihood(theta, problem.observation, *problem.prior); };
  RoundState state;
  state.save = [&](const std::filesystem::path& file) { density->save(file); };
  state.load = [&](const std::filesystem::path& file) {
    density = flows::load_density(file);
    fit.emplace(density, options.nle);
  };
  state.identity = {{"name", "snle"}, {"options", options.to_json()}};
  run_sequential_rounds(problem, options.sequential, record, callbacks, mcmc_proposal(problem, options.nle.mcmc, log_surrogate, callbacks, options.sequential.rounds), fit_round,
                        &state);
  return fit;
}

std::optional<NreFit> run_snre(const SequentialProblem& problem, const SnreOptions& options, SequentialRecord& record,
                               const TrainingCallbacks& callbacks) {
  std::string why;
  if (!options.is_valid(&why)) throw InputError("SNRE options: " + why);
  std::optional<NreFit> fit;
  Names data_names = problem.simulator ? problem.simulator.info().data_names : Names{};
  const auto fit_round = [&](int round) {
    NreOptions round_options = options.nre;
    round_options.seed = stream_seed(options.nre.seed, static_cast<std::uint64_t>(round), 0xf17);
    const nn::Mlp* start_from = fit && !options.retrain_from_scratch ? &fit->classifier : nullptr;
    // The argument is built before emplace replaces the last fit, so start_from stays valid.
    fit.emplace(train_nre(record.theta, record.y, *problem.prior, round_options, callbacks, 0, start_from));
    return !fit->training.interrupted;
  };
  const auto log_surrogate = [&](const RowMatrix& theta) { return fit->log_ratio(theta, problem.observation, *problem.prior, data_names); };
  RoundState state;
  state.save = [&](const std::filesystem::path& file) { nn::save(fit->classifier, file); };
  state.load = [&](const std::filesystem::path& file) { fit.emplace(nn::load_mlp<float>(file)); };
  state.save_json = [&] { return nlohmann::json{{"standardization", fit->standardization.to_json()}, {"logit_scale", fit->logit_scale}}; };
  state.load_json = [&](const nlohmann::json& j) {
    fit->standardization = Standardization::from_json(j.at("standardization"));
    fit->logit_scale = j.at("logit_scale").get<double>();
  };
  state.identity = {{"name", "snre"}, {"options", options.to_json()}};
  run_sequential_rounds(problem, options.sequential, record, callbacks, mcmc_proposal(problem, options.nre.mcmc, log_surrogate, callbacks, options.sequential.rounds), fit_round,
                        &state);
  return fit;
}

}  // namespace sbi
