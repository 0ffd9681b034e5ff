#include "sbi/inference/nre.hpp"

#include "sbi/core/error.hpp"
#include "sbi/inference/method.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/nn/losses.hpp"
#include "sbi/optim/adam.hpp"
#include "sbi/optim/training.hpp"
#include "sbi/stability/regularizers.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

namespace sbi {

using FMat = ad::Matrix<float>;
using FVar = ad::Var<float>;

namespace {
// Atoms per y in the loss: NRE-A a contrastive pair, NRE-B K, NRE-C K plus the independent class.
int nre_atoms_needed(const NreOptions& options) {
  return options.variant == "nre_a" ? 2 : options.variant == "nre_b" ? options.atoms : options.atoms + 1;
}

// The validation loss needs more rows than atoms: a small table (SNRE's first round of 100 rows at a
// budget of 10^3) gets a larger share held out, up to half, rather than an error.
double nre_validation_fraction(const NreOptions& options, Eigen::Index rows) {
  const int atoms_needed = nre_atoms_needed(options);
  return std::max(options.validation_fraction, std::min(0.5, (atoms_needed + 1.5) / std::max(static_cast<double>(rows), 1.0)));
}
}  // namespace

bool NreOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (variant != "nre_a" && variant != "nre_b" && variant != "nre_c") return fail("variant: must be \"nre_a\", \"nre_b\" or \"nre_c\"");
  if (atoms < 2) return fail("atoms: must be at least 2");
  if (!(gamma > 0) || !std::isfinite(gamma)) return fail("gamma: must be a positive number");
  if (!(balance >= 0) || !std::isfinite(balance)) return fail("balance: must be ≥ 0");
  if (balance > 0 && variant != "nre_a") return fail("balance: the BNRE balancing term needs \"variant\": \"nre_a\"");
  std::string inner;
  if (!classifier.is_valid(&inner)) return fail("classifier." + inner);
  if (static_cast<int>(classifier.batch_size) <= nre_atoms_needed(*this))
    return fail("classifier.batch_size: must exceed the atoms per row (" + std::to_string(nre_atoms_needed(*this)) +
                "; they come from the minibatch)");
  if (!(gradient_penalty >= 0)) return fail("gradient_penalty: must be ≥ 0");
  if (data_transform != "none" && data_transform != "log" && data_transform != "auto")
    return fail("data_transform: must be \"none\", \"log\" or \"auto\"");
  if (!(validation_fraction > 0 && validation_fraction < 0.5)) return fail("validation_fraction: must be in (0, 0.5)");
  if (max_epochs < 1) return fail("max_epochs: must be at least 1");
  if (patience < 1) return fail("patience: must be at least 1");
  if (!(clip_grad_norm >= 0)) return fail("clip_grad_norm: must be ≥ 0");
  return true;
}

nlohmann::json NreOptions::to_json() const {
  return {{"variant", variant},
          {"atoms", atoms},
          {"gamma", gamma},
          {"balance", balance},
          {"classifier", classifier.to_json()},
          {"spectral_norm", spectral_norm},
          {"gradient_penalty", gradient_penalty},
          {"data_transform", data_transform},
          {"validation_fraction", validation_fraction},
          {"max_epochs", max_epochs},
          {"patience", patience},
          {"clip_grad_norm", clip_grad_norm},
          {"seed", seed},
          {"scale_to_validation", scale_to_validation},
          {"mcmc", mcmc.to_json()}};
}

NreOptions NreOptions::from_json(const nlohmann::json& section, const std::string& path) {
  NreOptions o;
  JsonObjectReader r(section, path);
  for (const auto& key : run_level_inference_keys()) r.get(key);
  o.variant = r.optional_string("variant", o.variant, {"nre_a", "nre_b", "nre_c"});
  o.atoms = static_cast<int>(r.optional_integer("atoms", o.atoms, 2, 1000));
  o.gamma = r.optional_positive_number("gamma", o.gamma);
  o.balance = r.optional_number_in("balance", o.balance, 0.0, 1e6);
  if (const auto* c = r.get("classifier")) o.classifier.read(*c, r.child_path("classifier"));
  o.spectral_norm = r.optional_bool("spectral_norm", o.spectral_norm);
  o.gradient_penalty = r.optional_number_in("gradient_penalty", o.gradient_penalty, 0.0, 1e6);
  o.data_transform = r.optional_string("data_transform", o.data_transform, {"none", "log", "auto"});
  o.validation_fraction = r.optional_number_in("validation_fraction", o.validation_fraction, 0.01, 0.49);
  o.max_epochs = static_cast<int>(r.optional_integer("max_epochs", o.max_epochs, 1, 1000000));
  o.patience = static_cast<int>(r.optional_integer("patience", o.patience, 1, 1000000));
  o.clip_grad_norm = r.optional_number_in("clip_grad_norm", o.clip_grad_norm, 0.0, 1e9);
  o.seed = r.optional_seed("seed", o.seed);
  o.scale_to_validation = r.optional_bool("scale_to_validation", o.scale_to_validation);
  if (const auto* m = r.get("mcmc")) o.mcmc = McmcOptions::from_json(*m, r.child_path("mcmc"));
  r.finish(o);
  return o;
}

Vector NreFit::log_ratio_unconstrained(const RowMatrix& u, const Vector& observation, const Names& data_names) const {
  const Vector y_tilde = standardization.standardize_data(observation, data_names);
  const auto p = u.cols(), d = y_tilde.size();
  FMat input(u.rows(), p + d);
  input.leftCols(p) = standardization.standardize_parameters_clamped(u);
  input.rightCols(d) = y_tilde.cast<float>().transpose().replicate(u.rows(), 1);
  return classifier.evaluate(input).col(0).cast<double>() * logit_scale;
}

void NreFit::log_ratio_gradient_unconstrained(const RowMatrix& u, const Vector& observation, const Names& data_names,
                                              Eigen::Ref<Vector> log_ratio, Eigen::Ref<RowMatrix> gradient) const {
  const Vector y_tilde = standardization.standardize_data(observation, data_names);
  const auto p = u.cols();
  thread_local ad::Tape<float> tape;
  auto scope = tape.scope();
  const auto input = tape.variable(standardization.standardize_parameters(u));
  const auto r = log_ratio_on_tape(tape, input, y_tilde.cast<float>().transpose().replicate(u.rows(), 1));
  tape.backward(ad::sum(r));
  log_ratio = r.value().col(0).cast<double>();
  const FMat& g = tape.gradient(input);
  for (Eigen::Index c = 0; c < p; ++c) gradient.col(c) = g.col(c).cast<double>() / standardization.u_sd[c];  // r's, scale included
}

namespace {

// clamped = inside ⊙ ũ + (1 − inside) ⊙ clamp(ũ): the value of clamp(ũ), the gradient masked.
FVar clamped_on_tape(ad::Tape<float>& tape, const FVar& u_tilde, const Standardization& standardization) {
  FMat clamped = u_tilde.value(), inside;
  if (!standardization.clamp_standardized_parameters(clamped, inside)) return u_tilde;
  const FMat edge = clamped.array() * (1.0f - inside.array());
  return ad::add(ad::mul(u_tilde, tape.constant(inside)), tape.constant(edge));
}

}  // namespace

FVar NreFit::log_ratio_on_tape(ad::Tape<float>& tape, const FVar& u_tilde, const FMat& y_tilde) const {
  const FVar r = classifier.forward_constant(ad::concat_cols(clamped_on_tape(tape, u_tilde, standardization), tape.constant(y_tilde)));
  return logit_scale == 1.0 ? r : r * static_cast<float>(logit_scale);
}

FVar NreFit::trainable_log_ratio_on_tape(ad::Tape<float>& tape, const FVar& u_tilde, const FMat& y_tilde) {
  const FVar r = classifier.forward(ad::concat_cols(clamped_on_tape(tape, u_tilde, standardization), tape.constant(y_tilde)));
  return logit_scale == 1.0 ? r : r * static_cast<float>(logit_scale);
}

Vector NreFit::log_ratio(const RowMatrix& theta, const Vector& observation, const Prior& prior, const Names& data_names) const {
  RowMatrix u = prior.to_unconstrained(theta);
  std::vector<Eigen::Index> outside;
  for (Eigen::Index r = 0; r < u.rows(); ++r)
    if (!prior.in_support(row_span(theta, r)) || !u.row(r).allFinite()) {
      outside.push_back(r);
      u.row(r).setZero();
    }
  Vector out = log_ratio_unconstrained(u, observation, data_names);
  for (auto r : outside) out[r] = -std::numeric_limits<double>::infinity();
  return out;
}

namespace detail {

double scaled_nre_loss(const std::vector<Vector>& logits, const NreOptions& options, double s) {
  auto softplus = [](double x) { return x > 30 ? x : std::log1p(std::exp(x)); };
  const Eigen::Index rows = logits.front().size();
  if (options.variant == "nre_a") {
    double joint = 0, marginal = 0, sig_joint = 0, sig_marginal = 0;
    for (Eigen::Index i = 0; i < rows; ++i) {
      joint += softplus(-s * logits[0][i]);
      marginal += softplus(s * logits[1][i]);
      sig_joint += 1 / (1 + std::exp(-s * logits[0][i]));
      sig_marginal += 1 / (1 + std::exp(-s * logits[1][i]));
    }
    const double n = static_cast<double>(rows);
    const double imbalance = sig_joint / n + sig_marginal / n - 1;
    return 0.5 * (joint + marginal) / n + options.balance * imbalance * imbalance;
  }
  const int k = options.atoms;
  auto lse = [&](Eigen::Index i, int first) {
    double top = -std::numeric_limits<double>::infinity();
    for (int a = first; a < first + k; ++a) top = std::max(top, s * logits[static_cast<std::size_t>(a)][i]);
    double sum = 0;
    for (int a = first; a < first + k; ++a) sum += std::exp(s * logits[static_cast<std::size_t>(a)][i] - top);
    return top + std::log(sum);
  };
  double joint = 0, marginal = 0;
  const double c = std::log(options.gamma / k);
  for (Eigen::Index i = 0; i < rows; ++i) {
    if (options.variant == "nre_b") {
      joint += lse(i, 0) - s * logits[0][i];
    } else {
      joint += softplus(lse(i, 0) + c) - s * logits[0][i];
      marginal += softplus(lse(i, 1) + c);
    }
  }
  const double n = static_cast<double>(rows);
  if (options.variant == "nre_b") return joint / n;
  return (joint / n - c) * options.gamma / (1 + options.gamma) + marginal / n / (1 + options.gamma);
}

double best_logit_scale(const std::vector<std::vector<Vector>>& block_logits, const NreOptions& options) {
  auto loss = [&](double s) {
    double total = 0;
    for (const auto& logits : block_logits) total += scaled_nre_loss(logits, options, s);
    return total;
  };
  const double golden = (std::sqrt(5.0) - 1) / 2;
  double low = 0.05, high = 2.0;
  double a = high - golden * (high - low), b = low + golden * (high - low);
  double fa = loss(a), fb = loss(b);
  while (high - low > 1e-3) {
    if (fa < fb) {
      high = b, b = a, fb = fa;
      a = high - golden * (high - low), fa = loss(a);
    } else {
      low = a, a = b, fa = fb;
      b = low + golden * (high - low), fb = loss(b);
    }
  }
  return 0.5 * (low + high);
}

}  // namespace detail

namespace {

// The classifier's inputs for one minibatch and its atoms: atom k pairs row i's ỹ with ũ of row
// (i + k) mod B, so atom 0 is the joint pair and atoms k ≥ 1 are (almost surely) marginal pairs.
class AtomInputs {
 public:
  void build(const FMat& u, const FMat& y, int atoms) {
    const Eigen::Index b = u.rows(), p = u.cols(), d = y.cols();
    inputs_.resize(static_cast<std::size_t>(atoms));
    for (int k = 0; k < atoms; ++k) {
      FMat& x = inputs_[static_cast<std::size_t>(k)];
      x.resize(b, p + d);
      for (Eigen::Index i = 0; i < b; ++i) x.row(i).head(p) = u.row((i + k) % b);
      x.rightCols(d) = y;
    }
  }
  const FMat& atom(int k) const { return inputs_[static_cast<std::size_t>(k)]; }
  int count() const { return static_cast<int>(inputs_.size()); }

 private:
  std::vector<FMat> inputs_;
};

// The NRE loss of one minibatch on the tape, for the variant in `options`.
ad::Var<float> nre_loss(nn::Mlp& classifier, const AtomInputs& atoms, const NreOptions& options, ad::Tape<float>& tape, FMat& ones, FMat& zeros) {
  if (options.variant == "nre_a") {
    auto joint = classifier.forward(tape.constant(atoms.atom(0)));
    auto marginal = classifier.forward(tape.constant(atoms.atom(1)));
    ones.setOnes(joint.rows(), 1);
    zeros.setZero(joint.rows(), 1);
    auto loss = (nn::bce_with_logits(joint, ones) + nn::bce_with_logits(marginal, zeros)) * 0.5f;
    if (options.balance > 0) {
      auto imbalance = ad::mean(ad::sigmoid(joint)) + ad::mean(ad::sigmoid(marginal)) - 1.0f;
      loss = loss + ad::square(imbalance) * static_cast<float>(options.balance);
    }
    return loss;
  }
  const int k = options.atoms;
  std::vector<ad::Var<float>> logits;
  const int passes = options.variant == "nre_c" ? k + 1 : k;
  for (int a = 0; a < passes; ++a) logits.push_back(classifier.forward(tape.constant(atoms.atom(a))));
  auto gather = [&](int first) {
    ad::Var<float> all = logits[static_cast<std::size_t>(first)];
    for (int a = first + 1; a < first + k; ++a) all = ad::concat_cols(all, logits[static_cast<std::size_t>(a)]);
    return all;  // B × K
  };
  if (options.variant == "nre_b") return ad::mean(ad::logsumexp_rows(gather(0)) - logits[0]);
  // nre_c: log q(dependent, atom 0) = c + r_0 − softplus(c + LSE r_joint), log q(independent) = −softplus(c + LSE r_marginal).
  const auto c = static_cast<float>(std::log(options.gamma / k));
  const auto weight_joint = static_cast<float>(options.gamma / (1 + options.gamma));
  const auto weight_marginal = static_cast<float>(1 / (1 + options.gamma));
  auto joint_term = ad::mean(ad::softplus(ad::logsumexp_rows(gather(0)) + c) - logits[0]) - c;
  auto marginal_term = ad::mean(ad::softplus(ad::logsumexp_rows(gather(1)) + c));
  return joint_term * weight_joint + marginal_term * weight_marginal;
}

// The validation blocks' logits per atom, then the scale that fits them best.
double validation_logit_scale(const nn::Mlp& classifier, const std::vector<AtomInputs>& blocks, const NreOptions& options) {
  std::vector<std::vector<Vector>> block_logits;
  for (const auto& block : blocks) {
    block_logits.emplace_back();
    for (int a = 0; a < block.count(); ++a) block_logits.back().push_back(classifier.evaluate(block.atom(a)).col(0).cast<double>());
  }
  return detail::best_logit_scale(block_logits, options);
}

}  // namespace

std::size_t minimum_nre_rows(const NreOptions& options) {
  const auto atoms_needed = static_cast<Eigen::Index>(nre_atoms_needed(options));
  for (Eigen::Index n = 20;; ++n) {
    // As optim::train_validation_split counts the validation rows.
    const auto validation = static_cast<Eigen::Index>(std::llround(nre_validation_fraction(options, n) * static_cast<double>(n)));
    const Eigen::Index batch = std::min(static_cast<Eigen::Index>(options.classifier.batch_size), n - validation);
    // Ends: is_valid asks for batch_size > atoms_needed, and both sets grow with n.
    if (validation > atoms_needed && batch > atoms_needed) return static_cast<std::size_t>(n);
  }
}

NreFit train_nre(const RowMatrix& theta, const RowMatrix& y, const Prior& prior, const NreOptions& options, const TrainingCallbacks& callbacks,
                 std::uint64_t member, const nn::Mlp* start_from) {
  if (std::string why; !options.is_valid(&why)) throw InputError("NRE options: " + why);
  const int atoms_needed = nre_atoms_needed(options);
  const double fraction = nre_validation_fraction(options, theta.rows());
  StandardizedTable table = StandardizedTable::make(theta, y, prior, fraction, options.seed, options.data_transform, "NRE");
  const Eigen::Index p = table.u_train.cols(), d = table.y_train.cols(), n = table.u_train.rows();
  const auto batch = std::min<Eigen::Index>(static_cast<Eigen::Index>(options.classifier.batch_size), n);
  if (batch <= atoms_needed) throw InputError("NRE: " + std::to_string(n) + " training rows are too few for " + std::to_string(atoms_needed) + " atoms");

  auto layout = detail::network_layout(p + d, 1, options.classifier);
  layout.spectral_norm = options.spectral_norm;
  auto member_seed = [&](std::uint64_t stream) { return member == 0 ? stream_seed(options.seed, stream) : stream_seed(options.seed, stream, member); };
  NreFit fit(nn::Mlp(layout, member_seed(1)));
  fit.standardization = table.standardization;
  nn::Mlp& classifier = fit.classifier;
  if (start_from) {
    try {
      classifier.copy_weights_from(*start_from);
    } catch (const std::invalid_argument&) {
      throw InputError("NRE: the classifier to continue from has another architecture than the options ask for");
    }
  }
  optim::Adam optimizer(classifier.parameters(), {.learning_rate = options.classifier.learning_rate});

  // Validation: blocks of at most 1000 rows with their rolled atoms, fixed for the whole run.
  const Eigen::Index nv = table.u_validation.rows();
  std::vector<AtomInputs> validation_blocks;
  for (Eigen::Index begin = 0; begin + atoms_needed < nv; begin += 1000) {
    const Eigen::Index rows = std::min<Eigen::Index>(1000, nv - begin);
    if (rows <= atoms_needed) break;
    validation_blocks.emplace_back();
    validation_blocks.back().build(table.u_validation.middleRows(begin, rows), table.y_validation.middleRows(begin, rows), atoms_needed);
  }
  if (validation_blocks.empty())
    throw InputError("NRE: " + std::to_string(nv) + " validation rows are too few for " + std::to_string(atoms_needed) +
                     " atoms; simulate more (or use fewer atoms or rounds)");

  Rng rng(member_seed(3));
  const Eigen::Index steps_per_epoch = std::max<Eigen::Index>(1, n / batch);
  std::vector<Eigen::Index> order;
  Eigen::Index position = 0;
  FMat u_batch, y_batch, ones, zeros;
  AtomInputs atoms;
  ad::Tape<float> tape;

  optim::TrainingLoop loop({.max_steps = static_cast<int>(std::min<Eigen::Index>(std::int64_t{1} << 30, steps_per_epoch * options.max_epochs)),
                            .min_steps = 0, .eval_every = static_cast<int>(steps_per_epoch), .patience = options.patience, .stage = "train nre"},
                           {"loss"});
  loop.track(classifier.parameters());
  optim::TrainingHooks hooks;
  hooks.step = [&](int, std::span<double> losses) {
    // Whole batches only (drop the remainder each epoch), so every atom comes from a full batch.
    if (position + batch > static_cast<Eigen::Index>(order.size())) {
      order = optim::permutation(n, rng);
      position = 0;
    }
    const std::span<const Eigen::Index> rows(order.data() + position, static_cast<std::size_t>(batch));
    position += batch;
    optim::gather_rows(table.u_train, rows, u_batch);
    optim::gather_rows(table.y_train, rows, y_batch);
    atoms.build(u_batch, y_batch, atoms_needed);
    classifier.train();
    auto scope = tape.scope();
    auto loss = nre_loss(classifier, atoms, options, tape, ones, zeros);
    if (options.gradient_penalty > 0)
      loss = loss + stability::gradient_penalty(tape, [&](ad::Var<float> x) { return classifier.forward(x); }, atoms.atom(0),
                                                {stability::GradientPenaltyMode::zero_centred, options.gradient_penalty, 1.0});
    optimizer.zero_grad();
    tape.backward(loss);
    if (options.clip_grad_norm > 0) optim::clip_grad_norm(classifier.parameters(), options.clip_grad_norm);
    optimizer.step();
    losses[0] = loss.item();
  };
  hooks.validate = [&] {
    classifier.eval();
    double total = 0;
    for (const auto& block : validation_blocks) {
      auto scope = tape.scope();
      total += nre_loss(classifier, block, options, tape, ones, zeros).item();
    }
    classifier.train();
    return total / static_cast<double>(validation_blocks.size());
  };
  hooks.status = [](const optim::TrainingRecord& r) {
    char text[64];
    std::snprintf(text, sizeof text, "loss %.4f val %.4f", r.losses[0], r.validation);
    return std::string(text);
  };
  // Checkpoints: the batch stream, the epoch's order and the optimiser's step count. Spectral
  // normalisation's power-iteration vectors are not saved, so with it the run does not checkpoint.
  if (!options.spectral_norm) {
    hooks.save_state = [&] {
      return nlohmann::json{{"rng", optim::rng_state_to_json(rng)}, {"order", order}, {"position", position}, {"adam_steps", optimizer.steps_taken()}};
    };
    hooks.restore_state = [&](const nlohmann::json& state) {
      optim::rng_state_from_json(state.at("rng"), rng);
      order = state.at("order").get<std::vector<Eigen::Index>>();
      position = state.at("position").get<Eigen::Index>();
      if (position < 0 || position > static_cast<Eigen::Index>(order.size())) throw InputError("training checkpoint: NRE batch position out of range");
      for (auto i : order)
        if (i < 0 || i >= n) throw InputError("training checkpoint: NRE batch order names a row outside the table");
      optimizer.set_steps_taken(state.at("adam_steps").get<long>());
    };
  }
  fit.training = loop.run(hooks, callbacks);
  optim::require_finite_validation(fit.training, "NRE", "classifier.learning_rate " + format_number(options.classifier.learning_rate) + "; try a smaller one");
  classifier.eval();
  if (options.scale_to_validation && !fit.training.interrupted) fit.logit_scale = validation_logit_scale(classifier, validation_blocks, options);
  return fit;
}

}  // namespace sbi
