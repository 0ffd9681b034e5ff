// The three matrix products of one training step of a width-W layer at batch B, in GFLOP/s:
//   forward  Y = X W        (B×W)(W×W)
//   dW      += Xᵀ G         (W×B)(B×W)
//   dX       = G Wᵀ         (B×W)(W×W)
// through each kernel variant this CPU supports (sbi/autodiff/kernels.hpp), through OpenBLAS's
// sgemm if libopenblas.so.0 can be loaded (1 and 2 threads; the option weighed in bench/RESULTS.md),
// and through the fastest variant split over two threads by output columns (a persistent helper
// thread, so only the hand-off is paid per product): whether a second core pays at these sizes.
//
//   nn_gemm_bench [--batch 256] [--widths 64,128,256,512] [--seconds 0.2]
// Prints a table and one JSON line per width.
#include "sbi/autodiff/kernels.hpp"

#include <nlohmann/json.hpp>

#include <Eigen/Core>
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace kernels = sbi::ad::kernels;
using Clock = std::chrono::steady_clock;
using Mat = Eigen::MatrixXf;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Best of 5 rates (GFLOP/s) of `run`, each over at least `seconds`.
double rate(const std::function<void()>& run, double flops, double seconds) {
  run();
  double best = 0;
  for (int trial = 0; trial < 5; ++trial) {
    int reps = 0;
    const auto start = Clock::now();
    double elapsed = 0;
    do {
      run();
      ++reps;
      elapsed = seconds_since(start);
    } while (elapsed < seconds);
    best = std::max(best, flops * reps / elapsed / 1e9);
  }
  return best;
}

using Sgemm = void(const char*, const char*, const int*, const int*, const int*, const float*, const float*, const int*,
                   const float*, const int*, const float*, float*, const int*);

struct OpenBlas {
  Sgemm* sgemm = nullptr;
  void (*set_threads)(int) = nullptr;
  char* (*corename)() = nullptr;
  explicit operator bool() const { return sgemm && set_threads; }
};

OpenBlas load_openblas() {
  OpenBlas blas;
  void* library = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) return blas;
  blas.sgemm = reinterpret_cast<Sgemm*>(dlsym(library, "sgemm_"));
  blas.set_threads = reinterpret_cast<void (*)(int)>(dlsym(library, "openblas_set_num_threads"));
  blas.corename = reinterpret_cast<char* (*)()>(dlsym(library, "openblas_get_corename"));
  return blas;
}

// A second thread that runs one job per generation; the caller runs its own half meanwhile.
class Helper {
 public:
  Helper() : thread_([this] { loop(); }) {}
  ~Helper() {
    stop_ = true;
    generation_.fetch_add(1);
    thread_.join();
  }
  void run_both(const std::function<void()>& mine, const std::function<void()>& theirs) {
    job_ = &theirs;
    done_.store(false, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    mine();
    while (!done_.load(std::memory_order_acquire)) std::this_thread::yield();
  }

 private:
  void loop() {
    unsigned seen = 0;
    for (;;) {
      while (generation_.load(std::memory_order_acquire) == seen) std::this_thread::yield();
      ++seen;
      if (stop_) return;
      (*job_)();
      done_.store(true, std::memory_order_release);
    }
  }
  std::atomic<unsigned> generation_{0};
  std::atomic<bool> done_{true};
  std::atomic<bool> stop_{false};
  const std::function<void()>* job_ = nullptr;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  int batch = 256;
  double seconds = 0.2;
  std::vector<int> widths = {64, 128, 256, 512};
  for (int k = 1; k < argc; ++k) {
    const std::string flag = argv[k];
    if (k + 1 >= argc) {
      std::cerr << "usage: nn_gemm_bench [--batch 256] [--widths 64,128,256,512] [--seconds 0.2]\n";
      return 2;
    }
    const std::string value = argv[++k];
    if (flag == "--batch") batch = std::stoi(value);
    else if (flag == "--seconds") seconds = std::stod(value);
    else if (flag == "--widths") {
      widths.clear();
      std::stringstream list(value);
      for (std::string item; std::getline(list, item, ',');) widths.push_back(std::stoi(item));
    } else {
      std::cerr << "unknown option " << flag << "\n";
      return 2;
    }
  }
  const OpenBlas blas = load_openblas();
  std::printf("kernels: %s; OpenBLAS: %s\n", kernels::describe().c_str(),
              blas ? (blas.corename ? blas.corename() : "loaded") : "not found");
  std::printf("%-5s %-22s %9s %9s %9s\n", "W", "implementation", "forward", "dW", "dX");
  Helper helper;
  for (const int w : widths) {
    const Mat x = Mat::Random(batch, w), weight = Mat::Random(w, w), g = Mat::Random(batch, w);
    Mat y(batch, w), dw = Mat::Zero(w, w), dx(batch, w);
    const Mat weight_t = weight.transpose();
    const double flops = 2.0 * batch * w * static_cast<double>(w);
    nlohmann::json record = {{"batch", batch}, {"width", w}};
    auto report = [&](const std::string& name, double f, double d, double e) {
      std::printf("%-5d %-22s %9.1f %9.1f %9.1f\n", w, name.c_str(), f, d, e);
      record[name] = {{"forward", f}, {"dW", d}, {"dX", e}};
    };
    for (auto v : {kernels::Variant::portable, kernels::Variant::avx2, kernels::Variant::avx512}) {
      if (!kernels::supported(v)) continue;
      const auto& t = kernels::table(v);
      report(std::string("sbi ") + kernels::to_string(v),
             rate([&] { t.product(x.data(), weight.data(), y.data(), batch, w, w, false); }, flops, seconds),
             rate([&] { t.product_at(x.data(), g.data(), dw.data(), w, batch, w, true); }, flops, seconds),
             rate([&] { t.product_bt(g.data(), weight.data(), dx.data(), batch, w, w, false); }, flops, seconds));
    }
    {
      // Two threads: each computes half of the output columns (column-major: contiguous halves).
      const auto& t = kernels::table(kernels::best_supported());
      const int left = w / 2, right = w - left;
      auto split = [&](const std::function<void(int first, int count)>& part) {
        const std::function<void()> mine = [&] { part(0, left); };
        const std::function<void()> theirs = [&] { part(left, right); };
        helper.run_both(mine, theirs);
      };
      report(std::string("sbi ") + kernels::to_string(kernels::best_supported()) + " x2 threads",
             rate([&] { split([&](int first, int count) {
                    t.product(x.data(), weight.data() + first * w, y.data() + first * batch, batch, w, count, false);
                  }); }, flops, seconds),
             rate([&] { split([&](int first, int count) {
                    t.product_at(x.data(), g.data() + first * batch, dw.data() + first * w, w, batch, count, true);
                  }); }, flops, seconds),
             // dX = G Wᵀ: its column halves need row halves of W, so this uses a transposed copy of
             // W (the same products, contiguous halves).
             rate([&] { split([&](int first, int count) {
                    t.product(g.data(), weight_t.data() + first * w, dx.data() + first * batch, batch, w, count, false);
                  }); }, flops, seconds));
    }
    if (blas) {
      const float one = 1.0f, zero = 0.0f;
      const int b = batch;
      for (const int threads : {1, 2}) {
        blas.set_threads(threads);
        report("openblas " + std::to_string(threads) + " thread" + (threads > 1 ? "s" : ""),
               rate([&] { blas.sgemm("N", "N", &b, &w, &w, &one, x.data(), &b, weight.data(), &w, &zero, y.data(), &b); },
                    flops, seconds),
               rate([&] { blas.sgemm("T", "N", &w, &w, &b, &one, x.data(), &b, g.data(), &b, &one, dw.data(), &w); },
                    flops, seconds),
               rate([&] { blas.sgemm("N", "T", &b, &w, &w, &one, g.data(), &b, weight.data(), &w, &zero, dx.data(), &b); },
                    flops, seconds));
      }
      blas.set_threads(1);
    }
    std::cout << record.dump() << std::endl;
  }
  return 0;
}
