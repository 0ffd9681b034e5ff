#include "models/methods.hpp"

#include "models/abc_posterior.hpp"
#include "models/ensemble_posterior.hpp"
#include "models/ensemble_training.hpp"
#include "models/flow_posterior.hpp"
#include "models/implicit_posterior.hpp"
#include "models/mcmc_posterior.hpp"
#include "models/resampled_posterior.hpp"
#include "sbi/abc/rejection.hpp"
#include "sbi/abc/smc.hpp"
#include "sbi/core/error.hpp"
#include "sbi/inference/lfvi.hpp"
#include "sbi/inference/lfvi_flow.hpp"
#include "sbi/inference/mmd.hpp"
#include "sbi/inference/nle.hpp"
#include "sbi/inference/npe.hpp"
#include "sbi/inference/nre.hpp"
#include "sbi/inference/sequential.hpp"
#include "sbi/inference/slfvi.hpp"
#include "sbi/inference/snpe.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/optim/training.hpp"
#include "sbi/util/clock.hpp"
#include "sbi/util/version.hpp"
#include "sbi/workflows/run.hpp"

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>

namespace sbi {

namespace {

// Method::minimum_simulations: the floors the methods' own checks would otherwise hit only after
// simulating (sbi/flows/fit.cpp's split, StandardizedTable's 20 rows, NRE's atoms).
SimulationFloor density_fit_floor(double validation_fraction) {
  return {static_cast<std::size_t>(optim::minimum_rows_for_split(validation_fraction, 2, 1)),
          "2 training rows and 1 validation row at validation_fraction " + format_number(validation_fraction)};
}

SimulationFloor standardized_floor(double validation_fraction) {
  SimulationFloor floor = density_fit_floor(validation_fraction);
  if (floor.simulations < 20) floor = {20, "its standardised table needs 20 rows"};
  return floor;
}

SimulationFloor nre_floor(const NreOptions& options) {
  return {minimum_nre_rows(options), "20 rows, and training and validation sets each larger than the " + options.variant + " loss's " +
                                         (options.variant == "nre_a" ? std::string("2") : std::to_string(options.atoms)) + " atoms"};
}

// LFVI's flow generator: its surrogate's floor.
SimulationFloor lfvi_flow_floor(const LfviFlowOptions& options) {
  if (options.surrogate == LfviFlowOptions::Surrogate::likelihood) return density_fit_floor(options.likelihood.estimator.validation_fraction);
  return nre_floor(options.ratio);
}

// A sequential method trains its first round on that round's rows alone: budget / rounds (the first
// round takes the remainder) must reach the one-round floor.
SimulationFloor first_round_floor(const SimulationFloor& one_round, const SequentialSettings& settings) {
  if (settings.rounds <= 1) return one_round;
  const auto rounds = static_cast<std::size_t>(settings.rounds);
  return {(one_round.simulations - 1) * rounds + 1, std::to_string(rounds) + " rounds, the first of at least " +
                                                         std::to_string(one_round.simulations) + " rows: " + one_round.reason};
}

PosteriorInfo info_for(const TrainingInput& input, const std::string& method, nlohmann::json options, double training_seconds) {
  PosteriorInfo info;
  info.method = method;
  info.options = std::move(options);
  info.provenance = input.provenance;
  info.provenance.method = method;
  info.provenance.training_seconds = training_seconds;
  return info;
}

const Names& table_data_names(const TrainingInput& input) {
  if (!input.table) throw InputError("this method trains on a table, and none was given");
  return input.table->metadata.data_names;
}

const Vector& required_observation(const TrainingInput& input, const std::string& method) {
  if (!input.observation) throw InputError(method + " runs for one observation, and none was given");
  return *input.observation;
}

template <class Options, class Train>
Posterior train_implicit(const TrainingInput& input, const nlohmann::json& json, const TrainingCallbacks& callbacks, const std::string& method,
                         Train train) {
  Options options = Options::from_json(json, "inference");
  options.seed = input.seed;
  const auto& table = *input.table;
  ImplicitGeneratorFit fit = train(table.theta, table.y, *input.prior, options, callbacks);
  PosteriorInfo info = info_for(input, method, options.to_json(), fit.training.seconds);
  int refine = 0;
  if constexpr (std::is_same_v<Options, LfviOptions>) refine = options.refine_oversample;
  return Posterior(std::make_shared<models::ImplicitPosterior>(std::move(fit), input.prior, table_data_names(input), std::move(info), refine));
}

nlohmann::json implicit_lfvi_section(nlohmann::json section) {
  if (section.is_object() && section.contains("generator") && section.at("generator").is_string()) section.erase("generator");
  return section;
}

SequentialProblem sequential_problem(const TrainingInput& in, const std::string& method) {
  SequentialProblem problem;
  problem.simulator = in.simulator;
  problem.prior = in.prior;
  problem.observation = required_observation(in, method);
  problem.simulations = in.budget;
  problem.seed = in.seed;
  problem.threads = in.threads;
  problem.failure_policy = in.simulation.failure_policy;
  problem.max_redraws = in.simulation.max_redraws;
  problem.checkpoint = in.checkpoint;
  return problem;
}

PosteriorInfo sequential_info(const TrainingInput& in, const std::string& method, nlohmann::json options, const SequentialRecord& record) {
  PosteriorInfo info = info_for(in, method, std::move(options), record.seconds);
  info.amortized = false;
  info.observation = *in.observation;
  std::size_t simulations = 0;
  for (auto n : record.simulations) simulations += n;
  info.provenance.simulations = simulations;
  info.options["sequential_record"] = record.to_json();
  return info;
}

// An amortised method's train function made ensemble-aware: with input.ensemble = K > 1 it trains K
// members and returns their mixture (models/ensemble_training.hpp: on all cores, or over the ranks of
// an MPI job).
Method with_ensembles(Method method) {
  if (!method.amortized) return method;
  auto train_one = method.train;
  method.train = [train_one, name = method.name](const TrainingInput& input, const nlohmann::json& options, const TrainingCallbacks& callbacks) {
    if (input.ensemble <= 1) return train_one(input, options, callbacks);
    return models::train_ensemble(name, train_one, input, options, callbacks);
  };
  return method;
}

// The posterior an LFVI flow's bound aimed at, π(θ) exp r(θ, y) with the fit's surrogate, as the
// MCMC kind of the method that trains that surrogate alone (NLE's, NRE's, or an ensemble of NRE's):
// the target of "importance_resampling". Moves the surrogate out of the fit.
// `made_for`: the observation a sequential run's surrogate was trained around (its posterior then
// refuses others, as SNLE's and SNRE's do); none for an amortised one.
Posterior surrogate_posterior(const TrainingInput& in, const LfviFlowOptions& options, LfviFlowFit& fit, const Names& data_names,
                              const std::optional<Vector>& made_for = std::nullopt) {
  const auto info_of = [&](const char* method, nlohmann::json surrogate_options, double seconds) {
    PosteriorInfo info = info_for(in, method, std::move(surrogate_options), seconds);
    if (made_for) {
      info.amortized = false;
      info.observation = *made_for;
    }
    return info;
  };
  if (fit.likelihood)
    return Posterior(std::make_shared<models::LikelihoodMcmcPosterior>(std::move(*fit.likelihood), in.prior, data_names,
                                                                       info_of("nle", options.likelihood.to_json(), fit.ratio_seconds)));
  std::vector<Posterior> members;
  for (auto& ratio : fit.ratios) {
    const double seconds = ratio.training.seconds;
    members.emplace_back(std::make_shared<models::RatioMcmcPosterior>(std::move(ratio), in.prior, data_names,
                                                                      info_of("nre", options.ratio.to_json(), seconds), options.ratio.mcmc));
  }
  if (members.size() == 1) return members.front();
  nlohmann::json ensemble_options = options.ratio.to_json();
  ensemble_options["ensemble"] = members.size();
  return Posterior(std::make_shared<models::EnsemblePosterior>(std::move(members), info_for(in, "nre", std::move(ensemble_options), fit.ratio_seconds)));
}

// An LFVI flow fit as its posterior: the flow, importance-resampled against its surrogate's posterior
// (then moved by options.resample_moves slice sweeps) when options.importance_resampling asks for
// it. `info` is the flow's (and the resampled posterior's); `made_for` as for surrogate_posterior.
Posterior lfvi_flow_posterior(const TrainingInput& in, const LfviFlowOptions& options, LfviFlowFit& fit, const Names& data_names,
                              PosteriorInfo info, const std::optional<Vector>& made_for = std::nullopt) {
  const int resampling = options.importance_resampling;
  nlohmann::json summary = fit.summary();  // before the surrogate moves out of the fit
  Posterior target = resampling > 0 ? surrogate_posterior(in, options, fit, data_names, made_for) : Posterior();
  Posterior flow(std::make_shared<models::FlowPosterior>(std::move(fit.posterior), in.prior, data_names, info, std::move(summary)));
  if (resampling == 0) return flow;
  return Posterior(std::make_shared<models::ImportanceResampledPosterior>(std::move(flow), std::move(target), resampling, std::move(info),
                                                                         options.resample_moves));
}

MethodRegistry make_builtin_methods() {
  MethodRegistry registry;
  const auto add = [&registry](Method method) { registry.add(with_ensembles(std::move(method))); };
  add({.name = "lfvi",
                .summary = "likelihood-free variational inference: a generator against a ratio estimator (\"generator\": \"implicit\" or \"flow\")",
                .needs = MethodNeeds::table,
                .amortized = true,
                .parse_options = [](const nlohmann::json& section, const std::string& path) {
                  if (lfvi_flow_requested(section, path)) return LfviFlowOptions::from_json(section, path).to_json();
                  return LfviOptions::from_json(implicit_lfvi_section(section), path).to_json();
                },
                .minimum_simulations = [](const nlohmann::json& o) {
                  if (lfvi_flow_requested(o, "inference")) return lfvi_flow_floor(LfviFlowOptions::from_json(o, "inference"));
                  return standardized_floor(LfviOptions::from_json(implicit_lfvi_section(o), "inference").validation_fraction);
                },
                .one_observation_with = [](const nlohmann::json& o) {
                  return lfvi_flow_requested(o, "inference") && LfviFlowOptions::from_json(o, "inference").refine.enabled();
                },
                .train = [](const TrainingInput& in, const nlohmann::json& o, const TrainingCallbacks& cb) {
                  if (!lfvi_flow_requested(o, "inference"))
                    return train_implicit<LfviOptions>(in, implicit_lfvi_section(o), cb, "lfvi",
                                                      [](const auto&... args) { return train_lfvi(args...); });
                  LfviFlowOptions options = LfviFlowOptions::from_json(o, "inference");
                  options.seed = in.seed;
                  const auto& table = *in.table;
                  LfviFlowFit fit = train_lfvi_flow(table.theta, table.y, *in.prior, options, cb, in.observation);
                  PosteriorInfo info = info_for(in, "lfvi", options.to_json(), fit.posterior.training.seconds);
                  if (fit.refined_for) {  // refined for the observation: its posterior only
                    info.amortized = false;
                    info.observation = *fit.refined_for;
                  }
                  return lfvi_flow_posterior(in, options, fit, table_data_names(in), std::move(info));
                }});
  add({.name = "mmd",
                .summary = "implicit generator trained by maximum mean discrepancy (no discriminator)",
                .needs = MethodNeeds::table,
                .amortized = true,
                .parse_options = options_parser<MmdGeneratorOptions>(),
                .minimum_simulations = [](const nlohmann::json& o) {
                  return standardized_floor(MmdGeneratorOptions::from_json(o, "inference").validation_fraction);
                },
                .train = [](const TrainingInput& in, const nlohmann::json& o, const TrainingCallbacks& cb) {
                  return train_implicit<MmdGeneratorOptions>(in, o, cb, "mmd", train_mmd_generator);
                }});
  add({.name = "npe",
       .summary = "neural posterior estimation: a conditional flow q(θ | y) by maximum likelihood (exact, normalised density)",
       .needs = MethodNeeds::table,
       .amortized = true,
       .parse_options = options_parser<NpeOptions>(),
       .minimum_simulations = [](const nlohmann::json& o) { return density_fit_floor(NpeOptions::from_json(o, "inference").validation_fraction); },
       .train = [](const TrainingInput& in, const nlohmann::json& o, const TrainingCallbacks& cb) {
         NpeOptions options = NpeOptions::from_json(o, "inference");
         options.seed = in.seed;
         const auto& table = *in.table;
         NpeFit fit = train_npe(table.theta, table.y, *in.prior, options, cb, in.threads);
         PosteriorInfo info = info_for(in, "npe", options.to_json(), fit.training.seconds);
         return Posterior(std::make_shared<models::FlowPosterior>(std::move(fit), in.prior, table_data_names(in), std::move(info)));
       }});
  add({.name = "nle",
       .summary = "neural likelihood estimation: a conditional flow q(y | θ) as surrogate likelihood, posterior by MCMC",
       .needs = MethodNeeds::table,
       .amortized = true,
       .posterior_under_table_prior = false,
       .parse_options = options_parser<NleOptions>(),
       .minimum_simulations = [](const nlohmann::json& o) {
         return density_fit_floor(NleOptions::from_json(o, "inference").estimator.validation_fraction);
       },
       .train = [](const TrainingInput& in, const nlohmann::json& o, const TrainingCallbacks& cb) {
         NleOptions options = NleOptions::from_json(o, "inference");
         options.estimator.seed = in.seed;
         const auto& table = *in.table;
         NleFit fit = train_nle(table.theta, table.y, *in.prior, options, cb, in.threads);
         PosteriorInfo info = info_for(in, "nle", options.to_json(), fit.training.seconds);
         return Posterior(std::make_shared<models::LikelihoodMcmcPosterior>(std::move(fit), in.prior, table_data_names(in), std::move(info)));
       }});
  add({.name = "nre",
       .summary = "neural ratio estimation (NRE-A/B/C, BNRE): a classifier's log ratio r(θ, y), posterior by MCMC",
       .needs = MethodNeeds::table,
       .amortized = true,
       .posterior_under_table_prior = false,
       .parse_options = options_parser<NreOptions>(),
       .minimum_simulations = [](const nlohmann::json& o) { return nre_floor(NreOptions::from_json(o, "inference")); },
       .train = [](const TrainingInput& in, const nlohmann::json& o, const TrainingCallbacks& cb) {
         NreOptions options = NreOptions::from_json(o, "inference");
         options.seed = in.seed;
         const auto& table = *in.table;
         NreFit fit = train_nre(table.theta, table.y, *in.prior, options, cb);
         PosteriorInfo info = info_for(in, "nre", options.to_json(), fit.training.seconds);
         return Posterior(
             std::make_shared<models::RatioMcmcPosterior>(std::move(fit), in.prior, table_data_names(in), std::move(info), options.mcmc));
       }});
  add({.name = "snle",
       .summary = "sequential NLE: rounds of simulations from the current posterior (MCMC), for one observation",
       .needs = MethodNeeds::simulator,
       .amortized = false,
       .parse_options = options_parser<SnleOptions>(),
       .minimum_simulations = [](const nlohmann::json& o) {
         const SnleOptions options = SnleOptions::from_json(o, "inference");
         return first_round_floor(density_fit_floor(options.nle.estimator.validation_fraction), options.sequential);
       },
       .train = [](const TrainingInput& in, const nlohmann::json& o, const TrainingCallbacks& cb) {
         SnleOptions options = SnleOptions::from_json(o, "inference");
         options.nle.estimator.seed = in.seed;
         SequentialRecord record;
         std::optional<NleFit> fit = run_snle(sequential_problem(in, "SNLE"), options, record, cb);
         if (!fit) return Posterior();
         PosteriorInfo info = sequential_info(in, "snle", options.to_json(), record);
         return Posterior(std::make_shared<models::LikelihoodMcmcPosterior>(std::move(*fit), in.prior, in.simulator.info().data_names, std::move(info)));
       }});
  add({.name = "snre",
       .summary = "sequential NRE: rounds of simulations from the current posterior (MCMC), for one observation",
       .needs = MethodNeeds::simulator,
       .amortized = false,
       .parse_options = options_parser<SnreOptions>(),
       .minimum_simulations = [](const nlohmann::json& o) {
         const SnreOptions options = SnreOptions::from_json(o, "inference");
         return first_round_floor(nre_floor(options.nre), options.sequential);
       },
       .train = [](const TrainingInput& in, const nlohmann::json& o, const TrainingCallbacks& cb) {
         SnreOptions options = SnreOptions::from_json(o, "inference");
         options.nre.seed = in.seed;
         SequentialRecord record;
         std::optional<NreFit> fit = run_snre(sequential_problem(in, "SNRE"), options, record, cb);
         if (!fit) return Posterior();
         PosteriorInfo info = sequential_info(in, "snre", options.to_json(), record);
         return Posterior(std::make_shared<models::RatioMcmcPosterior>(std::move(*fit), in.prior, in.simulator.info().data_names, std::move(info),
                                                                       options.nre.mcmc));
       }});
  add({.name = "snpe",
       .summary = "sequential NPE: rounds from the prior truncated to the flow's HPD region (TSNPE), or the atomic APT loss; for one observation",
       .needs = MethodNeeds::simulator,
       .amortized = false,
       .parse_options = options_parser<SnpeOptions>(),
       .minimum_simulations = [](const nlohmann::json& o) {
         const SnpeOptions options = SnpeOptions::from_json(o, "inference");
         return first_round_floor(density_fit_floor(options.npe.validation_fraction), options.sequential);
       },
       .train = [](const TrainingInput& in, const nlohmann::json& o, const TrainingCallbacks& cb) {
         SnpeOptions options = SnpeOptions::from_json(o, "inference");
         options.npe.seed = in.seed;
         SequentialRecord record;
         std::optional<NpeFit> fit = run_snpe(sequential_problem(in, "SNPE"), options, record, cb);
         if (!fit) return Posterior();
         PosteriorInfo info = sequential_info(in, "snpe", options.to_json(), record);
         return Posterior(std::make_shared<models::FlowPosterior>(std::move(*fit), in.prior, in.simulator.info().data_names, std::move(info)));
       }});
  add({.name = "slfvi",
       .summary = "sequential LFVI (\"generator\": \"implicit\" or \"flow\"): rounds from the prior truncated to a region around the generator's draws, for one observation",
       .needs = MethodNeeds::simulator,
       .amortized = false,
       .parse_options = options_parser<SlfviOptions>(),
       .minimum_simulations = [](const nlohmann::json& o) {
         const SlfviOptions options = SlfviOptions::from_json(o, "inference");
         if (options.flow) return first_round_floor(lfvi_flow_floor(*options.flow), options.sequential);
         return first_round_floor(standardized_floor(options.lfvi.validation_fraction), options.sequential);
       },
       .train = [](const TrainingInput& in, const nlohmann::json& o, const TrainingCallbacks& cb) {
         SlfviOptions options = SlfviOptions::from_json(o, "inference");
         options.lfvi.seed = in.seed;
         SequentialRecord record;
         if (options.flow) {
           options.flow->seed = in.seed;
           std::optional<LfviFlowFit> fit = run_slfvi_flow(sequential_problem(in, "SLFVI"), options, record, cb);
           if (!fit) return Posterior();
           PosteriorInfo info = sequential_info(in, "slfvi", options.to_json(), record);
           const auto& data_names = in.simulator.info().data_names;
           if (!fit->has_surrogate()) {  // every round read back from the checkpoint folder: no training summary, no surrogate
             if (options.flow->importance_resampling > 0)
               throw InputError("inference.importance_resampling: every round of this run was read back from its checkpoints, which keep "
                                "the flow but not its surrogate; run it again without --resume, or without importance_resampling");
             return Posterior(std::make_shared<models::FlowPosterior>(std::move(fit->posterior), in.prior, data_names, std::move(info)));
           }
           return lfvi_flow_posterior(in, *options.flow, *fit, data_names, std::move(info), in.observation);
         }
         std::shared_ptr<models::ImplicitPosterior> last;
         run_slfvi(sequential_problem(in, "SLFVI"), options, record, cb, [&](ImplicitGeneratorFit fit) {
           last = std::make_shared<models::ImplicitPosterior>(std::move(fit), in.prior, in.simulator.info().data_names,
                                                              info_for(in, "slfvi", nlohmann::json::object(), 0), options.lfvi.refine_oversample);
           return GeneratorSampler([round = last](const Vector& y, Eigen::Index n, std::uint64_t seed) { return round->sample(y, n, seed); });
         });
         if (!last) return Posterior();
         last->replace_info(sequential_info(in, "slfvi", options.to_json(), record));
         return Posterior(std::move(last));
       }});
  add({.name = "rejection",
                .summary = "rejection ABC on the prior table (nearest simulations; optional regression adjustment)",
                .needs = MethodNeeds::table,
                .amortized = false,
                .parse_options = options_parser<RejectionOptions>(),
                .train = [](const TrainingInput& in, const nlohmann::json& o, const TrainingCallbacks&) {
                  const auto options = RejectionOptions::from_json(o, "inference");
                  const Vector& observation = required_observation(in, "rejection ABC");
                  const auto start = std::chrono::steady_clock::now();
                  const auto& table = *in.table;
                  AbcResult result = rejection_abc(table.theta, table.y, observation, *in.prior, options);
                  result.simulations = in.provenance.simulations;
                  result.generations.front().simulations = result.simulations;
                  result.seconds = seconds_since(start);
                  PosteriorInfo info = info_for(in, "rejection", options.to_json(), result.seconds);
                  info.observation = observation;
                  return Posterior(std::make_shared<models::AbcPosterior>(std::move(result), in.prior, table_data_names(in), std::move(info),
                                                                          options.resample));
                }});
  add({.name = "smc",
                .summary = "SMC-ABC with an adaptive tolerance, within the simulation budget",
                .needs = MethodNeeds::simulator,
                .amortized = false,
                .parse_options = options_parser<SmcAbcOptions>(),
                .minimum_simulations = [](const nlohmann::json& o) {
                  const SmcAbcOptions options = SmcAbcOptions::from_json(o, "inference");
                  if (options.population == 0) return SimulationFloor{4, "SMC-ABC's smallest budget"};
                  return SimulationFloor{2 * options.population, "twice the population of " + std::to_string(options.population)};
                },
                .train = [](const TrainingInput& in, const nlohmann::json& o, const TrainingCallbacks& cb) {
                  SmcAbcOptions options = SmcAbcOptions::from_json(o, "inference");
                  options.budget = in.budget;
                  options.seed = in.seed;
                  options.threads = in.threads;
                  options.failure_policy = in.simulation.failure_policy;
                  if (std::string why; !options.is_valid(&why)) throw InputError("smc: " + why);
                  const Vector& observation = required_observation(in, "SMC-ABC");
                  SmcAbcCallbacks callbacks;
                  callbacks.stop = cb.stop;
                  std::string status;
                  callbacks.on_progress = [&](std::size_t used, std::size_t budget) { cb.report({"smc-abc", used, budget, "sim", status}); };
                  std::size_t generation = 0;
                  callbacks.on_generation = [&](const AbcGeneration& g) {
                    char text[96];
                    std::snprintf(text, sizeof text, "gen %zu ε %.4g acc %.3f", generation++, g.epsilon, g.acceptance_rate);
                    status = text;
                  };
                  AbcResult result = smc_abc(in.simulator, *in.prior, observation, options, callbacks);
                  PosteriorInfo info = info_for(in, "smc", options.to_json(), result.seconds);
                  info.provenance.simulations = result.simulations;
                  info.observation = observation;
                  return Posterior(std::make_shared<models::AbcPosterior>(std::move(result), in.prior, in.simulator.info().data_names,
                                                                          std::move(info), options.resample));
                }});
  return registry;
}

using KindLoader = std::function<Posterior(const SavedPosterior&)>;

const std::map<std::string, KindLoader>& kind_loaders() {
  static const std::map<std::string, KindLoader> loaders = {
      {models::kImplicitGeneratorKind, [](const SavedPosterior& s) { return Posterior(models::ImplicitPosterior::load(s)); }},
      {models::kFlowKind, [](const SavedPosterior& s) { return Posterior(models::FlowPosterior::load(s)); }},
      {models::kLikelihoodMcmcKind, [](const SavedPosterior& s) { return Posterior(models::LikelihoodMcmcPosterior::load(s)); }},
      {models::kRatioMcmcKind, [](const SavedPosterior& s) { return Posterior(models::RatioMcmcPosterior::load(s)); }},
      {models::kAbcSamplesKind, [](const SavedPosterior& s) { return Posterior(models::AbcPosterior::load(s)); }},
      {models::kEnsembleKind, [](const SavedPosterior& s) { return Posterior(models::EnsemblePosterior::load(s, load_posterior)); }},
      {models::kImportanceResampledKind,
       [](const SavedPosterior& s) { return Posterior(models::ImportanceResampledPosterior::load(s, load_posterior)); }},
  };
  return loaders;
}

}  // namespace

const MethodRegistry& builtin_methods() {
  static const MethodRegistry registry = make_builtin_methods();
  return registry;
}

std::vector<std::string> posterior_kinds() {
  std::vector<std::string> kinds;
  for (const auto& [kind, loader] : kind_loaders()) kinds.push_back(kind);
  return kinds;
}

Posterior load_posterior(const std::filesystem::path& folder) {
  const SavedPosterior saved = read_saved_posterior(folder);
  const auto& loaders = kind_loaders();
  const auto it = loaders.find(saved.kind);
  if (it == loaders.end()) {
    std::string known;
    for (const auto& [kind, loader] : loaders) known += (known.empty() ? "" : ", ") + kind;
    throw FileError((folder / "posterior.json").string() + ": unknown posterior kind \"" + saved.kind + "\" (this sbi++ reads " + known +
                    "); it may come from a newer sbi++");
  }
  return it->second(saved);
}

Posterior infer(const std::string& method_name, const ReferenceTable& table, PriorPtr prior, const nlohmann::json& options,
                std::uint64_t seed, const TrainingCallbacks& callbacks) {
  const Method& method = builtin_methods().at(method_name);
  if (method.needs != MethodNeeds::table)
    throw InputError("method \"" + method_name + "\" simulates by itself; use sbi::run_method with a simulator (sbi/workflows/run.hpp)");
  if (!method.amortized)
    throw InputError("method \"" + method_name + "\" needs an observation; use sbi::run_method (sbi/workflows/run.hpp)");
  if (!prior) throw InputError("infer: no prior");
  if (table.metadata.parameter_names.size() != prior->dim() || static_cast<std::size_t>(table.theta.cols()) != prior->dim())
    throw InputError("infer: the table has " + std::to_string(table.theta.cols()) + " parameter columns, the prior " + std::to_string(prior->dim()));
  InferenceProblem problem;
  problem.prior = std::move(prior);
  RunSettings settings;
  settings.table = &table;
  settings.table_source = "given";
  settings.seed = seed;
  settings.simulations = static_cast<std::size_t>(table.rows());
  MethodRun run = run_method(method, options, problem, settings, callbacks);
  return run.posterior;
}

}  // namespace sbi
