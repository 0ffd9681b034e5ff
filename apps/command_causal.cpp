// sbi causal PAIR.csv [--method M]: which of two variables causes the other (CGNN, Meta-CGNN and
// classical baselines); sbi causal benchmark DIR: run methods over a folder of pairs with known
// directions; sbi causal meta-train -o MODEL_DIR: train a Meta-CGNN meta-model; sbi causal generate
// -o DIR: write generated pairs with known directions, by mechanism family and size.
#include "apps/cli.hpp"

#include "sbi/causal/benchmark.hpp"
#include "sbi/causal/meta_cgnn.hpp"
#include "sbi/causal/methods.hpp"
#include "sbi/causal/synthetic.hpp"
#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/parallel/parallel_for.hpp"
#include "sbi/util/progress.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>

namespace sbi::cli {

namespace {

// The meta-model that ships with the sources (see data/causal_meta_cgnn/README.md).
std::filesystem::path default_meta_model() { return std::filesystem::path(SBI_SOURCE_DIR) / "data" / "causal_meta_cgnn"; }

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string item; std::getline(s, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<long> split_numbers(const std::string& text, const std::string& option) {
  std::vector<long> out;
  for (const auto& item : split_list(text)) {
    try {
      std::size_t used = 0;
      out.push_back(std::stol(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw po::error(option + ": \"" + item + "\" is not a whole number");
    }
  }
  return out;
}

void add_method_options(po::options_description& options) {
  const causal::CgnnOptions d;
  const causal::MetaCgnnDecisionOptions m;
  options.add_options()
      ("seed", po::value<std::uint64_t>()->default_value(1), "random seed (subsampling, CGNN weights and noise)")
      ("threads", po::value<int>()->default_value(0), "worker threads (0 = all cores; results do not depend on it)")
      ("runs", po::value<int>()->default_value(d.runs), "CGNN: independent fits per direction, averaged")
      ("hidden", po::value<int>()->default_value(d.hidden), "CGNN: ReLU units in the generator's hidden layer")
      ("hidden-candidates", po::value<std::string>()->default_value(""),
       "CGNN: choose the hidden units per pair by cross-validation among these (e.g. 5,10,20,40)")
      ("cv-folds", po::value<int>()->default_value(d.cv_folds), "CGNN: folds of that cross-validation")
      ("cv-runs", po::value<int>()->default_value(d.cv_runs), "CGNN: fits per candidate, fold and direction")
      ("train-epochs", po::value<int>()->default_value(d.train_epochs), "CGNN: Adam steps per fit")
      ("eval-epochs", po::value<int>()->default_value(d.eval_epochs), "CGNN: fixed-weight steps whose MMD² is averaged")
      ("learning-rate", po::value<double>()->default_value(d.learning_rate), "CGNN: Adam learning rate")
      ("max-samples", po::value<long>()->default_value(static_cast<long>(d.max_samples)),
       "CGNN: subsample larger pairs to this many rows (seeded; 0 = all)")
      ("batch-size", po::value<long>()->default_value(static_cast<long>(d.batch_size)),
       "CGNN: rows per training and evaluation step, a fresh minibatch each (0 = all rows)")
      ("kernel-max-samples", po::value<long>()->default_value(500), "anm, fit: subsample larger pairs to this many rows (0 = all)")
      ("model", po::value<std::vector<std::string>>(),
       "meta-cgnn: the meta-model folder (default: the one in data/causal_meta_cgnn); given more than once, the models "
       "decide together by the mean of their scores (e.g. one fine-tuning run with several seeds)")
      ("adapt-steps", po::value<int>()->default_value(m.adapt_steps), "meta-cgnn: adaptation steps on the pair")
      ("adapt", po::value<std::string>()->default_value(m.adapt), "meta-cgnn: what adapts: embedding | generator")
      ("adapt-learning-rate", po::value<double>()->default_value(m.adapt_learning_rate), "meta-cgnn: adaptation learning rate")
      ("eval-draws", po::value<int>()->default_value(m.eval_draws), "meta-cgnn: noise draws whose MMD² is averaged")
      ("meta-max-samples", po::value<long>()->default_value(static_cast<long>(m.max_samples)),
       "meta-cgnn: subsample larger pairs to this many rows (seeded; 0 = all)");
}

causal::MethodOptions method_options(const po::variables_map& vm, const std::vector<std::string>& methods) {
  causal::MethodOptions m;
  m.cgnn.runs = vm["runs"].as<int>();
  m.cgnn.hidden = vm["hidden"].as<int>();
  for (const long h : split_numbers(vm["hidden-candidates"].as<std::string>(), "--hidden-candidates"))
    m.cgnn.hidden_candidates.push_back(static_cast<int>(h));
  m.cgnn.cv_folds = vm["cv-folds"].as<int>();
  m.cgnn.cv_runs = vm["cv-runs"].as<int>();
  m.cgnn.train_epochs = vm["train-epochs"].as<int>();
  m.cgnn.eval_epochs = vm["eval-epochs"].as<int>();
  m.cgnn.learning_rate = vm["learning-rate"].as<double>();
  m.cgnn.max_samples = vm["max-samples"].as<long>();
  m.cgnn.batch_size = vm["batch-size"].as<long>();
  m.kernel_max_samples = vm["kernel-max-samples"].as<long>();
  std::string why;
  if (!m.cgnn.is_valid(&why)) throw po::error("CGNN options: " + why);
  if (m.kernel_max_samples < 0) throw po::error("--kernel-max-samples must be >= 0");
  m.meta_cgnn.adapt_steps = vm["adapt-steps"].as<int>();
  m.meta_cgnn.adapt = vm["adapt"].as<std::string>();
  m.meta_cgnn.adapt_learning_rate = vm["adapt-learning-rate"].as<double>();
  m.meta_cgnn.eval_draws = vm["eval-draws"].as<int>();
  m.meta_cgnn.max_samples = vm["meta-max-samples"].as<long>();
  if (!m.meta_cgnn.is_valid(&why)) throw po::error("meta-cgnn options: " + why);
  if (std::find(methods.begin(), methods.end(), "meta-cgnn") != methods.end()) {
    const auto folders = vm.count("model") ? vm["model"].as<std::vector<std::string>>() : std::vector<std::string>{default_meta_model().string()};
    for (const auto& folder : folders)
      m.meta_models.push_back(std::make_shared<const causal::MetaCgnnModel>(causal::MetaCgnnModel::load(folder)));
  }
  return m;
}

int thread_count(const po::variables_map& vm) {
  const int t = vm["threads"].as<int>();
  return t > 0 ? t : hardware_threads();
}

const char* direction_text(int direction) {
  return direction > 0 ? "X -> Y" : (direction < 0 ? "Y -> X" : "undecided");
}

int run_pair(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("pair", po::value<std::string>(), "CSV file: header, then rows of two numeric columns X, Y")
      ("method,m", po::value<std::string>()->default_value("cgnn"),
       "cgnn | meta-cgnn | anm | igci | igci-{slope,entropy}-{uniform,gauss} | reci | fit")
      ("json", po::bool_switch(), "print one JSON object");
  add_method_options(options);
  po::positional_options_description positional;
  positional.add("pair", 1);
  po::variables_map vm;
  if (!parse_command_line(args, "sbi causal PAIR.csv [--method cgnn|meta-cgnn|anm|igci|reci|fit] [--model DIR]... [--runs N] [--seed S]\n"
                                "       sbi causal benchmark DIR [--method NAME,...] [-o OUT_DIR]   (see sbi causal benchmark --help)\n"
                                "       sbi causal meta-train -o MODEL_DIR [--options FILE]       (see sbi causal meta-train --help)\n"
                                "       sbi causal generate -o DIR [--sizes 50,100,500,1000]      (see sbi causal generate --help)",
                          options, positional, vm))
    return kExitOk;
  if (!vm.count("pair")) throw po::error("the pair file is required: sbi causal PAIR.csv");
  const std::string method = vm["method"].as<std::string>();
  if (!causal::is_method(method)) throw po::error("unknown --method \"" + method + "\"");
  const causal::MethodOptions m = method_options(vm, {method});
  const causal::CausePair pair = causal::read_pair(vm["pair"].as<std::string>());
  const auto r = causal::run_method(method, pair, m, vm["seed"].as<std::uint64_t>(), thread_count(vm));
  if (vm["json"].as<bool>()) {
    nlohmann::json j = {{"pair", vm["pair"].as<std::string>()}, {"method", method}, {"score", r.score},
                        {"direction", r.direction}, {"criterion_xy", r.criterion_xy}, {"criterion_yx", r.criterion_yx},
                        {"samples_used", r.samples_used}, {"seconds", r.seconds}};
    if (method == "meta-cgnn") j["models"] = m.meta_models.size();
    if (method == "cgnn") {
      j["run_scores"] = r.run_scores;
      j["run_score_sd"] = r.run_score_sd;
      j["hidden"] = r.hidden;
    }
    std::cout << j.dump() << "\n";
    return kExitOk;
  }
  std::printf("pair       %s (%lld rows, %lld used)\nmethod     %s\ndirection  %s\nscore      %+.4f   (> 0: X -> Y)\n",
              vm["pair"].as<std::string>().c_str(), static_cast<long long>(pair.x.size()), static_cast<long long>(r.samples_used),
              method.c_str(), direction_text(r.direction), r.score);
  std::printf("criterion  X->Y %.6g   Y->X %.6g   (lower = better fit)\n", r.criterion_xy, r.criterion_yx);
  if (method == "cgnn") {
    int agree = 0;
    for (double s : r.run_scores) agree += (s > 0) == (r.score > 0);
    std::printf("runs       %zu: score sd %.4f, %d of %zu agree with the overall direction; %d hidden units\n", r.run_scores.size(),
                r.run_score_sd, agree, r.run_scores.size(), r.hidden);
  }
  if (method == "meta-cgnn" && m.meta_models.size() > 1)
    std::printf("models     %zu, decided together (score and criteria: the means of theirs)\n", m.meta_models.size());
  std::printf("time       %s\n", format_duration(r.seconds).c_str());
  return kExitOk;
}

int run_benchmark_command(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("dir", po::value<std::string>(), "benchmark folder: pairNNNN.csv files and meta.csv (pair_id, direction, weight)")
      ("method,m", po::value<std::string>()->default_value("cgnn"),
       "comma-separated methods (cgnn, meta-cgnn, anm, igci, igci-..., reci, fit)")
      ("output,o", po::value<std::string>(), "folder for pairs.csv, summary.md, summary.json (created; files written atomically)")
      ("exclude", po::value<std::vector<std::string>>()->composing(),
       "extra subset summary without some pairs: LABEL=ID,ID,... (repeatable), e.g. no47-70-107=47,70,107")
      ("group-by", po::value<std::vector<std::string>>()->composing(),
       "extra summaries by the values of a meta.csv column (repeatable), or of several joined by + (family+n_samples)")
      ("quiet,q", po::bool_switch(), "no progress bar");
  add_method_options(options);
  po::positional_options_description positional;
  positional.add("dir", 1);
  po::variables_map vm;
  if (!parse_command_line(args, "sbi causal benchmark DIR [--method NAME,...] [-o OUT_DIR] [--group-by COLUMN] [--quiet] [--threads T]",
                          options, positional, vm))
    return kExitOk;
  if (!vm.count("dir")) throw po::error("the benchmark folder is required: sbi causal benchmark DIR");
  causal::BenchmarkOptions b;
  b.methods = split_list(vm["method"].as<std::string>());
  if (b.methods.empty()) throw po::error("--method lists no method");
  for (const auto& m : b.methods)
    if (!causal::is_method(m)) throw po::error("unknown method \"" + m + "\" in --method");
  b.method_options = method_options(vm, b.methods);
  b.seed = vm["seed"].as<std::uint64_t>();
  b.threads = thread_count(vm);
  b.progress = ProgressBar::should_show(vm["quiet"].as<bool>());
  b.interrupt = &interrupt_flag();
  if (vm.count("group-by")) b.group_by = vm["group-by"].as<std::vector<std::string>>();
  if (vm.count("exclude")) {
    for (const auto& spec : vm["exclude"].as<std::vector<std::string>>()) {
      const auto eq = spec.find('=');
      if (eq == std::string::npos || eq == 0) throw po::error("--exclude wants LABEL=ID,ID,... (got \"" + spec + "\")");
      std::set<int> ids;
      for (const long id : split_numbers(spec.substr(eq + 1), "--exclude")) ids.insert(static_cast<int>(id));
      b.subsets.emplace_back(spec.substr(0, eq), ids);
    }
  }
  if (causal::serve_benchmark_if_worker(vm["dir"].as<std::string>(), b)) return kExitOk;  // under MPI, a worker rank (apps/main.cpp)
  const auto result = causal::run_benchmark(vm["dir"].as<std::string>(), b,
                                            [](const std::string& line) { std::cerr << "sbi causal: warning: " << line << "\n"; });
  const std::string markdown = causal::summary_markdown(result, b);
  if (vm.count("output")) {
    const std::filesystem::path out = vm["output"].as<std::string>();
    std::filesystem::create_directories(out);
    write_file_atomically(out / "pairs.csv", causal::outcomes_csv(result));
    write_file_atomically(out / "summary.md", markdown);
    write_file_atomically(out / "summary.json", causal::summary_json(result, b));
  }
  std::cout << markdown;
  if (result.interrupted) return kExitInterrupted;
  return kExitOk;
}

int run_meta_train(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("output,o", po::value<std::string>(), "folder for the meta-model (created)")
      ("options", po::value<std::string>(), "JSON file with Meta-CGNN options (missing keys keep their defaults, or the --init model's)")
      ("init", po::value<std::string>(), "continue training this meta-model (its options are the base; a fresh Adam state)")
      ("pairs", po::value<std::string>(),
       "labelled pairs to train on beside generated ones: a folder like data/tuebingen (pairNNNN.csv, meta.csv with pair_id, direction, weight)")
      ("steps", po::value<int>(), "override: Adam steps")
      ("learning-rate", po::value<double>(), "override: Adam's learning rate (cosine-decayed to a tenth)")
      ("labelled-fraction", po::value<double>(), "override: share of each step's data sets drawn from --pairs")
      ("encoder", po::value<std::string>(), "override: dataset encoder, set | kernel-mean")
      ("seed", po::value<std::uint64_t>()->default_value(1), "random seed (weights, generated data sets, noise)")
      ("threads", po::value<int>()->default_value(0), "worker threads (0 = all cores; the model does not depend on it)")
      ("print-options", po::bool_switch(), "print the options as JSON (defaults filled in) and stop")
      ("quiet,q", po::bool_switch(), "no progress bar");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse_command_line(args, "sbi causal meta-train -o MODEL_DIR [--options FILE] [--init MODEL_DIR] [--pairs DIR] [--steps N] [--encoder set|kernel-mean] [--seed S]",
                          options, positional, vm))
    return kExitOk;
  std::optional<causal::MetaCgnnModel> start;
  if (vm.count("init")) start.emplace(causal::MetaCgnnModel::load(vm["init"].as<std::string>()));
  causal::MetaCgnnOptions o = start ? start->options() : causal::MetaCgnnOptions{};
  if (vm.count("options")) o = causal::read_meta_cgnn_options(vm["options"].as<std::string>(), o);
  if (vm.count("steps")) o.steps = vm["steps"].as<int>();
  if (vm.count("learning-rate")) o.learning_rate = vm["learning-rate"].as<double>();
  if (vm.count("labelled-fraction")) o.labelled_fraction = vm["labelled-fraction"].as<double>();
  if (vm.count("encoder")) o.encoder.kind = vm["encoder"].as<std::string>();
  std::string why;
  if (!o.is_valid(&why)) throw po::error("meta-train options: " + why);
  if (vm["print-options"].as<bool>()) {
    std::cout << o.to_json().dump(2) << "\n";
    return kExitOk;
  }
  if (!vm.count("output")) throw po::error("the output folder is required: sbi causal meta-train -o MODEL_DIR");
  causal::MetaTrainData data;
  if (vm.count("pairs")) data.labelled = causal::read_labelled_pairs(vm["pairs"].as<std::string>());
  if (start) {
    data.start = &*start;
    data.start_name = vm["init"].as<std::string>();
  }
  const int threads = vm["threads"].as<int>() > 0 ? vm["threads"].as<int>() : hardware_threads();
  ProgressBar bar("meta-train", static_cast<std::size_t>(o.steps), ProgressBar::should_show(vm["quiet"].as<bool>()), "step");
  causal::MetaTrainCallbacks callbacks;
  callbacks.interrupt = &interrupt_flag();
  callbacks.on_step = [&](int step, double loss) {
    char status[48];
    std::snprintf(status, sizeof status, "loss %.4g", loss);
    bar.set_status(status);
    bar.update(static_cast<std::size_t>(step + 1));
  };
  const causal::MetaCgnnModel model = causal::meta_train(o, vm["seed"].as<std::uint64_t>(), threads, callbacks, data);
  bar.finish();
  const auto& t = model.training();
  if (t.interrupted) {
    std::cerr << "sbi causal meta-train: interrupted after " << t.steps << " of " << o.steps << " steps; nothing saved\n";
    return kExitInterrupted;
  }
  model.save(vm["output"].as<std::string>());
  // The loss curve holds the mean over blocks of curve_block steps; the last block may be shorter.
  const int blocks = static_cast<int>(t.loss_curve.size());
  const int first_block = std::min(t.curve_block, t.steps);
  const int last_block = blocks > 0 ? t.steps - (blocks - 1) * t.curve_block : 0;
  std::printf("meta-model  %s (%zu parameters, encoder %s)\nsteps       %d in %s on %d thread(s)\nloss        %.5g (first %d steps) -> %.5g (last %d)\n",
              vm["output"].as<std::string>().c_str(), model.parameter_count(), o.encoder.kind.c_str(), t.steps,
              format_duration(t.seconds).c_str(), t.threads, blocks > 0 ? t.loss_curve.front() : 0.0, first_block,
              blocks > 0 ? t.loss_curve.back() : 0.0, last_block);
  if (!t.started_from.empty()) std::printf("started     from %s (%d steps)\n", t.started_from.c_str(), t.start_steps);
  if (!t.labelled_pairs.empty())
    std::printf("labelled    %zu pairs, %.0f %% of the data sets\n", t.labelled_pairs.size(), 100 * o.labelled_fraction);
  return kExitOk;
}

int run_generate(const std::vector<std::string>& args) {
  const causal::SyntheticPairsOptions d;
  std::string families, sizes;
  for (const auto& f : d.families) {
    if (!families.empty()) families += ',';
    families += f;
  }
  for (const auto s : d.sizes) {
    if (!sizes.empty()) sizes += ',';
    sizes += std::to_string(s);
  }
  po::options_description options("Options");
  options.add_options()
      ("output,o", po::value<std::string>(), "folder for pairNNNN.csv and meta.csv (created)")
      ("families", po::value<std::string>()->default_value(families), "comma-separated mechanism families")
      ("sizes", po::value<std::string>()->default_value(sizes), "comma-separated rows per pair")
      ("pairs-per-cell", po::value<int>()->default_value(d.pairs_per_cell), "pairs per family and size")
      ("seed", po::value<std::uint64_t>()->default_value(d.seed), "random seed (1: the development set, 2: the test set)")
      ("cause-warp", po::value<double>()->default_value(d.distortions.cause_warp),
       "probability that a pair's cause is passed through a random monotone function")
      ("cause-noise", po::value<double>()->default_value(d.distortions.cause_noise),
       "probability that a pair's cause is observed with measurement error")
      ("confounding", po::value<double>()->default_value(d.distortions.confounding),
       "probability that a hidden variable moves both cause and effect");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse_command_line(args, "sbi causal generate -o DIR [--families F,...] [--sizes N,...] [--pairs-per-cell K] [--seed S] [--cause-warp P] [--cause-noise P] [--confounding P]", options,
                          positional, vm))
    return kExitOk;
  if (!vm.count("output")) throw po::error("the output folder is required: sbi causal generate -o DIR");
  causal::SyntheticPairsOptions o;
  o.families = split_list(vm["families"].as<std::string>());
  o.sizes.clear();
  for (const long s : split_numbers(vm["sizes"].as<std::string>(), "--sizes")) o.sizes.push_back(s);
  o.pairs_per_cell = vm["pairs-per-cell"].as<int>();
  o.seed = vm["seed"].as<std::uint64_t>();
  o.distortions.cause_warp = vm["cause-warp"].as<double>();
  o.distortions.cause_noise = vm["cause-noise"].as<double>();
  o.distortions.confounding = vm["confounding"].as<double>();
  std::string why;
  if (!o.is_valid(&why)) throw po::error(why);
  const auto pairs = causal::generate_pairs(o);
  causal::write_pairs_folder(vm["output"].as<std::string>(), pairs);
  std::printf("%zu pairs written to %s\n", pairs.size(), vm["output"].as<std::string>().c_str());
  return kExitOk;
}

}  // namespace

Command causal_command() {
  return {"causal", "cause-effect direction of a pair (CGNN, Meta-CGNN, ANM-HSIC, IGCI, RECI, fit); benchmarks; meta-training",
          [](const std::vector<std::string>& args) {
            const std::string sub = args.empty() ? "" : args.front();
            const std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
            if (sub == "benchmark") return run_guarded("causal benchmark", [&] { return run_benchmark_command(rest); });
            if (worker_waits()) return kExitOk;  // under MPI only the benchmark is spread over the ranks
            if (sub == "meta-train") return run_guarded("causal meta-train", [&] { return run_meta_train(rest); });
            if (sub == "generate") return run_guarded("causal generate", [&] { return run_generate(rest); });
            return run_guarded("causal", [&] { return run_pair(args); });
          },
          /*spreads_over_ranks=*/true};
}

}  // namespace sbi::cli
