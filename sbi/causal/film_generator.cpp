#include "sbi/causal/film_generator.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/nn/serialize.hpp"
#include "sbi/random/rng.hpp"

#include <nlohmann/json.hpp>

namespace sbi::causal {

namespace {

constexpr std::uint64_t kGeneratorSubstream = 0x9e4;

nn::MlpOptions linear_layer(Eigen::Index inputs, Eigen::Index outputs) {
  nn::MlpOptions m;
  m.widths = {inputs, outputs};
  m.activation = nn::Activation::identity;
  m.output_activation = nn::Activation::identity;
  return m;
}

nn::MlpOptions film_network(const FilmGeneratorOptions& o, int embedding) {
  return linear_layer(embedding, 2 * static_cast<Eigen::Index>(o.width) * o.layers);
}
nn::MlpOptions hidden_layer(const FilmGeneratorOptions& o, int l) {
  return linear_layer(l == 0 ? 1 + o.noise : o.width, o.width);
}
nn::MlpOptions output_layer(const FilmGeneratorOptions& o) { return linear_layer(o.width, 1); }

std::unique_ptr<nn::Mlp> load_checked(const std::filesystem::path& file, const nn::MlpOptions& expected) {
  auto network = std::make_unique<nn::Mlp>(nn::load_mlp<float>(file));
  if (network->options().widths != expected.widths)
    throw FileError("network file " + file.string() + ": its layer sizes do not match the meta-model's options (was the file replaced?)");
  return network;
}

}  // namespace

bool FilmGeneratorOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (width < 1) return fail("width must be at least 1");
  if (layers < 1) return fail("layers must be at least 1");
  if (noise < 1) return fail("noise must be at least 1");
  return true;
}

nlohmann::json FilmGeneratorOptions::to_json() const { return {{"width", width}, {"layers", layers}, {"noise", noise}}; }

FilmGeneratorOptions FilmGeneratorOptions::from_json(const nlohmann::json& j, const std::string& path) {
  JsonObjectReader reader(j, path);
  FilmGeneratorOptions o;
  o.width = static_cast<int>(reader.optional_integer("width", o.width, 1, 4096));
  o.layers = static_cast<int>(reader.optional_integer("layers", o.layers, 1, 64));
  o.noise = static_cast<int>(reader.optional_integer("noise", o.noise, 1, 64));
  reader.reject_unknown_keys();
  return o;
}

FilmGenerator::FilmGenerator(const FilmGeneratorOptions& options, int embedding, std::uint64_t seed)
    : options_(options), embedding_(embedding) {
  std::string why;
  if (!options_.is_valid(&why)) throw InputError("FiLM generator: " + why);
  if (embedding < 1) throw InputError("FiLM generator: the task vector needs at least one entry");
  film_ = std::make_unique<nn::Mlp>(film_network(options_, embedding), stream_seed(seed, 0, kGeneratorSubstream));
  for (int l = 0; l < options_.layers; ++l)
    layers_.push_back(std::make_unique<nn::Mlp>(hidden_layer(options_, l), stream_seed(seed, 1 + static_cast<std::uint64_t>(l), kGeneratorSubstream)));
  output_ = std::make_unique<nn::Mlp>(output_layer(options_), stream_seed(seed, 1000, kGeneratorSubstream));
}

ad::Var<float> FilmGenerator::forward(ad::Var<float> inputs, ad::Var<float> embedding) {
  const Eigen::Index n = inputs.rows(), w = options_.width;
  if (inputs.cols() != 1 + options_.noise || embedding.rows() != 1 || embedding.cols() != embedding_)
    throw InputError("FiLM generator: expected n x " + std::to_string(1 + options_.noise) + " inputs and a 1 x " +
                     std::to_string(embedding_) + " task vector");
  const ad::Var<float> modulation = film_->forward(embedding);  // 1 × 2·w·L
  ad::Var<float> h = inputs;
  for (int l = 0; l < options_.layers; ++l) {
    const Eigen::Index offset = 2 * w * l;
    const ad::Var<float> gamma = ad::add_scalar(ad::slice_cols(modulation, offset, w), 1.0f);
    const ad::Var<float> beta = ad::slice_cols(modulation, offset + w, w);
    const ad::Var<float> a = layers_[static_cast<std::size_t>(l)]->forward(h);
    h = ad::relu(ad::add(ad::mul(ad::broadcast(gamma, n, w), a), ad::broadcast(beta, n, w)));
  }
  return output_->forward(h);
}

nn::ParameterList<float> FilmGenerator::parameters() {
  nn::ParameterList<float> list = film_->parameters();
  for (auto& layer : layers_)
    for (auto* p : layer->parameters()) list.push_back(p);
  for (auto* p : output_->parameters()) list.push_back(p);
  return list;
}

void FilmGenerator::copy_values_from(FilmGenerator& other) {
  auto mine = parameters(), theirs = other.parameters();
  for (std::size_t k = 0; k < mine.size(); ++k) mine[k]->value = theirs[k]->value;
}

void FilmGenerator::save(const std::filesystem::path& folder, const std::string& prefix, std::vector<std::string>& files) const {
  auto write = [&](const nn::Mlp& network, const std::string& name) {
    nn::save(network, folder / name);
    files.push_back(name);
  };
  write(*film_, prefix + "_film.sbinn");
  for (std::size_t l = 0; l < layers_.size(); ++l) write(*layers_[l], prefix + "_layer" + std::to_string(l) + ".sbinn");
  write(*output_, prefix + "_output.sbinn");
}

FilmGenerator FilmGenerator::load(const std::filesystem::path& folder, const std::string& prefix,
                                  const FilmGeneratorOptions& options, int embedding) {
  FilmGenerator generator(options, embedding, 0);
  generator.film_ = load_checked(folder / (prefix + "_film.sbinn"), film_network(options, embedding));
  for (int l = 0; l < options.layers; ++l)
    generator.layers_[static_cast<std::size_t>(l)] =
        load_checked(folder / (prefix + "_layer" + std::to_string(l) + ".sbinn"), hidden_layer(options, l));
  generator.output_ = load_checked(folder / (prefix + "_output.sbinn"), output_layer(options));
  return generator;
}

}  // namespace sbi::causal
