// Cost of a calibration run (SBC + coverage + TARP in one pass) with a posterior whose own cost is
// negligible (the exact linear-Gaussian posterior of tests/sbi/diagnostics), so that the time measured
// is the overhead of sbi/diagnostics/calibration.cpp: simulation of the pairs, ranking, TARP distances,
// the kernel density estimate when there is no log_prob, and bookkeeping.
//
//   calibration_bench [N] [L] [threads]      (defaults 1000 1000 2)
//   calibration_bench --false-alarms RUNS    (N = 400, L = 200, 1 thread, seeds 104729·k, k = 1..RUNS)
//
// The first form prints one line per configuration with the wall time and where the time went (thread
// seconds summed over threads); the second counts how often the exact posterior is not called
// calibrated, per check (bench/calibration/RESULTS.md).
#include "sbi/diagnostics/calibration.hpp"
#include "tests/sbi/diagnostics/linear_gaussian_posterior.hpp"

#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <string>

namespace {

int false_alarms(int runs) {
  using namespace sbi;
  const testing::LinearGaussianModel model;
  const Posterior exact = testing::LinearGaussianPosterior::make(model, {});
  int alarms = 0, coverage = 0, sbc0 = 0, sbc1 = 0, tarp = 0, hpd_ks = 0, sbc_ks = 0;
  for (int k = 1; k <= runs; ++k) {
    CalibrationOptions o;
    o.draws = 400;
    o.posterior_samples = 200;
    o.seed = static_cast<std::uint64_t>(k) * 104729;
    o.threads = 1;
    const auto r = run_calibration(exact, model.simulator(), o);
    alarms += !r.passed();
    coverage += !r.coverage->passed;
    sbc0 += !r.sbc[0].passed;
    sbc1 += !r.sbc[1].passed;
    tarp += !r.tarp->passed;
    hpd_ks += r.coverage->hpd_ranks.ks_p < 0.01;
    sbc_ks += r.sbc[0].ranks.ks_p < 0.01;
  }
  std::printf("runs %d: not calibrated %d; coverage failed %d, SBC theta1 %d, theta2 %d, TARP %d; KS p < 0.01: HPD ranks %d, theta1 ranks %d\n",
              runs, alarms, coverage, sbc0, sbc1, tarp, hpd_ks, sbc_ks);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sbi;
  if (argc > 1 && std::string(argv[1]) == "--false-alarms") return false_alarms(argc > 2 ? std::atoi(argv[2]) : 1000);
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000;
  const Eigen::Index l = argc > 2 ? std::atol(argv[2]) : 1000;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  const testing::LinearGaussianModel model;
  const Simulator simulator = model.simulator();
  struct Config {
    const char* name;
    bool log_prob, sbc, coverage, tarp;
  };
  const Config configs[] = {{"all checks, log_prob", true, true, true, true},
                            {"all checks, no log_prob (KDE, m = 256)", false, true, true, true},
                            {"SBC only", true, true, false, false}};
  for (const auto& c : configs) {
    const Posterior posterior = testing::LinearGaussianPosterior::make(model, {.has_log_prob = c.log_prob});
    CalibrationOptions o;
    o.draws = n;
    o.posterior_samples = l;
    o.threads = threads;
    o.sbc = c.sbc;
    o.coverage = c.coverage;
    o.tarp = c.tarp;
    const std::clock_t cpu_start = std::clock();
    const auto r = run_calibration(posterior, simulator, o);
    const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    std::printf("%-42s N=%zu L=%ld threads=%d: %.3f s wall, %.3f s CPU (simulation %.3f s wall; thread-seconds: sampling %.3f s, density %.3f s, ranks+TARP %.3f s) -> %s\n",
                c.name, n, static_cast<long>(l), r.threads, r.timings.total, cpu, r.timings.simulation, r.timings.sampling, r.timings.density,
                r.timings.statistics, to_string(r.verdict).c_str());
  }
  return 0;
}
