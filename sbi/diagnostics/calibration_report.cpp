#include "sbi/diagnostics/calibration_report.hpp"

#include "sbi/io/csv.hpp"
#include "sbi/util/gnuplot.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace sbi {

namespace fs = std::filesystem;

namespace {

std::string fmt(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

std::string number(double value) {
  std::string out;
  append_double(out, value);
  return out;
}

// "99 %" for s = 0.01.
std::string band_percent(double significance) { return fmt("%.3g", 100.0 * (1.0 - significance)) + " %"; }

const char* const kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
std::string colour(std::size_t k) { return kColours[k % (sizeof kColours / sizeof kColours[0])]; }

std::string describe_posterior(const CalibrationResult& r) {
  if (r.posterior_kind.empty() && r.posterior_method.empty()) return "the posterior";
  return "the posterior (kind `" + r.posterior_kind + "`, method `" + r.posterior_method + "`)";
}

// Rank histograms: one panel per parameter, bars, the simultaneous band (grey) and the pointwise band (dashed).
std::string sbc_plot(const CalibrationResult& r, const fs::path& folder) {
  const std::size_t d = r.sbc.size();
  const int bins = r.sbc[0].ranks.bins;
  const std::size_t n = r.draws;
  const double s = r.options.significance;
  const double p = 1.0 / bins;
  const auto [sim_low, sim_high] = binomial_band(n, p, s / bins);
  const auto [point_low, point_high] = binomial_band(n, p, s);
  std::string data;
  double top = static_cast<double>(sim_high);
  for (const auto& parameter : r.sbc) {
    for (int b = 0; b < bins; ++b) {
      const double count = static_cast<double>(parameter.ranks.counts[static_cast<std::size_t>(b)]);
      top = std::max(top, count);
      data += number((b + 0.5) / bins) + " " + number(count) + "\n";
    }
    data += "\n\n";
  }
  write_file_atomically(folder / "plot" / "sbc_ranks.dat", data);
  const std::size_t columns = std::min<std::size_t>(d, 4), rows = (d + columns - 1) / columns;
  std::ostringstream gp;
  gp << "# SBC rank histograms written by sbi (calibration); run from the report folder: gnuplot plot/sbc_ranks.gp\n";
  gp << "set terminal pngcairo size " << 380 * columns << "," << 300 * rows + 40 << " font 'sans,9' noenhanced\n";
  gp << "set output 'sbc_ranks.png.part'\n";
  gp << "set multiplot layout " << rows << "," << columns << " title "
     << gnuplot_quote("SBC: N = " + std::to_string(n) + ", L = " + std::to_string(r.options.posterior_samples) + ", " + std::to_string(bins) +
                      " bins. Grey: " + band_percent(s) + " simultaneous band of a uniform histogram; dashed: pointwise")
     << "\n";
  gp << "set xrange [0:1]\nset yrange [0:" << number(1.15 * top) << "]\nset xtics 0.25\nset xlabel 'normalised rank'\nset ylabel 'draws'\n";
  gp << "unset key\n";
  for (std::size_t j = 0; j < d; ++j) {
    const auto& parameter = r.sbc[j];
    gp << "set title " << gnuplot_quote(parameter.parameter + " (chi2 p = " + fmt("%.2g", parameter.ranks.chi_square_p) + ", " + parameter.ranks.shape() + ")")
       << "\n";
    gp << "set object 1 rect from 0," << sim_low << " to 1," << sim_high << " fc rgb '#d9d9d9' fs solid 1.0 noborder behind\n";
    // The band's edges are drawn again over the bars, which hide the grey where they reach into it.
    gp << "plot 'plot/sbc_ranks.dat' index " << j << " using 1:2:(" << number(p) << ") with boxes fs transparent solid 0.6 lc rgb '"
       << colour(0) << "', " << sim_low << " with lines lw 1.5 lc rgb '#909090', " << sim_high << " with lines lw 1.5 lc rgb '#909090', "
       << point_low << " with lines dt 2 lc rgb '#555555', " << point_high << " with lines dt 2 lc rgb '#555555', "
       << number(static_cast<double>(n) * p) << " with lines lc rgb 'black'\n";
    gp << "unset object 1\n";
  }
  gp << "unset multiplot\nset output\n";
  write_file_atomically(folder / "plot" / "sbc_ranks.gp", gp.str());
  return run_gnuplot(folder, "plot/sbc_ranks.gp", "sbc_ranks.png");
}

std::string coverage_plot(const CalibrationResult& r, const fs::path& folder) {
  const auto& c = *r.coverage;
  std::string data = "# level observed band_low band_high";
  for (const auto& name : r.parameter_names) data += " central_" + name;
  data += "\n0 0 0 0";
  for (std::size_t j = 0; j < c.marginal.size(); ++j) data += " 0";
  data += "\n";
  for (std::size_t k = 0; k < c.levels.size(); ++k) {
    data += number(c.levels[k]) + " " + number(c.observed[k]) + " " + number(c.band_low[k]) + " " + number(c.band_high[k]);
    for (const auto& m : c.marginal) {
      data += ' ';  // appended piecewise: `" " + number(...)` trips a false -Wrestrict in GCC 12
      data += number(m[k]);
    }
    data += "\n";
  }
  data += "1 1 1 1";
  for (std::size_t j = 0; j < c.marginal.size(); ++j) data += " 1";
  data += "\n";
  write_file_atomically(folder / "plot" / "coverage.dat", data);
  std::ostringstream gp;
  gp << "# expected coverage written by sbi (calibration); run from the report folder: gnuplot plot/coverage.gp\n";
  gp << "set terminal pngcairo size 620,600 font 'sans,10' noenhanced\nset output 'coverage.png.part'\n";
  gp << "set title " << gnuplot_quote("Expected coverage, N = " + std::to_string(r.draws) + ": " + to_string(r.verdict)) << "\n";
  gp << "set size square\nset xrange [0:1]\nset yrange [0:1]\nset xtics 0.1\nset ytics 0.1\nset grid\n";
  gp << "set xlabel 'credibility level'\nset ylabel 'share of draws with the true parameter inside'\n";
  gp << "set key top left box opaque\n";
  gp << "plot 'plot/coverage.dat' using 1:3:4 with filledcurves fc rgb '#d9d9d9' title "
     << gnuplot_quote(band_percent(r.options.significance) + " band (simultaneous)") << ", x with lines dt 2 lc rgb 'black' title 'calibrated', "
     << "'plot/coverage.dat' using 1:2 with linespoints pt 7 ps 0.8 lw 2 lc rgb '" << colour(0) << "' title "
     << gnuplot_quote("HPD regions (" + c.density + ")");
  if (c.marginal.size() <= 8)
    for (std::size_t j = 0; j < c.marginal.size(); ++j)
      gp << ", 'plot/coverage.dat' using 1:" << 5 + j << " with lines lw 1 dt 3 lc rgb '" << colour(j + 1) << "' title "
         << gnuplot_quote("central interval, " + r.parameter_names[j]);
  gp << "\nset output\n";
  write_file_atomically(folder / "plot" / "coverage.gp", gp.str());
  return run_gnuplot(folder, "plot/coverage.gp", "coverage.png");
}

std::string tarp_plot(const CalibrationResult& r, const fs::path& folder) {
  const auto& t = *r.tarp;
  std::string data = "# alpha ecp band_low band_high\n";
  for (std::size_t g = 0; g < t.alpha.size(); ++g)
    data += number(t.alpha[g]) + " " + number(t.ecp[g]) + " " + number(std::max(0.0, t.alpha[g] - t.band)) + " " +
            number(std::min(1.0, t.alpha[g] + t.band)) + "\n";
  write_file_atomically(folder / "plot" / "tarp.dat", data);
  std::ostringstream gp;
  gp << "# TARP written by sbi (calibration); run from the report folder: gnuplot plot/tarp.gp\n";
  gp << "set terminal pngcairo size 620,600 font 'sans,10' noenhanced\nset output 'tarp.png.part'\n";
  gp << "set title " << gnuplot_quote("TARP, N = " + std::to_string(r.draws) + ": D = " + fmt("%.3f", t.distance) + ", p = " + fmt("%.2g", t.f.ks_p))
     << "\n";
  gp << "set size square\nset xrange [0:1]\nset yrange [0:1]\nset xtics 0.1\nset ytics 0.1\nset grid\n";
  gp << "set xlabel 'credibility level alpha'\nset ylabel 'expected coverage probability'\nset key top left box opaque\n";
  gp << "plot 'plot/tarp.dat' using 1:3:4 with filledcurves fc rgb '#d9d9d9' title "
     << gnuplot_quote(band_percent(r.options.significance) + " band (KS, simultaneous)") << ", x with lines dt 2 lc rgb 'black' title 'calibrated', "
     << "'plot/tarp.dat' using 1:2 with lines lw 2 lc rgb '" << colour(0) << "' title 'ECP'\n";
  gp << "set output\n";
  write_file_atomically(folder / "plot" / "tarp.gp", gp.str());
  return run_gnuplot(folder, "plot/tarp.gp", "tarp.png");
}

bool has(const std::vector<std::string>& pictures, const std::string& name) {
  return std::find(pictures.begin(), pictures.end(), name) != pictures.end();
}

}  // namespace

std::vector<std::string> write_calibration_plots(const CalibrationResult& result, const fs::path& folder, std::vector<std::string>& drawn) {
  std::vector<std::string> notes;
  if (result.draws == 0) return {"no draw was evaluated, so there are no pictures"};
  fs::create_directories(folder / "plot");
  auto draw = [&](const std::string& png, const std::string& note) {
    if (note.empty()) drawn.push_back(png);
    else notes.push_back(note);
  };
  if (result.coverage) draw("coverage.png", coverage_plot(result, folder));
  if (!result.sbc.empty()) draw("sbc_ranks.png", sbc_plot(result, folder));
  if (result.tarp) draw("tarp.png", tarp_plot(result, folder));
  return notes;
}

std::string calibration_markdown(const CalibrationResult& r, const std::string& title, const std::vector<std::string>& pictures,
                                 const std::vector<std::string>& notes) {
  const double s = r.options.significance;
  std::ostringstream md;
  md << "# Calibration of " << (title.empty() ? describe_posterior(r) : title) << "\n\n";
  std::string reason = r.verdict_reason;
  if (!reason.empty() && reason[0] >= 'a' && reason[0] <= 'z') reason[0] = static_cast<char>(reason[0] - 'a' + 'A');
  md << "**Verdict: " << to_string(r.verdict) << ".** " << reason << ".\n\n";
  if (r.interrupted) md << "**Interrupted:** only " << r.draws << " of " << r.options.draws << " draws were evaluated.\n\n";
  md << "| | |\n|---|---|\n";
  md << "| posterior | kind `" << r.posterior_kind << "`, method `" << r.posterior_method << "` |\n";
  md << "| prior-predictive draws (θ\\*, y\\*) | N = " << r.draws << " (seed " << r.options.seed << "; " << r.simulation.brief_report()
     << "; failure policy " << to_string(r.options.failure_policy) << ") |\n";
  md << "| posterior draws per y\\* | L = " << r.options.posterior_samples << " |\n";
  if (r.non_finite_samples) md << "| non-finite posterior draws (left out) | " << r.non_finite_samples << " |\n";
  if (r.non_finite_log_prob) md << "| NaN log_prob values (ranked as −∞) | " << r.non_finite_log_prob << " |\n";
  md << "| time | " << fmt("%.2f", r.timings.total) << " s on " << r.threads << " threads (simulation " << fmt("%.2f", r.timings.simulation)
     << " s; summed over threads: posterior sampling " << fmt("%.2f", r.timings.sampling) << " s, density " << fmt("%.2f", r.timings.density)
     << " s, ranks " << fmt("%.2f", r.timings.statistics) << " s) |\n\n";

  if (r.draws == 0) {
    md << "No simulated case was evaluated, so nothing was checked.\n\n";
  } else {
    md << "## What passed\n\n| check | statistic | passes when | result |\n|---|---|---|---|\n";
    if (r.coverage) {
      const auto& c = *r.coverage;
      md << "| expected coverage (HPD regions, " << c.density << ") | max \\|observed − nominal\\| = " << fmt("%.3f", c.max_deviation) << "; "
         << c.below << " levels below, " << c.above << " above their band | every level inside its " << band_percent(s)
         << " simultaneous band | " << (c.passed ? "passed" : "**failed**") << " |\n";
    }
    for (const auto& p : r.sbc)
      md << "| SBC " << p.parameter << " | χ²(" << p.ranks.chi_square_df << ") = " << fmt("%.1f", p.ranks.chi_square) << ", p = "
         << fmt("%.3g", p.ranks.chi_square_p) << " (" << (p.passed ? p.ranks.shape() : p.ranks.shape(0.0)) << ") | p ≥ " << fmt("%.3g", p.p_threshold) << " | "
         << (p.passed ? "passed" : "**failed**") << " |\n";
    if (r.tarp) {
      const auto& t = *r.tarp;
      md << "| TARP | D = " << fmt("%.4f", t.distance) << ", p = " << fmt("%.3g", t.f.ks_p) << " | p ≥ " << fmt("%.3g", s) << " (D ≤ "
         << fmt("%.4f", t.band) << ") | " << (t.passed ? "passed" : "**failed**") << " |\n";
    }
    md << "\n";

    if (r.coverage) {
      const auto& c = *r.coverage;
      md << "## Expected coverage\n\n";
      md << "Share of draws whose true parameter θ\\* lies inside the posterior's highest-density region of each credibility level ("
         << (c.density == "kde" ? "densities from a kernel density estimate of the posterior draws, since the posterior has no log_prob"
                                : "densities from the posterior's log_prob")
         << "), and inside each parameter's central interval. Above the diagonal: under-confident (regions too wide); below: "
            "over-confident (too narrow).\n\n";
      if (has(pictures, "coverage.png")) md << "![expected coverage](coverage.png)\n\n";
      md << "| level | HPD coverage | " << band_percent(s) << " band |";
      for (std::size_t j = 0; j < c.marginal.size(); ++j) md << " central, " << r.parameter_names[j] << " |";
      md << "\n|---|---|---|";
      for (std::size_t j = 0; j < c.marginal.size(); ++j) md << "---|";
      md << "\n";
      for (std::size_t k = 0; k < c.levels.size(); ++k) {
        const bool outside = c.observed[k] < c.band_low[k] || c.observed[k] > c.band_high[k];
        md << "| " << fmt("%.2f", c.levels[k]) << " | " << (outside ? "**" : "") << fmt("%.3f", c.observed[k]) << (outside ? "**" : "") << " | "
           << fmt("%.3f", c.band_low[k]) << "–" << fmt("%.3f", c.band_high[k]) << " |";
        for (const auto& m : c.marginal) md << " " << fmt("%.3f", m[k]) << " |";
        md << "\n";
      }
      md << "\n";
    }
    if (!r.sbc.empty()) {
      md << "## Simulation-based calibration\n\n";
      md << "Rank of θ\\* among the L posterior draws, per parameter, in " << r.sbc[0].ranks.bins
         << " bins. Flat: calibrated; ∪-shaped: over-confident; ∩-shaped: under-confident; skewed: biased.\n\n";
      if (has(pictures, "sbc_ranks.png")) md << "![SBC rank histograms](sbc_ranks.png)\n\n";
      md << "| parameter | χ² | p | KS D | KS p | mean z | spread z | shape |\n|---|---|---|---|---|---|---|---|\n";
      for (const auto& p : r.sbc)
        md << "| " << p.parameter << " | " << fmt("%.1f", p.ranks.chi_square) << " | " << fmt("%.3g", p.ranks.chi_square_p) << " | "
           << fmt("%.4f", p.ranks.ks_statistic) << " | " << fmt("%.3g", p.ranks.ks_p) << " | " << fmt("%.2f", p.ranks.mean_z) << " | "
           << fmt("%.2f", p.ranks.spread_z) << " | " << p.ranks.shape() << " |\n";
      md << "\n";
    }
    if (r.tarp) {
      const auto& t = *r.tarp;
      md << "## TARP\n\n";
      md << "Expected coverage probability of balls around random reference points (" << (t.reference == "box" ? "uniform in the prior's box" : "drawn from the prior")
         << "): D = " << fmt("%.4f", t.distance) << " is its largest distance to the diagonal (p = " << fmt("%.3g", t.f.ks_p)
         << "), the area between curve and diagonal " << fmt("%.4f", t.area) << ", the area to curve above α = ½ (ATC, as sbi's check_tarp) "
         << fmt("%+.4f", t.atc) << "; spread z = " << fmt("%.2f", t.f.spread_z)
         << " (> 0: over-confident, < 0: under-confident).\n\n";
      if (has(pictures, "tarp.png")) md << "![TARP](tarp.png)\n\n";
    }

    md << "## How this was decided\n\n";
    md << "- Every statistic is a fractional rank u = (k + U)/(L + 1) of θ\\* among the L posterior draws (k draws below it, ties broken at "
          "random, U uniform): for a calibrated posterior θ\\* and the draws are exchangeable, so u is exactly uniform on (0, 1) whatever "
          "L is, and the tests below have exact null distributions.\n";
    md << "- Coverage: at credibility c, the number of draws with θ\\* inside the c-HPD region (u > 1 − c) is Binomial(N, c) under calibration. "
          "The band holds the counts between the binomial quantiles s/(2K) and 1 − s/(2K) (s = "
       << fmt("%.3g", s) << ", K = " << r.options.levels.size() << " levels; Bonferroni): a calibrated posterior stays inside at every level with probability ≥ "
       << band_percent(s) << ". At N = " << r.draws << " that band is ±" << fmt("%.3f", r.resolution()) << " at c = 0.5.\n";
    if (!r.sbc.empty())
      md << "- SBC: a χ²(B − 1) test of the rank histogram per parameter, failed when p < s/d (Bonferroni over the d parameters). The picture's grey "
            "band holds each bin count between binomial quantiles at s/(2B) and 1 − s/(2B): a uniform histogram stays inside it in every bin "
            "with probability ≥ "
         << band_percent(s) << " (simultaneous); the dashed lines are the pointwise band.\n";
    if (r.tarp) md << "- TARP: the Kolmogorov–Smirnov test of the f values (Stephens' approximation), failed when p < s.\n";
    md << "- Verdict: calibrated when every check passes (a calibrated posterior fails one with probability at most " << fmt("%.3g", 3 * s)
       << "). Otherwise the direction comes from coverage (below its band only: over-confident; above only: under-confident; both: "
          "miscalibrated), or, when coverage passed, from the spread of the failed SBC/TARP ranks (∪-shaped: over-confident, ∩-shaped: "
          "under-confident).\n\n";
  }
  if (!notes.empty()) {
    md << "## Notes\n\n";
    for (const auto& note : notes) md << "- " << note << "\n";
    md << "\n";
  }
  // A report of zero cases has no pictures and no plot data to point at.
  if (r.draws == 0) md << "Every number in `calibration.json`.\n";
  else md << "Data and gnuplot scripts of the pictures in `plot/`; every number in `calibration.json`.\n";
  return md.str();
}

CalibrationReportFiles write_calibration_report(const CalibrationResult& result, const fs::path& folder, const std::string& title) {
  fs::create_directories(folder);
  CalibrationReportFiles files;
  files.json = folder / "calibration.json";
  files.markdown = folder / "calibration.md";
  write_file_atomically(files.json, result.to_json().dump(1) + "\n");
  files.notes = write_calibration_plots(result, folder, files.pictures);
  write_file_atomically(files.markdown, calibration_markdown(result, title, files.pictures, files.notes));
  return files;
}

std::string calibration_comparison_markdown(const std::vector<std::pair<std::string, const CalibrationResult*>>& results) {
  auto coverage_at = [](const CalibrationResult& r, double level) -> std::string {
    if (!r.coverage) return "–";
    const auto& c = *r.coverage;
    for (std::size_t k = 0; k < c.levels.size(); ++k)
      if (std::abs(c.levels[k] - level) < 1e-9) {
        const bool outside = c.observed[k] < c.band_low[k] || c.observed[k] > c.band_high[k];
        return (outside ? "**" : "") + fmt("%.3f", c.observed[k]) + (outside ? "**" : "");
      }
    return "–";
  };
  std::ostringstream md;
  md << "| method | verdict | N | coverage 0.50 | 0.90 | 0.95 | max \\|dev\\| | SBC min p | TARP D (p) | time |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& [label, r] : results) {
    double min_p = 1;
    for (const auto& p : r->sbc) min_p = std::min(min_p, p.ranks.chi_square_p);
    md << "| " << label << " | " << to_string(r->verdict) << " | " << r->draws << " | " << coverage_at(*r, 0.5) << " | " << coverage_at(*r, 0.9)
       << " | " << coverage_at(*r, 0.95) << " | " << (r->coverage ? fmt("%.3f", r->coverage->max_deviation) : "–") << " | "
       << (r->sbc.empty() ? "–" : fmt("%.3g", min_p)) << " | "
       << (r->tarp ? fmt("%.3f", r->tarp->distance) + " (" + fmt("%.2g", r->tarp->f.ks_p) + ")" : "–") << " | "
       << fmt("%.1f", r->timings.total) << " s |\n";
  }
  md << "\nBold: outside the band a calibrated posterior stays within (per method's N and significance).\n";
  return md.str();
}

std::string write_coverage_comparison_plot(const std::vector<std::pair<std::string, const CalibrationResult*>>& results, const fs::path& folder,
                                           const std::string& png) {
  fs::create_directories(folder / "plot");
  const std::string stem = fs::path(png).stem().string();
  std::string data;
  std::vector<std::size_t> plotted;
  for (std::size_t m = 0; m < results.size(); ++m) {
    const auto* r = results[m].second;
    if (!r->coverage || r->draws == 0) continue;
    data += "0 0\n";
    for (std::size_t k = 0; k < r->coverage->levels.size(); ++k)
      data += number(r->coverage->levels[k]) + " " + number(r->coverage->observed[k]) + "\n";
    data += "1 1\n\n\n";
    plotted.push_back(m);
  }
  if (plotted.empty()) return "no method has a coverage curve, so there is no " + png;
  write_file_atomically(folder / "plot" / (stem + ".dat"), data);
  std::ostringstream gp;
  gp << "# coverage of several posteriors written by sbi (calibration); run from the report folder: gnuplot plot/" << stem << ".gp\n";
  gp << "set terminal pngcairo size 620,600 font 'sans,10' noenhanced\nset output " << gnuplot_quote(png + ".part") << "\n";
  gp << "set title 'Expected coverage (HPD regions)'\nset size square\nset xrange [0:1]\nset yrange [0:1]\nset xtics 0.1\nset ytics 0.1\nset grid\n";
  gp << "set xlabel 'credibility level'\nset ylabel 'share of draws with the true parameter inside'\nset key top left box opaque\n";
  gp << "plot x with lines dt 2 lc rgb 'black' title 'calibrated'";
  for (std::size_t i = 0; i < plotted.size(); ++i)
    gp << ", " << gnuplot_quote("plot/" + stem + ".dat") << " index " << i << " using 1:2 with linespoints pt 7 ps 0.6 lw 2 lc rgb '" << colour(i)
       << "' title " << gnuplot_quote(results[plotted[i]].first);
  gp << "\nset output\n";
  write_file_atomically(folder / "plot" / (stem + ".gp"), gp.str());
  return run_gnuplot(folder, "plot/" + stem + ".gp", png);
}

}  // namespace sbi
