// sbi stability sweep: the learnable-points experiment of Chu, Minami & Fukumizu (ICLR 2020) —
// final distance to the target against the generator's step size γ/γ0, for discriminators with
// and without spectral normalisation and the RKHS penalty (sbi/stability/point_gan.hpp).
// Writes DIR/sweep.csv (one row per run), DIR/sweep_plot.dat (aggregates) and DIR/sweep.png
// (gnuplot; skipped with a warning when gnuplot is missing).
#include "apps/cli.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/stability/estimators.hpp"
#include "sbi/stability/point_gan.hpp"
#include "sbi/util/progress.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

namespace sbi::cli {

namespace {

std::vector<std::string> split_list(const std::string& text, const std::string& option) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ','))
    if (!item.empty()) items.push_back(item);
  if (items.empty()) throw po::error("--" + option + ": expected a comma-separated list, got \"" + text + "\"");
  return items;
}

std::vector<double> parse_numbers(const std::string& text, const std::string& option) {
  std::vector<double> values;
  for (const auto& item : split_list(text, option)) {
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || !(v > 0) || !std::isfinite(v)) throw po::error("--" + option + ": \"" + item + "\" is not a positive number");
    values.push_back(v);
  }
  return values;
}

// The unbiased MMD² fluctuates around 0 by about 1e-3 for a few hundred points; values below this
// floor are drawn at the floor on the log axis.
constexpr double kMmdFloor = 1e-4;

struct Aggregate {
  int runs = 0, diverged = 0;
  std::vector<double> mmd2, w1;
};

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

std::string number(double v) { return std::isfinite(v) ? format_double(v) : "NaN"; }

std::string sweep_csv(const std::string& target, const std::vector<stability::SweepRow>& rows) {
  std::string out = "target,config,ratio,gamma,seed,diverged,steps_done,mmd2,w1,initial_mmd2,initial_w1,final_grad_norm,discriminator_lipschitz,discriminator_smoothness,seconds\n";
  for (const auto& r : rows) {
    out += target + "," + r.job.config + "," + format_double(r.job.ratio) + "," + format_double(r.gamma) + "," + std::to_string(r.job.seed) + "," +
           (r.result.diverged ? "1" : "0") + "," + std::to_string(r.result.steps_done) + "," + format_double(r.result.mmd2) + "," +
           format_double(r.result.w1) + "," + format_double(r.result.initial_mmd2) + "," + format_double(r.result.initial_w1) + "," +
           format_double(r.result.final_grad_norm) + "," + format_double(r.result.discriminator_lipschitz) + "," +
           format_double(r.result.discriminator_smoothness) + "," + format_double(r.result.seconds) + "\n";
  }
  return out;
}

// Per configuration (gnuplot index blocks, in order): ratio, W1 median/min/max over the runs that did
// not diverge, MMD² median/min/max (floored at kMmdFloor for the log axis; the unbiased estimate can be
// negative), fraction diverged.
std::string plot_data(const std::vector<std::string>& configs, const std::vector<stability::SweepRow>& rows, std::string& table) {
  std::string out;
  std::ostringstream t;
  t << "config     γ/γ0      diverged  median W1   median MMD²\n";
  for (const auto& config : configs) {
    std::map<double, Aggregate> by_ratio;
    for (const auto& r : rows) {
      if (r.job.config != config) continue;
      auto& a = by_ratio[r.job.ratio];
      ++a.runs;
      if (r.result.diverged) {
        ++a.diverged;
        continue;
      }
      if (std::isfinite(r.result.mmd2)) a.mmd2.push_back(std::max(r.result.mmd2, kMmdFloor));
      if (std::isfinite(r.result.w1)) a.w1.push_back(r.result.w1);
    }
    out += "# " + config + "\n";
    for (const auto& [ratio, a] : by_ratio) {
      auto lo = [](const std::vector<double>& v) { return v.empty() ? std::nan("") : *std::min_element(v.begin(), v.end()); };
      auto hi = [](const std::vector<double>& v) { return v.empty() ? std::nan("") : *std::max_element(v.begin(), v.end()); };
      out += format_double(ratio) + " " + number(median(a.w1)) + " " + number(lo(a.w1)) + " " + number(hi(a.w1)) + " " + number(median(a.mmd2)) + " " +
             number(lo(a.mmd2)) + " " + number(hi(a.mmd2)) + " " + format_double(static_cast<double>(a.diverged) / a.runs) + "\n";
      char line[160];
      std::snprintf(line, sizeof line, "%-10s %-9.3g %d/%-7d %-11.4g %.4g\n", config.c_str(), ratio, a.diverged, a.runs, median(a.w1), median(a.mmd2));
      t << line;
    }
    out += "\n\n";
  }
  table = t.str();
  return out;
}

std::string gnuplot_script(const std::string& title, const std::vector<std::string>& configs, const std::filesystem::path& data,
                           const std::filesystem::path& png, bool has_w1, double min_ratio, double max_ratio) {
  std::ostringstream s;
  s << "set terminal pngcairo size 1500,480 font ',10'\n"
    << "set output '" << png.string() << "'\n"
    << "set datafile missing 'NaN'\n"
    << "set multiplot layout 1," << (has_w1 ? 3 : 2) << " title '" << title << " (median over seeds, band = min–max; diverged runs excluded)'\n"
    << "set logscale x\nset format x '10^{%L}'\nset xrange [" << min_ratio / 2 << ":" << max_ratio * 2 << "]\n"
    << "set xlabel 'γ/γ0'\nset key top left\nset grid\n";
  auto panel = [&](const std::string& ylabel, int median_col, bool logy) {
    s << (logy ? "set logscale y\n" : "unset logscale y\n") << "set ylabel '" << ylabel << "'\n";
    if (!logy) s << "set yrange [0:1.05]\nset format y '%g'\n";
    else s << "set autoscale y\nset format y '10^{%L}'\n";
    s << "plot ";
    for (std::size_t i = 0; i < configs.size(); ++i) {
      if (i) s << ", ";
      if (median_col > 0)
        s << "'" << data.string() << "' index " << i << " using 1:" << median_col + 1 << ":" << median_col + 2 << " with filledcurves fs transparent solid 0.15 lc " << i + 1
          << " notitle, '' index " << i << " using 1:" << median_col << " with linespoints lc " << i + 1 << " pt 7 title '" << configs[i] << "'";
      else
        s << "'" << data.string() << "' index " << i << " using 1:8 with linespoints lc " << i + 1 << " pt 7 title '" << configs[i] << "'";
    }
    s << "\n";
  };
  if (has_w1) panel("exact W1 to a target sample", 2, true);
  panel("MMD² (fixed Gaussian kernel; floor 1e-4)", 5, true);
  panel("fraction of runs diverged", 0, false);
  s << "unset multiplot\n";
  return s.str();
}

int run_sweep_command(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("target", po::value<std::string>()->default_value("grid25"), "grid25, gauss8d, or a CSV data set (header line, numeric columns; z-scored)")
      ("points", po::value<long>()->default_value(256), "N: learnable points of the generator")
      ("ratios", po::value<std::string>()->default_value("0.1,1,10,100,1000,10000,100000"), "step sizes γ/γ0, comma-separated")
      ("seeds", po::value<int>()->default_value(3), "runs per (configuration, ratio)")
      ("configs", po::value<std::string>()->default_value("none,sn,rkhs,sn+rkhs"), "discriminator regularisers: none, sn, rkhs, sn+rkhs")
      ("steps", po::value<int>()->default_value(1000), "generator steps per run")
      ("discriminator-steps", po::value<int>()->default_value(5), "discriminator steps per generator step")
      ("batch", po::value<long>()->default_value(64), "real and generated points per discriminator step")
      ("hidden", po::value<std::string>()->default_value("64,64"), "discriminator hidden widths")
      ("alpha", po::value<double>()->default_value(1.0), "α: Lipschitz bound of the spectrally normalised discriminator")
      ("beta2", po::value<double>()->default_value(1.0), "β2: RKHS penalty weight 1/(2β2)")
      ("discriminator-lr", po::value<double>()->default_value(1e-3), "discriminator learning rate (Adam)")
      ("exact-w1", po::value<bool>()->default_value(true), "compute the exact W1 (O(N³); turn off for large N)")
      ("seed", po::value<std::uint64_t>()->default_value(1), "base seed")
      ("threads", po::value<int>()->default_value(0), "parallel runs (0 = all cores)")
      ("output,o", po::value<std::string>(), "output folder")
      ("quiet,q", po::bool_switch(), "no progress bar or table");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse_command_line(args, "sbi stability sweep [options] -o DIR", options, positional, vm)) return kExitOk;
  if (!vm.count("output")) throw po::error("the output folder is required: -o DIR");
  const bool quiet = vm["quiet"].as<bool>();
  stability::SweepOptions sweep;
  sweep.configs = split_list(vm["configs"].as<std::string>(), "configs");
  for (const auto& c : sweep.configs) stability::point_gan_config(c);  // reject unknown names before any work
  sweep.ratios = parse_numbers(vm["ratios"].as<std::string>(), "ratios");
  sweep.seeds = vm["seeds"].as<int>();
  if (sweep.seeds < 1) throw po::error("--seeds: must be at least 1");
  sweep.base_seed = vm["seed"].as<std::uint64_t>();
  sweep.threads = vm["threads"].as<int>();
  auto& run = sweep.run;
  if (vm["points"].as<long>() < 2) throw po::error("--points: must be at least 2");
  run.points = vm["points"].as<long>();
  run.steps = vm["steps"].as<int>();
  run.discriminator_steps = vm["discriminator-steps"].as<int>();
  run.batch = vm["batch"].as<long>();
  run.hidden.clear();
  for (double w : parse_numbers(vm["hidden"].as<std::string>(), "hidden")) {
    if (w != std::floor(w) || w > 65536) throw po::error("--hidden: widths must be whole numbers up to 65536");
    run.hidden.push_back(static_cast<Eigen::Index>(w));
  }
  run.alpha = vm["alpha"].as<double>();
  run.beta2 = vm["beta2"].as<double>();
  run.discriminator_learning_rate = vm["discriminator-lr"].as<double>();
  run.exact_w1 = vm["exact-w1"].as<bool>();
  if (std::string why; !run.is_valid(&why)) throw po::error(why);

  const auto target = stability::make_point_target(vm["target"].as<std::string>());
  const double gamma0 = stability::learnable_points_step_size(run.alpha, run.beta2);
  const std::filesystem::path folder = vm["output"].as<std::string>();
  std::filesystem::create_directories(folder);
  if (!quiet)
    std::fprintf(stderr, "stability sweep: target %s (dim %ld), N = %ld, γ0 = 1/(7α + β2) = %.4g, %zu runs\n", target->name().c_str(),
                 static_cast<long>(target->dim()), static_cast<long>(run.points), gamma0,
                 sweep.configs.size() * sweep.ratios.size() * static_cast<std::size_t>(sweep.seeds));

  ProgressBar bar("sweep", sweep.configs.size() * sweep.ratios.size() * static_cast<std::size_t>(sweep.seeds), ProgressBar::should_show(quiet), "run");
  const auto rows = stability::run_sweep(*target, sweep, [&](std::size_t done, std::size_t) { bar.update(done); }, &interrupt_flag());
  bar.finish();
  if (interrupt_flag().load()) {
    std::cerr << "sbi stability: interrupted; nothing written\n";
    return kExitInterrupted;
  }

  write_file_atomically(folder / "sweep.csv", sweep_csv(target->name(), rows));
  std::string table;
  const auto data_path = folder / "sweep_plot.dat";
  write_file_atomically(data_path, plot_data(sweep.configs, rows, table));
  if (!quiet) std::cout << table;

  const bool has_w1 = run.exact_w1;
  const auto png = folder / "sweep.png";
  const auto png_tmp = temporary_path_for(png);
  const auto script_path = folder / "sweep.gp";
  std::ostringstream title;
  title << target->name() << ", N = " << run.points << ", " << run.steps << " steps, α = " << run.alpha << ", β2 = " << run.beta2 << ", γ0 = " << gamma0;
  write_file_atomically(script_path, gnuplot_script(title.str(), sweep.configs, data_path, png_tmp, has_w1,
                                                              *std::min_element(sweep.ratios.begin(), sweep.ratios.end()),
                                                              *std::max_element(sweep.ratios.begin(), sweep.ratios.end())));
  const std::string command = "gnuplot '" + script_path.string() + "' 2>/dev/null";
  if (std::system(command.c_str()) == 0 && std::filesystem::exists(png_tmp)) {
    std::filesystem::rename(png_tmp, png);
  } else {
    std::filesystem::remove(png_tmp);
    std::cerr << "sbi stability: warning: gnuplot failed or is not installed; no plot (the data are in " << data_path.string() << ")\n";
  }
  if (!quiet) std::fprintf(stderr, "wrote %s\n", (folder / "sweep.csv").string().c_str());
  return kExitOk;
}

int run_stability(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::cout << "Usage: sbi stability sweep [options] -o DIR   (sbi stability sweep --help for the options)\n\n"
                 "  sweep   final distance to a target against the generator's step size γ/γ0 for a learnable-points\n"
                 "          generator, with and without spectral normalisation and the RKHS penalty\n";
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] != "sweep") throw po::error("unknown subcommand \"" + args[0] + "\" (expected: sweep)");
  return run_sweep_command(std::vector<std::string>(args.begin() + 1, args.end()));
}

}  // namespace

Command stability_command() {
  return {"stability", "GAN-stability experiment: distance vs generator step size under SN / RKHS penalty",
          [](const std::vector<std::string>& args) { return run_guarded("stability", [&] { return run_stability(args); }); }};
}

}  // namespace sbi::cli
