// Simulator throughput benchmark (issue 2, item 14).
//
//   sbi_simulator_bench throughput [--seconds S] [--repeats R] [--threads 1,2] [--only a,b] [--json FILE]
//       Simulations per second of every built-in simulator (registry order) with its default options
//       and default prior, through sbi::simulate_from_prior (θ drawn from the prior, as `sbi simulate`
//       does), at each thread count. The number of simulations is calibrated once per simulator so
//       that one measurement takes about S seconds on one thread; the same n is used at every thread
//       count. Each measurement is repeated R times; median and best are reported.
//
//   sbi_simulator_bench lv-draws --n N [--seed S] --out draws.csv
//       Draws N θ from the lotka_volterra prior (θ_i from Rng::stream(S, i), as the runner does) and
//       writes them with full precision, for both the C++ and the Python side.
//
//   sbi_simulator_bench lv-times --draws draws.csv [--repeats R] [--seconds S] [--seed S]
//                                [--per-sim FILE] [--solutions FILE] [--json FILE]
//       Times lotka_volterra (default options: rtol = atol = 1e-8, max_steps = 1e5) one simulation at
//       a time on exactly those draws on the calling thread (per-simulation wall times → median and
//       total), R passes; then the 1-thread and 2-thread totals through sbi::simulate_given on the
//       same draws (tiled so that a measurement lasts about S seconds; reported per pass over the
//       draws). Also records, outside the timed passes, each draw's accepted step count and
//       noise-free solution (for checking agreement with the SciPy implementation).
#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/parallel/parallel_for.hpp"
#include "sbi/random/rng.hpp"
#include "sbi/simulation/runner.hpp"
#include "simulators/lotka_volterra.hpp"
#include "simulators/registry.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <time.h>

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time of the calling thread / of the whole process (all threads), in seconds.
double cpu_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
double thread_cpu_seconds() { return cpu_seconds(CLOCK_THREAD_CPUTIME_ID); }
double process_cpu_seconds() { return cpu_seconds(CLOCK_PROCESS_CPUTIME_ID); }

double median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

// --key value arguments after the mode.
struct Args {
  std::map<std::string, std::string> values;
  std::string get(const std::string& key, const std::string& fallback = "") const {
    auto it = values.find(key);
    return it == values.end() ? fallback : it->second;
  }
  bool has(const std::string& key) const { return values.count(key) != 0; }
};

Args parse_args(int argc, char** argv, int first, const std::vector<std::string>& known) {
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0) throw sbi::InputError("unexpected argument \"" + key + "\"");
    key = key.substr(2);
    if (std::find(known.begin(), known.end(), key) == known.end())
      throw sbi::InputError("unknown option --" + key);
    if (i + 1 >= argc) throw sbi::InputError("--" + key + " needs a value");
    args.values[key] = argv[++i];
  }
  return args;
}

void write_json(const std::string& path, const json& j) {
  std::ofstream out(path);
  if (!out) throw sbi::InputError("cannot write " + path);
  out << j.dump(2) << "\n";
}

std::string fmt(double v, int precision = 3) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
}

std::string fmt_rate(double v) {
  char buf[64];
  if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// throughput

struct Measurement {
  double seconds = 0.0;
  double cpu_seconds = 0.0;  // process CPU time (all threads) during the run
  sbi::SimulationSummary summary;
};

Measurement run_prior(const sbi::Simulator& sim, const sbi::Prior& prior, std::size_t n, int threads) {
  sbi::SimulationOptions options;
  options.threads = threads;
  std::size_t rows = 0;
  Measurement m;
  const double cpu_start = process_cpu_seconds();
  const auto start = Clock::now();
  m.summary = sbi::simulate_from_prior(sim, prior, n, /*seed=*/20261127, /*first_index=*/0, options,
                                       [&](const sbi::SimulationChunk& chunk) { rows += chunk.indices.size(); });
  m.seconds = seconds_since(start);
  m.cpu_seconds = process_cpu_seconds() - cpu_start;
  if (rows != m.summary.kept) throw std::runtime_error("row count mismatch");
  return m;
}

int throughput(const Args& args) {
  const double target_seconds = std::stod(args.get("seconds", "2"));
  const int repeats = std::stoi(args.get("repeats", "3"));
  std::vector<int> thread_counts;
  for (const auto& t : split(args.get("threads", "1,2"), ',')) thread_counts.push_back(std::stoi(t));
  const auto only = split(args.get("only", ""), ',');

  json results = json::array();
  std::printf("%-24s %10s %6s", "simulator", "n", "fail");
  for (int t : thread_counts) std::printf("   %2d thr: median sims/s (best)", t);
  if (thread_counts.size() >= 2) std::printf("   speed-up %d→%d", thread_counts.front(), thread_counts.back());
  std::printf("\n");
  std::fflush(stdout);

  for (const auto& entry : sbi::simulators::builtin_simulators()) {
    if (!only.empty() && std::find(only.begin(), only.end(), entry.name) == only.end()) continue;
    const sbi::Simulator sim = entry.make(json::object(), "simulator.options");
    const sbi::PriorPtr prior = entry.default_prior(json::object());

    // Calibrate n on one thread so that one measurement takes about target_seconds.
    std::size_t n = 64;
    double pilot = 0.0;
    for (;;) {
      pilot = run_prior(sim, *prior, n, 1).seconds;
      if (pilot >= 0.2 || n >= (std::size_t{1} << 34)) break;
      const double factor = pilot > 0 ? std::clamp(0.3 / pilot, 2.0, 100.0) : 100.0;
      n = static_cast<std::size_t>(static_cast<double>(n) * factor);
    }
    n = std::max<std::size_t>(n, static_cast<std::size_t>(static_cast<double>(n) * target_seconds / pilot));

    json row{{"simulator", entry.name}, {"n", n}, {"threads", json::object()}};
    std::vector<double> medians;
    std::size_t failures = 0;
    for (int t : thread_counts) {
      std::vector<double> rates, secs, cpu;
      for (int r = 0; r < repeats; ++r) {
        const auto m = run_prior(sim, *prior, n, t);
        secs.push_back(m.seconds);
        cpu.push_back(m.cpu_seconds);
        rates.push_back(static_cast<double>(n) / m.seconds);
        failures = m.summary.failed + m.summary.non_finite;
      }
      const double med = median(rates), best = *std::max_element(rates.begin(), rates.end());
      medians.push_back(med);
      row["threads"][std::to_string(t)] = {{"sims_per_second_median", med}, {"sims_per_second_best", best},
                                           {"sims_per_second_all", rates}, {"seconds_all", secs},
                                           {"cpu_seconds_all", cpu}};
    }
    row["failed_per_run"] = failures;
    std::printf("%-24s %10zu %6zu", entry.name.c_str(), n, failures);
    for (std::size_t k = 0; k < thread_counts.size(); ++k) {
      const auto& tj = row["threads"][std::to_string(thread_counts[k])];
      std::printf("   %12s (%10s)             ", fmt_rate(tj["sims_per_second_median"].get<double>()).c_str(),
                  fmt_rate(tj["sims_per_second_best"].get<double>()).c_str());
    }
    if (medians.size() >= 2) {
      row["speedup_median"] = medians.back() / medians.front();
      std::printf("   %.2f×", medians.back() / medians.front());
    }
    std::printf("\n");
    std::fflush(stdout);
    results.push_back(row);
  }
  if (args.has("json"))
    write_json(args.get("json"), {{"mode", "throughput"}, {"seconds_target", target_seconds}, {"repeats", repeats},
                                  {"hardware_threads", sbi::hardware_threads()}, {"results", results}});
  return 0;
}

// ---------------------------------------------------------------------------------------------
// lv-draws

int lv_draws(const Args& args) {
  if (!args.has("out")) throw sbi::InputError("lv-draws: --out FILE is required");
  const auto n = static_cast<Eigen::Index>(std::stoll(args.get("n", "500")));
  const auto seed = static_cast<std::uint64_t>(std::stoull(args.get("seed", "1")));
  const auto prior = sbi::simulators::lotka_volterra_prior();
  sbi::RowMatrix theta(n, 4);
  for (Eigen::Index i = 0; i < n; ++i) {
    auto rng = sbi::Rng::stream(seed, static_cast<std::uint64_t>(i), 0);
    prior->sample(rng, sbi::row_span(theta, i));
  }
  sbi::write_csv(args.get("out"), prior->names(), theta);
  std::printf("wrote %lld lotka_volterra prior draws (seed %llu) to %s\n", static_cast<long long>(n),
              static_cast<unsigned long long>(seed), args.get("out").c_str());
  return 0;
}

// ---------------------------------------------------------------------------------------------
// lv-times

int lv_times(const Args& args) {
  if (!args.has("draws")) throw sbi::InputError("lv-times: --draws FILE is required");
  const int repeats = std::stoi(args.get("repeats", "5"));
  const double target_seconds = std::stod(args.get("seconds", "2"));
  const auto seed = static_cast<std::uint64_t>(std::stoull(args.get("seed", "7")));
  const auto table = sbi::read_csv(args.get("draws"));
  const sbi::RowMatrix& theta = table.values;
  if (theta.cols() != 4) throw sbi::InputError("lv-times: expected 4 columns in " + args.get("draws"));
  const Eigen::Index n = theta.rows();

  const sbi::simulators::LotkaVolterraOptions options;  // the registry's defaults
  const sbi::Simulator sim = sbi::simulators::make_lotka_volterra(options);

  // Untimed pass: step counts, failures and the noise-free solution of every draw.
  std::vector<double> steps(static_cast<std::size_t>(n));
  std::vector<std::string> failure_messages;
  sbi::RowMatrix solutions(n, 20);
  std::size_t failed = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    std::int64_t s = 0;
    try {
      sbi::simulators::lotka_volterra_solution(options, sbi::row_span(theta, i), sbi::row_span(solutions, i), &s);
    } catch (const sbi::SimulationError& e) {
      ++failed;
      s = options.max_steps;
      solutions.row(i).setConstant(std::numeric_limits<double>::quiet_NaN());
      if (failure_messages.size() < 5) failure_messages.push_back(e.what());
    }
    steps[static_cast<std::size_t>(i)] = static_cast<double>(s);
  }

  // Timed passes: one simulation at a time on this thread, as the Python side does.
  sbi::RowMatrix one(1, 4), y(1, 20);
  std::vector<std::vector<double>> per_sim(static_cast<std::size_t>(repeats)), per_sim_cpu(per_sim);
  std::vector<double> pass_medians, pass_totals, pass_cpu_medians, pass_cpu_totals;
  for (int r = 0; r < repeats; ++r) {
    auto& times = per_sim[static_cast<std::size_t>(r)];
    auto& cpu = per_sim_cpu[static_cast<std::size_t>(r)];
    times.resize(static_cast<std::size_t>(n));
    cpu.resize(static_cast<std::size_t>(n));
    for (Eigen::Index i = 0; i < n; ++i) {
      one.row(0) = theta.row(i);
      const std::uint64_t stream = sbi::stream_seed(seed, static_cast<std::uint64_t>(i), 1);
      sbi::SimulationOutcome outcome;
      const double cpu_start = thread_cpu_seconds();
      const auto start = Clock::now();
      sim.simulate_batch(one, y, {&stream, 1}, {&outcome, 1});
      times[static_cast<std::size_t>(i)] = seconds_since(start);
      cpu[static_cast<std::size_t>(i)] = thread_cpu_seconds() - cpu_start;
    }
    pass_medians.push_back(median(times));
    pass_totals.push_back(std::accumulate(times.begin(), times.end(), 0.0));
    pass_cpu_medians.push_back(median(cpu));
    pass_cpu_totals.push_back(std::accumulate(cpu.begin(), cpu.end(), 0.0));
  }
  // The pass with the median total is the one whose per-simulation times are written out.
  std::vector<std::size_t> order(static_cast<std::size_t>(repeats));
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return pass_totals[a] < pass_totals[b]; });
  const std::size_t median_pass = order[order.size() / 2];

  // Whole-set totals through the runner at 1 and 2 threads (tiled to last about target_seconds).
  const double one_pass = pass_totals[median_pass];
  const auto tiles = static_cast<Eigen::Index>(std::max(1.0, std::ceil(target_seconds / std::max(one_pass, 1e-9))));
  sbi::RowMatrix tiled(n * tiles, 4);
  for (Eigen::Index k = 0; k < tiles; ++k) tiled.middleRows(k * n, n) = theta;
  json runner_totals = json::object();
  std::map<int, double> runner_median;
  for (int threads : {1, 2}) {
    sbi::SimulationOptions so;
    so.threads = threads;
    std::vector<double> per_pass;
    for (int r = 0; r < repeats; ++r) {
      const auto start = Clock::now();
      std::vector<sbi::SimulationOutcome> outcomes;
      const auto out = sbi::simulate_given(sim, tiled, seed, 0, so, &outcomes);
      per_pass.push_back(seconds_since(start) / static_cast<double>(tiles));
      if (out.rows() != tiled.rows()) throw std::runtime_error("simulate_given: row count mismatch");
    }
    runner_median[threads] = median(per_pass);
    runner_totals[std::to_string(threads)] = {{"seconds_per_pass_median", median(per_pass)},
                                              {"seconds_per_pass_best", *std::min_element(per_pass.begin(), per_pass.end())},
                                              {"seconds_per_pass_all", per_pass}};
  }

  if (args.has("per-sim")) {
    sbi::RowMatrix out(n, 3);
    for (Eigen::Index i = 0; i < n; ++i) {
      out(i, 0) = per_sim[median_pass][static_cast<std::size_t>(i)];
      out(i, 1) = per_sim_cpu[median_pass][static_cast<std::size_t>(i)];
      out(i, 2) = steps[static_cast<std::size_t>(i)];
    }
    sbi::write_csv(args.get("per-sim"), {"seconds", "cpu_seconds", "steps"}, out);
  }
  if (args.has("solutions")) sbi::write_csv(args.get("solutions"), sbi::simulators::make_lotka_volterra().info().data_names, solutions);

  const double med = median(pass_medians);
  const double total = median(pass_totals);
  std::printf("lotka_volterra on %lld draws from %s, %d passes (median of passes; best in brackets)\n",
              static_cast<long long>(n), args.get("draws").c_str(), repeats);
  std::printf("  one at a time, 1 thread, wall: median %s s/sim (%s), total %s s (%s)\n", fmt(med).c_str(),
              fmt(*std::min_element(pass_medians.begin(), pass_medians.end())).c_str(), fmt(total).c_str(),
              fmt(*std::min_element(pass_totals.begin(), pass_totals.end())).c_str());
  std::printf("  one at a time, 1 thread, CPU:  median %s s/sim (%s), total %s s (%s)\n", fmt(median(pass_cpu_medians)).c_str(),
              fmt(*std::min_element(pass_cpu_medians.begin(), pass_cpu_medians.end())).c_str(),
              fmt(median(pass_cpu_totals)).c_str(),
              fmt(*std::min_element(pass_cpu_totals.begin(), pass_cpu_totals.end())).c_str());
  std::printf("  simulate_given, per pass over the draws (%lld tiles): 1 thread %s s, 2 threads %s s, speed-up %.2f×\n",
              static_cast<long long>(tiles), fmt(runner_median[1]).c_str(), fmt(runner_median[2]).c_str(),
              runner_median[1] / runner_median[2]);
  std::printf("  steps: median %.0f, p90 %.0f, p99 %.0f, max %.0f; failed draws (step cap %lld): %zu\n", median(steps),
              quantile(steps, 0.9), quantile(steps, 0.99), *std::max_element(steps.begin(), steps.end()),
              static_cast<long long>(options.max_steps), failed);
  for (const auto& m : failure_messages) std::printf("    %s\n", m.c_str());

  if (args.has("json"))
    write_json(args.get("json"),
               {{"mode", "lv-times"}, {"draws", args.get("draws")}, {"n", n}, {"repeats", repeats},
                {"one_at_a_time", {{"median_seconds", med}, {"median_seconds_best", *std::min_element(pass_medians.begin(), pass_medians.end())},
                                   {"total_seconds", total}, {"total_seconds_best", *std::min_element(pass_totals.begin(), pass_totals.end())},
                                   {"pass_medians", pass_medians}, {"pass_totals", pass_totals},
                                   {"cpu_median_seconds", median(pass_cpu_medians)},
                                   {"cpu_median_seconds_best", *std::min_element(pass_cpu_medians.begin(), pass_cpu_medians.end())},
                                   {"cpu_total_seconds", median(pass_cpu_totals)},
                                   {"cpu_total_seconds_best", *std::min_element(pass_cpu_totals.begin(), pass_cpu_totals.end())},
                                   {"pass_cpu_medians", pass_cpu_medians}, {"pass_cpu_totals", pass_cpu_totals}}},
                {"runner", runner_totals}, {"tiles", tiles},
                {"speedup_2_threads", runner_median[1] / runner_median[2]},
                {"steps", {{"median", median(steps)}, {"p90", quantile(steps, 0.9)}, {"p99", quantile(steps, 0.99)},
                           {"max", *std::max_element(steps.begin(), steps.end())}}},
                {"failed", failed}, {"failure_messages", failure_messages}});
  return 0;
}

void usage() {
  std::fprintf(stderr,
               "usage: sbi_simulator_bench throughput [--seconds S] [--repeats R] [--threads 1,2] [--only a,b] [--json FILE]\n"
               "       sbi_simulator_bench lv-draws --n N [--seed S] --out draws.csv\n"
               "       sbi_simulator_bench lv-times --draws draws.csv [--repeats R] [--seconds S] [--seed S]\n"
               "                                    [--per-sim FILE] [--solutions FILE] [--json FILE]\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  const std::string mode = argv[1];
  try {
    if (mode == "throughput") return throughput(parse_args(argc, argv, 2, {"seconds", "repeats", "threads", "only", "json"}));
    if (mode == "lv-draws") return lv_draws(parse_args(argc, argv, 2, {"n", "seed", "out"}));
    if (mode == "lv-times")
      return lv_times(parse_args(argc, argv, 2, {"draws", "repeats", "seconds", "seed", "per-sim", "solutions", "json"}));
    usage();
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sbi_simulator_bench: %s\n", e.what());
    return 1;
  }
}
