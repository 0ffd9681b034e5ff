#pragma once
// Comparing methods on one problem at one simulation budget: what `sbi compare` does, as one call.
//
//   sbi::CompareSettings settings{.simulations = 10000, .reference = reference_draws};
//   sbi::CompareReport report = sbi::compare_methods(
//       {{&registry.at("npe"), {}}, {&registry.at("smc"), {}}}, problem, settings, "out/report");
//   std::cout << report.brief_report();
//
// Every table method trains on ONE table of prior simulations (simulated once, so no simulation is
// spent twice, and its time is counted in each method that uses it); simulator methods get the same
// budget. Each method draws `samples` posterior draws for the observation; accuracy is C2ST against a
// reference posterior when one is given (the sbibm protocol), else MMD² between every pair of methods.
// The folder receives samples_<method>.csv, report.json, report.md and corner.png (with gnuplot).
#include "sbi/diagnostics/calibration.hpp"
#include "sbi/workflows/run.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sbi {

struct CompareEntry {
  const Method* method = nullptr;
  nlohmann::json options = nlohmann::json::object();  // the method's options (JSON), checked before simulating
};

struct CompareSettings {
  std::size_t simulations = 10000;        // the budget of every method
  std::uint64_t seed = 1;
  int threads = 0;
  std::size_t samples = 10000;            // posterior draws per method
  std::optional<RowMatrix> reference{};     // reference posterior draws (C2ST) when known
  std::string reference_source{};           // for the report
  std::string spec_source{};                // for the report
  std::string observation_source = "the spec";
  std::optional<Vector> true_parameters{};  // shown in the summaries when known
  // Calibration per method (sbi/diagnostics/calibration.hpp) on this many prior-predictive draws
  // with L = calibration_samples posterior draws each; 0 = none. Methods made for one observation
  // (ABC) are not checked (that would re-run them per draw; `sbi diagnose --calibration --rerun`).
  std::size_t calibration_draws = 0;
  Eigen::Index calibration_samples = 300;
  // A table of simulations made elsewhere, shared by every method instead of one simulated here
  // (then the methods must all train on a table, `simulations` is its row count and the problem
  // needs no simulator; calibration, which simulates, needs one).
  const ReferenceTable* table = nullptr;
  std::string table_source{};
};

struct ComparedMethod {
  std::string name{};
  std::string summary{};                    // the method's one-line description
  RowMatrix samples{};
  std::size_t simulations = 0;
  double seconds = 0;                     // wall time including the simulations it used
  double simulation_seconds = 0;          // of which simulating (the shared table's time for table methods)
  nlohmann::json options{};
  nlohmann::json diagnostics{};
  std::optional<double> c2st{};
  std::optional<CalibrationResult> calibration{};
  std::string calibration_note{};           // why it was not checked, when it was not
};

struct CompareReport {
  std::string simulator{};
  Names parameter_names{};
  Vector observation{};
  CompareSettings settings;
  std::vector<ComparedMethod> methods{};
  nlohmann::json mmd2_between_methods = nlohmann::json::object();  // without a reference
  double shared_table_seconds = 0;
  double seconds = 0;
  std::string created{};
  std::string corner_plot_note{};           // empty when corner.png was drawn
  std::string coverage_plot_note{};         // empty when coverage_comparison.png was drawn (calibration on)
  bool interrupted = false;

  // "npe C2ST 0.612, 10000 simulations, 12.3 s" per method, one per line.
  std::string brief_report() const;
  nlohmann::json to_json() const;
  std::string markdown() const;
};

// Runs every entry (in order) on `problem` (observation required) and, when `folder` is not empty,
// writes the report files there. Bad options of any method are InputErrors before anything is
// simulated; callbacks.stop ends the comparison after the method in progress (report.interrupted).
CompareReport compare_methods(const std::vector<CompareEntry>& entries, const InferenceProblem& problem, const CompareSettings& settings,
                              const std::filesystem::path& folder = {}, const TrainingCallbacks& callbacks = {});

}  // namespace sbi
