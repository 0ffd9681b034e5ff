#pragma once
// Generated cause–effect pairs with a known direction, by mechanism family and size: the training
// data of Meta-CGNN (sbi/causal/meta_cgnn.hpp) and the development and test sets on which every
// causal setting is chosen (never on Tübingen).
//
// Every pair draws, from its own random stream,
//   a cause law     uniform, Gaussian, Gaussian mixture (2–3 components), gamma (shape 1–4), Laplace;
//                   X is then standardised;
//   a function f    a monotone sum of tanh steps plus a linear part (Σ_k a_k tanh(b_k(x − c_k)) + d·x,
//                   random sign), or a smooth non-monotone random function (a sum of 8 random
//                   cosines, length scale 0.5–2: a draw of a Gaussian process with an RBF kernel);
//                   f(X) is standardised;
//   a noise law E   Gaussian, uniform, Laplace or Student t with 5 degrees of freedom, variance 1;
//   a noise level   σ uniform on [0.1, 0.6];
// and then the effect by its family:
//
// | family          | effect                                                                         |
// |-----------------|--------------------------------------------------------------------------------|
// | additive        | Y = f(X) + σE                                                                  |
// | multiplicative  | Y = exp(a f(X)) · exp(σE), a ∈ [0.3, 0.8]: a positive level times positive noise |
// | post-nonlinear  | Y = h(f(X) + σE), h a random invertible nonlinearity (cube, exp, tanh + linear,  |
// |                 | sinh) of the standardised argument (Zhang & Hyvärinen 2009)                    |
// | heteroscedastic | Y = f(X) + σ·exp(β r(X))·E, r another random function, β ∈ [0.3, 1]           |
// | discretised     | the additive model with the cause, the effect or both rounded to 3–20 levels   |
// |                 | (many Tübingen variables are counts, years or coarse readings)                  |
// | spline          | Y = f(X) + σ·h(X)·E with its own cause law, a Gaussian mixture of 1–5 components |
// |                 | with widely varying means and scales; f a cubic Hermite spline with 4–5 knots  |
// |                 | of N(0, 1) values, h (half of the pairs; else 1) a positive spline, σ ∈ [0.1, 1] |
// |                 | (after the generator RCC was trained on: Lopez-Paz et al. 2015, §5; ranges ours) |
// | non-additive    | Y = g(X, E), g a draw of a Gaussian process on the plane (RBF kernel, length     |
// |                 | scales 0.5–2 in X and 1–3 in E, by random Fourier features) plus a linear trend  |
// |                 | in X; redrawn while X explains < 30 % of Y's variance; the cause one of the    |
// |                 | laws above warped by a random monotone function (after the SIM pairs of        |
// |                 | Mooij et al. 2016, whose mechanisms are not additive in the noise)             |
//
// Departures from these clean mechanisms (PairDistortions; all off by default), each applied to a
// pair with its own probability, drawn from a stream of its own, so the pairs it leaves alone are
// those it would be without it:
//   cause warp     the cause passed through a random monotone function of the kind f is drawn from
//                  and standardised again (the non-additive family's causes always are): real causes
//                  are not drawn from five laws, and a meta-model trained on unwarped causes learns to
//                  recognise the cause by its marginal (bench/causal/RESULTS.md);
//   cause noise    the cause observed with independent Gaussian measurement error, sd τ ∈ [0.1, 0.5]
//                  times its own (errors in variables: the effect responds to the true cause; a
//                  discretised cause is rounded after the error, as a coarse reading would be);
//   confounding    a hidden Z ~ N(0, 1) moving both variables: the cause becomes X + aZ, a ∈ [0.3, 1],
//                  standardised, before the mechanism, and the effect gains b·sd(effect)·h(Z),
//                  b ∈ [0.2, 0.6], h a random function of f's kind (before any rounding).
// Both of the last two lower the accuracy of a meta-model trained without them on the same pairs
// (bench/causal/RESULTS.md, "Measurement error and confounding").
//
// Half of the pairs store the cause in x (direction +1), half in y (−1), chosen by a coin from the
// pair's stream. A pair depends only on (seed, index, family, size): the same call gives the same
// bits on any machine with IEEE doubles and the same libm.
#include "sbi/causal/pair.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sbi {
class JsonObjectReader;  // sbi/io/json_reader.hpp
}

namespace sbi::causal {

// New families go at the end: a family's number seeds its pairs' streams.
enum class MechanismFamily { additive, multiplicative, post_nonlinear, heteroscedastic, discretised, spline, non_additive };

// "additive", "multiplicative", "post-nonlinear", "heteroscedastic", "discretised", "spline", "non-additive".
std::string to_string(MechanismFamily family);
// Throws InputError naming the known families.
MechanismFamily mechanism_family_from_string(const std::string& name);
// The families and sizes of generated pairs, as SyntheticPairsOptions and MetaCgnnOptions take them:
// at least one known family, at least one size, every size ≥ 10 rows. False with the reason in `why`.
bool families_and_sizes_valid(const std::vector<std::string>& families, const std::vector<Eigen::Index>& sizes, std::string* why);
const std::vector<MechanismFamily>& all_mechanism_families();

struct GeneratedPair {
  CausePair pair;           // x, y as stored (the cause is x when direction = +1)
  int direction = 1;        // +1: x → y, −1: y → x
  MechanismFamily family = MechanismFamily::additive;
  std::string cause_law, function, noise_law;  // what was drawn, for the meta.csv of a folder
};

// The probabilities of the departures above, each in [0, 1].
struct PairDistortions {
  double cause_warp = 0.0;
  double cause_noise = 0.0;
  double confounding = 0.0;

  // False with the reason in `why` (naming the key) if one is not a probability.
  bool is_valid(std::string* why = nullptr) const;
  // Adds the keys "cause_warp", "cause_noise", "confounding" to an options object.
  void add_to_json(nlohmann::json& j) const;
  // Reads those keys of an options object (keys left out keep the values of `defaults`); errors name
  // the JSON path.
  static PairDistortions read(JsonObjectReader& reader, const PairDistortions& defaults);
};

// One pair of `n` rows of `family` from the stream (seed, index), with the distortions' probabilities.
// n ≥ 10.
GeneratedPair generate_pair(MechanismFamily family, Eigen::Index n, std::uint64_t seed, std::uint64_t index,
                            const PairDistortions& distortions = {});

// A benchmark set: for every family and size, `pairs_per_cell` pairs.
struct SyntheticPairsOptions {
  std::vector<std::string> families = {"additive",    "multiplicative", "post-nonlinear", "heteroscedastic",
                                       "discretised", "spline",         "non-additive"};
  std::vector<Eigen::Index> sizes = {50, 100, 500, 1000};  // rows per pair, each ≥ 10
  int pairs_per_cell = 10;                                 // pairs per (family, size)
  std::uint64_t seed = 1;  // the development set uses 1, the test set 2; meta-training draws other streams
  PairDistortions distortions;  // keys "cause_warp", "cause_noise", "confounding" (see the top of this file)

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  static SyntheticPairsOptions from_json(const nlohmann::json& j, const std::string& path);
};

// Pairs in the order family, size, replicate; pair k (0-based) is generate_pair(family, size, seed, k).
std::vector<GeneratedPair> generate_pairs(const SyntheticPairsOptions& options);

// Writes the pairs as a benchmark folder in the format of data/tuebingen (pair0001.csv, ... with
// header "x,y", and meta.csv with pair_id, direction, weight (1), n_samples, family, cause_law,
// function, noise_law), each file written atomically. `sbi causal benchmark DIR --group-by family`
// then summarises by family (and by n_samples).
void write_pairs_folder(const std::filesystem::path& dir, const std::vector<GeneratedPair>& pairs);

namespace detail {
// The indices of x in increasing order of its values.
std::vector<Eigen::Index> sorted_order(const Vector& x);
// The share of y's variance explained by x, as the between-bin variance of y over `bins` equal bins of
// x's order (`order` from sorted_order(x)); 0 when y is constant. The non-additive family's check, and
// the tests'.
double explained_share(const std::vector<Eigen::Index>& order, const Vector& y, Eigen::Index bins);
}  // namespace detail

}  // namespace sbi::causal
