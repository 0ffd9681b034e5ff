// NPE on a reference table: trains once (amortised) and writes 10,000 posterior draws per
// observation, with the C2ST against a reference sample when one is given. A benchmark driver, not a
// user-facing program (users run `sbi infer` with method "npe").
//
//   npe_run --spec data/specs/two_moons.json --table t.sbt [--rows 1000]
//           [--options '{"density_estimator": {"type": "maf"}, "batch_size": 100}']
//           --observation data/sbibm/two_moons/obs_1 [--observation ...]   (folders with observation.csv
//                                                       and reference_posterior_samples.csv)
//           [--samples 10000] [--out prefix] [--seed 1]
//
// Prints one JSON line per observation: task, rows, options, epochs, training seconds, sampling
// seconds, C2ST (sbi::c2st_test with sbibm's defaults).
#include "sbi/diagnostics/c2st.hpp"
#include "sbi/inference/npe.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/simulation/table.hpp"
#include "sbi/spec/spec.hpp"

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string spec_path, table_path, options_text = "{}", out_prefix;
  std::vector<std::string> observations;
  Eigen::Index rows = 0, samples = 10000;
  std::uint64_t seed = 1;
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
    else if (arg == "--table") table_path = next();
    else if (arg == "--rows") rows = std::stoll(next());
    else if (arg == "--options") options_text = next();
    else if (arg == "--observation") observations.push_back(next());
    else if (arg == "--samples") samples = std::stoll(next());
    else if (arg == "--out") out_prefix = next();
    else if (arg == "--seed") seed = std::stoull(next());
    else {
      std::cerr << "unknown argument " << arg << "\n";
      return 2;
    }
  }
  if (spec_path.empty() || table_path.empty() || observations.empty()) {
    std::cerr << "usage: npe_run --spec SPEC --table TABLE --observation DIR [--rows N] [--options JSON] [--samples N] [--out PREFIX]\n";
    return 2;
  }
  try {
    const sbi::Spec spec = sbi::read_spec(spec_path);
    const sbi::ReferenceTable table = sbi::read_table(table_path);
    const Eigen::Index n = rows > 0 ? std::min(rows, table.rows()) : table.rows();
    nlohmann::json options_json = sbi::parse_json_text(options_text, "--options");
    sbi::NpeOptions options = sbi::NpeOptions::from_json(options_json, "options");
    options.seed = seed;

    const auto start = std::chrono::steady_clock::now();
    const sbi::NpeFit fit = sbi::train_npe(table.theta.topRows(n), table.y.topRows(n), *spec.prior, options);
    const double training_seconds = seconds_since(start);
    std::cerr << "trained: " << fit.training.brief_report() << "\n";

    for (std::size_t k = 0; k < observations.size(); ++k) {
      const std::filesystem::path folder = observations[k];
      const sbi::Vector y = sbi::read_observation_csv(folder / "observation.csv");
      const auto sample_start = std::chrono::steady_clock::now();
      const sbi::RowMatrix draws = fit.sample(y, samples, seed * 1000 + k, /*threads=*/1);
      const double sampling_seconds = seconds_since(sample_start);
      sbi::Names header;
      for (Eigen::Index j = 0; j < draws.cols(); ++j) header.push_back("parameter_" + std::to_string(j + 1));
      if (!out_prefix.empty()) sbi::write_csv(out_prefix + "_" + folder.filename().string() + ".csv", header, draws);
      nlohmann::json line = {{"spec", spec_path},
                             {"observation", folder.string()},
                             {"rows", n},
                             {"options", options.to_json()},
                             {"epochs", fit.training.epochs},
                             {"best_epoch", fit.training.best_epoch},
                             {"best_validation", fit.training.best_validation},
                             {"training_seconds", training_seconds},
                             {"sampling_seconds", sampling_seconds}};
      // Every candidate's validation curve (per epoch: −log q, cumulative seconds), so that rules
      // for stopping candidates early can be judged from one run.
      nlohmann::json trials = nlohmann::json::array();
      for (const sbi::flows::EstimatorTrial& trial : fit.trials) {
        nlohmann::json validation = nlohmann::json::array(), seconds = nlohmann::json::array();
        for (const sbi::optim::TrainingRecord& record : trial.result.curve.records) {
          validation.push_back(record.validation);
          seconds.push_back(record.seconds);
        }
        trials.push_back({{"estimator", trial.estimator.to_json()},
                          {"kept", trial.kept},
                          {"best_epoch", trial.result.best_epoch},
                          {"best_validation", trial.result.best_validation},
                          {"validation", validation},
                          {"seconds", seconds}});
      }
      if (k == 0) line["trials"] = trials;
      const auto reference_path = folder / "reference_posterior_samples.csv";
      if (std::filesystem::exists(reference_path)) {
        const sbi::CsvTable reference = sbi::read_csv(reference_path);
        sbi::C2stOptions c2st_options;
        c2st_options.threads = 1;
        const sbi::C2stResult result = sbi::c2st_test(reference.values, draws, c2st_options);
        line["c2st"] = result.accuracy;
      }
      std::cout << line.dump() << std::endl;
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
