#include "sbi/causal/synthetic.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/random/rng.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <numeric>

namespace sbi::causal {

namespace {

constexpr std::uint64_t kSyntheticSubstream = 0x5e7;
// + the family's number: each distortion's own stream
constexpr std::uint64_t kCauseWarpSubstream = 0xca05e;
constexpr std::uint64_t kCauseNoiseSubstream = 0xca05e0;
constexpr std::uint64_t kConfoundingSubstream = 0xc0f0;

struct FamilyName {
  MechanismFamily family;
  const char* name;
};
constexpr FamilyName kFamilies[] = {{MechanismFamily::additive, "additive"},
                                    {MechanismFamily::multiplicative, "multiplicative"},
                                    {MechanismFamily::post_nonlinear, "post-nonlinear"},
                                    {MechanismFamily::heteroscedastic, "heteroscedastic"},
                                    {MechanismFamily::discretised, "discretised"},
                                    {MechanismFamily::spline, "spline"},
                                    {MechanismFamily::non_additive, "non-additive"}};

Vector standardised(Vector v) {
  const double mean = v.mean();
  const double sd = std::sqrt((v.array() - mean).square().mean());
  return (v.array() - mean) / (sd > 0 ? sd : 1.0);
}

// Gamma(shape, 1) by Marsaglia & Tsang (2000); shape < 1 by the boost U^(1/shape).
double gamma_draw(Rng& rng, double shape) {
  if (shape < 1) return gamma_draw(rng, shape + 1) * std::pow(rng.uniform_open(), 1.0 / shape);
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = rng.normal();
      v = 1.0 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = rng.uniform_open();
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
  }
}

Vector draw_cause(Rng& rng, Eigen::Index n, std::string* law) {
  Vector x(n);
  switch (rng.below(5)) {
    case 0:
      *law = "uniform";
      for (Eigen::Index i = 0; i < n; ++i) x[i] = rng.uniform(-1, 1);
      break;
    case 1:
      *law = "gaussian";
      for (Eigen::Index i = 0; i < n; ++i) x[i] = rng.normal();
      break;
    case 2: {
      *law = "mixture";
      const int components = 2 + static_cast<int>(rng.below(2));
      double mean[3], sd[3], weight[3], total = 0;
      for (int k = 0; k < components; ++k) {
        mean[k] = rng.uniform(-2, 2);
        sd[k] = rng.uniform(0.3, 1.0);
        weight[k] = rng.uniform(0.2, 1.0);
        total += weight[k];
      }
      for (Eigen::Index i = 0; i < n; ++i) {
        double u = rng.uniform() * total;
        int k = 0;
        while (k + 1 < components && u >= weight[k]) u -= weight[k++];
        x[i] = mean[k] + sd[k] * rng.normal();
      }
      break;
    }
    case 3: {
      *law = "gamma";
      const double shape = rng.uniform(1, 4);
      for (Eigen::Index i = 0; i < n; ++i) x[i] = gamma_draw(rng, shape);
      break;
    }
    default:
      *law = "laplace";
      for (Eigen::Index i = 0; i < n; ++i) x[i] = (rng.uniform() < 0.5 ? -1.0 : 1.0) * rng.exponential();
  }
  return standardised(x);
}

// A random function of a standardised input; its values on x are standardised by the caller.
struct RandomFunction {
  bool monotone = true;
  double a[8], b[8], c[8], d = 0, sign = 1;

  static RandomFunction draw(Rng& rng, bool force_monotone = false) {
    RandomFunction f;
    f.monotone = rng.uniform() < 0.5 || force_monotone;
    if (f.monotone) {
      for (int k = 0; k < 3; ++k) {
        f.a[k] = rng.uniform(0.5, 2.0);
        f.b[k] = rng.uniform(1.0, 3.0);
        f.c[k] = rng.uniform(-1.5, 1.5);
      }
      f.d = rng.uniform(0.0, 0.5);
      f.sign = rng.uniform() < 0.5 ? -1.0 : 1.0;
    } else {
      // Random Fourier features of an RBF kernel with length scale ℓ: frequencies N(0, 1/ℓ²).
      const double length = rng.uniform(0.5, 2.0);
      for (int k = 0; k < 8; ++k) {
        f.a[k] = rng.normal();
        f.b[k] = rng.normal() / length;
        f.c[k] = rng.uniform(0, 2 * std::numbers::pi);
      }
    }
    return f;
  }
  Vector operator()(const Vector& x) const {
    Vector out = Vector::Zero(x.size());
    if (monotone) {
      for (int k = 0; k < 3; ++k) out.array() += a[k] * (b[k] * (x.array() - c[k])).tanh();
      out = sign * (out + d * x);
    } else {
      for (int k = 0; k < 8; ++k) out.array() += a[k] * (b[k] * x.array() + c[k]).cos();
    }
    return out;
  }
};

// f(X), standardised; a function that is (numerically) constant on this X is redrawn, and after
// eight tries the identity is used (so the effect always depends on the cause).
Vector draw_function_values(Rng& rng, const Vector& x, std::string* kind) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    const RandomFunction f = RandomFunction::draw(rng);
    const Vector v = f(x);
    const double sd = std::sqrt((v.array() - v.mean()).square().mean());
    if (sd > 1e-6) {
      if (kind) *kind = f.monotone ? "monotone" : "smooth";
      return standardised(v);
    }
  }
  if (kind) *kind = "linear";
  return x;
}

Vector draw_noise(Rng& rng, Eigen::Index n, std::string* law) {
  Vector e(n);
  switch (rng.below(4)) {
    case 0:
      *law = "gaussian";
      for (Eigen::Index i = 0; i < n; ++i) e[i] = rng.normal();
      break;
    case 1:
      *law = "uniform";
      for (Eigen::Index i = 0; i < n; ++i) e[i] = rng.uniform(-std::sqrt(3.0), std::sqrt(3.0));
      break;
    case 2:
      *law = "laplace";  // variance 2b²: b = 1/√2
      for (Eigen::Index i = 0; i < n; ++i) e[i] = (rng.uniform() < 0.5 ? -1.0 : 1.0) * rng.exponential() / std::sqrt(2.0);
      break;
    default:
      *law = "student-t5";  // variance 5/3
      for (Eigen::Index i = 0; i < n; ++i) {
        double chi2 = 0;
        for (int k = 0; k < 5; ++k) chi2 += std::pow(rng.normal(), 2);
        e[i] = rng.normal() / std::sqrt(chi2 / 5.0) * std::sqrt(3.0 / 5.0);
      }
  }
  return e;
}

// Rounds v to `levels` equally spaced values between its minimum and maximum.
Vector discretise(const Vector& v, int levels) {
  const double low = v.minCoeff(), step = (v.maxCoeff() - low) / (levels - 1);
  if (!(step > 0)) return v;
  return ((v.array() - low) / step).round() * step + low;
}

Vector post_nonlinearity(Rng& rng, const Vector& u_raw, std::string* name) {
  const Vector u = standardised(u_raw);
  switch (rng.below(4)) {
    case 0:
      *name = "cube";
      return u.array().cube();
    case 1: {
      *name = "exp";
      const double beta = rng.uniform(0.5, 1.0) * (rng.uniform() < 0.5 ? -1.0 : 1.0);
      return (beta * u.array()).exp();
    }
    case 2: {
      *name = "tanh";
      const double beta = rng.uniform(1.0, 2.0);
      return (beta * u.array()).tanh() + 0.1 * u.array();
    }
    default: {
      *name = "sinh";
      const double beta = rng.uniform(0.5, 1.2);
      return (beta * u.array()).sinh();
    }
  }
}

// A cubic Hermite spline through `knots` equally spaced points on [low, high] with Catmull–Rom
// slopes (one-sided at the ends), constant beyond them. Its knot values are the caller's.
class HermiteSpline {
 public:
  static constexpr int kMaxKnots = 8;
  HermiteSpline(double low, double high, const double* values, int knots) : low_(low), knots_(knots) {
    step_ = (high - low) / (knots - 1);
    for (int k = 0; k < knots; ++k) value_[k] = values[k];
    for (int k = 0; k < knots; ++k) {
      const int left = std::max(k - 1, 0), right = std::min(k + 1, knots - 1);
      slope_[k] = (value_[right] - value_[left]) / ((right - left) * step_);
    }
  }
  double operator()(double x) const {
    const double u = std::clamp((x - low_) / step_, 0.0, static_cast<double>(knots_ - 1));
    const int k = std::min(static_cast<int>(u), knots_ - 2);
    const double t = u - k, t2 = t * t, t3 = t2 * t;
    return (2 * t3 - 3 * t2 + 1) * value_[k] + (t3 - 2 * t2 + t) * step_ * slope_[k] + (-2 * t3 + 3 * t2) * value_[k + 1] +
           (t3 - t2) * step_ * slope_[k + 1];
  }
  Vector operator()(const Vector& x) const {
    Vector out(x.size());
    for (Eigen::Index i = 0; i < x.size(); ++i) out[i] = (*this)(x[i]);
    return out;
  }

 private:
  double low_, step_;
  int knots_;
  double value_[kMaxKnots], slope_[kMaxKnots];
};

// A spline with 4–5 knots over the range of x widened by one standard deviation each side (x is
// standardised), knot values from `draw_value`.
template <class DrawValue>
HermiteSpline random_spline(Rng& rng, const Vector& x, DrawValue draw_value) {
  const int knots = 4 + static_cast<int>(rng.below(2));
  double values[HermiteSpline::kMaxKnots];
  for (int k = 0; k < knots; ++k) values[k] = draw_value();
  return HermiteSpline(x.minCoeff() - 1.0, x.maxCoeff() + 1.0, values, knots);
}

// A cause from a Gaussian mixture of 1–5 components whose means and scales vary widely (clusters,
// skew, outlying groups), standardised.
Vector draw_mixture_cause(Rng& rng, Eigen::Index n, std::string* law) {
  const int components = 1 + static_cast<int>(rng.below(5));
  const double mean_spread = rng.uniform(0, 5), sd_spread = rng.uniform(0.2, 3);
  double mean[5], sd[5], weight[5], total = 0;
  for (int k = 0; k < components; ++k) {
    mean[k] = mean_spread * rng.normal();
    sd[k] = std::max(sd_spread * std::abs(rng.normal()), 0.02 * sd_spread);
    weight[k] = rng.uniform(0.05, 1.0);
    total += weight[k];
  }
  Vector x(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    double u = rng.uniform() * total;
    int k = 0;
    while (k + 1 < components && u >= weight[k]) u -= weight[k++];
    x[i] = mean[k] + sd[k] * rng.normal();
  }
  *law = "mixture-" + std::to_string(components);
  return standardised(x);
}

// The spline family: Y = f(X) + σ·h(X)·E with f a random spline, h a positive random spline.
Vector spline_effect(Rng& rng, const Vector& x, const Vector& e, std::string* function) {
  Vector fx;
  for (int attempt = 0;; ++attempt) {
    fx = random_spline(rng, x, [&] { return rng.normal(); })(x);
    const double sd = std::sqrt((fx.array() - fx.mean()).square().mean());
    if (sd > 1e-6 || attempt == 7) break;
  }
  fx = standardised(fx);
  const bool heteroscedastic = rng.uniform() < 0.5;
  Vector scale = Vector::Ones(x.size());
  if (heteroscedastic) scale = random_spline(rng, x, [&] { return rng.uniform(0.1, 1.0); })(x);
  const double sigma = rng.uniform(0.1, 1.0);
  *function = heteroscedastic ? "spline+heteroscedastic" : "spline";
  return fx.array() + sigma * scale.array() * e.array();
}

// The non-additive family: Y = g(X, E), g a draw of a Gaussian process on the plane with an RBF kernel
// (random Fourier features) plus a linear trend in X, smoother in E than in X; redrawn while it
// hardly depends on X.
Vector non_additive_effect(Rng& rng, const Vector& x, const Vector& e, std::string* function) {
  constexpr int kFeatures = 16;
  const std::vector<Eigen::Index> order = detail::sorted_order(x);
  Vector y(x.size());
  for (int attempt = 0; attempt < 8; ++attempt) {
    const double length_x = rng.uniform(0.5, 2.0), length_e = rng.uniform(1.0, 3.0), trend = rng.uniform(-1, 1);
    y = trend * x;
    for (int k = 0; k < kFeatures; ++k) {
      const double a = rng.normal() * std::sqrt(2.0 / kFeatures), wx = rng.normal() / length_x, we = rng.normal() / length_e,
                   c = rng.uniform(0, 2 * std::numbers::pi);
      y.array() += a * (wx * x.array() + we * e.array() + c).cos();
    }
    const double share = detail::explained_share(order, y, std::max<Eigen::Index>(2, x.size() / 10));
    if (share > 0.3) break;
  }
  *function = "gp-plane";
  return y;
}

}  // namespace

namespace detail {

std::vector<Eigen::Index> sorted_order(const Vector& x) {
  std::vector<Eigen::Index> order(static_cast<std::size_t>(x.size()));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  std::sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) { return x[a] < x[b]; });
  return order;
}

double explained_share(const std::vector<Eigen::Index>& order, const Vector& y, Eigen::Index bins) {
  const auto n = static_cast<Eigen::Index>(order.size());
  const double mean = y.mean();
  double between = 0;
  for (Eigen::Index b = 0; b < bins; ++b) {
    const Eigen::Index from = b * n / bins, to = (b + 1) * n / bins;
    double bin_mean = 0;
    for (Eigen::Index i = from; i < to; ++i) bin_mean += y[order[static_cast<std::size_t>(i)]];
    bin_mean /= static_cast<double>(to - from);
    between += static_cast<double>(to - from) * (bin_mean - mean) * (bin_mean - mean);
  }
  const double total = (y.array() - mean).square().sum();
  return total > 0 ? between / total : 0.0;
}

}  // namespace detail

std::string to_string(MechanismFamily family) {
  for (const auto& f : kFamilies)
    if (f.family == family) return f.name;
  return "unknown";
}

MechanismFamily mechanism_family_from_string(const std::string& name) {
  for (const auto& f : kFamilies)
    if (name == f.name) return f.family;
  std::string known;
  for (const auto& f : kFamilies) {
    if (!known.empty()) known += ", ";
    known += f.name;
  }
  throw InputError("unknown mechanism family \"" + name + "\" (known: " + known + ")");
}

const std::vector<MechanismFamily>& all_mechanism_families() {
  static const std::vector<MechanismFamily> families = [] {
    std::vector<MechanismFamily> v;
    for (const auto& f : kFamilies) v.push_back(f.family);
    return v;
  }();
  return families;
}

namespace {
// The cause through a random monotone function of f's kind, standardised again; its law says so.
void warp_cause(Rng& rng, Vector& x, std::string& law) {
  x = standardised(RandomFunction::draw(rng, /*force_monotone=*/true)(x));
  law = "warped-" + law;
}
}  // namespace

bool PairDistortions::is_valid(std::string* why) const {
  for (const auto& [key, p] : {std::pair{"cause_warp", cause_warp}, {"cause_noise", cause_noise}, {"confounding", confounding}}) {
    if (p >= 0 && p <= 1) continue;
    if (why) *why = std::string(key) + " must be a probability, from 0 to 1";
    return false;
  }
  return true;
}

void PairDistortions::add_to_json(nlohmann::json& j) const {
  j["cause_warp"] = cause_warp;
  j["cause_noise"] = cause_noise;
  j["confounding"] = confounding;
}

PairDistortions PairDistortions::read(JsonObjectReader& reader, const PairDistortions& defaults) {
  PairDistortions d;
  d.cause_warp = reader.optional_number_in("cause_warp", defaults.cause_warp, 0.0, 1.0);
  d.cause_noise = reader.optional_number_in("cause_noise", defaults.cause_noise, 0.0, 1.0);
  d.confounding = reader.optional_number_in("confounding", defaults.confounding, 0.0, 1.0);
  return d;
}

GeneratedPair generate_pair(MechanismFamily family, Eigen::Index n, std::uint64_t seed, std::uint64_t index,
                            const PairDistortions& distortions) {
  if (n < 10) throw InputError("generate_pair: a pair needs at least 10 rows, got " + std::to_string(n));
  std::string why;
  if (!distortions.is_valid(&why)) throw InputError("generate_pair: " + why);
  Rng rng = Rng::stream(seed, index, kSyntheticSubstream + static_cast<std::uint64_t>(family));
  const auto family_number = static_cast<std::uint64_t>(family);
  GeneratedPair out;
  out.family = family;
  Vector x;
  if (family == MechanismFamily::spline) {
    x = draw_mixture_cause(rng, n, &out.cause_law);
  } else {
    x = draw_cause(rng, n, &out.cause_law);
    if (family == MechanismFamily::non_additive) {  // a cause law of its own: a random monotone warp
      warp_cause(rng, x, out.cause_law);
    }
  }
  if (distortions.cause_warp > 0 && family != MechanismFamily::non_additive) {
    Rng warp_rng = Rng::stream(seed, index, kCauseWarpSubstream + family_number);
    if (warp_rng.uniform() < distortions.cause_warp) warp_cause(warp_rng, x, out.cause_law);
  }
  // The confounder moves the cause before the mechanism sees it; its share of the effect comes last.
  Vector confounder;
  Rng confounding_rng = Rng::stream(seed, index, kConfoundingSubstream + family_number);
  if (distortions.confounding > 0 && confounding_rng.uniform() < distortions.confounding) {
    confounder.resize(n);
    for (Eigen::Index i = 0; i < n; ++i) confounder[i] = confounding_rng.normal();
    x = standardised(x + confounding_rng.uniform(0.3, 1.0) * confounder);
  }
  const Vector fx = draw_function_values(rng, x, &out.function);
  const Vector e = draw_noise(rng, n, &out.noise_law);
  const double sigma = rng.uniform(0.1, 0.6);
  Vector cause = x, effect;
  // The discretised family rounds after the distortions (a reading is rounded as it is taken).
  int levels_cause = 0, levels_effect = 0;
  switch (family) {
    case MechanismFamily::additive:
      effect = fx + sigma * e;
      break;
    case MechanismFamily::multiplicative: {
      const double a = rng.uniform(0.3, 0.8);
      effect = (a * fx.array() + sigma * e.array()).exp();
      break;
    }
    case MechanismFamily::post_nonlinear: {
      std::string h;
      effect = post_nonlinearity(rng, fx + sigma * e, &h);
      out.function += "+" + h;
      break;
    }
    case MechanismFamily::heteroscedastic: {
      const Vector r = draw_function_values(rng, x, nullptr);
      const double beta = rng.uniform(0.3, 1.0);
      effect = fx.array() + sigma * (beta * r.array()).exp() * e.array();
      break;
    }
    case MechanismFamily::discretised: {
      effect = fx + sigma * e;
      const auto which = rng.below(3);  // 0: cause, 1: effect, 2: both
      const int cause_draw = 3 + static_cast<int>(rng.below(18)), effect_draw = 3 + static_cast<int>(rng.below(18));
      if (which != 1) levels_cause = cause_draw;
      if (which != 0) levels_effect = effect_draw;
      out.function += which == 0 ? "+discrete-cause" : (which == 1 ? "+discrete-effect" : "+discrete-both");
      break;
    }
    case MechanismFamily::spline:
      effect = spline_effect(rng, x, e, &out.function);
      break;
    case MechanismFamily::non_additive:
      effect = non_additive_effect(rng, x, e, &out.function);
      break;
  }
  if (confounder.size() > 0) {
    const double sd = std::sqrt((effect.array() - effect.mean()).square().mean());
    const double b = confounding_rng.uniform(0.2, 0.6);
    effect += b * (sd > 0 ? sd : 1.0) * draw_function_values(confounding_rng, confounder, nullptr);
    out.function += "+confounded";
  }
  if (distortions.cause_noise > 0) {
    Rng noise_rng = Rng::stream(seed, index, kCauseNoiseSubstream + family_number);
    if (noise_rng.uniform() < distortions.cause_noise) {
      const double tau = noise_rng.uniform(0.1, 0.5);  // x is standardised: τ is the error's sd relative to the cause's
      for (Eigen::Index i = 0; i < n; ++i) cause[i] += tau * noise_rng.normal();
      out.cause_law = "noisy-" + out.cause_law;
    }
  }
  if (levels_cause > 0) cause = discretise(cause, levels_cause);
  if (levels_effect > 0) effect = discretise(effect, levels_effect);
  out.direction = rng.uniform() < 0.5 ? 1 : -1;
  out.pair.x = out.direction == 1 ? cause : effect;
  out.pair.y = out.direction == 1 ? effect : cause;
  out.pair.name = to_string(family) + "-n" + std::to_string(n) + "-" + std::to_string(index);
  return out;
}

bool families_and_sizes_valid(const std::vector<std::string>& families, const std::vector<Eigen::Index>& sizes, std::string* why) {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (families.empty()) return fail("families: list at least one mechanism family");
  for (const auto& f : families) {
    try {
      mechanism_family_from_string(f);
    } catch (const InputError& e) {
      return fail(std::string("families: ") + e.what());
    }
  }
  if (sizes.empty()) return fail("sizes: list at least one size");
  for (const auto s : sizes)
    if (s < 10) return fail("sizes: every size must be at least 10 rows");
  return true;
}

bool SyntheticPairsOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (!families_and_sizes_valid(families, sizes, why)) return false;
  if (pairs_per_cell < 1) return fail("pairs_per_cell must be at least 1");
  return distortions.is_valid(why);
}

nlohmann::json SyntheticPairsOptions::to_json() const {
  nlohmann::json j = {{"families", families}, {"sizes", sizes}, {"pairs_per_cell", pairs_per_cell}, {"seed", seed}};
  distortions.add_to_json(j);
  return j;
}

SyntheticPairsOptions SyntheticPairsOptions::from_json(const nlohmann::json& j, const std::string& path) {
  JsonObjectReader reader(j, path);
  SyntheticPairsOptions o;
  if (reader.has("families")) o.families = reader.required_string_list("families");
  if (reader.has("sizes")) {
    o.sizes.clear();
    for (const double s : reader.required_number_list("sizes")) {
      if (s != std::floor(s) || s < 10 || s > 1e7)
        throw InputError(reader.child_path("sizes") + ": every size must be a whole number of rows from 10 to 1e7");
      o.sizes.push_back(static_cast<Eigen::Index>(s));
    }
  }
  o.pairs_per_cell = static_cast<int>(reader.optional_integer("pairs_per_cell", o.pairs_per_cell, 1, 1000000));
  o.seed = reader.optional_seed("seed", 1);
  o.distortions = PairDistortions::read(reader, o.distortions);
  reader.reject_unknown_keys();
  std::string why;
  if (!o.is_valid(&why)) throw InputError((path.empty() ? std::string("options") : path) + ": " + why);
  return o;
}

std::vector<GeneratedPair> generate_pairs(const SyntheticPairsOptions& options) {
  std::string why;
  if (!options.is_valid(&why)) throw InputError("synthetic pairs: " + why);
  std::vector<GeneratedPair> pairs;
  std::uint64_t index = 0;
  for (const auto& name : options.families) {
    const MechanismFamily family = mechanism_family_from_string(name);
    for (const auto size : options.sizes)
      for (int k = 0; k < options.pairs_per_cell; ++k) pairs.push_back(generate_pair(family, size, options.seed, index++, options.distortions));
  }
  return pairs;
}

void write_pairs_folder(const std::filesystem::path& dir, const std::vector<GeneratedPair>& pairs) {
  std::filesystem::create_directories(dir);
  std::string meta = "pair_id,direction,weight,n_samples,family,cause_law,function,noise_law\n";
  for (std::size_t k = 0; k < pairs.size(); ++k) {
    const auto& p = pairs[k];
    char name[32];
    std::snprintf(name, sizeof name, "pair%04zu.csv", k + 1);
    std::string text = "x,y\n";
    for (Eigen::Index i = 0; i < p.pair.x.size(); ++i) {
      append_double(text, p.pair.x[i]);
      text += ',';
      append_double(text, p.pair.y[i]);
      text += '\n';
    }
    write_file_atomically(dir / name, text);
    meta += std::to_string(k + 1) + "," + std::to_string(p.direction) + ",1," + std::to_string(p.pair.x.size()) + "," +
            to_string(p.family) + "," + p.cause_law + "," + p.function + "," + p.noise_law + "\n";
  }
  write_file_atomically(dir / "meta.csv", meta);
}

}  // namespace sbi::causal
