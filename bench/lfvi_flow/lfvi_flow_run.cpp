// A benchmark driver for issue 14's remaining items (bench/lfvi_flow/RESULTS.md): simulates a prior
// table for a spec (seeded, one thread), trains one table method through the registry (lfvi with
// either generator, npe, nle, nre), and per observation draws samples, writes them, and scores them
// with the C2ST (sbi::c2st_test, sbibm's defaults) against the reference posterior. For the MCMC
// kinds, --samplers slice,hmc draws the samples once per sampler and reports time and R-hat. For an
// importance-resampled posterior (lfvi's "importance_resampling"), --resample 1,8,32 draws the samples
// once per number of proposals per draw from the same trained flow and surrogate (1: the flow alone;
// 32m5: 32 proposals, then 5 slice moves per draw).
// Not a user-facing program (users run `sbi infer`).
//
//   lfvi_flow_run --spec data/specs/two_moons.json --rows 1000 --method lfvi --options '{"generator": "flow"}'
//                 --observation ../shared/data/sbibm/two_moons/obs_1 [--samples 10000] [--out prefix]
//                 [--seed 1] [--samplers slice,hmc] [--resample 1,8,32] [--no-c2st] [--table t.sbt]
//
// --table trains on the first --rows rows of a table simulated beforehand (`sbi simulate`) instead
// of simulating one, so that a grid over budgets shares its simulations (as bench/npe's grid does).
//
// Options that make a posterior for one observation (lfvi's "refine") train once per observation.
// Prints one JSON line per observation (and sampler).
#include "models/mcmc_posterior.hpp"
#include "models/resampled_posterior.hpp"
#include "models/methods.hpp"
#include "sbi/core/error.hpp"
#include "sbi/diagnostics/c2st.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/simulation/table.hpp"
#include "sbi/spec/spec.hpp"
#include "sbi/workflows/prior_table.hpp"
#include "sbi/workflows/run.hpp"
#include "simulators/from_spec.hpp"

#include <chrono>
#include <ctime>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// CPU time of the process (all its threads): on a loaded machine the wall time of a one-thread run
// overstates its cost, this does not.
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

}  // namespace

int main(int argc, char** argv) {
  std::string spec_path, method = "lfvi", options_text = "{}", out_prefix, samplers_text, table_path, resample_text;
  std::vector<std::string> observations;
  Eigen::Index rows = 1000, samples = 10000;
  std::uint64_t seed = 1;
  bool c2st = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << arg << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--spec") spec_path = next();
    else if (arg == "--rows") rows = std::stoll(next());
    else if (arg == "--method") method = next();
    else if (arg == "--options") options_text = next();
    else if (arg == "--observation") observations.push_back(next());
    else if (arg == "--samples") samples = std::stoll(next());
    else if (arg == "--out") out_prefix = next();
    else if (arg == "--seed") seed = std::stoull(next());
    else if (arg == "--samplers") samplers_text = next();
    else if (arg == "--resample") resample_text = next();
    else if (arg == "--no-c2st") c2st = false;
    else if (arg == "--table") table_path = next();
    else {
      std::cerr << "unknown argument " << arg << "\n";
      return 2;
    }
  }
  if (spec_path.empty() || observations.empty()) {
    std::cerr << "usage: lfvi_flow_run --spec SPEC --observation DIR [--rows N] [--method M] [--options JSON] [--samples N] [--out PREFIX]\n";
    return 2;
  }
  try {
    const sbi::Spec spec = sbi::read_spec(spec_path);
    const sbi::simulators::SpecModel model = sbi::simulators::build_spec_model(spec);
    const auto sim_start = std::chrono::steady_clock::now();
    sbi::ReferenceTable table;
    if (table_path.empty()) {
      table = sbi::simulate_prior_table(model.simulator, *model.prior, {.simulations = static_cast<std::size_t>(rows), .seed = seed, .threads = 1})
                  .table;
    } else {
      table = sbi::read_table(table_path);
      if (table.rows() < rows) throw sbi::InputError(table_path + " has " + std::to_string(table.rows()) + " rows, fewer than --rows");
      table.truncate(rows);
    }
    const double simulation_seconds = seconds_since(sim_start);
    const nlohmann::json options = sbi::parse_json_text(options_text, "--options");
    // Options that make a posterior for one observation (lfvi's "refine") train once per observation.
    const sbi::Method& registered = sbi::builtin_methods().at(method);
    const bool per_observation = registered.one_observation_with && registered.one_observation_with(sbi::parse_method_options(registered, options));
    sbi::Posterior posterior;
    double training_seconds = 0, training_cpu_seconds = 0;
    auto train = [&](const std::optional<sbi::Vector>& y) {
      const auto start = std::chrono::steady_clock::now();
      const double training_cpu_start = cpu_seconds();
      if (y) {
        sbi::InferenceProblem problem;
        problem.prior = model.prior;
        problem.observation = *y;
        posterior = sbi::run_method(registered, options, problem,
                                    {.simulations = static_cast<std::size_t>(table.rows()), .seed = seed, .table = &table, .table_source = "bench"})
                        .posterior;
      } else {
        posterior = sbi::infer(method, table, model.prior, options, seed);
      }
      training_seconds = seconds_since(start);
      training_cpu_seconds = cpu_seconds() - training_cpu_start;
      std::cerr << "trained " << method << " in " << training_seconds << " s\n";
    };
    if (!per_observation) train(std::nullopt);

    std::vector<std::string> samplers, resample_counts;
    for (auto [text, list] : {std::pair{&samplers_text, &samplers}, std::pair{&resample_text, &resample_counts}}) {
      std::stringstream items(*text);
      for (std::string s; std::getline(items, s, ',');)
        if (!s.empty()) list->push_back(s);
    }
    if (samplers.empty()) samplers.push_back("");
    if (resample_counts.empty()) resample_counts.push_back("");
    for (std::size_t k = 0; k < observations.size(); ++k) {
      const std::filesystem::path folder = observations[k];
      const sbi::Vector y = sbi::read_observation_csv(folder / "observation.csv");
      if (per_observation) train(y);
      // The posterior once per --resample entry (the trained one when none is given): K proposals
      // per draw, or "KmM" for K proposals and M slice moves after them.
      struct Variant {
        int proposals, moves;
        sbi::Posterior posterior;
      };
      std::vector<Variant> variants;
      for (const auto& count : resample_counts) {
        const auto* resampled = posterior.model_as<sbi::models::ImportanceResampledPosterior>();
        if (count.empty() || !resampled) {
          variants.push_back({0, 0, posterior});
          break;
        }
        const auto m = count.find('m');
        const int proposals = std::stoi(count.substr(0, m)), moves = m == std::string::npos ? 0 : std::stoi(count.substr(m + 1));
        variants.push_back({proposals, moves, proposals <= 1 ? resampled->proposal() : resampled->with_counts(proposals, moves)});
      }
      // The refinement's report is the trained flow's (under "proposal" when it is resampled).
      nlohmann::json refinement;
      if (auto report = posterior.diagnostics(); report.is_object()) {
        if (report.contains("proposal")) report = report["proposal"];
        if (report.contains("refinement")) refinement = report["refinement"];
      }
      for (const auto& [resample, moves, variant] : variants)
      for (const auto& sampler : samplers) {
        const auto* mcmc = variant.model_as<sbi::models::McmcPosterior>();
        nlohmann::json line = {{"spec", spec_path},
                               {"method", method},
                               {"observation", folder.string()},
                               {"rows", rows},
                               {"options", posterior.info().options},
                               {"amortized", posterior.info().amortized},
                               {"simulation_seconds", simulation_seconds},
                               {"training_seconds", training_seconds},
                               {"training_cpu_seconds", training_cpu_seconds}};
        const auto sample_start = std::chrono::steady_clock::now();
        const double sample_cpu_start = cpu_seconds();
        sbi::RowMatrix draws;
        if (mcmc && !sampler.empty()) {
          sbi::McmcOptions mcmc_options = mcmc->mcmc_options();
          mcmc_options.sampler = sampler == "hmc" ? sbi::McmcOptions::Sampler::hmc : sbi::McmcOptions::Sampler::slice;
          const sbi::McmcResult result = mcmc->sample_with_report(y, samples, seed * 1000 + k, mcmc_options);
          draws = result.samples;
          line["sampler"] = sampler;
          line["max_rhat"] = result.diagnostics.max_rhat();
          line["min_ess_bulk"] = result.diagnostics.min_ess_bulk();
          line["mcmc"] = result.statistics.to_json();
          line["mcmc_brief"] = result.brief_report();
        } else {
          draws = variant.sample(y, samples, seed * 1000 + k);
        }
        line["sampling_seconds"] = seconds_since(sample_start);
        line["sampling_cpu_seconds"] = cpu_seconds() - sample_cpu_start;
        if (resample > 0) line["resample"] = resample;
        if (moves > 0) line["moves"] = moves;
        if (const auto report = variant.diagnostics(); report.is_object() && report.contains("last_sample"))
          line["importance"] = report["last_sample"];
        if (!refinement.is_null()) line["refinement"] = refinement;
        sbi::Names header;
        for (Eigen::Index j = 0; j < draws.cols(); ++j) header.push_back("parameter_" + std::to_string(j + 1));
        const std::string tag = (sampler.empty() ? "" : "_" + sampler) + (resample > 0 ? "_sir" + std::to_string(resample) : "") +
                                (moves > 0 ? "m" + std::to_string(moves) : "");
        if (!out_prefix.empty()) {
          const std::string file = out_prefix + "_" + folder.filename().string() + tag + ".csv";
          sbi::write_csv(file, header, draws);
          line["samples_file"] = file;
        }
        const auto reference_path = folder / "reference_posterior_samples.csv";
        if (c2st && std::filesystem::exists(reference_path)) {
          const sbi::CsvTable reference = sbi::read_csv(reference_path);
          sbi::C2stOptions c2st_options;
          c2st_options.threads = 1;
          line["c2st"] = sbi::c2st_test(reference.values, draws, c2st_options).accuracy;
        }
        std::cout << line.dump() << std::endl;
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
