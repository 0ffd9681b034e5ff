#include "sbi/flows/options.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/json_reader.hpp"

#include <cmath>

namespace sbi::flows {
namespace {

bool fail(std::string* why, const std::string& message) {
  if (why) *why = message;
  return false;
}

// A list of layer widths (integers in [1, 65536]) at `path`.
template <class Int>
std::vector<Int> read_widths(const nlohmann::json& value, const std::string& path, bool allow_empty) {
  if (allow_empty && value.is_array() && value.empty()) return {};
  const auto numbers = json_number_list_at(value, path);
  std::vector<Int> widths;
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    if (numbers[i] < 1 || numbers[i] != std::floor(numbers[i]) || numbers[i] > 65536)
      throw InputError(path + "[" + std::to_string(i) + "]: expected a layer width (integer in [1, 65536]), got " +
                       format_number(numbers[i]));
    widths.push_back(static_cast<Int>(numbers[i]));
  }
  return widths;
}

const std::vector<std::string> kActivations = {"relu", "leaky_relu", "elu", "tanh", "sigmoid", "softplus"};

// The spellings of the two-valued settings, shared by to_json and from_json.
using Options = DensityEstimatorOptions;
const char* spelling(Options::Form v) { return v == Options::Form::coupling ? "coupling" : "autoregressive"; }
const char* spelling(Options::Permutation v) { return v == Options::Permutation::reverse ? "reverse" : "random"; }
const char* spelling(Options::Direction v) { return v == Options::Direction::density ? "density" : "sampling"; }
const char* spelling(Options::Conditioner v) { return v == Options::Conditioner::mlp ? "mlp" : "residual"; }

// A two-valued setting read by its spelling (`current` when the key is absent).
template <class E>
E read_choice(JsonObjectReader& r, const char* key, E current, E first, E second) {
  return r.optional_string(key, spelling(current), {spelling(first), spelling(second)}) == spelling(first) ? first : second;
}

}  // namespace

std::string to_string(EmbeddingOptions::Type type) {
  switch (type) {
    case EmbeddingOptions::Type::none: return "none";
    case EmbeddingOptions::Type::mlp: return "mlp";
    case EmbeddingOptions::Type::cnn: return "cnn";
    case EmbeddingOptions::Type::set: return "set";
  }
  return "none";
}

std::string to_string(DensityEstimatorOptions::Type type) {
  switch (type) {
    case DensityEstimatorOptions::Type::maf: return "maf";
    case DensityEstimatorOptions::Type::nsf: return "nsf";
    case DensityEstimatorOptions::Type::mog: return "mog";
  }
  return "nsf";
}

bool EmbeddingOptions::is_valid(std::string* why) const {
  if (type == Type::none) return true;
  if (output < 1) return fail(why, "output: must be at least 1");
  for (auto w : hidden)
    if (w < 1) return fail(why, "hidden: every width must be positive");
  if (type == Type::cnn) {
    if (in_channels < 1) return fail(why, "in_channels: must be at least 1");
    if (channels.empty()) return fail(why, "channels: needs at least one convolution");
    for (int c : channels)
      if (c < 1) return fail(why, "channels: every count must be positive");
    if (kernel < 1) return fail(why, "kernel: must be at least 1");
    if (pool < 1) return fail(why, "pool: must be at least 1");
  }
  if (type == Type::set) {
    if (trial_dim < 1) return fail(why, "trial_dim: must be at least 1");
    if (hidden.empty()) return fail(why, "hidden: the per-trial network needs at least one layer");
  }
  return true;
}

nlohmann::json EmbeddingOptions::to_json() const {
  nlohmann::json j = {{"type", to_string(type)}};
  if (type == Type::none) return j;
  j["output"] = output;
  j["hidden"] = hidden;
  j["activation"] = nn::to_string(activation);
  if (type == Type::cnn) {
    j["in_channels"] = in_channels;
    j["channels"] = channels;
    j["kernel"] = kernel;
    j["pool"] = pool;
  }
  if (type == Type::set) j["trial_dim"] = trial_dim;
  return j;
}

EmbeddingOptions EmbeddingOptions::from_json(const nlohmann::json& j, const std::string& path) {
  EmbeddingOptions o;
  JsonObjectReader r(j, path);
  const std::string type = r.optional_string("type", "none", {"none", "mlp", "cnn", "set"});
  o.type = type == "mlp" ? Type::mlp : type == "cnn" ? Type::cnn : type == "set" ? Type::set : Type::none;
  o.output = r.optional_integer("output", o.output, 1, 65536);
  if (const auto* hidden = r.get("hidden")) o.hidden = read_widths<Eigen::Index>(*hidden, r.child_path("hidden"), o.type != Type::set);
  o.activation = nn::activation_from_string(r.optional_string("activation", nn::to_string(o.activation), kActivations));
  o.in_channels = static_cast<int>(r.optional_integer("in_channels", o.in_channels, 1, 4096));
  if (const auto* channels = r.get("channels")) o.channels = read_widths<int>(*channels, r.child_path("channels"), false);
  o.kernel = static_cast<int>(r.optional_integer("kernel", o.kernel, 1, 4096));
  o.pool = static_cast<int>(r.optional_integer("pool", o.pool, 1, 4096));
  o.trial_dim = r.optional_integer("trial_dim", o.trial_dim, 1, 1 << 20);
  r.finish(o);
  return o;
}

bool DensityEstimatorOptions::is_valid(std::string* why) const {
  if (type != Type::mog && transforms < 1) return fail(why, "transforms: must be at least 1");
  if (hidden.empty()) return fail(why, "hidden: needs at least one hidden layer");
  for (auto w : hidden)
    if (w < 1) return fail(why, "hidden: every width must be positive");
  if (type == Type::nsf) {
    if (bins < 1 || bins > 64) return fail(why, "bins: must be in [1, 64]");
    if (!(tail_bound > 0 && std::isfinite(tail_bound))) return fail(why, "tail_bound: must be positive");
  }
  if (type == Type::mog && (components < 1 || components > 1000)) return fail(why, "components: must be in [1, 1000]");
  if (conditioner == Conditioner::residual) {
    if (type != Type::nsf || form != Form::coupling) return fail(why, "conditioner: \"residual\" is for nsf coupling layers only");
    for (auto w : hidden)
      if (w != hidden.front()) return fail(why, "hidden: a residual conditioner's blocks have one width (e.g. [64, 64])");
  }
  if (type == Type::mog && linear) return fail(why, "linear: only the flows (maf, nsf) have linear layers, not mog");
  if (type == Type::mog && direction == Direction::sampling)
    return fail(why, "direction: \"sampling\" needs a flow (maf or nsf); a mixture has no reparameterised sampler");
  std::string inner;
  if (!embedding.is_valid(&inner)) return fail(why, "embedding." + inner);
  return true;
}

nlohmann::json DensityEstimatorOptions::to_json() const {
  nlohmann::json j = {{"type", to_string(type)}, {"hidden", hidden}, {"activation", nn::to_string(activation)},
                      {"embedding", embedding.to_json()}};
  if (type != Type::mog) {
    j["transforms"] = transforms;
    j["permutation"] = spelling(permutation);
    j["linear"] = linear;
    j["direction"] = spelling(direction);
  }
  if (type == Type::nsf) {
    j["form"] = spelling(form);
    j["bins"] = bins;
    j["tail_bound"] = tail_bound;
    j["conditioner"] = spelling(conditioner);
  }
  if (type == Type::mog) j["components"] = components;
  return j;
}

DensityEstimatorOptions DensityEstimatorOptions::from_json(const nlohmann::json& j, const std::string& path) {
  return from_json(j, path, DensityEstimatorOptions{});
}

void complete_saved_estimator_options(nlohmann::json& options) {
  if (options.is_object()) {
    const auto type = options.find("type");
    const bool flow = type != options.end() && type->is_string() && (*type == "maf" || *type == "nsf");
    if (flow && options.contains("transforms") && !options.contains("direction")) options["direction"] = "density";
    if (flow && *type == "nsf" && options.contains("bins") && !options.contains("conditioner")) options["conditioner"] = "mlp";
  }
  if (options.is_structured())
    for (auto& value : options) complete_saved_estimator_options(value);
}

DensityEstimatorOptions DensityEstimatorOptions::from_json(const nlohmann::json& j, const std::string& path,
                                                           const DensityEstimatorOptions& defaults) {
  JsonObjectReader r(j, path);
  const std::string type = r.optional_string("type", to_string(defaults.type), {"maf", "nsf", "mog"});
  DensityEstimatorOptions o = defaults;
  if (type != to_string(defaults.type)) {
    o = DensityEstimatorOptions{};
    o.direction = defaults.direction;
    o.embedding = defaults.embedding;
  }
  o.type = type == "maf" ? Type::maf : type == "mog" ? Type::mog : Type::nsf;
  o.form = read_choice(r, "form", o.form, Form::coupling, Form::autoregressive);
  o.transforms = static_cast<int>(r.optional_integer("transforms", o.transforms, 1, 1000));
  if (const auto* hidden = r.get("hidden")) o.hidden = read_widths<Eigen::Index>(*hidden, r.child_path("hidden"), false);
  o.activation = nn::activation_from_string(r.optional_string("activation", nn::to_string(o.activation), kActivations));
  o.bins = static_cast<int>(r.optional_integer("bins", o.bins, 1, 64));
  o.tail_bound = r.optional_positive_number("tail_bound", o.tail_bound);
  o.components = static_cast<int>(r.optional_integer("components", o.components, 1, 1000));
  o.permutation = read_choice(r, "permutation", o.permutation, Permutation::reverse, Permutation::random);
  o.linear = r.optional_bool("linear", o.linear);
  o.conditioner = read_choice(r, "conditioner", o.conditioner, Conditioner::mlp, Conditioner::residual);
  o.direction = read_choice(r, "direction", o.direction, Direction::density, Direction::sampling);
  if (const auto* embedding = r.get("embedding")) o.embedding = EmbeddingOptions::from_json(*embedding, r.child_path("embedding"));
  r.finish(o);
  return o;
}

}  // namespace sbi::flows
