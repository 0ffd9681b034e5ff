#include "sbi/random/ziggurat.hpp"

#include <bit>
#include <cmath>
#include <cstdint>
#include <numbers>

namespace sbi {

namespace {

// Ziggurat tables for f(x) = e^{−x²/2}, x ≥ 0: 256 layers of equal area V; x[0] = V / f(R) is the
// width of the base layer (which holds the tail beyond R), x[1] = R > x[2] > ... > x[256] = 0.
struct NormalZiggurat {
  static constexpr double R = 3.6541528853610088;
  double x[257];
  double f[257];
  NormalZiggurat() {
    const double v = R * std::exp(-0.5 * R * R) + std::sqrt(std::numbers::pi / 2) * std::erfc(R / std::sqrt(2.0));
    x[0] = v / std::exp(-0.5 * R * R);
    x[1] = R;
    for (int i = 1; i < 256; ++i) x[i + 1] = std::sqrt(-2.0 * std::log(v / x[i] + std::exp(-0.5 * x[i] * x[i])));
    x[256] = 0.0;
    for (int i = 0; i <= 256; ++i) f[i] = std::exp(-0.5 * x[i] * x[i]);
  }
};
const NormalZiggurat kNormalZiggurat;


// Ziggurat tables for f(x) = e^{−x}, x ≥ 0: 256 layers of equal area V; x[0] = V / f(R) is the
// width of the base layer (which holds the tail beyond R), x[1] = R > x[2] > ... > x[256] = 0.
struct ExponentialZiggurat {
  static constexpr double R = 7.69711747013104972;
  double x[257];
  double f[257];
  ExponentialZiggurat() {
    const double v = std::exp(-R) * (R + 1.0);
    x[0] = v / std::exp(-R);
    x[1] = R;
    for (int i = 1; i < 256; ++i) x[i + 1] = -std::log(v / x[i] + std::exp(-x[i]));
    x[256] = 0.0;
    for (int i = 0; i <= 256; ++i) f[i] = std::exp(-x[i]);
  }
};
const ExponentialZiggurat kExponentialZiggurat;

}  // namespace

double ziggurat_normal(Rng& rng) noexcept {
  const NormalZiggurat& z = kNormalZiggurat;
  for (;;) {
    const std::uint64_t bits = rng();
    const unsigned i = static_cast<unsigned>(bits & 0xFF);
    const std::uint64_t sign = (bits & 0x100) << 55;  // bit 8 becomes the sign bit (branch-free)
    // Signed conversion: bits >> 11 < 2^53, and int64 → double is one instruction.
    double x = static_cast<double>(static_cast<std::int64_t>(bits >> 11)) * 0x1.0p-53 * z.x[i];
    if (x < z.x[i + 1]) return std::bit_cast<double>(std::bit_cast<std::uint64_t>(x) | sign);  // inner rectangle
    const bool negative = sign != 0;
    if (i == 0) {                                  // the tail beyond R (Marsaglia 1964)
      double a, b;
      do {
        a = -std::log(rng.uniform_open()) / NormalZiggurat::R;
        b = -std::log(rng.uniform_open());
      } while (b + b < a * a);
      x = NormalZiggurat::R + a;
      return negative ? -x : x;
    }
    if (z.f[i] + rng.uniform() * (z.f[i + 1] - z.f[i]) < std::exp(-0.5 * x * x)) return negative ? -x : x;  // the wedge
  }
}


double ziggurat_exponential(Rng& rng) noexcept {
  const ExponentialZiggurat& z = kExponentialZiggurat;
  for (;;) {
    const std::uint64_t bits = rng();
    const unsigned i = static_cast<unsigned>(bits & 0xFF);
    // Signed conversion: bits >> 11 < 2^53, and int64 → double is one instruction.
    const double x = static_cast<double>(static_cast<std::int64_t>(bits >> 11)) * 0x1.0p-53 * z.x[i];
    if (x < z.x[i + 1]) return x;                                // inside the layer's inner rectangle
    if (i == 0) return ExponentialZiggurat::R + rng.exponential();  // the tail, by memorylessness
    if (z.f[i] + rng.uniform() * (z.f[i + 1] - z.f[i]) < std::exp(-x)) return x;  // the wedge
  }
}

}  // namespace sbi
