#pragma once
// An amortised implicit generator θ = f(y, z) trained without a discriminator (registered as "mmd"):
// the generator minimises MMD² between the joint samples (y_i, f(y_i, z)) and (y_i, θ_i) with a sum
// of Gaussian kernels over several bandwidths (a generative moment-matching network, Li et al. 2015).
// Space, standardisation, validation and early stopping as in sbi/inference/implicit_generator.hpp.
#include "sbi/inference/implicit_generator.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace sbi {

struct MmdGeneratorOptions : GeneratorOptions {
  bool is_valid(std::string* why = nullptr) const { return GeneratorOptions::is_valid(why); }
  nlohmann::json to_json() const;
  // From a spec's "inference" section; errors name the JSON path under `path`.
  static MmdGeneratorOptions from_json(const nlohmann::json& section, const std::string& path = "inference");
};

// Trains on a reference table (θ in the prior's support, y finite). The fit's training curve has the
// loss "mmd2" and the validation MMD²; it has no discriminator.
ImplicitGeneratorFit train_mmd_generator(const RowMatrix& theta, const RowMatrix& y, const Prior& prior, const MmdGeneratorOptions& options,
                               const TrainingCallbacks& callbacks = {});

}  // namespace sbi
