#include "models/implicit_posterior.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/nn/serialize.hpp"

#include <cmath>

namespace sbi::models {

namespace fs = std::filesystem;

ImplicitPosterior::ImplicitPosterior(ImplicitGeneratorFit fit, PriorPtr prior, Names data_names, PosteriorInfo info, int refine_oversample)
    : PosteriorModelBase(std::move(prior), std::move(data_names), std::move(info)), generator_(std::move(fit.generator)),
      discriminator_(std::move(fit.discriminator)), standardization_(std::move(fit.standardization)), noise_dim_(fit.noise_dim),
      refine_oversample_(refine_oversample), curve_(std::move(fit.training.curve)) {
  if (static_cast<std::size_t>(standardization_.y_mean.size()) != data_names_.size())
    throw InputError("ImplicitPosterior: " + std::to_string(data_names_.size()) + " data names for " +
                     std::to_string(standardization_.y_mean.size()) + " data columns");
  if (refine_oversample_ < 0) throw InputError("ImplicitPosterior: refine_oversample must be ≥ 0");
  if (refine_oversample_ > 0 && !discriminator_) throw InputError("ImplicitPosterior: refinement needs the discriminator (method \"lfvi\")");
  info_.kind = kImplicitGeneratorKind;
  info_.has_log_prob = false;
  info_.log_prob_normalized = false;
  training_ = {{"best_step", fit.training.best_step},
               {"best_validation_mmd2", fit.training.best_validation},
               {"steps", curve_.records.empty() ? 0 : curve_.records.back().step},
               {"stopped_early", fit.training.stopped_early},
               {"interrupted", fit.training.interrupted},
               {"training_rows", fit.training_rows},
               {"validation_rows", fit.validation_rows}};
  generator_->eval();
  if (discriminator_) discriminator_->eval();
}

nlohmann::json ImplicitPosterior::diagnostics() const { return training_; }

void ImplicitPosterior::replace_info(PosteriorInfo info) {
  if (!info.amortized && !info.observation) throw InputError("ImplicitPosterior: a posterior for one observation needs that observation");
  info.kind = info_.kind;
  info.has_log_prob = info_.has_log_prob;
  info.log_prob_normalized = info_.log_prob_normalized;
  info_ = std::move(info);
}

ad::Matrix<float> ImplicitPosterior::generate(const ad::Matrix<float>& y_tilde, Eigen::Index n, Rng& rng) const {
  const Eigen::Index d = y_tilde.cols(), k = noise_dim_;
  ad::Matrix<float> out(n, static_cast<Eigen::Index>(prior_->dim()));
  constexpr Eigen::Index kChunk = 4096;  // bounds memory for large n
  ad::Matrix<float> input;
  for (Eigen::Index begin = 0; begin < n; begin += kChunk) {
    const Eigen::Index rows = std::min(kChunk, n - begin);
    input.resize(rows, d + k);
    input.leftCols(d) = y_tilde.replicate(rows, 1);
    for (Eigen::Index c = 0; c < k; ++c)
      for (Eigen::Index r = 0; r < rows; ++r) input(r, d + c) = static_cast<float>(rng.normal());
    out.middleRows(begin, rows) = generator_->evaluate(input);
  }
  return out;
}

RowMatrix ImplicitPosterior::sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const {
  return sample(observation, n, seed, -1, nullptr);
}

RowMatrix ImplicitPosterior::sample(const Vector& observation, Eigen::Index n, std::uint64_t seed, int refine, SamplingReport* report) const {
  if (n < 1) throw InputError("sample: the number of samples must be positive");
  check_observation(observation, data_names_);
  if (!info_.amortized && info_.observation && observation != *info_.observation)
    throw InputError("this posterior was made by " + info_.method + " for one observation only, and the observation given differs from it; " +
                     "its rounds spent their simulations near that observation, so run " + info_.method + " again for another one");
  const ad::Matrix<float> y_tilde = standardization_.standardize_data(observation, data_names_).cast<float>().transpose();
  const int oversample = refine < 0 ? refine_oversample_ : refine;
  if (oversample > 0 && !discriminator_) throw InputError("sample: refinement needs the discriminator (method \"lfvi\")");
  Rng rng(stream_seed(seed, 0, 0x5a3b1e));
  const Eigen::Index candidates = oversample > 0 ? n * oversample : n;
  const ad::Matrix<float> u_tilde = generate(y_tilde, candidates, rng);

  std::vector<Eigen::Index> chosen(static_cast<std::size_t>(n));
  double ess = static_cast<double>(n);
  if (oversample > 0) {
    // Importance resampling: p(θ|y)/q(θ|y) ≈ exp(r(θ, y)).
    ad::Matrix<float> joint(candidates, u_tilde.cols() + y_tilde.cols());
    joint.leftCols(u_tilde.cols()) = u_tilde;
    joint.rightCols(y_tilde.cols()) = y_tilde.replicate(candidates, 1);
    Vector log_w(candidates);
    constexpr Eigen::Index kChunk = 4096;
    for (Eigen::Index begin = 0; begin < candidates; begin += kChunk) {
      const Eigen::Index rows = std::min(kChunk, candidates - begin);
      log_w.segment(begin, rows) = discriminator_->evaluate(joint.middleRows(begin, rows)).col(0).cast<double>();
    }
    const double max_log = log_w.maxCoeff();
    Vector w = (log_w.array() - max_log).exp();
    w /= w.sum();
    ess = 1.0 / w.squaredNorm();
    // Systematic resampling: one uniform offset, n evenly spaced points through the cumulative weights.
    const double step = 1.0 / static_cast<double>(n);
    double position = rng.uniform() * step, cumulative = w[0];
    Eigen::Index j = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
      while (cumulative < position && j + 1 < candidates) cumulative += w[++j];
      chosen[static_cast<std::size_t>(i)] = j;
      position += step;
    }
    // Resampled draws come out grouped by candidate; shuffle so that any prefix is a fair sample.
    for (Eigen::Index i = n - 1; i > 0; --i)
      std::swap(chosen[static_cast<std::size_t>(i)], chosen[rng.below(static_cast<std::uint64_t>(i + 1))]);
  } else {
    for (Eigen::Index i = 0; i < n; ++i) chosen[static_cast<std::size_t>(i)] = i;
  }
  if (report) {
    report->candidates = static_cast<std::size_t>(candidates);
    report->effective_sample_size = ess;
  }
  const auto transforms = prior_->transforms();
  RowMatrix theta(n, u_tilde.cols());
  for (Eigen::Index i = 0; i < n; ++i) {
    const Eigen::Index source = chosen[static_cast<std::size_t>(i)];
    for (Eigen::Index c = 0; c < u_tilde.cols(); ++c) {
      const double u = standardization_.u_mean[c] + standardization_.u_sd[c] * static_cast<double>(u_tilde(source, c));
      theta(i, c) = transforms[static_cast<std::size_t>(c)].to_constrained(u);
    }
  }
  return theta;
}

nlohmann::json ImplicitPosterior::save_state(const fs::path& folder, std::vector<std::string>& files) const {
  write_atomically_with(folder / "generator.sbinn", [&](const fs::path& tmp) { nn::save(*generator_, tmp); });
  files.push_back("generator.sbinn");
  if (discriminator_) {
    write_atomically_with(folder / "discriminator.sbinn", [&](const fs::path& tmp) { nn::save(*discriminator_, tmp); });
    files.push_back("discriminator.sbinn");
  } else {
    fs::remove(folder / "discriminator.sbinn");
  }
  write_csv(folder / "training_curve.csv", curve_.columns(), curve_.to_matrix());
  files.push_back("training_curve.csv");
  return {{"standardization", standardization_.to_json()}, {"noise_dim", noise_dim_}, {"refine_oversample", refine_oversample_},
          {"training", training_}};
}

std::shared_ptr<const ImplicitPosterior> ImplicitPosterior::load(const SavedPosterior& saved) {
  const auto json_file = saved.file("posterior.json").string();
  auto posterior = std::shared_ptr<ImplicitPosterior>(new ImplicitPosterior());
  try {
    const nlohmann::json& state = saved.state();
    posterior->prior_ = saved.prior;
    posterior->data_names_ = saved.data_names;
    posterior->info_ = saved.info;
    posterior->standardization_ = Standardization::from_json(state.at("standardization"));
    if (saved.format_version >= 2) {
      posterior->noise_dim_ = state.at("noise_dim").get<int>();
      posterior->refine_oversample_ = state.value("refine_oversample", 0);
      posterior->training_ = state.value("training", nlohmann::json::object());
    } else {
      // Version 1 kept the method's options at the top level; the noise dimension and refinement are read from them.
      const auto& options = saved.document.at("options");
      const int noise = options.value("noise_dim", 0);
      posterior->noise_dim_ = noise > 0 ? noise : static_cast<int>(std::max<std::size_t>(2, saved.prior->dim()));
      posterior->refine_oversample_ = options.value("refine_oversample", 0);
      posterior->info_.method = options.value("method", posterior->info_.method);
    }
  } catch (const nlohmann::json::exception& e) {
    throw FileError(json_file + ": incomplete or corrupted implicit-generator state (" + e.what() + ")");
  } catch (const InputError& e) {
    throw FileError(json_file + ": " + e.what());
  }
  posterior->generator_.emplace(nn::load_mlp<float>(saved.file("generator.sbinn")));
  posterior->generator_->eval();
  if (fs::exists(saved.file("discriminator.sbinn"))) {
    posterior->discriminator_.emplace(nn::load_mlp<float>(saved.file("discriminator.sbinn")));
    posterior->discriminator_->eval();
  }
  if (fs::exists(saved.file("training_curve.csv"))) {
    try {
      const auto table = read_csv(saved.file("training_curve.csv"));
      if (saved.format_version >= 2) {
        posterior->curve_ = optim::TrainingCurve::from_table(table.header, table.values);
      } else if (table.values.cols() == 5) {
        // Version 1: iteration, discriminator_loss, generator_loss, validation_mmd2, seconds.
        posterior->curve_ = optim::TrainingCurve::from_table({"step", "discriminator", "generator", "validation", "seconds"}, table.values);
      }
    } catch (const InputError& e) {
      throw FileError(saved.file("training_curve.csv").string() + ": " + e.what());
    }
  }
  const auto p = static_cast<Eigen::Index>(saved.prior->dim());
  const auto d = static_cast<Eigen::Index>(saved.data_names.size());
  const auto& widths = posterior->generator_->options().widths;
  const auto& st = posterior->standardization_;
  if (st.u_sd.size() != st.u_mean.size() || st.y_sd.size() != st.y_mean.size() || st.y_log.size() > static_cast<std::size_t>(d))
    throw FileError(saved.file("posterior.json").string() + ": the standardisation's entries do not pair up (damaged?)");
  if (widths.back() != p || posterior->standardization_.u_mean.size() != p)
    throw FileError(saved.folder.string() + ": the generator and the prior disagree on the number of parameters");
  if (widths.front() != d + posterior->noise_dim_ || posterior->standardization_.y_mean.size() != d)
    throw FileError(saved.folder.string() + ": the generator's inputs do not match the data names and noise dimension");
  if (posterior->discriminator_ && posterior->discriminator_->options().widths.front() != p + d)
    throw FileError(saved.file("discriminator.sbinn").string() + ": its inputs do not match the parameters and data");
  if (posterior->refine_oversample_ > 0 && !posterior->discriminator_)
    throw FileError(saved.folder.string() + ": refinement is on but discriminator.sbinn is missing");
  posterior->info_.kind = kImplicitGeneratorKind;
  posterior->info_.has_log_prob = false;
  posterior->info_.log_prob_normalized = false;
  return posterior;
}

}  // namespace sbi::models
