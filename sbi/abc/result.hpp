#pragma once
// What every ABC method returns: weighted particles (θ accepted at tolerance ε), the same particles
// resampled to a requested count, and the method's diagnostics (ε, acceptance rate and effective
// sample size per generation, simulations used).
//
//   sbi::AbcResult r = sbi::rejection_abc(table.theta, table.y, observation, *prior, options);
//   r.samples = sbi::resample_particles(r.particles, r.weights, 10000, *prior, {}, &r.kde_bandwidth);
//   std::cout << r.brief_report() << "\n";
#include "sbi/core/types.hpp"
#include "sbi/priors/prior.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace sbi {

// How distances standardise each summary statistic: by its standard deviation or by its median
// absolute deviation (×1.4826, robust to heavy tails) over the prior predictive simulations.
enum class ScaleKind { sd, mad };
ScaleKind scale_kind_from_string(const std::string& text);  // "sd" | "mad"; throws InputError
std::string to_string(ScaleKind kind);

// One population of a sequential method (rejection ABC has exactly one).
struct AbcGeneration {
  double epsilon = 0;             // tolerance: accepted particles have distance ≤ epsilon
  std::size_t simulations = 0;    // simulator calls in this generation
  std::size_t proposals = 0;      // θ proposed, including those outside the prior's support (not simulated)
  std::size_t accepted = 0;
  double acceptance_rate = 0;     // accepted / simulations
  double effective_sample_size = 0;
  bool resampled = false;         // population resampled to equal weights (ESS below the threshold)
  bool complete = true;           // false when the budget or a stopping rule ended it early
};

struct AbcResult {
  std::string method;                  // "rejection", "rejection+regression", "smc"
  Names parameter_names;
  RowMatrix particles;                 // accepted (for regression: adjusted) θ, one per row
  Vector weights;                      // normalised importance weights (sum 1)
  Vector distances;                    // distance of each particle's simulation to the observation
  Vector statistic_scale;              // the scale dividing each statistic before distances
  RowMatrix samples;                   // draws resampled from the particles (empty until resampled)
  std::vector<AbcGeneration> generations;
  std::size_t simulations = 0;         // simulator calls used in total (never above the budget)
  double epsilon = 0;                  // final tolerance
  double seconds = 0;                  // wall time of the method (simulations included when it ran them)
  double kde_bandwidth = 0;            // in standardised unconstrained units; 0 = plain resampling
  bool interrupted = false;
  std::string stop_reason;             // why a sequential method stopped

  double effective_sample_size() const;
  // One line: "smc: 1000 particles (ESS 812), ε 0.41 after 7 generations, 10000 simulations, 2.3 s".
  std::string brief_report() const;
  // The per-generation table.
  std::string full_report() const;
  // Diagnostics only (no particles): method, ε, simulations, generations, stop reason, ...
  nlohmann::json to_json() const;
};

// Kish's effective sample size (Σw)² / Σw².
double effective_sample_size(const Vector& weights);

enum class ResampleMethod {
  kde,          // a Gaussian kernel density on the particles in the prior's unconstrained space
  multinomial,  // draws of the particles themselves, with replacement, by weight
};
ResampleMethod resample_method_from_string(const std::string& text);  // "kde" | "multinomial"
std::string to_string(ResampleMethod method);

struct ResampleOptions {
  ResampleMethod method = ResampleMethod::kde;
  std::uint64_t seed = 1;
  // KDE bandwidth in standardised units (each unconstrained coordinate divided by its weighted sd);
  // ≤ 0 = chosen by weighted leave-one-out likelihood over a grid around Scott's rule.
  double bandwidth = 0;
};

class JsonObjectReader;
// The keys "resample" ("kde" | "multinomial") and "bandwidth" (≥ 0) of an ABC method's options.
void read_resample_options(JsonObjectReader& reader, ResampleOptions& options);
void write_resample_options(const ResampleOptions& options, nlohmann::json& j);

// n draws from the weighted particles. With the KDE the particles are mapped to the prior's
// unconstrained space, standardised, smoothed with an isotropic Gaussian kernel, and mapped back, so
// every draw lies in the support. The bandwidth used goes to *bandwidth_used (0 for multinomial).
// Reproducible for a seed.
RowMatrix resample_particles(const RowMatrix& particles, const Vector& weights, Eigen::Index n, const Prior& prior,
                             const ResampleOptions& options = {}, double* bandwidth_used = nullptr);

// Indices 0..weights.size()−1 drawn n times in proportion to the weights (systematic resampling:
// one uniform, n evenly spaced points; lower variance than independent draws).
std::vector<Eigen::Index> systematic_resample(const Vector& weights, Eigen::Index n, Rng& rng);

}  // namespace sbi
