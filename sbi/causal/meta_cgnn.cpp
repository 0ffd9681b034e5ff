#include "sbi/causal/meta_cgnn.hpp"

#include "sbi/causal/paired_mmd.hpp"
#include "sbi/causal/synthetic.hpp"
#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/optim/adam.hpp"
#include "sbi/parallel/parallel_for.hpp"
#include "sbi/random/rng.hpp"
#include "sbi/util/clock.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numbers>
#include <numeric>
#include <sstream>

namespace sbi::causal {

namespace {

constexpr std::uint64_t kModelSubstream = 0x3e7a;
constexpr std::uint64_t kTaskSubstream = 0x7a5c;
constexpr std::uint64_t kTaskNoiseSubstream = 0x6015;
constexpr std::uint64_t kTrainingPairs = 0x7a11;  // training data sets: generate_pair(.., stream_seed(seed, this), k)
constexpr std::uint64_t kDecisionSubstream = 0xdec1;
constexpr std::uint64_t kLabelledSubstream = 0x1abe;  // whether data set k is a labelled pair, which one, its rows
constexpr int kModelFormatVersion = 1;
const char* const kModelFile = "meta_cgnn.json";

// At most `cap` of the indices 0..n−1 (all when n ≤ cap), drawn without replacement, in order.
std::vector<Eigen::Index> row_subset(Eigen::Index n, Eigen::Index cap, Rng& rng) {
  std::vector<Eigen::Index> rows(static_cast<std::size_t>(n));
  std::iota(rows.begin(), rows.end(), Eigen::Index{0});
  if (cap <= 0 || n <= cap) return rows;
  for (Eigen::Index k = 0; k < cap; ++k) {
    const auto j = k + static_cast<Eigen::Index>(rng.below(static_cast<std::uint64_t>(n - k)));
    std::swap(rows[static_cast<std::size_t>(k)], rows[static_cast<std::size_t>(j)]);
  }
  rows.resize(static_cast<std::size_t>(cap));
  std::sort(rows.begin(), rows.end());
  return rows;
}

Eigen::VectorXf gather(const Vector& v, const std::vector<Eigen::Index>& rows) {
  Eigen::VectorXf out(static_cast<Eigen::Index>(rows.size()));
  for (std::size_t i = 0; i < rows.size(); ++i) out[static_cast<Eigen::Index>(i)] = static_cast<float>(v[rows[i]]);
  return out;
}

ad::Matrix<float> points_of(const Eigen::VectorXf& first, const Eigen::VectorXf& second) {
  ad::Matrix<float> points(first.size(), 2);
  points.col(0) = first;
  points.col(1) = second;
  return points;
}

// One training data set, cause first, both standardised.
struct Task {
  Eigen::VectorXf cause, effect;          // the rows of the MMD
  ad::Matrix<float> causal, reverse;      // the rows the encoder sees: (cause, effect), (effect, cause)
};

// The labelled pairs, cause first and standardised once, with their cumulative weights.
struct LabelledSets {
  std::vector<Vector> cause, effect;
  std::vector<double> cumulative_weight;

  explicit LabelledSets(const std::vector<LabelledPair>& pairs) {
    double total = 0;
    for (const auto& p : pairs) {
      try {
        validate_pair(p.pair);
      } catch (const InputError& e) {
        throw InputError("labelled pair \"" + p.pair.name + "\": " + e.what());
      }
      if (p.direction != 1 && p.direction != -1)
        throw InputError("labelled pair \"" + p.pair.name + "\": direction must be +1 (x → y) or -1 (y → x)");
      if (!(p.weight >= 0) || !std::isfinite(p.weight))
        throw InputError("labelled pair \"" + p.pair.name + "\": weight must be a finite number >= 0");
      cause.push_back(standardise(p.direction == 1 ? p.pair.x : p.pair.y));
      effect.push_back(standardise(p.direction == 1 ? p.pair.y : p.pair.x));
      total += p.weight;
      cumulative_weight.push_back(total);
    }
    if (!pairs.empty() && !(total > 0)) throw InputError("labelled pairs: their weights sum to 0");
  }
  bool empty() const { return cause.empty(); }
};

Task task_from(const Vector& cause, const Vector& effect, const MetaCgnnOptions& o, Rng& rng) {
  Task task;
  const auto encoder_rows = row_subset(cause.size(), o.encoder_rows, rng);
  const Eigen::VectorXf ec = gather(cause, encoder_rows), ee = gather(effect, encoder_rows);
  task.causal = points_of(ec, ee);
  task.reverse = points_of(ee, ec);
  const auto mmd_rows = row_subset(cause.size(), o.training_rows, rng);
  task.cause = gather(cause, mmd_rows);
  task.effect = gather(effect, mmd_rows);
  return task;
}

Task draw_task(const MetaCgnnOptions& o, std::uint64_t seed, std::uint64_t index, const LabelledSets* labelled) {
  if (labelled && !labelled->empty()) {
    // A stream of its own: the generated data sets stay those of a run without labelled pairs.
    Rng pick = Rng::stream(seed, index, kLabelledSubstream);
    if (pick.uniform() < o.labelled_fraction) {
      const auto& c = labelled->cumulative_weight;
      const double u = pick.uniform() * c.back();
      const auto k = static_cast<std::size_t>(std::min<std::ptrdiff_t>(
          std::upper_bound(c.begin(), c.end(), u) - c.begin(), static_cast<std::ptrdiff_t>(c.size()) - 1));
      return task_from(labelled->cause[k], labelled->effect[k], o, pick);
    }
  }
  Rng rng = Rng::stream(seed, index, kTaskSubstream);
  const MechanismFamily family = mechanism_family_from_string(o.families[rng.below(o.families.size())]);
  const Eigen::Index n = o.sizes[rng.below(o.sizes.size())];
  const GeneratedPair g = generate_pair(family, n, stream_seed(seed, kTrainingPairs), index, o.distortions);
  const Vector cause = standardise(g.direction == 1 ? g.pair.x : g.pair.y);
  const Vector effect = standardise(g.direction == 1 ? g.pair.y : g.pair.x);
  return task_from(cause, effect, o, rng);
}

// (cause, z) for a generator, fresh noise from `noise`.
void fill_inputs(ad::Matrix<float>& inputs, const Eigen::VectorXf& cause, int noise_inputs, Rng& noise) {
  inputs.resize(cause.size(), 1 + noise_inputs);
  inputs.col(0) = cause;
  for (int k = 1; k <= noise_inputs; ++k)
    for (Eigen::Index i = 0; i < cause.size(); ++i) inputs(i, k) = static_cast<float>(noise.normal());
}

double softplus(double v) { return v > 30 ? v : std::log1p(std::exp(v)); }
double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

[[noreturn]] void model_error(const std::filesystem::path& file, const std::string& problem) {
  throw FileError(file.string() + ": " + problem);
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Options

bool MetaCgnnOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  std::string inner;
  if (!encoder.is_valid(&inner)) return fail("encoder: " + inner);
  if (!generator.is_valid(&inner)) return fail("generator: " + inner);
  if (steps < 0) return fail("steps must be at least 0");
  if (tasks_per_step < 1) return fail("tasks_per_step must be at least 1");
  if (!(learning_rate > 0) || !std::isfinite(learning_rate)) return fail("learning_rate must be a positive number");
  if (!families_and_sizes_valid(families, sizes, why)) return false;
  if (!distortions.is_valid(why)) return false;
  if (training_rows < 10) return fail("training_rows must be at least 10");
  if (encoder_rows < 10) return fail("encoder_rows must be at least 10");
  if (!(anticausal_weight >= 0) || !std::isfinite(anticausal_weight)) return fail("anticausal_weight must be >= 0");
  if (!(contrast_weight >= 0) || !std::isfinite(contrast_weight)) return fail("contrast_weight must be >= 0");
  if (!(contrast_sharpness > 0) || !std::isfinite(contrast_sharpness)) return fail("contrast_sharpness must be positive");
  if (gammas.empty()) return fail("gammas: list at least one kernel γ");
  for (const double g : gammas)
    if (!(g > 0) || !std::isfinite(g)) return fail("gammas: every γ must be a positive number");
  if (!(labelled_fraction >= 0 && labelled_fraction <= 1)) return fail("labelled_fraction must be in [0, 1]");
  return true;
}

nlohmann::json MetaCgnnOptions::to_json() const {
  nlohmann::json j = {{"encoder", encoder.to_json()},
          {"generator", generator.to_json()},
          {"steps", steps},
          {"tasks_per_step", tasks_per_step},
          {"learning_rate", learning_rate},
          {"families", families},
          {"sizes", sizes},
          {"training_rows", training_rows},
          {"encoder_rows", encoder_rows},
          {"anticausal_weight", anticausal_weight},
          {"contrast_weight", contrast_weight},
          {"contrast_sharpness", contrast_sharpness},
          {"gammas", gammas},
          {"labelled_fraction", labelled_fraction}};
  distortions.add_to_json(j);
  return j;
}

MetaCgnnOptions MetaCgnnOptions::from_json(const nlohmann::json& j, const std::string& path) {
  return from_json(j, path, MetaCgnnOptions{});
}

MetaCgnnOptions MetaCgnnOptions::from_json(const nlohmann::json& j, const std::string& path, const MetaCgnnOptions& base) {
  JsonObjectReader reader(j, path);
  MetaCgnnOptions o = base;
  if (const auto* e = reader.get("encoder")) o.encoder = DatasetEncoderOptions::from_json(*e, reader.child_path("encoder"));
  if (const auto* g = reader.get("generator")) o.generator = FilmGeneratorOptions::from_json(*g, reader.child_path("generator"));
  o.steps = static_cast<int>(reader.optional_integer("steps", o.steps, 0, 1 << 30));
  o.tasks_per_step = static_cast<int>(reader.optional_integer("tasks_per_step", o.tasks_per_step, 1, 1 << 20));
  o.learning_rate = reader.optional_positive_number("learning_rate", o.learning_rate);
  if (reader.has("families")) o.families = reader.required_string_list("families");
  if (reader.has("sizes")) {
    o.sizes.clear();
    for (const double s : reader.required_number_list("sizes")) {
      if (s != std::floor(s) || s < 10 || s > 1e7)
        throw InputError(reader.child_path("sizes") + ": every size must be a whole number of rows from 10 to 1e7");
      o.sizes.push_back(static_cast<Eigen::Index>(s));
    }
  }
  o.distortions = PairDistortions::read(reader, o.distortions);
  o.training_rows = reader.optional_integer("training_rows", o.training_rows, 10);
  o.encoder_rows = reader.optional_integer("encoder_rows", o.encoder_rows, 10);
  o.anticausal_weight = reader.optional_number_in("anticausal_weight", o.anticausal_weight, 0, 1e6);
  o.contrast_weight = reader.optional_number_in("contrast_weight", o.contrast_weight, 0, 1e6);
  o.contrast_sharpness = reader.optional_positive_number("contrast_sharpness", o.contrast_sharpness);
  o.gammas = reader.optional_number_list("gammas", o.gammas);
  o.labelled_fraction = reader.optional_number_in("labelled_fraction", o.labelled_fraction, 0, 1);
  reader.reject_unknown_keys();
  std::string why;
  if (!o.is_valid(&why)) throw InputError((path.empty() ? std::string("options") : path) + ": " + why);
  return o;
}

MetaCgnnOptions read_meta_cgnn_options(const std::filesystem::path& file, const MetaCgnnOptions& base) {
  std::ifstream in(file);
  if (!in) throw InputError(file.string() + ": cannot open the Meta-CGNN options file");
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json j = parse_json_text(text.str(), file.string(), /*allow_comments=*/true);
  try {
    return MetaCgnnOptions::from_json(j, "", base);
  } catch (const InputError& e) {
    throw InputError(file.string() + ": " + e.what());
  }
}

bool MetaCgnnDecisionOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (max_samples < 0) return fail("max_samples must be at least 0 (0 = all rows)");
  if (adapt_steps < 0) return fail("adapt_steps must be at least 0");
  if (!(adapt_learning_rate > 0) || !std::isfinite(adapt_learning_rate)) return fail("adapt_learning_rate must be a positive number");
  if (adapt != "embedding" && adapt != "generator") return fail("adapt must be \"embedding\" or \"generator\", not \"" + adapt + "\"");
  if (eval_draws < 1) return fail("eval_draws must be at least 1");
  return true;
}

nlohmann::json MetaCgnnDecisionOptions::to_json() const {
  return {{"max_samples", max_samples},
          {"adapt_steps", adapt_steps},
          {"adapt_learning_rate", adapt_learning_rate},
          {"adapt", adapt},
          {"eval_draws", eval_draws}};
}

MetaCgnnDecisionOptions MetaCgnnDecisionOptions::from_json(const nlohmann::json& j, const std::string& path) {
  JsonObjectReader reader(j, path);
  MetaCgnnDecisionOptions o;
  o.max_samples = reader.optional_integer("max_samples", o.max_samples, 0);
  o.adapt_steps = static_cast<int>(reader.optional_integer("adapt_steps", o.adapt_steps, 0, 1 << 20));
  o.adapt_learning_rate = reader.optional_positive_number("adapt_learning_rate", o.adapt_learning_rate);
  o.adapt = reader.optional_string("adapt", o.adapt, {"embedding", "generator"});
  o.eval_draws = static_cast<int>(reader.optional_integer("eval_draws", o.eval_draws, 1, 1 << 20));
  reader.reject_unknown_keys();
  return o;
}

nlohmann::json MetaTrainingSummary::to_json() const {
  nlohmann::json j = {{"seed", seed},         {"steps", steps},       {"interrupted", interrupted}, {"seconds", seconds},
                      {"threads", threads},   {"loss_curve", loss_curve}, {"curve_block", curve_block}, {"created", created}};
  // Only for continued or labelled training: models trained from scratch keep their old description.
  if (!started_from.empty()) {
    j["started_from"] = started_from;
    j["start_steps"] = start_steps;
  }
  if (!labelled_pairs.empty()) j["labelled_pairs"] = labelled_pairs;
  if (!labelled_checksums.empty()) j["labelled_checksums"] = labelled_checksums;
  return j;
}

MetaTrainingSummary MetaTrainingSummary::from_json(const nlohmann::json& j, const std::string& path) {
  JsonObjectReader reader(j, path);
  MetaTrainingSummary s;
  s.seed = reader.optional_seed("seed", 0);
  s.steps = static_cast<int>(reader.optional_integer("steps", 0, 0, 1 << 30));
  s.interrupted = reader.optional_bool("interrupted", false);
  s.seconds = reader.optional_number("seconds", 0);
  s.threads = static_cast<int>(reader.optional_integer("threads", 0, 0, 1 << 20));
  if (reader.has("loss_curve")) {
    const auto* curve = reader.get("loss_curve");
    if (!curve->is_array()) throw InputError(reader.child_path("loss_curve") + ": expected a list of numbers");
    for (std::size_t k = 0; k < curve->size(); ++k)
      s.loss_curve.push_back(json_number_at((*curve)[k], reader.child_path("loss_curve") + "[" + std::to_string(k) + "]"));
  }
  s.curve_block = static_cast<int>(reader.optional_integer("curve_block", 100, 1, 1 << 30));
  s.created = reader.optional_string("created", "");
  s.started_from = reader.optional_string("started_from", "");
  s.start_steps = static_cast<int>(reader.optional_integer("start_steps", 0, 0, 1 << 30));
  if (reader.has("labelled_pairs")) s.labelled_pairs = reader.required_string_list("labelled_pairs");
  if (reader.has("labelled_checksums")) s.labelled_checksums = reader.required_string_list("labelled_checksums");
  reader.reject_unknown_keys();
  return s;
}

// ------------------------------------------------------------------------------------------------
// The model

struct MetaCgnnModel::Networks {
  DatasetEncoder encoder;
  FilmGenerator generator;

  Networks(const MetaCgnnOptions& o, std::uint64_t seed)
      : encoder(o.encoder, stream_seed(seed, 0, kModelSubstream)),
        generator(o.generator, o.encoder.embedding, stream_seed(seed, 1, kModelSubstream)) {}
  Networks(DatasetEncoder e, FilmGenerator g) : encoder(std::move(e)), generator(std::move(g)) {}

  nn::ParameterList<float> parameters() {
    nn::ParameterList<float> list = encoder.parameters();
    for (auto* p : generator.parameters()) list.push_back(p);
    return list;
  }
  void copy_values_from(Networks& other) {
    encoder.copy_values_from(other.encoder);
    generator.copy_values_from(other.generator);
  }
};

MetaCgnnModel::MetaCgnnModel(const MetaCgnnOptions& options, std::uint64_t seed) : options_(options) {
  std::string why;
  if (!options_.is_valid(&why)) throw InputError("meta-cgnn options: " + why);
  networks_ = std::make_unique<Networks>(options_, seed);
  training_.seed = seed;
}

MetaCgnnModel::MetaCgnnModel(MetaCgnnModel&&) noexcept = default;
MetaCgnnModel& MetaCgnnModel::operator=(MetaCgnnModel&&) noexcept = default;
MetaCgnnModel::~MetaCgnnModel() = default;

const MetaCgnnOptions& MetaCgnnModel::options() const { return options_; }
const MetaTrainingSummary& MetaCgnnModel::training() const { return training_; }
void MetaCgnnModel::set_training(MetaTrainingSummary summary) { training_ = std::move(summary); }
MetaCgnnModel::Networks& MetaCgnnModel::networks() const { return *networks_; }

std::size_t MetaCgnnModel::parameter_count() const {
  std::size_t count = 0;
  for (const auto* p : networks_->parameters()) count += static_cast<std::size_t>(p->value.size());
  return count;
}

void MetaCgnnModel::save(const std::filesystem::path& folder) const {
  std::filesystem::create_directories(folder);
  std::vector<std::string> files;
  networks_->encoder.save(folder, "encoder", files);
  networks_->generator.save(folder, "generator", files);
  const nlohmann::json document = {{"format", "sbi-meta-cgnn"},
                                   {"format_version", kModelFormatVersion},
                                   {"options", options_.to_json()},
                                   {"training", training_.to_json()},
                                   {"files", files}};
  write_file_atomically(folder / kModelFile, document.dump(2) + "\n");
}

MetaCgnnModel MetaCgnnModel::load(const std::filesystem::path& folder) {
  if (!std::filesystem::is_directory(folder))
    throw FileError(folder.string() + ": not a folder (a Meta-CGNN model is a folder with " + kModelFile + ")");
  const auto file = folder / kModelFile;
  std::ifstream in(file);
  if (!in) model_error(file, "missing or unreadable (not a Meta-CGNN model folder? `sbi causal meta-train -o DIR` writes one)");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json document;
  MetaCgnnOptions options;
  MetaTrainingSummary training;
  try {
    document = parse_json_text(text.str(), file.string());
    JsonObjectReader reader(document, "");
    const std::string format = reader.required_string("format");
    if (format != "sbi-meta-cgnn") model_error(file, "format is \"" + format + "\", not \"sbi-meta-cgnn\"");
    const auto version = reader.required_integer("format_version", 1);
    if (version > kModelFormatVersion)
      model_error(file, "format version " + std::to_string(version) + " was written by a newer sbi++; this build reads up to version " +
                            std::to_string(kModelFormatVersion));
    options = MetaCgnnOptions::from_json(*reader.get("options"), "options");
    if (const auto* t = reader.get("training")) training = MetaTrainingSummary::from_json(*t, "training");
    reader.get("files");
    reader.reject_unknown_keys();
  } catch (const InputError& e) {
    model_error(file, e.what());
  } catch (const nlohmann::json::exception& e) {
    model_error(file, e.what());
  }
  MetaCgnnModel model(options, training.seed);
  model.networks_ = std::make_unique<Networks>(DatasetEncoder::load(folder, "encoder", options.encoder),
                                               FilmGenerator::load(folder, "generator", options.generator, options.encoder.embedding));
  model.training_ = training;
  return model;
}

// ------------------------------------------------------------------------------------------------
// Meta-training

namespace {

// Loss of one training data set; its gradient is added into the parameters' grads of `net`.
double task_step(MetaCgnnModel::Networks& net, ad::Tape<float>& tape, PairedMmd& mmd, const Task& task,
                 const MetaCgnnOptions& o, Rng& noise) {
  auto scope = tape.scope();
  ad::Matrix<float> inputs;
  Eigen::VectorXf generated, gradient_causal, gradient_reverse;
  fill_inputs(inputs, task.cause, o.generator.noise, noise);
  const auto effect_hat = net.generator.forward(tape.constant(inputs), net.encoder.forward(tape, task.causal));
  generated = effect_hat.value().col(0);
  // The observed term is symmetric in the two columns: one serves both directions.
  const double observed = mmd.observed_term(task.cause, task.effect);
  const double m_causal = mmd.generated_terms(task.cause, generated, task.effect, &gradient_causal) + observed;
  const bool reverse = o.anticausal_weight > 0 || o.contrast_weight > 0;
  if (!reverse) {
    tape.backward(ad::sum(ad::mul(effect_hat, tape.constant(ad::Matrix<float>(gradient_causal)))));
    return m_causal;
  }
  fill_inputs(inputs, task.effect, o.generator.noise, noise);
  const auto cause_hat = net.generator.forward(tape.constant(inputs), net.encoder.forward(tape, task.reverse));
  generated = cause_hat.value().col(0);
  const double m_reverse = mmd.generated_terms(task.effect, generated, task.cause, &gradient_reverse) + observed;
  // loss = M_c + w_a M_r + w_s softplus(−κ s), s = (M_r − M_c) / (M_r + M_c).
  const double total = std::max(m_causal + m_reverse, 1e-12);
  const double s = (m_reverse - m_causal) / total;
  const double kappa = o.contrast_sharpness;
  const double d_softplus = -kappa * sigmoid(-kappa * s);  // d softplus(−κ s) / ds
  const double ds_dcausal = -2.0 * m_reverse / (total * total), ds_dreverse = 2.0 * m_causal / (total * total);
  const double d_causal = 1.0 + o.contrast_weight * d_softplus * ds_dcausal;
  const double d_reverse = o.anticausal_weight + o.contrast_weight * d_softplus * ds_dreverse;
  const auto weighted_causal = ad::Matrix<float>(gradient_causal * static_cast<float>(d_causal));
  const auto weighted_reverse = ad::Matrix<float>(gradient_reverse * static_cast<float>(d_reverse));
  tape.backward(ad::add(ad::sum(ad::mul(effect_hat, tape.constant(weighted_causal))),
                        ad::sum(ad::mul(cause_hat, tape.constant(weighted_reverse)))));
  return m_causal + o.anticausal_weight * m_reverse + o.contrast_weight * softplus(-kappa * s);
}

// Data set `index` of a run with `seed`: its loss, its gradient added into `net`'s parameters.
double run_task(MetaCgnnModel::Networks& net, ad::Tape<float>& tape, PairedMmd& mmd, const MetaCgnnOptions& o,
                std::uint64_t seed, std::uint64_t index, const LabelledSets* labelled) {
  const Task task = draw_task(o, seed, index, labelled);
  Rng noise = Rng::stream(seed, index, kTaskNoiseSubstream);
  return task_step(net, tape, mmd, task, o, noise);
}

}  // namespace

namespace detail {
nn::ParameterList<float> meta_parameters(MetaCgnnModel& model) { return model.networks().parameters(); }
double meta_training_loss(MetaCgnnModel& model, std::uint64_t seed, std::uint64_t index) {
  ad::Tape<float> tape;
  PairedMmd mmd(model.options().gammas);
  return run_task(model.networks(), tape, mmd, model.options(), seed, index, nullptr);
}
}  // namespace detail

MetaCgnnModel meta_train(const MetaCgnnOptions& options, std::uint64_t seed, int threads, const MetaTrainCallbacks& callbacks,
                         const MetaTrainData& data) {
  const auto start = std::chrono::steady_clock::now();
  MetaCgnnModel model(options, seed);
  auto& master = model.networks();
  const std::string start_name = data.start_name.empty() ? std::string("a meta-model in memory") : data.start_name;
  if (data.start) {
    // Same shapes or nothing: copying weights between networks of other widths would resize them silently.
    const auto& from = data.start->options();
    const std::array<std::array<nlohmann::json, 3>, 2> shapes = {{{"encoder", from.encoder.to_json(), options.encoder.to_json()},
                                                                  {"generator", from.generator.to_json(), options.generator.to_json()}}};
    for (const auto& [part, theirs, ours] : shapes)
      if (theirs != ours)
        throw InputError(start_name + ": its " + part.get<std::string>() + " " + theirs.dump() + " differs from the options' " + ours.dump());
    master.copy_values_from(data.start->networks());
  }
  const LabelledSets labelled(data.labelled);
  const nn::ParameterList<float> parameters = master.parameters();
  optim::Adam adam(parameters, {.learning_rate = options.learning_rate});
  const auto tasks = static_cast<std::size_t>(options.tasks_per_step);
  const int workers = std::max(1, std::min<int>(threads, options.tasks_per_step));
  std::vector<std::unique_ptr<MetaCgnnModel::Networks>> replicas;
  std::vector<ad::Tape<float>> tapes(static_cast<std::size_t>(workers));
  std::vector<PairedMmd> mmds;
  for (int w = 0; w < workers; ++w) {
    replicas.push_back(std::make_unique<MetaCgnnModel::Networks>(options, seed));
    mmds.emplace_back(options.gammas);
  }
  // Each data set's gradient is kept apart and the sum taken in index order: the same bits for any
  // number of workers.
  std::vector<std::vector<ad::Matrix<float>>> task_gradients(tasks, std::vector<ad::Matrix<float>>(parameters.size()));
  std::vector<double> losses(tasks);
  MetaTrainingSummary summary;
  summary.seed = seed;
  summary.threads = workers;
  if (data.start) {
    summary.started_from = start_name;
    summary.start_steps = data.start->training().steps;
  }
  for (const auto& p : data.labelled) {
    summary.labelled_pairs.push_back(p.pair.name);
    summary.labelled_checksums.push_back(pair_checksum(p.pair));
  }
  double block_loss = 0;
  int block_steps = 0;
  for (int step = 0; step < options.steps; ++step) {
    if (callbacks.interrupt && callbacks.interrupt->load()) {
      summary.interrupted = true;
      break;
    }
    for (auto& replica : replicas) replica->copy_values_from(master);
    parallel_for(tasks, workers, [&](std::size_t k, std::size_t worker) {
      auto& net = *replicas[worker];
      const auto own = net.parameters();
      for (auto* p : own) p->zero_grad();
      losses[k] = run_task(net, tapes[worker], mmds[worker], options, seed, static_cast<std::uint64_t>(step) * tasks + k,
                           &labelled);
      for (std::size_t p = 0; p < own.size(); ++p) task_gradients[k][p] = own[p]->grad;
    });
    for (std::size_t p = 0; p < parameters.size(); ++p) {
      parameters[p]->grad = task_gradients[0][p];
      for (std::size_t k = 1; k < tasks; ++k) parameters[p]->grad += task_gradients[k][p];
      parameters[p]->grad /= static_cast<float>(tasks);
    }
    // Cosine decay from the learning rate to a tenth of it.
    const double progress = options.steps > 1 ? static_cast<double>(step) / (options.steps - 1) : 0.0;
    adam.set_learning_rate(options.learning_rate * (0.1 + 0.45 * (1 + std::cos(std::numbers::pi * progress))));
    adam.step();
    double loss = 0;
    for (const double l : losses) loss += l;
    loss /= static_cast<double>(tasks);
    block_loss += loss;
    if (++block_steps == summary.curve_block) {
      summary.loss_curve.push_back(block_loss / block_steps);
      block_loss = 0;
      block_steps = 0;
    }
    summary.steps = step + 1;
    if (callbacks.on_step) callbacks.on_step(step, loss);
  }
  if (block_steps > 0) summary.loss_curve.push_back(block_loss / block_steps);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary.created = utc_timestamp();
  model.set_training(summary);
  return model;
}

// ------------------------------------------------------------------------------------------------
// Deciding a pair

namespace {

// The evaluation MMD² of cause → effect under the model, after the adaptation steps.
double fit_direction(const MetaCgnnModel& model, const Eigen::VectorXf& cause, const Eigen::VectorXf& effect,
                     const MetaCgnnDecisionOptions& o, std::uint64_t seed) {
  const MetaCgnnOptions& options = model.options();
  MetaCgnnModel::Networks net(options, 0);
  net.copy_values_from(model.networks());
  ad::Tape<float> tape;
  PairedMmd mmd(options.gammas);
  // The same stream for both directions: their evaluations see the same noise draws.
  Rng noise = Rng::stream(seed, 0, kDecisionSubstream);
  nn::Parameter task_vector;
  {
    auto scope = tape.scope();
    task_vector.value = net.encoder.forward(tape, points_of(cause, effect)).value();
  }
  ad::Matrix<float> inputs;
  Eigen::VectorXf generated, gradient;
  if (o.adapt_steps > 0) {
    const bool embedding = o.adapt == "embedding";
    nn::ParameterList<float> adapted = embedding ? nn::ParameterList<float>{&task_vector} : net.generator.parameters();
    optim::Adam adam(adapted, {.learning_rate = o.adapt_learning_rate});
    for (int step = 0; step < o.adapt_steps; ++step) {
      auto scope = tape.scope();
      adam.zero_grad();
      fill_inputs(inputs, cause, options.generator.noise, noise);
      const auto c = embedding ? task_vector.on(tape) : tape.constant(task_vector.value);
      const auto effect_hat = net.generator.forward(tape.constant(inputs), c);
      generated = effect_hat.value().col(0);
      mmd.generated_terms(cause, generated, effect, &gradient);
      tape.backward(ad::sum(ad::mul(effect_hat, tape.constant(ad::Matrix<float>(gradient)))));
      adam.step();
    }
  }
  const float observed = mmd.observed_term(cause, effect);
  double total = 0;
  for (int draw = 0; draw < o.eval_draws; ++draw) {
    auto scope = tape.scope();
    fill_inputs(inputs, cause, options.generator.noise, noise);
    generated = net.generator.forward(tape.constant(inputs), tape.constant(task_vector.value)).value().col(0);
    total += mmd.generated_terms(cause, generated, effect, nullptr) + observed;
  }
  return total / o.eval_draws;
}

}  // namespace

MetaCgnnResult meta_cgnn(const MetaCgnnModel& model, const CausePair& pair_in, const MetaCgnnDecisionOptions& options,
                         std::uint64_t seed, int threads) {
  std::string why;
  if (!options.is_valid(&why)) throw InputError("meta-cgnn: " + why);
  const CausePair pair = subsample(pair_in, options.max_samples, seed);
  const Eigen::VectorXf x = standardise(pair.x).cast<float>(), y = standardise(pair.y).cast<float>();
  double mmd[2];
  parallel_for(2, threads, [&](std::size_t direction, std::size_t) {
    mmd[direction] = direction == 0 ? fit_direction(model, x, y, options, seed) : fit_direction(model, y, x, options, seed);
  });
  MetaCgnnResult result;
  result.mmd_xy = mmd[0];
  result.mmd_yx = mmd[1];
  const double total = mmd[0] + mmd[1];
  result.score = total > 0 ? (mmd[1] - mmd[0]) / total : 0.0;
  result.samples_used = x.size();
  return result;
}

}  // namespace sbi::causal
