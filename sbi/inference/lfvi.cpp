#include "sbi/inference/lfvi.hpp"

#include "sbi/core/error.hpp"
#include "sbi/nn/losses.hpp"
#include "sbi/optim/adam.hpp"
#include "sbi/optim/training.hpp"
#include "sbi/simulation/simulator.hpp"
#include "sbi/inference/method.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/stability/estimators.hpp"

#include <cstdio>
#include <cmath>
#include <limits>

namespace sbi {

using FMat = ad::Matrix<float>;

// ---------------------------------------------------------------------------------------------
// Options

namespace {

const char* to_string(LfviOptions::GeneratorLoss loss) { return loss == LfviOptions::GeneratorLoss::kl ? "kl" : "non_saturating"; }
const char* to_string(LfviOptions::PenaltyPoints p) {
  switch (p) {
    case LfviOptions::PenaltyPoints::real: return "real";
    case LfviOptions::PenaltyPoints::fake: return "fake";
    case LfviOptions::PenaltyPoints::interpolated: return "interpolated";
  }
  return "real";
}

}  // namespace

bool LfviOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (!GeneratorOptions::is_valid(why)) return false;
  std::string inner;
  if (!discriminator.is_valid(&inner)) return fail("discriminator." + inner);
  if (discriminator_steps < 1) return fail("discriminator_steps: must be at least 1");
  if (!(spectral_bound > 0)) return fail("spectral_bound: must be positive");
  if (!(gradient_penalty >= 0)) return fail("gradient_penalty: must be ≥ 0");
  if (!(weight_decay >= 0)) return fail("weight_decay: must be ≥ 0");
  if (penalty_every < 1) return fail("penalty_every: must be at least 1");
  if (!(gradient_penalty_target > 0)) return fail("gradient_penalty_target: must be positive");
  if (!(rkhs_beta2 >= 0)) return fail("rkhs_beta2: must be ≥ 0");
  if (rkhs_support < 2) return fail("rkhs_support: must be at least 2");
  if (!(generator_learning_rate_gamma0_multiple >= 0)) return fail("generator_learning_rate_gamma0_multiple: must be ≥ 0");
  if (generator_learning_rate_gamma0_multiple > 0 && !spectral_norm &&
      !(gradient_penalty > 0 && gradient_penalty_mode != stability::GradientPenaltyMode::zero_centred))
    return fail("generator_learning_rate_gamma0_multiple: γ0 needs a Lipschitz bound α (spectral_norm, or a two_sided/one_sided gradient penalty)");
  if (refine_oversample < 0) return fail("refine_oversample: must be ≥ 0");
  return true;
}

nlohmann::json LfviOptions::to_json() const {
  nlohmann::json j = {{"generator_loss", to_string(generator_loss)},
                      {"discriminator", discriminator.to_json()},
                      {"discriminator_steps", discriminator_steps},
                      {"spectral_norm", spectral_norm},
                      {"spectral_bound", spectral_bound},
                      {"gradient_penalty", gradient_penalty},
                      {"penalty_points", to_string(penalty_points)},
                      {"penalty_every", penalty_every},
                      {"weight_decay", weight_decay},
                      {"gradient_penalty_mode", stability::to_string(gradient_penalty_mode)},
                      {"gradient_penalty_target", gradient_penalty_target},
                      {"rkhs_beta2", rkhs_beta2},
                      {"rkhs_support", rkhs_support},
                      {"generator_learning_rate_gamma0_multiple", generator_learning_rate_gamma0_multiple},
                      {"refine_oversample", refine_oversample}};
  write(j);
  return j;
}

LfviOptions LfviOptions::from_json(const nlohmann::json& section, const std::string& path) {
  LfviOptions o;
  JsonObjectReader r(section, path);
  for (const auto& key : run_level_inference_keys()) r.get(key);
  o.read(r);
  o.generator_loss = r.optional_string("generator_loss", "kl", {"kl", "non_saturating"}) == "kl" ? GeneratorLoss::kl
                                                                                                    : GeneratorLoss::non_saturating;
  if (const auto* d = r.get("discriminator")) o.discriminator.read(*d, r.child_path("discriminator"));
  o.discriminator_steps = static_cast<int>(r.optional_integer("discriminator_steps", o.discriminator_steps, 1, 100));
  o.spectral_norm = r.optional_bool("spectral_norm", o.spectral_norm);
  o.spectral_bound = r.optional_positive_number("spectral_bound", o.spectral_bound);
  o.gradient_penalty = r.optional_number_in("gradient_penalty", o.gradient_penalty, 0.0, 1e6);
  const std::string points = r.optional_string("penalty_points", "real", {"real", "fake", "interpolated"});
  o.penalty_points = points == "real" ? PenaltyPoints::real : points == "fake" ? PenaltyPoints::fake : PenaltyPoints::interpolated;
  o.penalty_every = static_cast<int>(r.optional_integer("penalty_every", o.penalty_every, 1, 1000));
  o.weight_decay = r.optional_number_in("weight_decay", o.weight_decay, 0.0, 1.0);
  o.gradient_penalty_mode = stability::gradient_penalty_mode_from_string(
      r.optional_string("gradient_penalty_mode", "zero_centred", {"zero_centred", "two_sided", "one_sided"}));
  o.gradient_penalty_target = r.optional_positive_number("gradient_penalty_target", o.gradient_penalty_target);
  o.rkhs_beta2 = r.optional_number_in("rkhs_beta2", o.rkhs_beta2, 0.0, 1e12);
  o.rkhs_support = static_cast<int>(r.optional_integer("rkhs_support", o.rkhs_support, 2, 4096));
  o.generator_learning_rate_gamma0_multiple =
      r.optional_number_in("generator_learning_rate_gamma0_multiple", o.generator_learning_rate_gamma0_multiple, 0.0, 1e12);
  o.refine_oversample = static_cast<int>(r.optional_integer("refine_oversample", o.refine_oversample, 0, 1000));
  r.finish(o);
  return o;
}

double lfvi_gamma0(const LfviOptions& options) {
  double alpha = 0;
  if (options.spectral_norm)
    alpha = std::pow(options.spectral_bound, static_cast<double>(options.discriminator.hidden.size() + 1));
  else if (options.gradient_penalty > 0 && options.gradient_penalty_mode != stability::GradientPenaltyMode::zero_centred)
    alpha = options.gradient_penalty_target;
  else
    throw InputError("LFVI: γ0 needs a Lipschitz bound α on the discriminator (spectral_norm, or a two_sided/one_sided gradient penalty)");
  return stability::learnable_points_step_size(alpha, options.rkhs_beta2);
}

double effective_generator_learning_rate(const LfviOptions& options) {
  return options.generator_learning_rate_gamma0_multiple > 0 ? options.generator_learning_rate_gamma0_multiple * lfvi_gamma0(options)
                                                               : options.generator.learning_rate;
}

// ---------------------------------------------------------------------------------------------
// Training

namespace {

// One discriminator update on a fresh minibatch: real pairs (u, y) against generated (f(y, z), y),
// with the configured penalties. Returns the loss.
class DiscriminatorStep {
 public:
  DiscriminatorStep(const LfviOptions& options, nn::Mlp& discriminator)
      : options_(options), discriminator_(discriminator),
        optimizer_(discriminator.parameters(), optim::AdamOptions{.learning_rate = options.discriminator.learning_rate, .beta1 = 0.5,
                                                                  .weight_decay = options.weight_decay, .decoupled_weight_decay = true}) {}

  double run(detail::GeneratorTrainingData& data, nn::Mlp& generator, ad::Tape<float>& tape) {
    data.draw_batch(options_.discriminator.batch_size);
    fake_ = generator.predict(data.generator_input());
    concat(data.u_batch(), data.y_batch(), real_joint_);
    concat(fake_, data.y_batch(), fake_joint_);
    const Eigen::Index b = real_joint_.rows();
    ones_.setOnes(b, 1);
    zeros_.setZero(b, 1);
    auto scope = tape.scope();
    auto loss = nn::bce_with_logits(discriminator_.forward(tape.constant(real_joint_)), ones_) +
                nn::bce_with_logits(discriminator_.forward(tape.constant(fake_joint_)), zeros_);
    if (options_.gradient_penalty > 0 && ++steps_ % options_.penalty_every == 0) loss = loss + gradient_penalty(tape, data.rng());
    if (options_.rkhs_beta2 > 0) loss = loss + rkhs_penalty(tape);
    optimizer_.zero_grad();
    tape.backward(loss);
    optimizer_.step();
    return loss.item();
  }

 private:
  static void concat(const FMat& a, const FMat& b, FMat& out) {
    out.resize(a.rows(), a.cols() + b.cols());
    out.leftCols(a.cols()) = a;
    out.rightCols(b.cols()) = b;
  }

  ad::Var<float> gradient_penalty(ad::Tape<float>& tape, Rng& rng) {
    FMat points;
    if (options_.penalty_points == LfviOptions::PenaltyPoints::real) {
      points = real_joint_;
    } else if (options_.penalty_points == LfviOptions::PenaltyPoints::fake) {
      points = fake_joint_;
    } else {
      const Eigen::Index b = real_joint_.rows();
      epsilon_.resize(b, 1);
      for (Eigen::Index r = 0; r < b; ++r) epsilon_(r, 0) = static_cast<float>(rng.uniform());
      points = (real_joint_.array().colwise() * epsilon_.col(0).array() + fake_joint_.array().colwise() * (1.0f - epsilon_.col(0).array())).matrix();
    }
    return stability::gradient_penalty(tape, [&](ad::Var<float> x) { return discriminator_.forward(x); }, points,
                                       {options_.gradient_penalty_mode, options_.gradient_penalty * options_.penalty_every,
                                        options_.gradient_penalty_target});
  }

  // (1/(2β2))·‖r‖²_H on a support set of real and generated rows (sbi/stability/regularizers.hpp).
  ad::Var<float> rkhs_penalty(ad::Tape<float>& tape) {
    const Eigen::Index m = std::min<Eigen::Index>(options_.rkhs_support / 2, real_joint_.rows());
    RowMatrix support(2 * m, real_joint_.cols());
    support.topRows(m) = real_joint_.topRows(m).cast<double>();
    support.bottomRows(m) = fake_joint_.topRows(m).cast<double>();
    const FMat precision = stability::rkhs_support_precision(support).cast<float>();
    auto values = discriminator_.forward(tape.constant(support.cast<float>()));
    return stability::rkhs_penalty(values, precision) * static_cast<float>(1.0 / (2.0 * options_.rkhs_beta2));
  }

  const LfviOptions& options_;
  nn::Mlp& discriminator_;
  optim::Adam optimizer_;
  long steps_ = 0;
  FMat fake_, real_joint_, fake_joint_, ones_, zeros_, epsilon_;
};

}  // namespace

ImplicitGeneratorFit train_lfvi(const RowMatrix& theta, const RowMatrix& y, const Prior& prior, const LfviOptions& options,
                                const TrainingCallbacks& callbacks, const ImplicitGeneratorFit* start) {
  if (std::string why; !options.is_valid(&why)) throw InputError("LFVI options: " + why);
  detail::GeneratorTrainingData data(theta, y, prior, options, "LFVI");
  const Eigen::Index p = data.parameters(), d = data.data_columns();
  ImplicitGeneratorFit fit = detail::new_generator_fit(data, options);
  auto discriminator_layout = detail::network_layout(p + d, 1, options.discriminator);
  discriminator_layout.spectral_norm = options.spectral_norm;
  discriminator_layout.spectral.bound = options.spectral_bound;
  fit.discriminator.emplace(discriminator_layout, stream_seed(options.seed, 2));
  nn::Mlp& generator = fit.generator;
  nn::Mlp& discriminator = *fit.discriminator;
  if (start) {
    if (!start->discriminator || start->noise_dim != fit.noise_dim || start->generator.options().widths != generator.options().widths ||
        start->discriminator->options().widths != discriminator.options().widths)
      throw InputError("LFVI: the fit to continue from has other networks than these options and data give");
    generator.copy_weights_from(start->generator);
    discriminator.copy_weights_from(*start->discriminator);
  }

  optim::Adam generator_optimizer(generator.parameters(), {.learning_rate = effective_generator_learning_rate(options), .beta1 = 0.5});
  DiscriminatorStep discriminator_step(options, discriminator);
  detail::WeightAverage average(generator.parameters(), options.generator_ema);
  ad::Tape<float> tape;

  detail::GeneratorLoop training(options, "train lfvi", {"discriminator", "generator"}, data, generator, average, tape);
  // The discriminator that goes with the best generator is kept too (for sampling refinement).
  training.loop.track(discriminator.parameters());
  training.hooks.step = [&](int, std::span<double> losses) {
    discriminator.train();
    for (int s = 0; s < options.discriminator_steps; ++s) losses[0] += discriminator_step.run(data, generator, tape) / options.discriminator_steps;
    data.draw_batch(options.generator.batch_size);
    auto scope = tape.scope();
    discriminator.eval();
    auto generated = generator.forward(tape.constant(data.generator_input()));
    auto ratio = discriminator.forward(ad::concat_cols(generated, tape.constant(data.y_batch())));
    auto loss = options.generator_loss == LfviOptions::GeneratorLoss::kl ? -ad::mean(ratio) : ad::mean(ad::softplus(-ratio));
    generator_optimizer.zero_grad();
    tape.backward(loss);
    generator_optimizer.step();
    average.update();
    losses[1] = loss.item();
  };
  training.hooks.status = [](const optim::TrainingRecord& r) {
    char text[96];
    std::snprintf(text, sizeof text, "D %.3f G %.3f val-MMD² %.4g", r.losses[0], r.losses[1], r.validation);
    return std::string(text);
  };
  fit.training = training.loop.run(training.hooks, callbacks);
  optim::require_finite_validation(fit.training, "LFVI", "generator.learning_rate " + format_number(options.generator.learning_rate) +
                                                             ", discriminator.learning_rate " + format_number(options.discriminator.learning_rate) +
                                                             "; try smaller ones");
  discriminator.eval();
  return fit;
}

}  // namespace sbi
