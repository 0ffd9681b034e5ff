// Cost of a calibration run (SBC + coverage + TARP in one pass) with a posterior whose own cost is
// negligible (the exact linear-Gaussian posterior of tests/sbi/diagnostics), so that the time measured
// is the overhead of sbi/diagnostics/calibration.cpp: simulation of the pairs, ranking, TARP distances,
// the kernel density estimate when there is no log_prob, and bookkeeping.
//
//   calibration_bench [N] [L] [threads]      (defaults 1000 1000 2)
//
// Prints one line per configuration with the wall time and where the time went (thread seconds summed over threads).
#include "sbi/diagnostics/calibration.hpp"
#include "tests/sbi/diagnostics/linear_gaussian_posterior.hpp"

#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  using namespace sbi;
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
