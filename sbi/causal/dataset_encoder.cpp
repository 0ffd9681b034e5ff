#include "sbi/causal/dataset_encoder.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/nn/serialize.hpp"
#include "sbi/random/rng.hpp"

#include <nlohmann/json.hpp>

#include <cmath>

namespace sbi::causal {

namespace {

constexpr std::uint64_t kEncoderSubstream = 0xe4c;
constexpr double kLandmarkRange = 2.5;  // landmarks span [−2.5, 2.5]² of the standardised data

bool is_set(const DatasetEncoderOptions& o) { return o.kind == "set"; }

Eigen::Index feature_count(const DatasetEncoderOptions& o) {
  return static_cast<Eigen::Index>(o.grid) * o.grid * static_cast<Eigen::Index>(o.bandwidths.size());
}

nn::MlpOptions points_network(const DatasetEncoderOptions& o) {
  nn::MlpOptions m;
  m.widths = {2, o.width, o.width};
  m.activation = nn::Activation::relu;
  m.output_activation = nn::Activation::relu;
  return m;
}

nn::MlpOptions set_network(const DatasetEncoderOptions& o) {
  nn::MlpOptions m;
  m.widths = {is_set(o) ? static_cast<Eigen::Index>(o.width) : feature_count(o), o.width, o.embedding};
  m.activation = nn::Activation::relu;
  return m;
}

std::unique_ptr<nn::Mlp> load_checked(const std::filesystem::path& file, const nn::MlpOptions& expected) {
  auto network = std::make_unique<nn::Mlp>(nn::load_mlp<float>(file));
  const auto& got = network->options();
  if (got.widths != expected.widths || got.activation != expected.activation ||
      got.output_activation != expected.output_activation) {
    std::string widths;
    for (auto w : got.widths) {
      if (!widths.empty()) widths += ',';
      widths += std::to_string(w);
    }
    throw FileError("network file " + file.string() + ": its layers (" + widths +
                    ") do not match the meta-model's options (was the file replaced?)");
  }
  return network;
}

}  // namespace

bool DatasetEncoderOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (kind != "set" && kind != "kernel-mean") return fail("kind must be \"set\" or \"kernel-mean\", not \"" + kind + "\"");
  if (width < 1) return fail("width must be at least 1");
  if (embedding < 1) return fail("embedding must be at least 1");
  if (grid < 2) return fail("grid must be at least 2");
  if (bandwidths.empty()) return fail("bandwidths: list at least one length scale");
  for (const double h : bandwidths)
    if (!(h > 0) || !std::isfinite(h)) return fail("bandwidths: every length scale must be a positive number");
  return true;
}

nlohmann::json DatasetEncoderOptions::to_json() const {
  return {{"kind", kind}, {"width", width}, {"embedding", embedding}, {"grid", grid}, {"bandwidths", bandwidths}};
}

DatasetEncoderOptions DatasetEncoderOptions::from_json(const nlohmann::json& j, const std::string& path) {
  JsonObjectReader reader(j, path);
  DatasetEncoderOptions o;
  o.kind = reader.optional_string("kind", o.kind, {"set", "kernel-mean"});
  o.width = static_cast<int>(reader.optional_integer("width", o.width, 1, 4096));
  o.embedding = static_cast<int>(reader.optional_integer("embedding", o.embedding, 1, 4096));
  o.grid = static_cast<int>(reader.optional_integer("grid", o.grid, 2, 64));
  o.bandwidths = reader.optional_number_list("bandwidths", o.bandwidths);
  reader.reject_unknown_keys();
  std::string why;
  if (!o.is_valid(&why)) throw InputError((path.empty() ? std::string("options") : path) + ": " + why);
  return o;
}

DatasetEncoder::DatasetEncoder(const DatasetEncoderOptions& options, std::uint64_t seed) : options_(options) {
  std::string why;
  if (!options_.is_valid(&why)) throw InputError("dataset encoder: " + why);
  if (is_set(options_)) points_ = std::make_unique<nn::Mlp>(points_network(options_), stream_seed(seed, 0, kEncoderSubstream));
  set_ = std::make_unique<nn::Mlp>(set_network(options_), stream_seed(seed, 1, kEncoderSubstream));
  if (!is_set(options_)) {
    const int g = options_.grid;
    landmarks_.resize(static_cast<Eigen::Index>(g) * g, 2);
    for (int a = 0; a < g; ++a)
      for (int b = 0; b < g; ++b) {
        landmarks_(a * g + b, 0) = static_cast<float>(-kLandmarkRange + 2 * kLandmarkRange * a / (g - 1));
        landmarks_(a * g + b, 1) = static_cast<float>(-kLandmarkRange + 2 * kLandmarkRange * b / (g - 1));
      }
  }
}

ad::Matrix<float> DatasetEncoder::kernel_mean_features(const ad::Matrix<float>& points) const {
  const Eigen::Index n = points.rows(), m = landmarks_.rows();
  ad::Matrix<float> features(1, m * static_cast<Eigen::Index>(options_.bandwidths.size()));
  Eigen::ArrayXf d2(n);
  for (Eigen::Index j = 0; j < m; ++j) {
    d2 = (points.col(0).array() - landmarks_(j, 0)).square() + (points.col(1).array() - landmarks_(j, 1)).square();
    for (std::size_t h = 0; h < options_.bandwidths.size(); ++h) {
      const float scale = static_cast<float>(-0.5 / (options_.bandwidths[h] * options_.bandwidths[h]));
      features(0, static_cast<Eigen::Index>(h) * m + j) = (scale * d2).exp().mean();
    }
  }
  return features;
}

ad::Var<float> DatasetEncoder::forward(ad::Tape<float>& tape, const ad::Matrix<float>& points) {
  if (points.cols() != 2 || points.rows() < 1) throw InputError("dataset encoder: expected n x 2 points with n >= 1");
  if (is_set(options_)) return set_->forward(ad::mean_cols(points_->forward(tape.constant(points))));
  return set_->forward(tape.constant(kernel_mean_features(points)));
}

nn::ParameterList<float> DatasetEncoder::parameters() {
  nn::ParameterList<float> list;
  if (points_)
    for (auto* p : points_->parameters()) list.push_back(p);
  for (auto* p : set_->parameters()) list.push_back(p);
  return list;
}

void DatasetEncoder::copy_values_from(DatasetEncoder& other) {
  auto mine = parameters(), theirs = other.parameters();
  for (std::size_t k = 0; k < mine.size(); ++k) mine[k]->value = theirs[k]->value;
}

void DatasetEncoder::save(const std::filesystem::path& folder, const std::string& prefix, std::vector<std::string>& files) const {
  if (points_) {
    nn::save(*points_, folder / (prefix + "_points.sbinn"));
    files.push_back(prefix + "_points.sbinn");
  }
  nn::save(*set_, folder / (prefix + "_set.sbinn"));
  files.push_back(prefix + "_set.sbinn");
}

DatasetEncoder DatasetEncoder::load(const std::filesystem::path& folder, const std::string& prefix,
                                    const DatasetEncoderOptions& options) {
  DatasetEncoder encoder(options, 0);
  if (is_set(options)) encoder.points_ = load_checked(folder / (prefix + "_points.sbinn"), points_network(options));
  encoder.set_ = load_checked(folder / (prefix + "_set.sbinn"), set_network(options));
  return encoder;
}

}  // namespace sbi::causal
