#include "sbi/inference/mmd.hpp"

#include "sbi/core/error.hpp"
#include "sbi/inference/method.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/nn/losses.hpp"
#include "sbi/optim/adam.hpp"

#include <cstdio>

namespace sbi {

nlohmann::json MmdGeneratorOptions::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  write(j);
  return j;
}

MmdGeneratorOptions MmdGeneratorOptions::from_json(const nlohmann::json& section, const std::string& path) {
  MmdGeneratorOptions o;
  JsonObjectReader r(section, path);
  for (const auto& key : run_level_inference_keys()) r.get(key);
  o.read(r);
  r.reject_unknown_keys();
  return o;
}

ImplicitGeneratorFit train_mmd_generator(const RowMatrix& theta, const RowMatrix& y, const Prior& prior, const MmdGeneratorOptions& options,
                               const TrainingCallbacks& callbacks) {
  if (std::string why; !options.is_valid(&why)) throw InputError("MMD generator options: " + why);
  detail::GeneratorTrainingData data(theta, y, prior, options, "MMD generator");
  const Eigen::Index p = data.parameters(), d = data.data_columns();
  ImplicitGeneratorFit fit = detail::new_generator_fit(data, options);
  nn::Mlp& generator = fit.generator;
  optim::Adam optimizer(generator.parameters(), {.learning_rate = options.generator.learning_rate, .beta1 = 0.5});
  detail::WeightAverage average(generator.parameters(), options.generator_ema);
  ad::Tape<float> tape;
  ad::Matrix<float> real_joint;

  detail::GeneratorLoop training(options, "train mmd", {"mmd2"}, data, generator, average, tape);
  training.hooks.step = [&](int, std::span<double> losses) {
    data.draw_batch(options.generator.batch_size);
    auto scope = tape.scope();
    auto generated = generator.forward(tape.constant(data.generator_input()));
    real_joint.resize(data.y_batch().rows(), d + p);
    real_joint.leftCols(d) = data.y_batch();
    real_joint.rightCols(p) = data.u_batch();
    auto loss = nn::mmd2(ad::concat_cols(tape.constant(data.y_batch()), generated), tape.constant(real_joint), data.bandwidths());
    optimizer.zero_grad();
    tape.backward(loss);
    optimizer.step();
    average.update();
    losses[0] = loss.item();
  };
  training.hooks.status = [](const optim::TrainingRecord& r) {
    char text[64];
    std::snprintf(text, sizeof text, "MMD² %.4g val-MMD² %.4g", r.losses[0], r.validation);
    return std::string(text);
  };
  fit.training = training.loop.run(training.hooks, callbacks);
  optim::require_finite_validation(fit.training, "MMD generator", "generator.learning_rate " + format_number(options.generator.learning_rate) + "; try a smaller one");
  return fit;
}

}  // namespace sbi
