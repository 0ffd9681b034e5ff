#include "sbi/diagnostics/c2st.hpp"

#include "sbi/core/error.hpp"
#include "sbi/nn/losses.hpp"
#include "sbi/nn/mlp.hpp"
#include "sbi/optim/adam.hpp"
#include "sbi/optim/training.hpp"
#include "sbi/parallel/bytes.hpp"
#include "sbi/parallel/cluster.hpp"
#include "sbi/random/rng.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <memory>
#include <thread>

namespace sbi {

namespace {

using FloatMatrix = ad::Matrix<float>;

// Substreams of Rng::stream(seed, index, substream).
constexpr std::uint64_t kKFoldStream = 0;     // index 0: the KFold permutation
constexpr std::uint64_t kInitStream = 1;      // index = fold: initial weights
constexpr std::uint64_t kShuffleStream = 2;   // index = fold: minibatch order

// The first `max_rows` rows with finite entries only; `dropped` counts the others.
RowMatrix finite_head(const RowMatrix& x, Eigen::Index max_rows, Eigen::Index& dropped) {
  const Eigen::Index n = max_rows > 0 ? std::min(max_rows, x.rows()) : x.rows();
  std::vector<Eigen::Index> keep;
  keep.reserve(static_cast<std::size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i)
    if (x.row(i).allFinite()) keep.push_back(i);
  dropped = n - static_cast<Eigen::Index>(keep.size());
  RowMatrix out(static_cast<Eigen::Index>(keep.size()), x.cols());
  for (std::size_t k = 0; k < keep.size(); ++k) out.row(static_cast<Eigen::Index>(k)) = x.row(keep[k]);
  return out;
}

// Trains one classifier on `x_train`/`y_train` and scores it on the test rows.
C2stFold run_fold(const FloatMatrix& x_train, const FloatMatrix& y_train, const FloatMatrix& x_test,
                  const FloatMatrix& y_test, const C2stOptions& o, int fold) {
  const Eigen::Index dim = x_train.cols();
  const Eigen::Index width = static_cast<Eigen::Index>(o.width_factor) * dim;
  nn::MlpOptions mlp_options;
  mlp_options.widths.push_back(dim);
  for (int k = 0; k < o.hidden_layers; ++k) mlp_options.widths.push_back(width);
  mlp_options.widths.push_back(1);
  mlp_options.activation = nn::Activation::relu;
  const auto fold_index = static_cast<std::uint64_t>(fold);
  nn::Mlp net(mlp_options, stream_seed(o.seed, fold_index, kInitStream));

  // scikit-learn's initialisation: weights and biases uniform on ±√(6/(fan_in+fan_out)).
  Rng init = Rng::stream(o.seed, fold_index, kInitStream);
  for (auto& layer : net.layers()) {
    const double bound = std::sqrt(6.0 / static_cast<double>(layer.inputs() + layer.outputs()));
    auto& w = layer.weight().value;
    for (Eigen::Index k = 0; k < w.size(); ++k) w.data()[k] = static_cast<float>(init.uniform(-bound, bound));
    auto& b = layer.bias().value;
    for (Eigen::Index k = 0; k < b.size(); ++k) b.data()[k] = static_cast<float>(init.uniform(-bound, bound));
  }

  optim::Adam adam(net.parameters(), {.learning_rate = o.learning_rate, .beta1 = o.beta1, .beta2 = o.beta2, .epsilon = o.epsilon});
  std::vector<nn::Parameter*> weights;
  for (auto& layer : net.layers()) weights.push_back(&layer.weight());

  const Eigen::Index n = x_train.rows();
  const Eigen::Index batch_size = std::min(o.batch_size, n);
  Rng shuffle = Rng::stream(o.seed, fold_index, kShuffleStream);
  ad::Tape<float> tape;
  FloatMatrix x_batch, y_batch;

  C2stFold result;
  result.train_rows = n;
  result.test_rows = x_test.rows();
  double best_loss = std::numeric_limits<double>::infinity();
  int no_improvement = 0;
  for (int epoch = 0; epoch < o.max_epochs; ++epoch) {
    double accumulated = 0.0;
    for (const auto& batch : optim::shuffled_batches(n, batch_size, shuffle)) {
      const auto b = static_cast<Eigen::Index>(batch.size());
      optim::gather_rows(x_train, batch, x_batch);
      optim::gather_rows(y_train, batch, y_batch);
      auto step = tape.scope();
      adam.zero_grad();
      auto logits = net.forward(tape.constant(x_batch));
      auto loss = nn::bce_with_logits(logits, tape.constant(y_batch));
      tape.backward(loss);
      // L2 penalty (α/2)·Σ‖W‖²/b on the weights: its value joins the loss, α·W/b the gradient.
      double squares = 0.0;
      const float scale = static_cast<float>(o.alpha / static_cast<double>(b));
      for (auto* w : weights) {
        squares += static_cast<double>(w->value.squaredNorm());
        if (o.alpha != 0.0) w->grad.noalias() += scale * w->value;
      }
      const double batch_loss = static_cast<double>(loss.item()) + 0.5 * o.alpha * squares / static_cast<double>(b);
      accumulated += batch_loss * static_cast<double>(b);
      adam.step();
    }
    const double epoch_loss = accumulated / static_cast<double>(n);
    result.epochs = epoch + 1;
    result.final_loss = epoch_loss;
    // scikit-learn's _update_no_improvement_count without a validation split.
    if (!(epoch_loss <= best_loss - o.tol)) ++no_improvement;
    else no_improvement = 0;
    if (epoch_loss < best_loss) best_loss = epoch_loss;
    if (no_improvement > o.n_iter_no_change) {
      result.converged = true;
      break;
    }
  }

  net.eval();
  const FloatMatrix logits = net.predict(x_test);
  Eigen::Index correct = 0;
  for (Eigen::Index i = 0; i < x_test.rows(); ++i) {
    const float predicted = logits(i, 0) > 0.0f ? 1.0f : 0.0f;  // σ(z) > 0.5
    if (predicted == y_test(i, 0)) ++correct;
  }
  result.accuracy = x_test.rows() > 0 ? static_cast<double>(correct) / static_cast<double>(x_test.rows()) : 0.0;
  return result;
}

}  // namespace

bool C2stOptions::is_valid(std::string* why) const {
  auto fail = [&](const char* message) {
    if (why) *why = message;
    return false;
  };
  if (max_samples < 0) return fail("max_samples must be >= 0 (0 = all rows)");
  if (folds < 2) return fail("folds must be >= 2");
  if (hidden_layers < 1) return fail("hidden_layers must be >= 1");
  if (width_factor < 1) return fail("width_factor must be >= 1");
  if (!(learning_rate > 0)) return fail("learning_rate must be > 0");
  if (!(beta1 >= 0 && beta1 < 1)) return fail("beta1 must be in [0, 1)");
  if (!(beta2 >= 0 && beta2 < 1)) return fail("beta2 must be in [0, 1)");
  if (!(epsilon > 0)) return fail("epsilon must be > 0");
  if (!(alpha >= 0)) return fail("alpha must be >= 0");
  if (batch_size < 1) return fail("batch_size must be >= 1");
  if (max_epochs < 1) return fail("max_epochs must be >= 1");
  if (!(tol >= 0)) return fail("tol must be >= 0");
  if (n_iter_no_change < 0) return fail("n_iter_no_change must be >= 0");
  if (threads < 0) return fail("threads must be >= 0 (0 = all cores)");
  return true;
}

nlohmann::json C2stOptions::to_json() const {
  return {{"max_samples", max_samples}, {"seed", seed}, {"folds", folds}, {"z_score", z_score},
          {"hidden_layers", hidden_layers}, {"width_factor", width_factor}, {"learning_rate", learning_rate},
          {"beta1", beta1}, {"beta2", beta2}, {"epsilon", epsilon}, {"alpha", alpha}, {"batch_size", batch_size},
          {"max_epochs", max_epochs}, {"tol", tol}, {"n_iter_no_change", n_iter_no_change}, {"threads", threads}};
}

C2stOptions C2stOptions::from_json(const nlohmann::json& j) {
  C2stOptions o;
  try {
    if (!j.is_object()) throw InputError("C2ST options: expected a JSON object");
    for (const auto& [key, value] : j.items()) {
      if (key == "max_samples") o.max_samples = value.get<Eigen::Index>();
      else if (key == "seed") o.seed = value.get<std::uint64_t>();
      else if (key == "folds") o.folds = value.get<int>();
      else if (key == "z_score") o.z_score = value.get<bool>();
      else if (key == "hidden_layers") o.hidden_layers = value.get<int>();
      else if (key == "width_factor") o.width_factor = value.get<int>();
      else if (key == "learning_rate") o.learning_rate = value.get<double>();
      else if (key == "beta1") o.beta1 = value.get<double>();
      else if (key == "beta2") o.beta2 = value.get<double>();
      else if (key == "epsilon") o.epsilon = value.get<double>();
      else if (key == "alpha") o.alpha = value.get<double>();
      else if (key == "batch_size") o.batch_size = value.get<Eigen::Index>();
      else if (key == "max_epochs") o.max_epochs = value.get<int>();
      else if (key == "tol") o.tol = value.get<double>();
      else if (key == "n_iter_no_change") o.n_iter_no_change = value.get<int>();
      else if (key == "threads") o.threads = value.get<int>();
      else throw InputError("C2ST options: unknown key \"" + key + "\"");
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("C2ST options: ") + e.what());
  }
  std::string why;
  if (!o.is_valid(&why)) throw InputError("C2ST options: " + why);
  return o;
}

std::vector<double> C2stResult::fold_accuracies() const {
  std::vector<double> out;
  for (const auto& f : folds) out.push_back(f.accuracy);
  return out;
}

std::string C2stResult::brief_report() const {
  char buffer[160];
  std::string text;
  std::snprintf(buffer, sizeof buffer, "C2ST %.4f (folds ", accuracy);
  text += buffer;
  for (std::size_t k = 0; k < folds.size(); ++k) {
    std::snprintf(buffer, sizeof buffer, "%s%.4f", k ? ", " : "", folds[k].accuracy);
    text += buffer;
  }
  std::snprintf(buffer, sizeof buffer, "; %lld vs %lld, dim %lld, %.1f s)", static_cast<long long>(n_reference),
                static_cast<long long>(n_samples), static_cast<long long>(dim), seconds);
  text += buffer;
  return text;
}

std::string C2stResult::full_report() const {
  std::string text = brief_report() + "\n";
  char buffer[200];
  if (dropped_reference || dropped_samples) {
    std::snprintf(buffer, sizeof buffer, "dropped non-finite rows: %lld reference, %lld samples\n",
                  static_cast<long long>(dropped_reference), static_cast<long long>(dropped_samples));
    text += buffer;
  }
  for (std::size_t k = 0; k < folds.size(); ++k) {
    const auto& f = folds[k];
    std::snprintf(buffer, sizeof buffer, "  fold %zu: accuracy %.4f on %lld rows, trained on %lld rows for %d epochs (%s), loss %.5f\n",
                  k + 1, f.accuracy, static_cast<long long>(f.test_rows), static_cast<long long>(f.train_rows), f.epochs,
                  f.converged ? "converged" : "max_epochs reached", f.final_loss);
    text += buffer;
  }
  return text;
}

nlohmann::json C2stResult::to_json() const {
  nlohmann::json fold_list = nlohmann::json::array();
  for (const auto& f : folds)
    fold_list.push_back({{"accuracy", f.accuracy}, {"train_rows", f.train_rows}, {"test_rows", f.test_rows},
                         {"epochs", f.epochs}, {"converged", f.converged}, {"final_loss", f.final_loss}});
  return {{"c2st", accuracy}, {"c2st_folds", fold_accuracies()}, {"folds", fold_list}, {"n_reference", n_reference},
          {"n_samples", n_samples}, {"dropped_reference", dropped_reference}, {"dropped_samples", dropped_samples},
          {"dim", dim}, {"seconds", seconds}};
}

std::vector<std::vector<Eigen::Index>> kfold_test_indices(Eigen::Index n, int folds, std::uint64_t seed) {
  if (folds < 2) throw std::invalid_argument("kfold_test_indices: folds must be >= 2");
  if (n < folds) throw std::invalid_argument("kfold_test_indices: fewer rows than folds");
  Rng rng = Rng::stream(seed, 0, kKFoldStream);
  const auto order = optim::permutation(n, rng);
  std::vector<std::vector<Eigen::Index>> out(static_cast<std::size_t>(folds));
  std::size_t start = 0;
  for (int k = 0; k < folds; ++k) {
    const std::size_t size = static_cast<std::size_t>(n / folds + (k < n % folds ? 1 : 0));
    out[static_cast<std::size_t>(k)].assign(order.begin() + static_cast<std::ptrdiff_t>(start),
                                            order.begin() + static_cast<std::ptrdiff_t>(start + size));
    start += size;
  }
  return out;
}

namespace {

// Fold k: train on the other folds' rows, score on fold k's.
C2stFold fold_of(const FloatMatrix& data, const FloatMatrix& target, const std::vector<std::vector<Eigen::Index>>& test_sets,
                 const C2stOptions& options, int k) {
  const auto fold = static_cast<std::size_t>(k);
  const Eigen::Index n = data.rows();
  std::vector<char> is_test(static_cast<std::size_t>(n), 0);
  for (auto i : test_sets[fold]) is_test[static_cast<std::size_t>(i)] = 1;
  std::vector<Eigen::Index> train;
  train.reserve(static_cast<std::size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i)
    if (!is_test[static_cast<std::size_t>(i)]) train.push_back(i);
  const FloatMatrix x_train = optim::gather_rows(data, train);
  const FloatMatrix y_train = optim::gather_rows(target, train);
  const FloatMatrix x_test = optim::gather_rows(data, test_sets[fold]);
  const FloatMatrix y_test = optim::gather_rows(target, test_sets[fold]);
  return run_fold(x_train, y_train, x_test, y_test, options, k);
}

// Spread over the ranks of an MPI job (sbi/parallel/cluster.hpp): the job is the data, the labels
// and the options; a chunk is a range of folds; its result, their C2stFold values.
constexpr const char* kC2stJob = "c2st-folds";

std::string encode_c2st_job(const FloatMatrix& data, const FloatMatrix& target, const C2stOptions& options) {
  cluster::ByteWriter w;
  w.put_matrix(data).put_matrix(target);
  w.put_string(options.to_json().dump());
  return w.take();
}

void put_fold(cluster::ByteWriter& w, const C2stFold& f) {
  w.put(f.accuracy).put<std::int64_t>(f.train_rows).put<std::int64_t>(f.test_rows).put(f.epochs).put(f.converged).put(f.final_loss);
}

C2stFold get_fold(cluster::ByteReader& r) {
  C2stFold f;
  f.accuracy = r.get<double>();
  f.train_rows = static_cast<Eigen::Index>(r.get<std::int64_t>());
  f.test_rows = static_cast<Eigen::Index>(r.get<std::int64_t>());
  f.epochs = r.get<int>();
  f.converged = r.get<bool>();
  f.final_loss = r.get<double>();
  return f;
}

std::string run_folds(const FloatMatrix& data, const FloatMatrix& target, const std::vector<std::vector<Eigen::Index>>& test_sets,
                      const C2stOptions& options, std::uint64_t begin, std::uint64_t end) {
  cluster::ByteWriter w;
  for (auto k = begin; k < end; ++k) put_fold(w, fold_of(data, target, test_sets, options, static_cast<int>(k)));
  return w.take();
}

// Every rank can run C2ST folds: the job carries everything they need.
const bool c2st_handler_registered = [] {
  cluster::register_handler(kC2stJob, [](const std::string& job) -> cluster::ChunkFunction {
    cluster::ByteReader r(job);
    auto data = std::make_shared<FloatMatrix>(r.get_matrix<FloatMatrix>());
    auto target = std::make_shared<FloatMatrix>(r.get_matrix<FloatMatrix>());
    auto options = std::make_shared<C2stOptions>(C2stOptions::from_json(nlohmann::json::parse(r.get_string())));
    auto test_sets = std::make_shared<std::vector<std::vector<Eigen::Index>>>(kfold_test_indices(data->rows(), options->folds, options->seed));
    return [data, target, options, test_sets](std::uint64_t begin, std::uint64_t end, const std::string&) {
      return run_folds(*data, *target, *test_sets, *options, begin, end);
    };
  });
  return true;
}();

}  // namespace

C2stResult c2st_test(const RowMatrix& reference, const RowMatrix& samples, const C2stOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  std::string why;
  if (!options.is_valid(&why)) throw InputError("C2ST options: " + why);
  if (reference.cols() != samples.cols())
    throw InputError("C2ST: the reference has " + std::to_string(reference.cols()) + " columns but the samples have " +
                     std::to_string(samples.cols()));
  if (reference.cols() == 0) throw InputError("C2ST: the sample sets have no columns");

  C2stResult result;
  result.dim = reference.cols();
  RowMatrix ref = finite_head(reference, options.max_samples, result.dropped_reference);
  RowMatrix smp = finite_head(samples, options.max_samples, result.dropped_samples);
  result.n_reference = ref.rows();
  result.n_samples = smp.rows();
  if (ref.rows() < 2 || smp.rows() < 1 || ref.rows() + smp.rows() < options.folds)
    throw InputError("C2ST: too few finite rows (" + std::to_string(ref.rows()) + " reference, " + std::to_string(smp.rows()) +
                     " samples) for " + std::to_string(options.folds) + " folds");

  if (options.z_score) {
    const Eigen::RowVectorXd mean = ref.colwise().mean();
    Eigen::RowVectorXd sd =
        ((ref.rowwise() - mean).array().square().colwise().sum() / static_cast<double>(ref.rows() - 1)).sqrt().matrix();
    for (Eigen::Index c = 0; c < sd.size(); ++c)
      if (!(sd(c) > 0)) sd(c) = 1.0;  // a constant reference column: centre only (sklearn would divide by 0)
    ref = ((ref.rowwise() - mean).array().rowwise() / sd.array()).matrix();
    smp = ((smp.rowwise() - mean).array().rowwise() / sd.array()).matrix();
  }

  const Eigen::Index n = ref.rows() + smp.rows();
  const Eigen::Index d = result.dim;
  FloatMatrix data(n, d), target(n, 1);
  data.topRows(ref.rows()) = ref.cast<float>();
  data.bottomRows(smp.rows()) = smp.cast<float>();
  target.topRows(ref.rows()).setZero();
  target.bottomRows(smp.rows()).setOnes();

  const auto test_sets = kfold_test_indices(n, options.folds, options.seed);
  result.folds.resize(static_cast<std::size_t>(options.folds));
  if (cluster::can_run_job()) {
    // Under MPI: one fold per chunk, spread over the ranks (the job carries the data).
    cluster::JobOptions sizing;
    sizing.first_chunk = sizing.max_chunk = 1;
    cluster::run_job(
        kC2stJob, encode_c2st_job(data, target, options), static_cast<std::uint64_t>(options.folds), sizing,
        [&](std::uint64_t begin, std::uint64_t end, const std::string&) { return run_folds(data, target, test_sets, options, begin, end); },
        [&](std::uint64_t begin, std::uint64_t end, std::string&& bytes) {
          cluster::ByteReader reader(bytes);
          for (auto k = begin; k < end; ++k) result.folds[static_cast<std::size_t>(k)] = get_fold(reader);
        });
  } else {
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(options.folds));
    std::atomic<int> next{0};
    auto worker = [&] {
      for (int k = next++; k < options.folds; k = next++) {
        const auto fold = static_cast<std::size_t>(k);
        try {
          result.folds[fold] = fold_of(data, target, test_sets, options, k);
        } catch (...) {
          errors[fold] = std::current_exception();
        }
      }
    };
    int threads = options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    threads = std::min(threads, options.folds);
    if (threads <= 1) {
      worker();
    } else {
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
      for (auto& t : pool) t.join();
    }
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  }

  double sum = 0.0;
  for (const auto& f : result.folds) sum += f.accuracy;
  result.accuracy = sum / static_cast<double>(result.folds.size());
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

double c2st(const RowMatrix& reference, const RowMatrix& samples, const C2stOptions& options) {
  return c2st_test(reference, samples, options).accuracy;
}

}  // namespace sbi
