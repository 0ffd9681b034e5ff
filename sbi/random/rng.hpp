#pragma once
// Reproducible random streams. Every simulation i of a run draws from Rng::stream(seed, i) and
// nothing else, so results do not depend on thread count, batch size or scheduling order.
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>

namespace sbi {

// SplitMix64 finaliser: a bijective 64-bit mixer, used to turn (seed, index, substream) into
// well-separated generator states.
constexpr std::uint64_t mix64(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Hash of a (seed, index, substream) triple; distinct triples give unrelated 64-bit values.
constexpr std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t index,
                                    std::uint64_t substream = 0) noexcept {
  std::uint64_t h = mix64(seed + 0x9e3779b97f4a7c15ULL);
  h = mix64(h ^ (index + 0x632be59bd9b4e019ULL));
  h = mix64(h ^ (substream + 0x8cb92ba72f3d8dd7ULL));
  return h;
}

// xoshiro256++ (Blackman & Vigna): small state, fast, passes BigCrush. Satisfies the standard
// UniformRandomBitGenerator requirements, so <random> distributions accept it.
class Rng {
 public:
  using result_type = std::uint64_t;

  explicit Rng(std::uint64_t seed = 0) noexcept { reseed(seed); }

  // The stream of simulation `index` (and optional substream) of a run with `seed`.
  static Rng stream(std::uint64_t seed, std::uint64_t index, std::uint64_t substream = 0) noexcept {
    return Rng(stream_seed(seed, index, substream));
  }

  void reseed(std::uint64_t seed) noexcept {
    std::uint64_t z = seed;
    for (auto& word : state_) {
      z += 0x9e3779b97f4a7c15ULL;
      word = mix64(z);
    }
    has_spare_normal_ = false;
  }

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

  result_type operator()() noexcept {
    const std::uint64_t result = rotl(state_[0] + state_[3], 23) + state_[0];
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform on [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }
  // Uniform on (0, 1): safe to take the log of.
  double uniform_open() noexcept {
    return (static_cast<double>((*this)() >> 11) + 0.5) * 0x1.0p-53;
  }
  double uniform(double low, double high) noexcept { return low + (high - low) * uniform(); }

  // Standard normal by Marsaglia's polar method; the second variate of each pair is kept.
  double normal() noexcept {
    if (has_spare_normal_) {
      has_spare_normal_ = false;
      return spare_normal_;
    }
    double u, v, s;
    do {
      u = 2.0 * uniform() - 1.0;
      v = 2.0 * uniform() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double factor = std::sqrt(-2.0 * std::log(s) / s);
    spare_normal_ = v * factor;
    has_spare_normal_ = true;
    return u * factor;
  }
  double normal(double mean, double sd) noexcept { return mean + sd * normal(); }

  // Exponential with rate 1.
  double exponential() noexcept { return -std::log(uniform_open()); }

  // Uniform integer in [0, n) without modulo bias (Lemire's method).
  std::uint64_t below(std::uint64_t n) noexcept {
    if (n == 0) return 0;
    __uint128_t m = static_cast<__uint128_t>((*this)()) * n;
    auto low = static_cast<std::uint64_t>(m);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<__uint128_t>((*this)()) * n;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

 // The whole state (for training checkpoints): four words, then the kept normal variate's bits and
  // whether there is one. set_state(state()) continues the stream exactly.
  struct State {
    std::array<std::uint64_t, 4> words{};
    double spare_normal = 0.0;
    bool has_spare_normal = false;
  };
  State state() const noexcept { return {state_, spare_normal_, has_spare_normal_}; }
  void set_state(const State& s) noexcept {
    state_ = s.words;
    spare_normal_ = s.spare_normal;
    has_spare_normal_ = s.has_spare_normal;
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
  }
  std::array<std::uint64_t, 4> state_{};
  double spare_normal_ = 0.0;
  bool has_spare_normal_ = false;
};

}  // namespace sbi
