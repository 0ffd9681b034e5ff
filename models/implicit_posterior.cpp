#include "models/implicit_posterior.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/nn/serialize.hpp"

#include <cmath>
#include <fstream>

namespace sbi::models {

namespace fs = std::filesystem;

nlohmann::json Provenance::to_json() const {
  return {{"method", method},         {"simulator", simulator}, {"simulator_options", simulator_options},
          {"spec", spec},             {"seed", seed},           {"simulations", simulations},
          {"table", table},           {"training_seconds", training_seconds},
          {"simulation_seconds", simulation_seconds}, {"created", created}, {"sbi_version", sbi_version}};
}

Provenance Provenance::from_json(const nlohmann::json& j) {
  Provenance p;
  p.method = j.value("method", "");
  p.simulator = j.value("simulator", "");
  p.simulator_options = j.value("simulator_options", nlohmann::json::object());
  p.spec = j.value("spec", nlohmann::json());
  p.seed = j.value("seed", std::uint64_t{0});
  p.simulations = j.value("simulations", std::size_t{0});
  p.table = j.value("table", "");
  p.training_seconds = j.value("training_seconds", 0.0);
  p.simulation_seconds = j.value("simulation_seconds", 0.0);
  p.created = j.value("created", "");
  p.sbi_version = j.value("sbi_version", "");
  return p;
}

ImplicitPosterior::ImplicitPosterior(LfviFit fit, PriorPtr prior, Names data_names, LfviOptions options, Provenance provenance)
    : generator_(std::move(fit.generator)), discriminator_(std::move(fit.discriminator)),
      standardization_(std::move(fit.standardization)), prior_(std::move(prior)), data_names_(std::move(data_names)),
      options_(std::move(options)), provenance_(std::move(provenance)), curve_(std::move(fit.curve)) {
  if (!prior_) throw InputError("ImplicitPosterior: no prior");
  if (static_cast<std::size_t>(standardization_.y_mean.size()) != data_names_.size())
    throw InputError("ImplicitPosterior: " + std::to_string(data_names_.size()) + " data names for " +
                     std::to_string(standardization_.y_mean.size()) + " data columns");
  generator_->eval();
  if (discriminator_) discriminator_->eval();
}

ad::Matrix<float> ImplicitPosterior::standardised_observation(const Vector& observation) const {
  if (observation.size() != standardization_.y_mean.size())
    throw InputError("observation has " + std::to_string(observation.size()) + " values; the posterior was trained on data with " +
                     std::to_string(standardization_.y_mean.size()));
  if (!observation.allFinite()) throw InputError("observation has non-finite values");
  for (std::size_t c = 0; c < standardization_.y_log.size(); ++c)
    if (standardization_.y_log[c] && !(observation[static_cast<Eigen::Index>(c)] > 0))
      throw InputError("observation: " + data_names_[c] + " = " + std::to_string(observation[static_cast<Eigen::Index>(c)]) +
                       " is not positive, but the posterior was trained on the log of this column (data_transform)");
  return standardization_.standardize_data(observation).cast<float>().transpose();
}

ad::Matrix<float> ImplicitPosterior::generate(const ad::Matrix<float>& y_tilde, Eigen::Index n, Rng& rng) {
  const int k = effective_noise_dim(options_, static_cast<Eigen::Index>(prior_->dim()));
  const Eigen::Index d = y_tilde.cols();
  ad::Matrix<float> out(n, static_cast<Eigen::Index>(prior_->dim()));
  constexpr Eigen::Index kChunk = 4096;  // bounds memory for large n
  ad::Matrix<float> input;
  for (Eigen::Index begin = 0; begin < n; begin += kChunk) {
    const Eigen::Index rows = std::min(kChunk, n - begin);
    input.resize(rows, d + k);
    input.leftCols(d) = y_tilde.replicate(rows, 1);
    for (Eigen::Index c = 0; c < k; ++c)
      for (Eigen::Index r = 0; r < rows; ++r) input(r, d + c) = static_cast<float>(rng.normal());
    out.middleRows(begin, rows) = generator_->predict(input);
  }
  return out;
}

RowMatrix ImplicitPosterior::sample(const Vector& observation, Eigen::Index n, std::uint64_t seed, int refine,
                                    SamplingReport* report) {
  if (n < 1) throw InputError("sample: the number of samples must be positive");
  const auto y_tilde = standardised_observation(observation);
  const int oversample = refine < 0 ? options_.refine_oversample : refine;
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
      log_w.segment(begin, rows) = discriminator_->predict(joint.middleRows(begin, rows)).col(0).cast<double>();
    }
    const double max_log = log_w.maxCoeff();
    Vector w = (log_w.array() - max_log).exp();
    const double total = w.sum();
    w /= total;
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

namespace {
template <class Network>
void save_network_atomically(const Network& network, const fs::path& path) {
  const auto tmp = temporary_path_for(path);
  nn::save(network, tmp);
  fs::rename(tmp, path);
}
}  // namespace

void ImplicitPosterior::save(const fs::path& folder) const {
  fs::create_directories(folder);
  save_network_atomically(*generator_, folder / "generator.sbinn");
  if (discriminator_) save_network_atomically(*discriminator_, folder / "discriminator.sbinn");
  else fs::remove(folder / "discriminator.sbinn");
  RowMatrix curve(static_cast<Eigen::Index>(curve_.size()), 5);
  for (std::size_t i = 0; i < curve_.size(); ++i) {
    const auto& r = curve_[i];
    curve.row(static_cast<Eigen::Index>(i)) << r.iteration, r.discriminator_loss, r.generator_loss, r.validation_mmd2, r.seconds;
  }
  write_csv(folder / "training_curve.csv", {"iteration", "discriminator_loss", "generator_loss", "validation_mmd2", "seconds"}, curve);
  const nlohmann::json document = {{"format", "sbi-posterior"},
                                   {"format_version", kPosteriorFormatVersion},
                                   {"kind", "implicit_generator"},
                                   {"parameter_names", prior_->names()},
                                   {"data_names", data_names_},
                                   {"prior", prior_->to_json()},
                                   {"standardization", standardization_.to_json()},
                                   {"options", options_.to_json()},
                                   {"provenance", provenance_.to_json()}};
  write_file_atomically(folder / "posterior.json", document.dump(2) + "\n");
}

ImplicitPosterior ImplicitPosterior::load(const fs::path& folder) {
  const auto json_path = folder / "posterior.json";
  std::ifstream in(json_path);
  if (!in) throw FileError(folder.string() + ": not a saved posterior (no posterior.json)");
  const nlohmann::json document = nlohmann::json::parse(in, nullptr, false);
  if (document.is_discarded()) throw FileError(json_path.string() + ": corrupted (not valid JSON)");
  try {
    if (document.at("format").get<std::string>() != "sbi-posterior") throw FileError(json_path.string() + ": not an sbi++ posterior");
    const int version = document.at("format_version").get<int>();
    if (version > kPosteriorFormatVersion)
      throw FileError(json_path.string() + ": posterior format version " + std::to_string(version) + " is newer than this sbi++ reads (" +
                      std::to_string(kPosteriorFormatVersion) + "); upgrade sbi++");
    ImplicitPosterior posterior;
    posterior.prior_ = prior_from_json(document.at("prior"), "prior");
    posterior.data_names_ = document.at("data_names").get<Names>();
    posterior.standardization_ = Standardization::from_json(document.at("standardization"));
    posterior.options_ = LfviOptions::from_json(document.at("options"), "options");
    posterior.provenance_ = Provenance::from_json(document.at("provenance"));
    posterior.generator_.emplace(nn::load_mlp<float>(folder / "generator.sbinn"));
    posterior.generator_->eval();
    if (fs::exists(folder / "discriminator.sbinn")) {
      posterior.discriminator_.emplace(nn::load_mlp<float>(folder / "discriminator.sbinn"));
      posterior.discriminator_->eval();
    }
    if (fs::exists(folder / "training_curve.csv")) {
      const auto curve = read_csv(folder / "training_curve.csv");
      for (Eigen::Index r = 0; r < curve.values.rows(); ++r)
        posterior.curve_.push_back({static_cast<int>(curve.values(r, 0)), curve.values(r, 1), curve.values(r, 2), curve.values(r, 3), curve.values(r, 4)});
    }
    const auto p = static_cast<Eigen::Index>(posterior.prior_->dim());
    if (posterior.generator_->options().widths.back() != p || posterior.standardization_.u_mean.size() != p)
      throw FileError(folder.string() + ": the generator and the prior disagree on the number of parameters");
    return posterior;
  } catch (const nlohmann::json::exception& e) {
    throw FileError(json_path.string() + ": incomplete or corrupted (" + e.what() + ")");
  } catch (const InputError& e) {
    throw FileError(json_path.string() + ": " + e.what());
  }
}

}  // namespace sbi::models
