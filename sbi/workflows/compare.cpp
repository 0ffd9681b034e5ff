#include "sbi/workflows/compare.hpp"

#include "sbi/core/error.hpp"
#include "sbi/diagnostics/c2st.hpp"
#include "sbi/diagnostics/calibration_report.hpp"
#include "sbi/diagnostics/summaries.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/util/clock.hpp"
#include "sbi/util/version.hpp"
#include "sbi/workflows/corner_plot.hpp"

#include <chrono>
#include <cstdio>
#include <set>
#include <sstream>

namespace sbi {

namespace {

std::string fmt(double v, const char* format = "%.4g") {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

std::vector<double> as_list(const Vector& v) { return std::vector<double>(v.data(), v.data() + v.size()); }

}  // namespace

std::string CompareReport::brief_report() const {
  std::string out;
  for (const auto& m : methods) {
    char line[256];
    std::snprintf(line, sizeof line, "%-10s %s%zu simulations, %.1f s\n", m.name.c_str(), m.c2st ? ("C2ST " + fmt(*m.c2st, "%.3f") + ", ").c_str() : "",
                  m.simulations, m.seconds);
    out += line;
  }
  return out;
}

nlohmann::json CompareReport::to_json() const {
  nlohmann::json report;
  report["spec"] = settings.spec_source;
  report["created"] = created;
  report["sbi_version"] = version();
  report["simulator"] = simulator;
  report["parameters"] = parameter_names;
  report["observation"] = as_list(observation);
  report["observation_source"] = settings.observation_source;
  report["budget"] = settings.simulations;
  report["table"] = settings.table_source.empty() ? nlohmann::json(nullptr) : nlohmann::json(settings.table_source);
  report["seed"] = settings.seed;
  report["samples_per_method"] = settings.samples;
  report["reference"] = settings.reference ? nlohmann::json(settings.reference_source) : nlohmann::json(nullptr);
  if (settings.true_parameters) report["true_parameters"] = as_list(*settings.true_parameters);
  report["shared_table_seconds"] = shared_table_seconds;
  report["seconds"] = seconds;
  report["interrupted"] = interrupted;
  report["corner_plot"] = corner_plot_note.empty() ? nlohmann::json("corner.png") : nlohmann::json(nullptr);
  if (!corner_plot_note.empty()) report["corner_plot_note"] = corner_plot_note;
  if (!settings.reference) report["mmd2_between_methods"] = mmd2_between_methods;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : methods) {
    nlohmann::json entry = {{"method", m.name},
                            {"samples", "samples_" + m.name + ".csv"},
                            {"simulations", m.simulations},
                            {"seconds", m.seconds},
                            {"simulation_seconds", m.simulation_seconds},
                            {"summaries", sbi::to_json(summarise(m.samples, parameter_names))},
                            {"options", m.options},
                            {"details", m.diagnostics}};
    entry["c2st"] = m.c2st ? nlohmann::json(*m.c2st) : nlohmann::json(nullptr);
    if (settings.calibration_draws > 0) {
      if (m.calibration) {
        nlohmann::json c = m.calibration->to_json();
        // The per-draw ranks belong in a calibration report, not in the comparison's summary.
        for (const char* key : {"draw_index", "ranks", "rank_fractions", "hpd_ranks", "tarp_f"}) c.erase(key);
        entry["calibration"] = c;
      } else {
        entry["calibration"] = nullptr;
        entry["calibration_note"] = m.calibration_note;
      }
    }
    list.push_back(entry);
  }
  report["methods"] = list;
  if (settings.reference) report["reference_summaries"] = sbi::to_json(summarise(*settings.reference, parameter_names));
  return report;
}

std::string CompareReport::markdown() const {
  const auto* truth = settings.true_parameters ? &*settings.true_parameters : nullptr;
  std::ostringstream md;
  md << "# Posterior comparison: " << simulator << "\n\n";
  md << "Spec `" << settings.spec_source << "`, observation from " << settings.observation_source << ", " << settings.simulations
     << " simulations per method, seed " << settings.seed << ", " << settings.samples << " posterior draws per method; sbi++ " << version()
     << ", " << created << ".\n\n";
  md << "Methods:\n\n";
  for (const auto& m : methods) md << "- **" << m.name << "**: " << m.summary << "\n";
  if (!settings.table_source.empty())
    md << "\nEvery method trains on the same table, `" << settings.table_source << "` (" << settings.simulations << " rows).\n\n";
  else
    md << "\nMethods that learn from prior simulations share one table, simulated once; its time is counted in each method that "
          "uses it. Methods that simulate by themselves get the same budget.\n\n";
  if (interrupted) md << "**Interrupted**: the methods after the last one listed did not run.\n\n";
  if (settings.reference) {
    md << "## Accuracy\n\nC2ST against `" << settings.reference_source
       << "` (sbibm protocol: 5-fold cross-validated MLP classifier; 0.5 = indistinguishable from the reference, 1 = separable).\n\n";
    md << "| method | C2ST | simulations | wall time (s) | of which simulating (s) |\n|---|---|---|---|---|\n";
    for (const auto& m : methods)
      md << "| " << m.name << " | " << (m.c2st ? fmt(*m.c2st, "%.3f") : "–") << " | " << m.simulations << " | " << fmt(m.seconds, "%.1f")
         << " | " << fmt(m.simulation_seconds, "%.1f") << " |\n";
  } else {
    md << "## Agreement between methods\n\nNo reference posterior was given: MMD² (unbiased, Gaussian kernel, median-distance "
          "bandwidth, 2,000 draws each) between the methods' samples; small values mean similar posteriors.\n\n| MMD² |";
    for (const auto& m : methods) md << " " << m.name << " |";
    md << "\n|---|";
    for (std::size_t k = 0; k < methods.size(); ++k) md << "---|";
    md << "\n";
    for (const auto& a : methods) {
      md << "| " << a.name << " |";
      for (const auto& b : methods)
        md << " " << (a.name == b.name ? std::string("–") : fmt(mmd2_between_methods[a.name][b.name].get<double>(), "%.3g")) << " |";
      md << "\n";
    }
    md << "\n| method | simulations | wall time (s) | of which simulating (s) |\n|---|---|---|---|\n";
    for (const auto& m : methods)
      md << "| " << m.name << " | " << m.simulations << " | " << fmt(m.seconds, "%.1f") << " | " << fmt(m.simulation_seconds, "%.1f") << " |\n";
  }
  md << "\n## Posterior summaries\n\nMean, standard deviation and central 95 % interval per parameter"
     << (truth ? "; the true parameter value of the observation is in the header." : ".") << "\n\n";
  std::vector<std::vector<ParameterSummary>> summaries;
  for (const auto& m : methods) summaries.push_back(summarise(m.samples, parameter_names));
  std::vector<ParameterSummary> reference_summary;
  if (settings.reference) reference_summary = summarise(*settings.reference, parameter_names);
  for (std::size_t p = 0; p < parameter_names.size(); ++p) {
    md << "**" << parameter_names[p] << "**" << (truth ? " (true value " + fmt((*truth)[static_cast<Eigen::Index>(p)]) + ")" : "") << "\n\n";
    md << "| method | mean | sd | 2.5 % | 97.5 % |\n|---|---|---|---|---|\n";
    for (std::size_t k = 0; k < methods.size(); ++k) {
      const auto& s = summaries[k][p];
      md << "| " << methods[k].name << " | " << fmt(s.mean) << " | " << fmt(s.sd) << " | " << fmt(s.q025) << " | " << fmt(s.q975) << " |\n";
    }
    if (settings.reference) {
      const auto& s = reference_summary[p];
      md << "| reference | " << fmt(s.mean) << " | " << fmt(s.sd) << " | " << fmt(s.q025) << " | " << fmt(s.q975) << " |\n";
    }
    md << "\n";
  }
  md << "## ABC diagnostics\n\n";
  bool any_abc = false;
  for (const auto& m : methods) {
    const auto& details = m.diagnostics;
    if (!details.contains("generations")) continue;
    any_abc = true;
    md << "**" << m.name << "**: final ε " << fmt(details.value("epsilon", 0.0)) << ", " << details.value("particles", 0LL) << " particles (ESS "
       << fmt(details.value("effective_sample_size", 0.0), "%.0f") << "), " << details["generations"].size() << " generation(s)";
    const std::string stop = details.value("stop_reason", std::string());
    if (!stop.empty()) md << ", stopped: " << stop;
    md << ".\n\n| generation | ε | simulations | accepted | acceptance rate | ESS |\n|---|---|---|---|---|---|\n";
    int g = 0;
    for (const auto& gen : details["generations"])
      md << "| " << g++ << " | " << fmt(gen.value("epsilon", 0.0)) << " | " << gen.value("simulations", std::size_t{0}) << " | "
         << gen.value("accepted", std::size_t{0}) << " | " << fmt(gen.value("acceptance_rate", 0.0), "%.3f") << " | "
         << fmt(gen.value("effective_sample_size", 0.0), "%.0f") << " |\n";
    md << "\n";
  }
  if (!any_abc) md << "(no ABC method in this comparison)\n\n";
  if (settings.calibration_draws > 0) {
    md << "## Calibration\n\n";
    std::vector<std::pair<std::string, const CalibrationResult*>> checked;
    for (const auto& m : methods)
      if (m.calibration) checked.emplace_back(m.name, &*m.calibration);
    if (!checked.empty()) {
      md << calibration_comparison_markdown(checked) << "\n";
      if (coverage_plot_note.empty())
        md << "![expected coverage of highest-posterior-density regions per method](coverage_comparison.png)\n\n";
      else
        md << coverage_plot_note << "\n\n";
    }
    for (const auto& m : methods)
      if (!m.calibration) md << "- " << m.name << ": " << m.calibration_note << "\n";
    md << "\n";
  }
  md << "## Corner plot\n\n";
  if (corner_plot_note.empty())
    md << "![corner plot: pairwise scatter of 400 draws per method" << (settings.reference ? " and the reference" : "")
       << ", marginal histograms on the diagonal](corner.png)\n\nColours: ";
  else
    md << corner_plot_note << "\n\nColours: ";
  bool first = true;
  if (settings.reference) {
    md << "reference " << colour_of("reference");
    first = false;
  }
  for (const auto& m : methods) {
    md << (first ? "" : ", ") << m.name << " " << colour_of(m.name);
    first = false;
  }
  md << ". Data and gnuplot script in `plot/`.\n\nTotal wall time " << fmt(seconds, "%.1f") << " s.\n";
  return md.str();
}

CompareReport compare_methods(const std::vector<CompareEntry>& entries, const InferenceProblem& problem, const CompareSettings& settings,
                              const std::filesystem::path& folder, const TrainingCallbacks& callbacks) {
  if (entries.empty()) throw InputError("compare: no method to compare");
  if (!problem.prior) throw InputError("compare: the problem has no prior");
  if (!problem.simulator && !settings.table)
    throw InputError("compare: the problem has no simulator (give one, or a table of simulations made elsewhere)");
  if (!problem.simulator && settings.calibration_draws > 0)
    throw InputError("compare: a calibration check simulates new cases, and the problem has no simulator");
  if (settings.table && static_cast<std::size_t>(settings.table->rows()) != settings.simulations)
    throw std::logic_error("compare_methods: with a given table, settings.simulations must be its row count");
  if (!problem.observation) throw InputError("compare: no observation (the spec's \"observation\" or --observation)");
  if (settings.samples < 2) throw InputError("compare: at least 2 posterior draws per method are needed");
  const Names& names = problem.prior->names();
  if (settings.reference && static_cast<std::size_t>(settings.reference->cols()) != names.size())
    throw InputError(settings.reference_source + " has " + std::to_string(settings.reference->cols()) + " columns but the problem has " +
                     std::to_string(names.size()) + " parameters");
  // Check every method's options before spending any simulation.
  std::set<std::string> seen;
  std::vector<nlohmann::json> parsed;
  for (const auto& entry : entries) {
    if (!entry.method) throw InputError("compare: an entry has no method");
    if (settings.table && entry.method->needs != MethodNeeds::table)
      throw InputError("compare: method \"" + entry.method->name + "\" simulates by itself, and the comparison trains on the given table " +
                       settings.table_source + "; compare the methods that train on a table (npe, nle, nre, lfvi, mmd, rejection)");
    if (!seen.insert(entry.method->name).second) throw InputError("compare: method \"" + entry.method->name + "\" is listed twice");
    parsed.push_back(parse_method_options(*entry.method, entry.options, "inference (" + entry.method->name + ")"));
    check_simulation_budget(*entry.method, parsed.back(), settings.simulations, "the budget");
  }

  const auto wall_start = std::chrono::steady_clock::now();
  CompareReport report;
  report.simulator = problem.simulator ? problem.simulator.name() : "simulations from " + settings.table_source;
  report.parameter_names = names;
  report.observation = *problem.observation;
  report.settings = settings;
  report.settings.table = nullptr;  // the report outlives the caller's table; table_source names it
  report.created = utc_timestamp();
  if (!folder.empty()) std::filesystem::create_directories(folder);

  // One table for every method that learns from prior simulations: no simulation is spent twice.
  std::optional<PriorTableRun> table;
  const bool needs_table = std::any_of(entries.begin(), entries.end(), [](const CompareEntry& e) { return e.method->needs == MethodNeeds::table; });
  if (needs_table && !settings.table) {
    table = simulate_prior_table(problem.simulator, *problem.prior,
                                 {.simulations = settings.simulations, .seed = settings.seed, .threads = settings.threads,
                                  .failure_policy = problem.failure_policy, .max_redraws = problem.max_redraws},
                                 callbacks);
    report.shared_table_seconds = table->summary.seconds;
    if (table->summary.interrupted) {
      report.interrupted = true;
      report.seconds = seconds_since(wall_start);
      return report;
    }
    if (table->table.rows() < 10)
      throw InputError("only " + std::to_string(table->table.rows()) + " of " + std::to_string(settings.simulations) + " simulations succeeded");
  }

  for (std::size_t k = 0; k < entries.size(); ++k) {
    if (callbacks.stop_requested()) {
      report.interrupted = true;
      break;
    }
    const Method& method = *entries[k].method;
    RunSettings run_settings;
    run_settings.simulations = settings.simulations;
    run_settings.seed = settings.seed;
    run_settings.threads = settings.threads;
    if (method.needs == MethodNeeds::table) {
      run_settings.table = settings.table ? settings.table : &table->table;
      run_settings.table_source = settings.table ? settings.table_source : "simulated (shared by the compared methods)";
    }
    MethodRun run = run_method(method, parsed[k], problem, run_settings, callbacks);
    if (!run.posterior) {
      report.interrupted = true;
      break;
    }
    ComparedMethod compared;
    compared.name = method.name;
    compared.summary = method.summary;
    try {
      compared.samples = run.posterior.sample(*problem.observation, static_cast<Eigen::Index>(settings.samples), settings.seed, callbacks);
    } catch (const Interrupted&) {
      // Stopped while its MCMC chains ran: this method has no samples, the ones before it stay in the report.
      report.interrupted = true;
      break;
    }
    compared.options = run.posterior.info().options;
    compared.diagnostics = run.posterior.diagnostics();
    const bool table_method = method.needs == MethodNeeds::table;
    compared.simulations = table_method ? settings.simulations : run.simulations;
    compared.simulation_seconds = table_method ? report.shared_table_seconds : 0.0;
    compared.seconds = run.training_seconds + compared.simulation_seconds;
    if (!folder.empty()) write_csv(folder / ("samples_" + method.name + ".csv"), names, compared.samples);
    if (settings.calibration_draws > 0) {
      if (run.posterior.info().amortized) {
        CalibrationOptions calibration;
        calibration.draws = settings.calibration_draws;
        calibration.posterior_samples = settings.calibration_samples;
        calibration.seed = settings.seed;
        calibration.threads = settings.threads;
        compared.calibration = run_calibration(run.posterior, problem.simulator, calibration, callbacks);
        if (compared.calibration->interrupted) {
          report.methods.push_back(std::move(compared));
          report.interrupted = true;
          break;
        }
      } else {
        compared.calibration_note = "made for one observation: not checked here (sbi diagnose DIR --calibration N --rerun re-runs it per draw)";
      }
    }
    report.methods.push_back(std::move(compared));
    if (run.interrupted) {
      report.interrupted = true;
      break;
    }
  }

  // Accuracy: C2ST against the reference, or MMD² between every pair of methods.
  if (settings.reference) {
    C2stOptions c2st_options;
    c2st_options.seed = settings.seed;
    c2st_options.threads = settings.threads;
    for (std::size_t k = 0; k < report.methods.size(); ++k) {
      auto& m = report.methods[k];
      callbacks.report({"c2st", k, report.methods.size(), "method", m.name});
      m.c2st = c2st_test(*settings.reference, m.samples, c2st_options).accuracy;
    }
  } else {
    MmdOptions mmd_options;
    mmd_options.max_samples = 2000;
    for (const auto& a : report.methods)
      for (const auto& b : report.methods)
        if (a.name != b.name) report.mmd2_between_methods[a.name][b.name] = mmd2(a.samples, b.samples, mmd_options).mmd2;
  }

  if (!folder.empty()) {
    // The reference first, so that the methods are drawn over it.
    std::vector<std::pair<std::string, const RowMatrix*>> sets;
    if (settings.reference) sets.emplace_back("reference", &*settings.reference);
    for (const auto& m : report.methods) sets.emplace_back(m.name, &m.samples);
    report.corner_plot_note = make_corner_plot(folder, names, sets, settings.seed);
    std::vector<std::pair<std::string, const CalibrationResult*>> checked;
    for (const auto& m : report.methods)
      if (m.calibration) checked.emplace_back(m.name, &*m.calibration);
    if (!checked.empty()) report.coverage_plot_note = write_coverage_comparison_plot(checked, folder);
  }
  report.seconds = seconds_since(wall_start);
  if (!folder.empty()) {
    write_file_atomically(folder / "report.json", report.to_json().dump(2) + "\n");
    write_file_atomically(folder / "report.md", report.markdown());
  }
  return report;
}

}  // namespace sbi
