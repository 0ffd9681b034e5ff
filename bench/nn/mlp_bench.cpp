// Training throughput of a binary-classifier MLP, the workload of C2ST and LFVI discriminators:
// input D → L hidden layers of width W (ELU by default) → 1 logit, BCE on logits, Adam, batch B,
// float32. Mirrors /work/shared/bench/torch_mlp_bench.py step for step (synthetic data from a pool
// of 64 batches, 20 warm-up steps, median of repeats), so the two figures compare directly.
//
// Also measures this machine's float GEMM peak (n×n·n×n products through the same dispatched
// kernel the training uses, sbi/autodiff/kernels.hpp), and the GFLOP/s the training loop achieves,
// counting the three GEMMs per layer (forward, dW, dX; no dX for the first layer since the data
// needs no gradient). --kernels portable|avx2|avx512 pins a kernel variant (default: the fastest
// this CPU supports).
//
// Prints one human line and one JSON line.
#include "sbi/autodiff/kernels.hpp"
#include "sbi/nn/losses.hpp"
#include "sbi/nn/mlp.hpp"
#include "sbi/nn/threading.hpp"
#include "sbi/optim/adam.hpp"
#include "sbi/random/rng.hpp"

#include <nlohmann/json.hpp>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Arguments {
  int input = 22;
  int hidden = 128;
  int layers = 3;
  int batch = 256;
  int steps = 1000;
  int repeats = 3;
  int threads = 1;
  int gemm_size = 512;
  std::string activation = "elu";
  std::string kernels = "auto";
};

Arguments parse(int argc, char** argv) {
  Arguments a;
  for (int k = 1; k < argc; ++k) {
    const std::string flag = argv[k];
    auto next = [&]() -> std::string {
      if (k + 1 >= argc) {
        std::cerr << "missing value for " << flag << "\n";
        std::exit(2);
      }
      return argv[++k];
    };
    if (flag == "--input") a.input = std::stoi(next());
    else if (flag == "--hidden") a.hidden = std::stoi(next());
    else if (flag == "--layers") a.layers = std::stoi(next());
    else if (flag == "--batch") a.batch = std::stoi(next());
    else if (flag == "--steps") a.steps = std::stoi(next());
    else if (flag == "--repeats") a.repeats = std::stoi(next());
    else if (flag == "--threads") a.threads = std::stoi(next());
    else if (flag == "--gemm-size") a.gemm_size = std::stoi(next());
    else if (flag == "--activation") a.activation = next();
    else if (flag == "--kernels") a.kernels = next();
    else {
      std::cout << "usage: nn_mlp_bench [--input 22] [--hidden 128] [--layers 3] [--batch 256] [--steps 1000]\n"
                   "                    [--repeats 3] [--threads 1] [--activation elu] [--gemm-size 512]\n"
                   "                    [--kernels auto|portable|avx2|avx512]\n";
      std::exit(flag == "--help" || flag == "-h" ? 0 : 2);
    }
  }
  return a;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU seconds used by this process (all threads). On a machine shared with other jobs the wall
// time counts the time slices given to them too; the CPU time does not (bench/RESULTS.md).
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Timing {
  double wall = 0;
  double cpu = 0;
};

// Wall and CPU seconds for `steps` training steps of a fresh network.
Timing time_training(const Arguments& a, std::uint64_t seed) {
  sbi::nn::MlpOptions options;
  options.widths.push_back(a.input);
  for (int k = 0; k < a.layers; ++k) options.widths.push_back(a.hidden);
  options.widths.push_back(1);
  options.activation = sbi::nn::activation_from_string(a.activation);
  sbi::nn::Mlp net(options, seed);
  sbi::optim::Adam adam(net.parameters(), {.learning_rate = 1e-3});

  const int pool = 64;
  sbi::Rng rng = sbi::Rng::stream(seed, 1000);
  Eigen::MatrixXf x(pool * a.batch, a.input);
  for (Eigen::Index k = 0; k < x.size(); ++k) x.data()[k] = static_cast<float>(rng.normal());
  Eigen::VectorXf direction(a.input);
  for (Eigen::Index k = 0; k < direction.size(); ++k) direction[k] = static_cast<float>(rng.normal());
  const Eigen::MatrixXf y = ((x * direction).array() > 0.0f).cast<float>().matrix();

  sbi::ad::Tape<float> tape;
  Eigen::MatrixXf xb(a.batch, a.input), yb(a.batch, 1);
  auto step = [&](int i) {
    const int first = (i % pool) * a.batch;
    xb = x.middleRows(first, a.batch);
    yb = y.middleRows(first, a.batch);
    auto scope = tape.scope();
    adam.zero_grad();
    const auto loss = sbi::nn::bce_with_logits(net.forward(tape.constant(xb)), tape.constant(yb));
    tape.backward(loss);
    adam.step();
  };
  for (int i = 0; i < 20; ++i) step(i);  // warm-up: tape capacity, caches
  const auto start = Clock::now();
  const double cpu_start = process_cpu_seconds();
  for (int i = 0; i < a.steps; ++i) step(i);
  return {seconds_since(start), process_cpu_seconds() - cpu_start};
}

// Best GFLOP/s of C = A·B for n×n float matrices, through the active kernels.
double gemm_peak_gflops(int n) {
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n);
  const Eigen::MatrixXf b = Eigen::MatrixXf::Random(n, n);
  Eigen::MatrixXf c(n, n);
  const auto& kernel = sbi::ad::kernels::active<float>();
  auto multiply = [&] { kernel.product(a.data(), b.data(), c.data(), n, n, n, false); };
  multiply();  // warm-up
  double best = 0;
  for (int trial = 0; trial < 5; ++trial) {
    int reps = 0;
    const auto start = Clock::now();
    double elapsed = 0;
    do {
      multiply();
      ++reps;
      elapsed = seconds_since(start);
    } while (elapsed < 0.2);
    best = std::max(best, 2.0 * n * n * static_cast<double>(n) * reps / elapsed / 1e9);
  }
  if (c(0, 0) == 12345.0f) std::printf(" ");  // keep the product observable
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const Arguments a = parse(argc, argv);
  if (a.kernels != "auto") {
    bool known = false;
    for (auto v : {sbi::ad::kernels::Variant::portable, sbi::ad::kernels::Variant::avx2, sbi::ad::kernels::Variant::avx512}) {
      if (a.kernels != sbi::ad::kernels::to_string(v)) continue;
      known = true;
      if (!sbi::ad::kernels::supported(v)) {
        std::cerr << "kernels " << a.kernels << " not supported here: " << sbi::ad::kernels::describe() << "\n";
        return 2;
      }
      sbi::ad::kernels::set_variant(v);
    }
    if (!known) {
      std::cerr << "unknown --kernels " << a.kernels << " (auto, portable, avx2 or avx512)\n";
      return 2;
    }
  }
  sbi::nn::set_num_threads(a.threads);

  std::vector<double> times, cpu_times;
  for (int r = 0; r < a.repeats; ++r) {
    const Timing t = time_training(a, static_cast<std::uint64_t>(r));
    times.push_back(t.wall);
    cpu_times.push_back(t.cpu);
  }
  std::sort(times.begin(), times.end());
  std::sort(cpu_times.begin(), cpu_times.end());
  const double median = times[times.size() / 2];
  const double samples_per_s = a.steps * static_cast<double>(a.batch) / median;
  const double samples_per_cpu_s = a.steps * static_cast<double>(a.batch) / cpu_times[cpu_times.size() / 2];

  // Multiply-adds per sample in the three GEMMs of each layer (no input gradient for layer 0).
  double weights = static_cast<double>(a.input) * a.hidden + static_cast<double>(a.layers - 1) * a.hidden * a.hidden + a.hidden;
  double first_layer = static_cast<double>(a.input) * a.hidden;
  const double flops_per_sample = 2.0 * (3.0 * weights - first_layer);
  const double achieved_gflops = samples_per_s * flops_per_sample / 1e9;
  const double peak = gemm_peak_gflops(a.gemm_size);

  const std::string kernels = sbi::ad::kernels::to_string(sbi::ad::kernels::active_variant());
  std::printf("sbi++ threads %d (openmp %s), kernels %s: %d->%dx%d %s->1, batch %d: %.0f samples/s (median of %d), "
              "%.1f GFLOP/s; GEMM %d^3 peak %.1f GFLOP/s (%.0f%%)\n",
              sbi::nn::num_threads(), sbi::nn::parallel_available() ? "yes" : "no", kernels.c_str(), a.input, a.layers,
              a.hidden,
              a.activation.c_str(), a.batch, samples_per_s, a.repeats, achieved_gflops, a.gemm_size, peak,
              100.0 * achieved_gflops / peak);
  const nlohmann::json result = {{"implementation", "sbi++"},
                                 {"threads", sbi::nn::num_threads()},
                                 {"hidden", a.hidden},
                                 {"layers", a.layers},
                                 {"activation", a.activation},
                                 {"batch", a.batch},
                                 {"samples_per_s_median", samples_per_s},
                                 {"samples_per_cpu_s_median", samples_per_cpu_s},
                                 {"achieved_gflops", achieved_gflops},
                                 {"gemm_peak_gflops", peak},
                                 {"kernels", kernels},
                                 {"compiled_simd", Eigen::SimdInstructionSetsInUse()}};
  std::cout << result.dump() << std::endl;
  return 0;
}
