// MCMC speed and quality on a stand-in for an NLE posterior on sbibm's slcp (issue 14's target:
// 10,000 posterior samples in under 2.3 s on one core with R-hat < 1.01).
//
// Target: the prior U(−3, 3)⁵ times the exact slcp likelihood of an sbibm observation (4 i.i.d.
// 2-D Gaussians whose mean and covariance depend on θ; data/sbibm/TASKS.md §2), in the prior's
// unconstrained space. With --network maf the target also evaluates, on every batch, a stack of
// five MLPs of the size of a MAF's MADE blocks (input 8 data + 5 parameters → 50 → 50 → 16, float32),
// so that each target row costs what a small neural likelihood costs; its output is added with
// weight 0 and does not change the posterior. With --sampler hmc the networks are also
// differentiated with respect to θ on the autodiff tape, as the real likelihood's gradient would be.
//
// Prints one JSON line: settings, wall time, samples/s, evaluations, R-hat, bulk and tail ESS,
// ESS/s, the share of samples in each of the posterior's four sign modes (θ3, θ4), and with --c2st
// the C2ST against sbibm's reference samples (0.5 = indistinguishable).
#include "sbi/autodiff/ops.hpp"
#include "sbi/diagnostics/c2st.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/mcmc/unconstrained.hpp"
#include "sbi/nn/mlp.hpp"
#include "simulators/slcp.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <numbers>
#include <string>

namespace {

using sbi::RowMatrix;
using sbi::Vector;

struct Arguments {
  sbi::McmcOptions options;
  long n = 10000;
  std::uint64_t seed = 1;
  int observation = 1;
  std::string network = "none";
  int hidden = 50;
  bool c2st = false;
  std::string data = std::string(SBI_SOURCE_DIR) + "/../shared/data/sbibm/slcp";
};

Arguments parse(int argc, char** argv) {
  Arguments a;
  a.options.threads = 1;
  for (int k = 1; k < argc; ++k) {
    const std::string flag = argv[k];
    auto next = [&]() -> std::string {
      if (k + 1 >= argc) {
        std::cerr << "missing value for " << flag << "\n";
        std::exit(2);
      }
      return argv[++k];
    };
    if (flag == "--sampler") a.options.sampler = next() == "hmc" ? sbi::McmcOptions::Sampler::hmc : sbi::McmcOptions::Sampler::slice;
    else if (flag == "--directions") {
      const std::string d = next();
      a.options.slice_directions = d == "coordinate" ? sbi::McmcOptions::SliceDirections::coordinate
                                   : d == "random"   ? sbi::McmcOptions::SliceDirections::random
                                                     : sbi::McmcOptions::SliceDirections::factor;
    } else if (flag == "--chains") a.options.chains = std::stoul(next());
    else if (flag == "--explore") a.options.exploration_chains = std::stoul(next());
    else if (flag == "--warmup") a.options.warmup = std::stoul(next());
    else if (flag == "--thin") a.options.thin = std::stoul(next());
    else if (flag == "--jump") a.options.jumps_per_iteration = std::stod(next());
    else if (flag == "--slice-updates") a.options.slice_updates_per_iteration = std::stoul(next());
    else if (flag == "--jump-scale") a.options.jump_scale = std::stod(next());
    else if (flag == "--init") a.options.init = next() == "prior" ? sbi::McmcOptions::Init::prior : sbi::McmcOptions::Init::sir;
    else if (flag == "--candidates") a.options.init_candidates = std::stoul(next());
    else if (flag == "--blocks") a.options.chain_blocks = std::stoul(next());
    else if (flag == "--integration-time") a.options.hmc_integration_time = std::stod(next());
    else if (flag == "--threads") a.options.threads = std::stoi(next());
    else if (flag == "--n") a.n = std::stol(next());
    else if (flag == "--seed") a.seed = std::stoull(next());
    else if (flag == "--obs") a.observation = std::stoi(next());
    else if (flag == "--network") a.network = next();
    else if (flag == "--hidden") a.hidden = std::stoi(next());
    else if (flag == "--c2st") a.c2st = true;
    else if (flag == "--data") a.data = next();
    else {
      std::cerr << "unknown flag " << flag << "\n";
      std::exit(2);
    }
  }
  return a;
}

// log L(θ) = Σ_k log N(y_k; m(θ), Σ(θ)) and its gradient (slcp, data/sbibm/TASKS.md §2).
double slcp_log_likelihood(const double* theta, const Vector& y, double* gradient) {
  const double t3 = theta[2], t4 = theta[3], rho = std::tanh(theta[4]);
  const double s1 = t3 * t3, s2 = t4 * t4;
  const double a = s1 * s1 + 1e-6, b = rho * s1 * s2, c = s2 * s2 + 1e-6;  // Σ = [[a, b], [b, c]]
  const double det = a * c - b * b;
  if (!(det > 0)) return -std::numeric_limits<double>::infinity();
  const double ia = c / det, ib = -b / det, ic = a / det;  // Σ⁻¹
  double log_l = -4.0 * (std::log(2.0 * std::numbers::pi) + 0.5 * std::log(det));
  double gm0 = 0, gm1 = 0, g11 = 0, g12 = 0, g22 = 0;
  for (int k = 0; k < 4; ++k) {
    const double r0 = y[2 * k] - theta[0], r1 = y[2 * k + 1] - theta[1];
    const double v0 = ia * r0 + ib * r1, v1 = ib * r0 + ic * r1;  // Σ⁻¹ r
    log_l -= 0.5 * (r0 * v0 + r1 * v1);
    gm0 += v0;
    gm1 += v1;
    g11 += 0.5 * v0 * v0;
    g12 += 0.5 * v0 * v1;
    g22 += 0.5 * v1 * v1;
  }
  if (gradient) {
    // d log L / dΣ = ½ Σ_k Σ⁻¹ r rᵀ Σ⁻¹ − 2 Σ⁻¹ (as a symmetric matrix; Σ12 = Σ21 counts twice).
    g11 -= 2.0 * ia;
    g12 -= 2.0 * ib;
    g22 -= 2.0 * ic;
    gradient[0] = gm0;
    gradient[1] = gm1;
    gradient[2] = g11 * 4.0 * t3 * t3 * t3 + 2.0 * g12 * rho * 2.0 * t3 * s2;
    gradient[3] = g22 * 4.0 * t4 * t4 * t4 + 2.0 * g12 * rho * s1 * 2.0 * t4;
    gradient[4] = 2.0 * g12 * (1.0 - rho * rho) * s1 * s2;
  }
  return log_l;
}

// The network stand-in: five MLPs 13 → h → h → 16 (tanh, h = 50 by default), one per MADE block of a MAF.
int network_hidden = 50;
struct Networks {
  std::vector<sbi::nn::Mlp> blocks;
  sbi::ad::Tape<float> tape;
  Networks() {
    sbi::nn::MlpOptions o;
    o.widths = {13, network_hidden, network_hidden, 16};
    o.activation = sbi::nn::Activation::tanh;
    blocks.reserve(5);
    for (int k = 0; k < 5; ++k) {
      blocks.emplace_back(o, 100 + k);
      blocks.back().eval();
    }
  }
  // Σ of all outputs per row, and (with gradient) its gradient with respect to θ.
  void evaluate(const RowMatrix& theta, const Vector& y, Vector& value, RowMatrix* gradient) {
    const Eigen::Index n = theta.rows();
    sbi::ad::Matrix<float> input(n, 13);
    for (Eigen::Index r = 0; r < n; ++r) {
      for (int j = 0; j < 8; ++j) input(r, j) = static_cast<float>(y[j]);
      for (int j = 0; j < 5; ++j) input(r, 8 + j) = static_cast<float>(theta(r, j));
    }
    auto scope = tape.scope();
    auto x = tape.variable(input);
    sbi::ad::Var<float> total;
    for (auto& block : blocks) {
      auto out = sbi::ad::sum_rows(block.forward(x));
      total = total.valid() ? total + out : out;
    }
    value = total.value().cast<double>();
    if (gradient) {
      auto g = tape.grad(sbi::ad::sum(total), std::span<const sbi::ad::Var<float>>(&x, 1));
      *gradient = g[0].value().rightCols(5).cast<double>();
    }
  }
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// CPU time of the process: on a shared machine this, not the wall time, is what a run cost.
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  const Arguments args = parse(argc, argv);
  network_hidden = args.hidden;
  const std::string folder = args.data + "/obs_" + std::to_string(args.observation);
  const sbi::CsvTable obs = sbi::read_csv(folder + "/observation.csv");
  const Vector y = obs.values.row(0).transpose();
  const bool network = args.network == "maf";
  const bool hmc = args.options.sampler == sbi::McmcOptions::Sampler::hmc;

  // Check the analytic gradient against central differences once.
  {
    const double theta[5] = {0.3, -1.2, 1.1, -0.8, 0.4};
    double g[5];
    slcp_log_likelihood(theta, y, g);
    for (int i = 0; i < 5; ++i) {
      double up[5], down[5];
      std::copy(theta, theta + 5, up);
      std::copy(theta, theta + 5, down);
      up[i] += 1e-6;
      down[i] -= 1e-6;
      const double numeric = (slcp_log_likelihood(up, y, nullptr) - slcp_log_likelihood(down, y, nullptr)) / 2e-6;
      if (std::abs(numeric - g[i]) > 1e-4 * std::max(1.0, std::abs(numeric))) {
        std::cerr << "slcp gradient check failed at " << i << ": " << g[i] << " vs " << numeric << "\n";
        return 1;
      }
    }
  }

  auto log_likelihood = [y, network](const RowMatrix& theta, Eigen::Ref<Vector> out) {
    for (Eigen::Index r = 0; r < theta.rows(); ++r) out[r] = slcp_log_likelihood(theta.row(r).data(), y, nullptr);
    if (network) {
      thread_local Networks nets;
      Vector extra;
      nets.evaluate(theta, y, extra, nullptr);
      out += 0.0 * extra;
    }
  };
  auto log_likelihood_gradient = [y, network](const RowMatrix& theta, Eigen::Ref<Vector> out, Eigen::Ref<RowMatrix> gradient) {
    for (Eigen::Index r = 0; r < theta.rows(); ++r) out[r] = slcp_log_likelihood(theta.row(r).data(), y, gradient.row(r).data());
    if (network) {
      thread_local Networks nets;
      Vector extra;
      RowMatrix extra_gradient;
      nets.evaluate(theta, y, extra, &extra_gradient);
      out += 0.0 * extra;
      gradient += 0.0 * extra_gradient;
    }
  };
  sbi::UnconstrainedPosterior posterior(sbi::simulators::slcp_prior(), log_likelihood, log_likelihood_gradient);

  // Cost of one target row in a batch of the size the sampler uses.
  double row_microseconds = 0;
  {
    const sbi::McmcTarget target = posterior.target();
    const auto rows = static_cast<Eigen::Index>(args.options.chains_per_call(args.options.chains));
    RowMatrix u = RowMatrix::Random(rows, 5);
    Vector lp(rows);
    RowMatrix g(rows, 5);
    int calls = 0;
    const double c0 = cpu_seconds();
    while (cpu_seconds() - c0 < 0.3 || calls < 5) {
      if (hmc) target.log_density_gradient(u, lp, g);
      else target.log_density(u, lp);
      ++calls;
    }
    row_microseconds = 1e6 * (cpu_seconds() - c0) / (static_cast<double>(calls) * static_cast<double>(rows));
  }

  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  const sbi::McmcResult result = posterior.sample(args.n, args.seed, args.options);
  const double seconds = seconds_since(t0), cpu = cpu_seconds() - c0;

  // Share of samples in each sign mode of (θ3, θ4).
  std::array<double, 4> modes{};
  for (Eigen::Index r = 0; r < result.samples.rows(); ++r)
    modes[(result.samples(r, 2) > 0 ? 2 : 0) + (result.samples(r, 3) > 0 ? 1 : 0)] += 1.0 / static_cast<double>(result.samples.rows());

  nlohmann::json out = {{"sampler", sbi::to_string(args.options.sampler)},
                        {"directions", sbi::to_string(args.options.slice_directions)},
                        {"chains", args.options.chains},
                        {"exploration_chains", args.options.resolved_exploration_chains()},
                        {"warmup", args.options.warmup},
                        {"thin", args.options.thin},
                        {"jump", args.options.jumps_per_iteration},
                        {"jump_scale", args.options.jump_scale},
                        {"slice_updates", args.options.slice_updates_per_iteration},
                        {"init", sbi::to_string(args.options.init)},
                        {"candidates", args.options.init_candidates},
                        {"chain_blocks", args.options.chain_blocks},
                        {"chains_per_call", args.options.chains_per_call(args.options.chains)},
                        {"threads", args.options.threads},
                        {"network", args.network},
                        {"hidden", args.hidden},
                        {"observation", args.observation},
                        {"n", args.n},
                        {"seed", args.seed},
                        {"row_us", row_microseconds},
                        {"seconds", seconds},
                        {"cpu_seconds", cpu},
                        {"samples_per_s", static_cast<double>(args.n) / seconds},
                        {"samples_per_cpu_s", static_cast<double>(args.n) / cpu},
                        {"evaluations", result.statistics.evaluations},
                        {"evaluations_per_sample", static_cast<double>(result.statistics.evaluations) / static_cast<double>(args.n)},
                        {"target_calls", result.statistics.target_calls},
                        {"rhat_max", result.diagnostics.max_rhat()},
                        {"ess_bulk_min", result.diagnostics.min_ess_bulk()},
                        {"ess_tail_min", result.diagnostics.ess_tail.minCoeff()},
                        {"ess_bulk_per_s", result.diagnostics.min_ess_bulk() / seconds},
                        {"ess_bulk_per_cpu_s", result.diagnostics.min_ess_bulk() / cpu},
                        {"mode_shares", modes},
                        {"statistics", result.statistics.to_json()},
                        {"rhat", std::vector<double>(result.diagnostics.rhat.data(), result.diagnostics.rhat.data() + 5)},
                        {"ess_bulk", std::vector<double>(result.diagnostics.ess_bulk.data(), result.diagnostics.ess_bulk.data() + 5)}};
  if (args.c2st) {
    const sbi::CsvTable reference = sbi::read_csv(folder + "/reference_posterior_samples.csv");
    sbi::C2stOptions c2st_options;
    c2st_options.threads = args.options.threads;
    out["c2st"] = sbi::c2st(reference.values, result.samples, c2st_options);
  }
  std::cerr << result.full_report();
  std::cout << out.dump() << std::endl;
  return 0;
}
