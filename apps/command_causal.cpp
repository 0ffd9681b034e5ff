// sbi causal PAIR.csv [--method M]: which of two variables causes the other (CGNN and classical
// baselines); sbi causal benchmark DIR: run methods over a folder of pairs with known directions.
#include "apps/cli.hpp"

#include "sbi/causal/benchmark.hpp"
#include "sbi/causal/methods.hpp"
#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/parallel/parallel_for.hpp"
#include "sbi/util/progress.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <sstream>

namespace sbi::cli {

namespace {

void add_method_options(po::options_description& options) {
  const causal::CgnnOptions d;
  options.add_options()
      ("seed", po::value<std::uint64_t>()->default_value(1), "random seed (subsampling, CGNN weights and noise)")
      ("threads", po::value<int>()->default_value(0), "worker threads (0 = all cores; results do not depend on it)")
      ("runs", po::value<int>()->default_value(d.runs), "CGNN: independent fits per direction, averaged")
      ("hidden", po::value<int>()->default_value(d.hidden), "CGNN: ReLU units in the generator's hidden layer")
      ("train-epochs", po::value<int>()->default_value(d.train_epochs), "CGNN: full-batch Adam steps per fit")
      ("eval-epochs", po::value<int>()->default_value(d.eval_epochs), "CGNN: fixed-weight steps whose MMD² is averaged")
      ("learning-rate", po::value<double>()->default_value(d.learning_rate), "CGNN: Adam learning rate")
      ("max-samples", po::value<long>()->default_value(static_cast<long>(d.max_samples)),
       "CGNN: subsample larger pairs to this many rows (seeded; 0 = all)")
      ("kernel-max-samples", po::value<long>()->default_value(500), "anm, fit: subsample larger pairs to this many rows (0 = all)");
}

causal::MethodOptions method_options(const po::variables_map& vm) {
  causal::MethodOptions m;
  m.cgnn.runs = vm["runs"].as<int>();
  m.cgnn.hidden = vm["hidden"].as<int>();
  m.cgnn.train_epochs = vm["train-epochs"].as<int>();
  m.cgnn.eval_epochs = vm["eval-epochs"].as<int>();
  m.cgnn.learning_rate = vm["learning-rate"].as<double>();
  m.cgnn.max_samples = vm["max-samples"].as<long>();
  m.kernel_max_samples = vm["kernel-max-samples"].as<long>();
  if (m.cgnn.runs < 1 || m.cgnn.hidden < 1 || m.cgnn.train_epochs < 0 || m.cgnn.eval_epochs < 1 || !(m.cgnn.learning_rate > 0))
    throw po::error("--runs, --hidden and --eval-epochs must be at least 1, --train-epochs at least 0, --learning-rate positive");
  if (m.cgnn.max_samples < 0 || m.kernel_max_samples < 0) throw po::error("--max-samples and --kernel-max-samples must be >= 0");
  return m;
}

int thread_count(const po::variables_map& vm) {
  const int t = vm["threads"].as<int>();
  return t > 0 ? t : hardware_threads();
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string item; std::getline(s, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

const char* direction_text(int direction) {
  return direction > 0 ? "X -> Y" : (direction < 0 ? "Y -> X" : "undecided");
}

int run_pair(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("pair", po::value<std::string>(), "CSV file: header, then rows of two numeric columns X, Y")
      ("method,m", po::value<std::string>()->default_value("cgnn"),
       "cgnn | anm | igci | igci-{slope,entropy}-{uniform,gauss} | reci | fit")
      ("json", po::bool_switch(), "print one JSON object");
  add_method_options(options);
  po::positional_options_description positional;
  positional.add("pair", 1);
  po::variables_map vm;
  if (!parse_command_line(args, "sbi causal PAIR.csv [--method cgnn|anm|igci|reci|fit] [--runs N] [--seed S]\n"
                                "       sbi causal benchmark DIR [--method NAME,...] [-o OUT_DIR]   (see sbi causal benchmark --help)",
                          options, positional, vm))
    return kExitOk;
  if (!vm.count("pair")) throw po::error("the pair file is required: sbi causal PAIR.csv");
  const std::string method = vm["method"].as<std::string>();
  if (!causal::is_method(method)) throw po::error("unknown --method \"" + method + "\"");
  const causal::MethodOptions m = method_options(vm);
  const causal::CausePair pair = causal::read_pair(vm["pair"].as<std::string>());
  const auto r = causal::run_method(method, pair, m, vm["seed"].as<std::uint64_t>(), thread_count(vm));
  if (vm["json"].as<bool>()) {
    nlohmann::json j = {{"pair", vm["pair"].as<std::string>()}, {"method", method}, {"score", r.score},
                        {"direction", r.direction}, {"criterion_xy", r.criterion_xy}, {"criterion_yx", r.criterion_yx},
                        {"samples_used", r.samples_used}, {"seconds", r.seconds}};
    if (method == "cgnn") {
      j["run_scores"] = r.run_scores;
      j["run_score_sd"] = r.run_score_sd;
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
    std::printf("runs       %zu: score sd %.4f, %d of %zu agree with the overall direction\n", r.run_scores.size(), r.run_score_sd,
                agree, r.run_scores.size());
  }
  std::printf("time       %s\n", format_duration(r.seconds).c_str());
  return kExitOk;
}

int run_benchmark_command(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("dir", po::value<std::string>(), "benchmark folder: pairNNNN.csv files and meta.csv (pair_id, direction, weight)")
      ("method,m", po::value<std::string>()->default_value("cgnn"), "comma-separated methods (cgnn, anm, igci, igci-..., reci, fit)")
      ("output,o", po::value<std::string>(), "folder for pairs.csv, summary.md, summary.json (created; files written atomically)")
      ("exclude", po::value<std::vector<std::string>>()->composing(),
       "extra subset summary without some pairs: LABEL=ID,ID,... (repeatable), e.g. no47-70-107=47,70,107")
      ("quiet,q", po::bool_switch(), "no progress bar");
  add_method_options(options);
  po::positional_options_description positional;
  positional.add("dir", 1);
  po::variables_map vm;
  if (!parse_command_line(args, "sbi causal benchmark DIR [--method NAME,...] [-o OUT_DIR] [--quiet] [--threads T]", options,
                          positional, vm))
    return kExitOk;
  if (!vm.count("dir")) throw po::error("the benchmark folder is required: sbi causal benchmark DIR");
  causal::BenchmarkOptions b;
  b.methods = split_list(vm["method"].as<std::string>());
  if (b.methods.empty()) throw po::error("--method lists no method");
  for (const auto& m : b.methods)
    if (!causal::is_method(m)) throw po::error("unknown method \"" + m + "\" in --method");
  b.method_options = method_options(vm);
  b.seed = vm["seed"].as<std::uint64_t>();
  b.threads = thread_count(vm);
  b.progress = ProgressBar::should_show(vm["quiet"].as<bool>());
  b.interrupt = &interrupt_flag();
  if (vm.count("exclude")) {
    for (const auto& spec : vm["exclude"].as<std::vector<std::string>>()) {
      const auto eq = spec.find('=');
      if (eq == std::string::npos || eq == 0) throw po::error("--exclude wants LABEL=ID,ID,... (got \"" + spec + "\")");
      std::set<int> ids;
      for (const auto& id : split_list(spec.substr(eq + 1))) {
        try {
          ids.insert(std::stoi(id));
        } catch (const std::exception&) {
          throw po::error("--exclude: \"" + id + "\" is not a pair id");
        }
      }
      b.subsets.emplace_back(spec.substr(0, eq), ids);
    }
  }
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

}  // namespace

Command causal_command() {
  return {"causal", "cause-effect direction of a pair (CGNN, ANM-HSIC, IGCI, RECI, fit); benchmark on a folder of pairs",
          [](const std::vector<std::string>& args) {
            if (!args.empty() && args.front() == "benchmark") {
              const std::vector<std::string> rest(args.begin() + 1, args.end());
              return run_guarded("causal benchmark", [&] { return run_benchmark_command(rest); });
            }
            return run_guarded("causal", [&] { return run_pair(args); });
          }};
}

}  // namespace sbi::cli
