#include "sbi/stability/point_gan.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/nn/mlp.hpp"
#include "sbi/optim/adam.hpp"
#include "sbi/parallel/parallel_for.hpp"
#include "sbi/stability/estimators.hpp"
#include "sbi/stability/regularizers.hpp"
#include "sbi/stability/transport.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <filesystem>
#include <mutex>
#include <span>

namespace sbi::stability {

namespace {

using FMat = ad::Matrix<float>;

class MixtureTarget final : public PointTarget {
 public:
  MixtureTarget(std::string name, RowMatrix means, double sd) : name_(std::move(name)), means_(std::move(means)), sd_(sd) {}
  std::string name() const override { return name_; }
  Eigen::Index dim() const override { return means_.cols(); }
  RowMatrix sample(Rng& rng, Eigen::Index n) const override {
    RowMatrix x(n, dim());
    for (Eigen::Index r = 0; r < n; ++r) {
      const auto c = std::min<Eigen::Index>(means_.rows() - 1, static_cast<Eigen::Index>(rng.uniform() * static_cast<double>(means_.rows())));
      for (Eigen::Index j = 0; j < dim(); ++j) x(r, j) = means_(c, j) + sd_ * rng.normal();
    }
    return x;
  }

 private:
  std::string name_;
  RowMatrix means_;
  double sd_;
};

class DatasetTarget final : public PointTarget {
 public:
  DatasetTarget(std::string name, RowMatrix data) : name_(std::move(name)), data_(std::move(data)) {}
  std::string name() const override { return name_; }
  Eigen::Index dim() const override { return data_.cols(); }
  RowMatrix sample(Rng& rng, Eigen::Index n) const override {
    RowMatrix x(n, dim());
    for (Eigen::Index r = 0; r < n; ++r)
      x.row(r) = data_.row(std::min<Eigen::Index>(data_.rows() - 1, static_cast<Eigen::Index>(rng.uniform() * static_cast<double>(data_.rows()))));
    return x;
  }

 private:
  std::string name_;
  RowMatrix data_;
};

// Unbiased MMD² with k(x, y) = exp(−‖x − y‖²/(2σ²)), single-threaded (sweep jobs run in parallel).
double mmd2_fixed(const RowMatrix& x, const RowMatrix& y, double bandwidth) {
  auto kernel_sum = [&](const RowMatrix& a, const RowMatrix& b, bool same) {
    double total = 0;
    for (Eigen::Index i = 0; i < a.rows(); ++i)
      for (Eigen::Index j = same ? i + 1 : 0; j < b.rows(); ++j)
        total += std::exp(-(a.row(i) - b.row(j)).squaredNorm() / (2 * bandwidth * bandwidth));
    return total;
  };
  const auto n = static_cast<double>(x.rows()), m = static_cast<double>(y.rows());
  return 2 * kernel_sum(x, x, true) / (n * (n - 1)) + 2 * kernel_sum(y, y, true) / (m * (m - 1)) - 2 * kernel_sum(x, y, false) / (n * m);
}

}  // namespace

std::unique_ptr<PointTarget> grid25_target() {
  RowMatrix means(25, 2);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j) means.row(5 * i + j) << 2.0 * (i - 2), 2.0 * (j - 2);
  return std::make_unique<MixtureTarget>("grid25", means, 0.05);
}

std::unique_ptr<PointTarget> gauss8d_target() {
  return std::make_unique<MixtureTarget>("gauss8d", RowMatrix(3.0 * RowMatrix::Identity(8, 8)), 0.5);
}

std::unique_ptr<PointTarget> dataset_target(const std::string& name, const RowMatrix& data) {
  if (data.rows() < 2 || data.cols() < 1) throw InputError("data set " + name + ": needs at least two rows and one column");
  if (!data.allFinite()) throw InputError("data set " + name + ": has non-finite values");
  const Vector mean = data.colwise().mean().transpose();
  RowMatrix z = data.rowwise() - mean.transpose();
  for (Eigen::Index c = 0; c < z.cols(); ++c) {
    const double sd = std::sqrt(z.col(c).squaredNorm() / static_cast<double>(z.rows() - 1));
    if (sd > 0) z.col(c) /= sd;
  }
  return std::make_unique<DatasetTarget>(name, std::move(z));
}

std::unique_ptr<PointTarget> make_point_target(const std::string& name_or_csv) {
  if (name_or_csv == "grid25") return grid25_target();
  if (name_or_csv == "gauss8d") return gauss8d_target();
  if (!std::filesystem::exists(name_or_csv))
    throw InputError("target \"" + name_or_csv + "\": expected grid25, gauss8d or the path of a CSV file (no such file)");
  const auto table = read_csv(name_or_csv);
  return dataset_target(std::filesystem::path(name_or_csv).stem().string(), table.values);
}

PointGanConfig point_gan_config(const std::string& name) {
  if (name == "none") return {"none", false, false};
  if (name == "sn") return {"sn", true, false};
  if (name == "rkhs") return {"rkhs", false, true};
  if (name == "sn+rkhs") return {"sn+rkhs", true, true};
  throw InputError("configuration \"" + name + "\": expected none, sn, rkhs or sn+rkhs");
}

bool PointGanOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (points < 2) return fail("points: need at least 2");
  if (steps < 1) return fail("steps: need at least 1");
  if (discriminator_steps < 1) return fail("discriminator steps: need at least 1");
  if (batch < 2) return fail("batch: need at least 2");
  if (hidden.empty()) return fail("hidden: need at least one hidden layer");
  if (!(discriminator_learning_rate > 0)) return fail("discriminator learning rate: must be positive");
  if (!(alpha > 0) || !(beta2 > 0)) return fail("alpha and beta2: must be positive");
  if (!(rkhs_jitter > 0)) return fail("rkhs jitter: must be positive");
  if (!(divergence_radius > 1)) return fail("divergence radius: must exceed 1");
  if (evaluation_points < 0 || evaluation_points == 1) return fail("evaluation points: 0 (= N) or at least 2");
  return true;
}

double point_target_bandwidth(const PointTarget& target, std::uint64_t seed, Eigen::Index n) {
  Rng rng = Rng::stream(seed, 0, 11);
  const RowMatrix x = target.sample(rng, n);
  std::vector<double> distances;
  distances.reserve(static_cast<std::size_t>(n * (n - 1) / 2));
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = i + 1; j < n; ++j) distances.push_back((x.row(i) - x.row(j)).norm());
  auto middle = distances.begin() + static_cast<std::ptrdiff_t>(distances.size() / 2);
  std::nth_element(distances.begin(), middle, distances.end());
  return *middle;
}

PointGanResult run_point_gan(const PointTarget& target, const PointGanConfig& config, const PointGanOptions& options,
                             double learning_rate, double mmd_bandwidth, std::uint64_t seed, std::uint64_t evaluation_seed,
                             const std::atomic<bool>* stop) {
  if (std::string why; !options.is_valid(&why)) throw InputError("point GAN options: " + why);
  if (!(learning_rate > 0) || !std::isfinite(learning_rate)) throw InputError("point GAN: the learning rate must be a positive number");
  const auto start = std::chrono::steady_clock::now();
  const Eigen::Index n = options.points, d = target.dim();
  const Eigen::Index batch = std::min(options.batch, n);

  Rng init_rng = Rng::stream(seed, 0);
  RowMatrix x(n, d);
  for (Eigen::Index r = 0; r < n; ++r)
    for (Eigen::Index c = 0; c < d; ++c) x(r, c) = init_rng.normal();

  Rng evaluation_rng = Rng::stream(evaluation_seed, 0, 7);
  const RowMatrix reference = target.sample(evaluation_rng, options.evaluation_points > 0 ? options.evaluation_points : n);
  const double radius = reference.rowwise().norm().maxCoeff();
  const bool w1_possible = options.exact_w1 && reference.rows() == n;

  PointGanResult result;
  result.initial_mmd2 = mmd2_fixed(reference, x, mmd_bandwidth);
  result.initial_w1 = w1_possible ? exact_w1(x, reference) : std::numeric_limits<double>::quiet_NaN();

  nn::MlpOptions network;
  network.widths.push_back(d);
  network.widths.insert(network.widths.end(), options.hidden.begin(), options.hidden.end());
  network.widths.push_back(1);
  network.activation = nn::Activation::elu;
  if (config.spectral_norm) apply_spectral_normalization(network, options.alpha);
  nn::Mlp discriminator(network, stream_seed(seed, 1));
  optim::Adam adam(discriminator.parameters(), {.learning_rate = options.discriminator_learning_rate, .beta1 = 0.5});

  Rng rng = Rng::stream(seed, 2);
  ad::Tape<float> tape;
  FMat stacked(2 * batch, d), weights(2 * batch, 1), precision, points_f;
  weights.topRows(batch).setConstant(1.0f / static_cast<float>(batch));
  weights.bottomRows(batch).setConstant(-1.0f / static_cast<float>(batch));
  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  const float penalty_weight = static_cast<float>(1.0 / (2.0 * options.beta2));

  for (int step = 0; step < options.steps; ++step) {
    if (stop && stop->load()) break;
    discriminator.train();
    for (int s = 0; s < options.discriminator_steps; ++s) {
      const RowMatrix real = target.sample(rng, batch);
      // A random subset of the generated points (partial Fisher–Yates).
      for (Eigen::Index k = 0; k < batch; ++k) {
        const auto j = k + std::min<Eigen::Index>(n - k - 1, static_cast<Eigen::Index>(rng.uniform() * static_cast<double>(n - k)));
        std::swap(order[static_cast<std::size_t>(k)], order[static_cast<std::size_t>(j)]);
      }
      RowMatrix support(2 * batch, d);
      support.topRows(batch) = real;
      for (Eigen::Index k = 0; k < batch; ++k) support.row(batch + k) = x.row(order[static_cast<std::size_t>(k)]);
      stacked = support.cast<float>();
      auto scope = tape.scope();
      auto values = discriminator.forward(tape.constant(stacked));
      auto loss = -ad::sum(ad::mul(values, tape.constant(weights)));  // −(mean φ(real) − mean φ(fake))
      if (config.rkhs) {
        precision = rkhs_support_precision(support, options.rkhs_jitter).cast<float>();
        loss = loss + rkhs_penalty(values, precision) * penalty_weight;
      }
      adam.zero_grad();
      tape.backward(loss);
      if (!std::isfinite(loss.item())) {
        result.diverged = true;
        break;
      }
      adam.step();
    }
    if (result.diverged) break;
    // Generator: x_i ← x_i + γ ∇φ(x_i).
    discriminator.eval();
    points_f = x.cast<float>();
    RowMatrix gradient;
    {
      auto scope = tape.scope();
      auto in = tape.variable(points_f);
      gradient = tape.grad(ad::sum(discriminator.forward(in)), std::span<const ad::Var<float>>(&in, 1))[0].value().cast<double>();
    }
    x += learning_rate * gradient;
    result.final_grad_norm = gradient.rowwise().norm().mean();
    result.steps_done = step + 1;
    if (!x.allFinite() || x.rowwise().norm().maxCoeff() > options.divergence_radius * radius) {
      result.diverged = true;
      break;
    }
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  result.discriminator_lipschitz = result.discriminator_smoothness = nan;
  if (!result.diverged && x.allFinite()) {
    RowMatrix probe(n + reference.rows(), d);
    probe << x, reference;
    Rng probe_rng = Rng::stream(seed, 3);
    result.discriminator_lipschitz = empirical_lipschitz(discriminator, probe, static_cast<int>(probe.rows()), probe_rng);
    result.discriminator_smoothness = empirical_smoothness(discriminator, probe, static_cast<int>(probe.rows()), probe_rng);
  }
  if (x.allFinite()) {
    result.mmd2 = mmd2_fixed(reference, x, mmd_bandwidth);
    result.w1 = w1_possible ? exact_w1(x, reference) : nan;
  } else {
    result.mmd2 = result.w1 = nan;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

std::vector<SweepRow> run_sweep(const PointTarget& target, const SweepOptions& options,
                                const std::function<void(std::size_t, std::size_t)>& on_done, const std::atomic<bool>* stop) {
  if (options.configs.empty() || options.ratios.empty() || options.seeds < 1) throw InputError("sweep: needs configurations, ratios and at least one seed");
  for (double r : options.ratios)
    if (!(r > 0) || !std::isfinite(r)) throw InputError("sweep: every ratio γ/γ0 must be a positive number");
  std::vector<PointGanConfig> configs;
  for (const auto& c : options.configs) configs.push_back(point_gan_config(c));
  const double gamma0 = learnable_points_step_size(options.run.alpha, options.run.beta2);
  const double bandwidth = point_target_bandwidth(target, stream_seed(options.base_seed, 0, 99));
  std::vector<SweepRow> rows;
  for (const auto& c : configs)
    for (double ratio : options.ratios)
      for (int s = 0; s < options.seeds; ++s) rows.push_back({{c.name, ratio, s}, ratio * gamma0, {}});
  std::atomic<std::size_t> done{0};
  std::mutex progress_mutex;
  const int threads = options.threads > 0 ? options.threads : hardware_threads();
  parallel_for(rows.size(), threads, [&](std::size_t i, std::size_t) {
    auto& row = rows[i];
    const auto s = static_cast<std::uint64_t>(row.job.seed);
    row.result = run_point_gan(target, point_gan_config(row.job.config), options.run, row.gamma, bandwidth, stream_seed(options.base_seed, s, 0),
                               stream_seed(options.base_seed, s, 1), stop);
    const std::size_t finished = ++done;
    if (on_done) {
      std::lock_guard lock(progress_mutex);
      on_done(finished, rows.size());
    }
  });
  return rows;
}

}  // namespace sbi::stability
