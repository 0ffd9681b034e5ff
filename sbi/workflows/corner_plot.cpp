#include "sbi/workflows/corner_plot.hpp"

#include "sbi/io/csv.hpp"
#include "sbi/util/gnuplot.hpp"
#include "sbi/random/rng.hpp"
#include "sbi/util/statistics.hpp"

#include <cmath>
#include <map>
#include <numeric>
#include <sstream>

namespace sbi {

std::string colour_of(const std::string& name) {
  static const std::map<std::string, std::string> colours = {
      {"reference", "#000000"}, {"lfvi", "#1f77b4"}, {"mmd", "#ff7f0e"}, {"rejection", "#2ca02c"}, {"smc", "#d62728"},
      {"npe", "#9467bd"}, {"nle", "#8c564b"}, {"nre", "#e377c2"}, {"snle", "#bcbd22"}, {"snpe", "#17becf"}, {"snre", "#aec7e8"}};
  const auto it = colours.find(name);
  return it == colours.end() ? "#7f7f7f" : it->second;
}

namespace {

// A round tick step giving about three ticks over [low, high].
double tick_step(double low, double high) {
  const double raw = (high - low) / 3.0;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * power >= raw) return m * power;
  return 10.0 * power;
}

}  // namespace

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

  return run_gnuplot(folder, "plot/corner.gp", "corner.png");
}

}  // namespace sbi
