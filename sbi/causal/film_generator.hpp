#pragma once
// The conditional generator F of Meta-CGNN: effect = F(cause, z, C), one network shared by every
// data set and modulated by the data set's task vector C (sbi/causal/dataset_encoder.hpp) through
// feature-wise affine layers (FiLM; Perez et al. 2018):
//
//   h_0 = (cause, z_1, …, z_k)                       z ~ N(0, I), k = `noise`
//   h_l = ReLU(γ_l(C) ⊙ (h_{l−1} W_l + b_l) + β_l(C))   l = 1 … layers, width units each
//   effect = h_L W_out + b_out
//
// with (γ_l − 1, β_l) all produced by one linear map of C, so that C = 0 is the plain MLP.
// Float32 on an sbi::ad tape; one generator per thread.
#include "sbi/autodiff/ops.hpp"
#include "sbi/nn/mlp.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace sbi::causal {

struct FilmGeneratorOptions {
  int width = 32;   // units per hidden layer
  int layers = 2;   // hidden layers, each modulated by C
  int noise = 1;    // noise inputs

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  static FilmGeneratorOptions from_json(const nlohmann::json& j, const std::string& path);
};

class FilmGenerator {
 public:
  FilmGenerator(const FilmGeneratorOptions& options, int embedding, std::uint64_t seed);

  // inputs: n × (1 + noise), the cause then the noise; embedding: 1 × embedding → n × 1.
  ad::Var<float> forward(ad::Var<float> inputs, ad::Var<float> embedding);

  const FilmGeneratorOptions& options() const { return options_; }
  int embedding() const { return embedding_; }
  nn::ParameterList<float> parameters();
  void copy_values_from(FilmGenerator& other);

  // Files "<prefix>_film.sbinn", "<prefix>_layer<l>.sbinn", "<prefix>_output.sbinn".
  void save(const std::filesystem::path& folder, const std::string& prefix, std::vector<std::string>& files) const;
  static FilmGenerator load(const std::filesystem::path& folder, const std::string& prefix, const FilmGeneratorOptions& options,
                            int embedding);

 private:
  FilmGeneratorOptions options_;
  int embedding_;
  std::unique_ptr<nn::Mlp> film_;                  // C → (γ_1 − 1, β_1, …, γ_L − 1, β_L)
  std::vector<std::unique_ptr<nn::Mlp>> layers_;   // single linear layers W_l, b_l
  std::unique_ptr<nn::Mlp> output_;
};

}  // namespace sbi::causal
