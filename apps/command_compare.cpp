// sbi compare SPEC --methods lfvi,mmd,rejection,smc --budget N [--reference REF.csv] -o DIR: runs
// every method at the same simulation budget on the same observation and writes a report
// (report.md, report.json, corner.png, one samples CSV per method).
#include "apps/abc_methods.hpp"
#include "apps/cli.hpp"

#include "models/implicit_posterior.hpp"
#include "sbi/core/error.hpp"
#include "sbi/diagnostics/c2st.hpp"
#include "sbi/diagnostics/summaries.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/util/progress.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

namespace sbi::cli {

namespace {

const std::vector<std::string> kMethods = {"lfvi", "mmd", "rejection", "smc"};

struct MethodRun {
  std::string name;
  RowMatrix samples;
  std::size_t simulations = 0;
  double seconds = 0;             // wall time including the simulations it used
  double simulation_seconds = 0;  // of which simulating (the shared table's time for table methods)
  nlohmann::json details = nlohmann::json::object();
  std::vector<ParameterSummary> summary;
  double c2st = -1;
};

std::string colour_of(const std::string& name) {
  static const std::map<std::string, std::string> colours = {
      {"reference", "#000000"}, {"lfvi", "#1f77b4"}, {"mmd", "#ff7f0e"}, {"rejection", "#2ca02c"}, {"smc", "#d62728"}};
  const auto it = colours.find(name);
  return it == colours.end() ? "#7f7f7f" : it->second;
}

std::string gnuplot_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// A round tick step giving about three ticks over [low, high].
double tick_step(double low, double high) {
  const double raw = (high - low) / 3.0;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * power >= raw) return m * power;
  return 10.0 * power;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&t));
  return buffer;
}

std::vector<std::string> split_methods(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream stream(text);
  std::string item;
  std::set<std::string> seen;
  while (std::getline(stream, item, ',')) {
    if (item.empty()) continue;
    if (std::find(kMethods.begin(), kMethods.end(), item) == kMethods.end())
      throw po::error("unknown method \"" + item + "\" in --methods (expected a comma-separated list of lfvi, mmd, rejection, smc)");
    if (!seen.insert(item).second) throw po::error("method \"" + item + "\" is listed twice in --methods");
    out.push_back(item);
  }
  if (out.empty()) throw po::error("--methods lists no method (expected e.g. lfvi,mmd,rejection,smc)");
  return out;
}

// Writes the plotting data and script into folder/plot and runs gnuplot. Returns an empty string on
// success, else a note for the report.
std::string make_corner_plot(const std::filesystem::path& folder, const Names& names, const std::vector<std::pair<std::string, const RowMatrix*>>& sets,
                             std::uint64_t seed) {
  const std::filesystem::path plot_dir = folder / "plot";
  std::filesystem::create_directories(plot_dir);
  const auto d = static_cast<Eigen::Index>(names.size());
  constexpr Eigen::Index kPoints = 400;
  constexpr int kBins = 30;
  // Common bins per parameter over the central 99 % of all sets, so outliers do not squash the plots.
  std::vector<double> low(static_cast<std::size_t>(d)), high(static_cast<std::size_t>(d));
  for (Eigen::Index c = 0; c < d; ++c) {
    std::vector<double> all;
    for (const auto& [label, x] : sets)
      for (Eigen::Index i = 0; i < x->rows(); ++i)
        if (std::isfinite((*x)(i, c))) all.push_back((*x)(i, c));
    double lo = all.empty() ? 0 : quantile(all, 0.005), hi = all.empty() ? 1 : quantile(all, 0.995);
    if (!(hi > lo)) {
      lo -= 0.5;
      hi += 0.5;
    }
    const double pad = 0.05 * (hi - lo);
    low[static_cast<std::size_t>(c)] = lo - pad;
    high[static_cast<std::size_t>(c)] = hi + pad;
  }
  for (std::size_t s = 0; s < sets.size(); ++s) {
    const auto& [label, x] = sets[s];
    Rng rng = Rng::stream(seed, s, 0xc0ae);
    std::string points;
    const Eigen::Index n = std::min(kPoints, x->rows());
    // A random subset (without replacement, partial Fisher–Yates) so every method shows its spread.
    std::vector<Eigen::Index> order(static_cast<std::size_t>(x->rows()));
    std::iota(order.begin(), order.end(), Eigen::Index{0});
    for (Eigen::Index i = 0; i < n; ++i)
      std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(i) + rng.below(static_cast<std::uint64_t>(x->rows() - i))]);
    for (Eigen::Index i = 0; i < n; ++i) {
      for (Eigen::Index c = 0; c < d; ++c) {
        if (c) points += ' ';
        append_double(points, (*x)(order[static_cast<std::size_t>(i)], c));
      }
      points += '\n';
    }
    write_file_atomically(plot_dir / (label + "_points.dat"), points);
    std::string histograms;
    for (Eigen::Index c = 0; c < d; ++c) {
      const double lo = low[static_cast<std::size_t>(c)], width = (high[static_cast<std::size_t>(c)] - lo) / kBins;
      std::vector<double> counts(kBins, 0.0);
      double total = 0;
      for (Eigen::Index i = 0; i < x->rows(); ++i) {
        const double v = (*x)(i, c);
        if (!std::isfinite(v)) continue;
        const auto bin = static_cast<long>(std::floor((v - lo) / width));
        if (bin >= 0 && bin < kBins) counts[static_cast<std::size_t>(bin)] += 1;
        total += 1;
      }
      // Density, with closing zero levels so the step outline starts and ends on the axis.
      histograms += std::to_string(lo) + " 0\n";
      for (int b = 0; b < kBins; ++b) {
        histograms += std::to_string(lo + b * width) + " " + std::to_string(total > 0 ? counts[static_cast<std::size_t>(b)] / (total * width) : 0.0) + "\n";
      }
      histograms += std::to_string(lo + kBins * width) + " 0\n\n\n";
    }
    write_file_atomically(plot_dir / (label + "_hist.dat"), histograms);
  }

  const int panel = d <= 2 ? 360 : d <= 5 ? 260 : 170;
  const int size = std::max<int>(panel * static_cast<int>(d), 560);
  const double cell = 0.94 / static_cast<double>(d);
  std::ostringstream gp;
  gp << "# corner plot written by sbi compare; run from the report folder: gnuplot plot/corner.gp\n";
  gp << "set terminal pngcairo size " << size << "," << size << " font 'sans," << (d > 5 ? 7 : 9) << "' noenhanced\n";
  gp << "set output 'corner.png.part'\nset multiplot\nset tics scale 0.5\nset format '%.2g'\nunset key\n";
  gp << "set lmargin 0; set rmargin 0; set tmargin 0; set bmargin 0\n";
  for (Eigen::Index row = 0; row < d; ++row) {
    for (Eigen::Index col = 0; col <= row; ++col) {
      const double x0 = 0.055 + cell * static_cast<double>(col);
      const double y0 = 0.05 + cell * static_cast<double>(d - 1 - row);
      gp << "set origin " << x0 << "," << y0 << "\nset size " << cell * 0.92 << "," << cell * 0.92 << "\n";
      gp << "set xrange [" << low[static_cast<std::size_t>(col)] << ":" << high[static_cast<std::size_t>(col)] << "]\n";
      gp << "set xtics " << tick_step(low[static_cast<std::size_t>(col)], high[static_cast<std::size_t>(col)]) << (row == d - 1 ? "" : " format ''") << "\n";
      if (row == d - 1) gp << "set xlabel " << gnuplot_quote(names[static_cast<std::size_t>(col)]) << " offset 0,0.5\n";
      else gp << "unset xlabel\n";
      if (row == col) {
        gp << "set yrange [0:*]\nunset ytics\nunset ylabel\n";
        gp << "plot ";
        for (std::size_t s = 0; s < sets.size(); ++s)
          gp << (s ? ", " : "") << gnuplot_quote("plot/" + sets[s].first + "_hist.dat") << " index " << col
             << " using 1:2 with steps lw 1.5 lc rgb '" << colour_of(sets[s].first) << "'";
        gp << "\n";
      } else {
        gp << "set yrange [" << low[static_cast<std::size_t>(row)] << ":" << high[static_cast<std::size_t>(row)] << "]\n";
        gp << "set ytics " << tick_step(low[static_cast<std::size_t>(row)], high[static_cast<std::size_t>(row)]) << (col == 0 ? "" : " format ''") << "\n";
        if (col == 0) gp << "set ylabel " << gnuplot_quote(names[static_cast<std::size_t>(row)]) << " offset 0.5,0\n";
        else gp << "unset ylabel\n";
        gp << "plot ";
        for (std::size_t s = 0; s < sets.size(); ++s)
          gp << (s ? ", " : "") << gnuplot_quote("plot/" + sets[s].first + "_points.dat") << " using " << col + 1 << ":" << row + 1
             << " with points pt 7 ps " << (d > 5 ? 0.12 : 0.25) << " lc rgb '" << colour_of(sets[s].first) << "'";
        gp << "\n";
      }
      gp << "set ytics format '%.2g'\nset xtics format '%.2g'\n";
    }
  }
  // Legend in the empty upper-right triangle.
  const double legend_size = d > 1 ? cell * static_cast<double>(d / 2) : 0.3;
  gp << "set origin " << 0.99 - legend_size << "," << 0.99 - legend_size << "\nset size " << legend_size << "," << legend_size << "\n";
  gp << "unset border\nunset xtics\nunset ytics\nunset xlabel\nunset ylabel\nset xrange [0:1]\nset yrange [0:1]\n";
  gp << "set key center center box spacing 1.5 samplen 1 font '," << (d > 5 ? 14 : 11) << "'\n";
  gp << "plot ";
  for (std::size_t s = 0; s < sets.size(); ++s)
    gp << (s ? ", " : "") << "NaN with points pt 7 ps 2.5 lc rgb '" << colour_of(sets[s].first) << "' title " << gnuplot_quote(sets[s].first);
  gp << "\nunset multiplot\nset output\n";
  write_file_atomically(plot_dir / "corner.gp", gp.str());

  const char* configured = std::getenv("SBI_GNUPLOT");
  const std::string gnuplot = configured && *configured ? configured : "gnuplot";
  const std::string probe = "'" + gnuplot + "' --version >/dev/null 2>&1";
  if (std::system(probe.c_str()) != 0)
    return "gnuplot was not found, so there is no corner.png: install gnuplot-nox (apt-get install gnuplot-nox) to get corner.png, "
           "then run `gnuplot plot/corner.gp` in this folder (the plot data is already there).";
  const std::string command = "cd '" + folder.string() + "' && '" + gnuplot + "' plot/corner.gp >plot/gnuplot.log 2>&1";
  if (std::system(command.c_str()) != 0 || !std::filesystem::exists(folder / "corner.png.part"))
    return "gnuplot failed to draw corner.png (see plot/gnuplot.log in this folder)";
  std::filesystem::rename(folder / "corner.png.part", folder / "corner.png");
  return "";
}

std::string fmt(double v, const char* format = "%.4g") {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

int run_compare(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("spec", po::value<std::string>(), "the JSON spec (simulator, prior, observation; its inference section sets LFVI/MMD options)")
      ("methods", po::value<std::string>()->default_value("lfvi,mmd,rejection,smc"), "comma-separated: lfvi, mmd, rejection, smc")
      ("budget", po::value<std::size_t>(), "simulations per method (default: the spec's inference.simulations, else 10000)")
      ("reference,r", po::value<std::string>(), "reference posterior samples (CSV) for C2ST; without it, MMD² between methods")
      ("observation", po::value<std::string>(), "observation CSV (header + one row) instead of the spec's")
      ("inference", po::value<std::string>(), "JSON object merged over the spec's inference section for lfvi/mmd, e.g. '{\"max_iterations\": 2000}'")
      ("samples,n", po::value<std::size_t>(), "posterior draws per method (default: the spec's output.samples, 10000)")
      ("seed", po::value<std::uint64_t>(), "seed (default: the spec's)")
      ("threads", po::value<int>()->default_value(0), "simulation and C2ST threads (0 = all cores)")
      ("output,o", po::value<std::string>(), "report folder")
      ("quiet,q", po::bool_switch(), "no progress bars");
  po::positional_options_description positional;
  positional.add("spec", 1);
  po::variables_map vm;
  if (!parse_command_line(args, "sbi compare SPEC --methods lfvi,mmd,rejection,smc --budget N [--reference REF.csv] -o DIR", options,
                          positional, vm))
    return kExitOk;
  if (!vm.count("spec")) throw po::error("the spec is required: sbi compare SPEC --methods ... -o DIR");
  if (!vm.count("output")) throw po::error("the report folder is required: -o DIR");
  const auto methods = split_methods(vm["methods"].as<std::string>());
  const bool quiet = vm["quiet"].as<bool>();
  const int threads = vm["threads"].as<int>();
  const std::filesystem::path folder = vm["output"].as<std::string>();
  const std::string spec_path = vm["spec"].as<std::string>();

  const Spec spec = read_spec(spec_path);
  const auto model = simulators::build_spec_model(spec);
  const Names& names = model.prior->names();
  const std::uint64_t seed = vm.count("seed") ? vm["seed"].as<std::uint64_t>() : spec.seed;
  const std::size_t n_samples = vm.count("samples") ? vm["samples"].as<std::size_t>() : spec.output_samples;
  if (n_samples < 2) throw po::error("--samples must be at least 2");
  const std::size_t budget = vm.count("budget") ? vm["budget"].as<std::size_t>() : spec_simulation_budget(spec, 20);
  if (budget < 20) throw po::error("--budget must be at least 20 simulations");

  nlohmann::json inference = spec.inference;
  if (vm.count("inference")) {
    nlohmann::json overrides;
    try {
      overrides = nlohmann::json::parse(vm["inference"].as<std::string>());
    } catch (const nlohmann::json::parse_error& e) {
      throw po::error(std::string("--inference: not valid JSON (") + e.what() + ")");
    }
    if (!overrides.is_object()) throw po::error("--inference must be a JSON object");
    inference.merge_patch(overrides);
  }
  inference.erase("simulations");
  inference.erase("table");

  const bool own_observation = vm.count("observation") > 0;
  const Vector observation =
      observation_for(model, spec, own_observation ? vm["observation"].as<std::string>() : std::string());
  const Vector* truth = !own_observation && spec.true_parameters ? &*spec.true_parameters : nullptr;

  std::optional<RowMatrix> reference;
  std::string reference_path;
  if (vm.count("reference")) {
    reference_path = vm["reference"].as<std::string>();
    CsvTable ref = read_csv(reference_path);
    if (static_cast<std::size_t>(ref.values.cols()) != names.size())
      throw InputError(reference_path + " has " + std::to_string(ref.values.cols()) + " columns but the spec has " +
                       std::to_string(names.size()) + " parameters");
    reference = std::move(ref.values);
  }
  // Validate the LFVI settings before spending any simulation.
  for (const auto& m : methods)
    if (m == "lfvi" || m == "mmd") {
      nlohmann::json section = inference;
      section["method"] = m;
      LfviOptions check = LfviOptions::from_json(section, "inference");
      const std::string why = check.validate();
      if (!why.empty()) throw InputError("inference." + why);
    }

  std::filesystem::create_directories(folder);
  const auto wall_start = std::chrono::steady_clock::now();

  // One table for every method that learns from prior simulations: no simulation is spent twice.
  std::optional<ReferenceTable> table;
  double table_seconds = 0;
  const bool needs_table = std::any_of(methods.begin(), methods.end(), [](const std::string& m) { return m != "smc"; });
  if (needs_table) {
    table = simulate_prior_table(model, spec, budget, seed, threads, quiet, table_seconds);
    if (table->rows() < 10) throw InputError("only " + std::to_string(table->rows()) + " of " + std::to_string(budget) + " simulations succeeded");
  }

  std::vector<MethodRun> runs;
  for (const auto& m : methods) {
    if (interrupt_flag()) throw InputError("interrupted");
    MethodRun run;
    run.name = m;
    if (!quiet) std::fprintf(stderr, "running %s\n", m.c_str());
    if (m == "lfvi" || m == "mmd") {
      nlohmann::json section = inference;
      section["method"] = m;
      LfviOptions lfvi = LfviOptions::from_json(section, "inference");
      if (!section.contains("seed")) lfvi.seed = seed;
      ProgressBar bar("train " + m, static_cast<std::size_t>(lfvi.max_iterations), ProgressBar::should_show(quiet), "step");
      LfviCallbacks callbacks;
      callbacks.stop = &interrupt_flag();
      callbacks.on_record = [&](const TrainingRecord& r, int) { bar.update(static_cast<std::size_t>(r.iteration)); };
      const auto start = std::chrono::steady_clock::now();
      LfviFit fit = train_lfvi(table->theta, table->y, *model.prior, lfvi, callbacks);
      bar.finish();
      run.details = {{"best_iteration", fit.best_iteration}, {"stopped_early", fit.stopped_early}, {"training_seconds", fit.seconds},
                     {"max_iterations", lfvi.max_iterations}};
      models::Provenance provenance;
      provenance.method = m;
      provenance.simulator = model.simulator.name();
      provenance.seed = seed;
      provenance.simulations = static_cast<std::size_t>(table->rows());
      models::ImplicitPosterior posterior(std::move(fit), model.prior, model.simulator.info().data_names, lfvi, provenance);
      run.samples = posterior.sample(observation, static_cast<Eigen::Index>(n_samples), seed);
      run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() + table_seconds;
      run.simulation_seconds = table_seconds;
      run.simulations = budget;
    } else {
      AbcRunSettings settings;
      settings.method = m;
      settings.budget = budget;
      settings.rejection.keep = 100;
      settings.samples = n_samples;
      settings.seed = seed;
      settings.threads = threads;
      settings.quiet = quiet;
      settings.resample.seed = seed;
      const AbcRun abc = run_abc_method(model, spec, observation, settings, m == "rejection" ? &*table : nullptr);
      run.samples = abc.result.samples;
      run.simulations = m == "rejection" ? budget : abc.result.simulations;
      run.seconds = abc.result.seconds + (m == "rejection" ? table_seconds : 0.0);
      run.simulation_seconds = m == "rejection" ? table_seconds : 0.0;
      run.details = abc.result.to_json();
    }
    run.summary = summarise(run.samples, names);
    write_csv(folder / ("samples_" + m + ".csv"), names, run.samples);
    runs.push_back(std::move(run));
  }

  // Accuracy: C2ST against the reference, or MMD² between every pair of methods.
  nlohmann::json mmd_matrix = nlohmann::json::object();
  if (reference) {
    C2stOptions c2st_options;
    c2st_options.seed = seed;
    c2st_options.threads = threads;
    for (auto& run : runs) {
      if (!quiet) std::fprintf(stderr, "C2ST for %s\n", run.name.c_str());
      run.c2st = c2st_test(*reference, run.samples, c2st_options).accuracy;
    }
  } else {
    MmdOptions mmd_options;
    mmd_options.max_samples = 2000;
    for (const auto& a : runs)
      for (const auto& b : runs)
        if (a.name != b.name) mmd_matrix[a.name][b.name] = mmd2(a.samples, b.samples, mmd_options).mmd2;
  }

  // The reference first, so that the methods are drawn over it.
  std::vector<std::pair<std::string, const RowMatrix*>> sets;
  if (reference) sets.emplace_back("reference", &*reference);
  for (const auto& run : runs) sets.emplace_back(run.name, &run.samples);
  const std::string plot_note = make_corner_plot(folder, names, sets, seed);

  // report.json
  nlohmann::json report;
  report["spec"] = spec_path;
  report["created"] = utc_now();
  report["sbi_version"] = SBI_VERSION_STRING;
  report["simulator"] = model.simulator.name();
  report["parameters"] = names;
  report["observation"] = std::vector<double>(observation.data(), observation.data() + observation.size());
  report["budget"] = budget;
  report["seed"] = seed;
  report["samples_per_method"] = n_samples;
  report["reference"] = reference ? nlohmann::json(reference_path) : nlohmann::json(nullptr);
  if (truth) report["true_parameters"] = std::vector<double>(truth->data(), truth->data() + truth->size());
  report["shared_table_seconds"] = table_seconds;
  report["corner_plot"] = plot_note.empty() ? nlohmann::json("corner.png") : nlohmann::json(nullptr);
  if (!plot_note.empty()) report["corner_plot_note"] = plot_note;
  if (!reference) report["mmd2_between_methods"] = mmd_matrix;
  nlohmann::json method_list = nlohmann::json::array();
  for (const auto& run : runs) {
    nlohmann::json entry = {{"method", run.name},
                            {"samples", "samples_" + run.name + ".csv"},
                            {"simulations", run.simulations},
                            {"seconds", run.seconds},
                            {"simulation_seconds", run.simulation_seconds},
                            {"summaries", to_json(run.summary)},
                            {"details", run.details}};
    entry["c2st"] = reference ? nlohmann::json(run.c2st) : nlohmann::json(nullptr);
    method_list.push_back(entry);
  }
  report["methods"] = method_list;
  if (reference) report["reference_summaries"] = to_json(summarise(*reference, names));
  write_file_atomically(folder / "report.json", report.dump(2) + "\n");

  // report.md
  std::ostringstream md;
  md << "# Posterior comparison: " << model.simulator.name() << "\n\n";
  md << "Spec `" << spec_path << "`, observation " << (own_observation ? "`" + vm["observation"].as<std::string>() + "`" : "from the spec")
     << ", " << budget << " simulations per method, seed " << seed << ", " << n_samples << " posterior draws per method; sbi++ "
     << SBI_VERSION_STRING << ", " << utc_now() << ".\n\n";
  md << "Methods: **lfvi** likelihood-free variational inference (adversarial ratio estimate), **mmd** implicit generator trained by "
        "MMD, both amortised, trained on one table of prior simulations with the spec's `inference` settings; **rejection** "
        "rejection ABC keeping the 100 nearest simulations of the same table (MAD-scaled Euclidean distance), draws from a "
        "Gaussian KDE on them; **smc** SMC-ABC (adaptive ε, Gaussian kernel with twice the weighted covariance) with its own "
        "simulations, draws from a weighted KDE. The table is simulated once and shared, so its time is counted in each "
        "method that uses it.\n\n";
  if (reference) {
    md << "## Accuracy\n\nC2ST against `" << reference_path
       << "` (sbibm protocol: 5-fold cross-validated MLP classifier; 0.5 = indistinguishable from the reference, 1 = separable).\n\n";
    md << "| method | C2ST | simulations | wall time (s) | of which simulating (s) |\n|---|---|---|---|---|\n";
    for (const auto& run : runs)
      md << "| " << run.name << " | " << fmt(run.c2st, "%.3f") << " | " << run.simulations << " | " << fmt(run.seconds, "%.1f") << " | "
         << fmt(run.simulation_seconds, "%.1f") << " |\n";
  } else {
    md << "## Agreement between methods\n\nNo reference posterior was given: MMD² (unbiased, Gaussian kernel, median-distance "
          "bandwidth, 2,000 draws each) between the methods' samples; small values mean similar posteriors.\n\n| MMD² |";
    for (const auto& run : runs) md << " " << run.name << " |";
    md << "\n|---|";
    for (std::size_t k = 0; k < runs.size(); ++k) md << "---|";
    md << "\n";
    for (const auto& a : runs) {
      md << "| " << a.name << " |";
      for (const auto& b : runs) md << " " << (a.name == b.name ? std::string("–") : fmt(mmd_matrix[a.name][b.name].get<double>(), "%.3g")) << " |";
      md << "\n";
    }
    md << "\n| method | simulations | wall time (s) | of which simulating (s) |\n|---|---|---|---|\n";
    for (const auto& run : runs)
      md << "| " << run.name << " | " << run.simulations << " | " << fmt(run.seconds, "%.1f") << " | " << fmt(run.simulation_seconds, "%.1f") << " |\n";
  }
  md << "\n## Posterior summaries\n\nMean, standard deviation and central 95 % interval per parameter"
     << (truth ? "; the true parameter value of the observation is in the header." : ".") << "\n\n";
  std::vector<ParameterSummary> reference_summary;
  if (reference) reference_summary = summarise(*reference, names);
  for (std::size_t p = 0; p < names.size(); ++p) {
    md << "**" << names[p] << "**" << (truth ? " (true value " + fmt((*truth)[static_cast<Eigen::Index>(p)]) + ")" : "") << "\n\n";
    md << "| method | mean | sd | 2.5 % | 97.5 % |\n|---|---|---|---|---|\n";
    for (const auto& run : runs) {
      const auto& s = run.summary[p];
      md << "| " << run.name << " | " << fmt(s.mean) << " | " << fmt(s.sd) << " | " << fmt(s.q025) << " | " << fmt(s.q975) << " |\n";
    }
    if (reference) {
      const auto& s = reference_summary[p];
      md << "| reference | " << fmt(s.mean) << " | " << fmt(s.sd) << " | " << fmt(s.q025) << " | " << fmt(s.q975) << " |\n";
    }
    md << "\n";
  }
  md << "## ABC diagnostics\n\n";
  bool any_abc = false;
  for (const auto& run : runs) {
    if (run.name != "rejection" && run.name != "smc") continue;
    any_abc = true;
    md << "**" << run.name << "**: final ε " << fmt(run.details["epsilon"].get<double>()) << ", " << run.details["particles"].get<long long>()
       << " particles (ESS " << fmt(run.details["effective_sample_size"].get<double>(), "%.0f") << "), " << run.details["generations"].size()
       << " generation(s)";
    if (!run.details["stop_reason"].get<std::string>().empty()) md << ", stopped: " << run.details["stop_reason"].get<std::string>();
    md << ".\n\n| generation | ε | simulations | accepted | acceptance rate | ESS |\n|---|---|---|---|---|---|\n";
    int g = 0;
    for (const auto& gen : run.details["generations"])
      md << "| " << g++ << " | " << fmt(gen["epsilon"].get<double>()) << " | " << gen["simulations"].get<std::size_t>() << " | "
         << gen["accepted"].get<std::size_t>() << " | " << fmt(gen["acceptance_rate"].get<double>(), "%.3f") << " | "
         << fmt(gen["effective_sample_size"].get<double>(), "%.0f") << " |\n";
    md << "\n";
  }
  if (!any_abc) md << "(no ABC method in this comparison)\n\n";
  md << "## Corner plot\n\n";
  if (plot_note.empty())
    md << "![corner plot: pairwise scatter of 400 draws per method" << (reference ? " and the reference" : "")
       << ", marginal histograms on the diagonal](corner.png)\n\nColours: ";
  else
    md << plot_note << "\n\nColours: ";
  for (std::size_t s = 0; s < sets.size(); ++s) md << (s ? ", " : "") << sets[s].first << " " << colour_of(sets[s].first);
  md << ". Data and gnuplot script in `plot/`.\n\nTotal wall time " << fmt(std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count(), "%.1f")
     << " s.\n";
  write_file_atomically(folder / "report.md", md.str());

  std::printf("report written to %s (report.md, report.json%s)\n\n", folder.string().c_str(), plot_note.empty() ? ", corner.png" : "");
  for (const auto& run : runs)
    std::printf("%-10s %s%zu simulations, %.1f s\n", run.name.c_str(), reference ? ("C2ST " + fmt(run.c2st, "%.3f") + ", ").c_str() : "",
                run.simulations, run.seconds);
  if (!plot_note.empty()) std::printf("\nnote: %s\n", plot_note.c_str());
  return kExitOk;
}

}  // namespace

Command compare_command() {
  return {"compare", "run several methods at the same budget and write a comparison report (Markdown, JSON, corner plot)",
          [](const std::vector<std::string>& args) { return run_guarded("compare", [&] { return run_compare(args); }); }};
}

}  // namespace sbi::cli
