#include "sbi/causal/benchmark.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/parallel/bytes.hpp"
#include "sbi/parallel/cluster.hpp"
#include "sbi/parallel/parallel_for.hpp"
#include "sbi/random/rng.hpp"
#include "sbi/util/progress.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <numeric>

namespace sbi::causal {

std::vector<PairMeta> read_benchmark_meta(const std::filesystem::path& dir) {
  const auto path = dir / "meta.csv";
  std::ifstream in(path);
  if (!in) throw InputError(path.string() + ": cannot open (a benchmark folder needs meta.csv with pair_id, direction, weight)");
  std::string line;
  if (!std::getline(in, line)) throw InputError(path.string() + ": empty file");
  const auto header = split_csv_line(line);
  auto column = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) throw InputError(path.string() + ": no column \"" + name + "\" in the header");
    return static_cast<std::size_t>(it - header.begin());
  };
  const std::size_t id_col = column("pair_id"), direction_col = column("direction"), weight_col = column("weight");
  std::vector<PairMeta> pairs;
  int line_number = 1;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty() || line[0] == '#') continue;
    const auto cells = split_csv_line(line);
    const std::string where = path.string() + " line " + std::to_string(line_number);
    if (cells.size() <= std::max({id_col, direction_col, weight_col})) throw InputError(where + ": too few cells");
    PairMeta meta;
    try {
      meta.pair_id = std::stoi(cells[id_col]);
      meta.direction = std::stoi(cells[direction_col]);
      meta.weight = std::stod(cells[weight_col]);
    } catch (const std::exception&) {
      throw InputError(where + ": pair_id, direction and weight must be numbers");
    }
    if (meta.direction != 1 && meta.direction != -1) throw InputError(where + ": direction must be +1 or -1");
    if (!(meta.weight >= 0)) throw InputError(where + ": weight must be >= 0");
    char name[32];
    std::snprintf(name, sizeof name, "pair%04d.csv", meta.pair_id);
    meta.file = dir / name;
    for (std::size_t c = 0; c < header.size() && c < cells.size(); ++c)
      if (c != id_col && c != direction_col && c != weight_col) meta.labels[header[c]] = cells[c];
    pairs.push_back(meta);
  }
  return pairs;
}

double credit(const Decision& d) {
  if (d.score == 0) return 0.5;
  return (d.score > 0) == (d.truth > 0) ? 1.0 : 0.0;
}

double accuracy(const std::vector<Decision>& decisions, bool weighted) {
  double hit = 0, total = 0;
  for (const auto& d : decisions) {
    const double w = weighted ? d.weight : 1.0;
    hit += w * credit(d);
    total += w;
  }
  return total > 0 ? hit / total : 0.0;
}

double accuracy_decision_rate_auc(const std::vector<Decision>& decisions, bool weighted) {
  std::vector<std::size_t> order(decisions.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return std::abs(decisions[a].score) > std::abs(decisions[b].score); });
  double total = 0;
  for (const auto& d : decisions) total += weighted ? d.weight : 1.0;
  if (total <= 0) return 0.0;
  double hit = 0, seen = 0, area = 0;
  for (const std::size_t k : order) {
    const double w = weighted ? decisions[k].weight : 1.0;
    hit += w * credit(decisions[k]);
    seen += w;
    if (w > 0) area += (w / total) * (hit / seen);
  }
  return area;
}

MethodSummary summarise_outcomes(const std::string& method, const std::string& subset, const std::vector<PairOutcome>& outcomes) {
  MethodSummary s;
  s.method = method;
  s.subset = subset;
  std::vector<Decision> decisions;
  for (const auto& o : outcomes) {
    if (o.result.method != method) continue;
    decisions.push_back({o.meta.direction, o.meta.weight, o.result.score});
    s.total_weight += o.meta.weight;
    s.seconds += o.result.seconds;
  }
  s.pairs = static_cast<int>(decisions.size());
  s.accuracy = accuracy(decisions, false);
  s.weighted_accuracy = accuracy(decisions, true);
  s.auc = accuracy_decision_rate_auc(decisions, false);
  s.weighted_auc = accuracy_decision_rate_auc(decisions, true);
  return s;
}

namespace {

// "family+n_samples" → {"family", "n_samples"}.
std::vector<std::string> split_on(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t end; (end = text.find(separator, start)) != std::string::npos; start = end + 1)
    parts.push_back(text.substr(start, end - start));
  parts.push_back(text.substr(start));
  return parts;
}

// Subsets by the values of meta.csv columns, in the order the labels first appear among the pairs
// (so that sizes keep the folder's order: 50, 100, 500, 1000).
std::vector<std::pair<std::string, std::set<int>>> grouped_subsets(const std::vector<PairMeta>& pairs,
                                                                   const std::vector<std::string>& group_by,
                                                                   const std::filesystem::path& meta_file) {
  std::vector<std::pair<std::string, std::set<int>>> groups;
  for (const auto& spec : group_by) {
    const auto columns = split_on(spec, '+');
    for (const auto& column : columns)
      if (column.empty() || (!pairs.empty() && !pairs.front().labels.count(column)))
        throw InputError(meta_file.string() + ": no column \"" + column + "\" to group by");
    std::vector<std::pair<std::string, std::set<int>>> these;
    for (const auto& p : pairs) {
      std::string label;
      for (const auto& column : columns) {
        const auto it = p.labels.find(column);
        if (!label.empty()) label += ',';
        label += column;
        label += '=';
        label += it == p.labels.end() ? std::string("?") : it->second;
      }
      auto found = std::find_if(these.begin(), these.end(), [&](const auto& g) { return g.first == label; });
      if (found == these.end()) {
        these.push_back({label, {}});
        found = these.end() - 1;
      }
      found->second.insert(p.pair_id);
    }
    groups.insert(groups.end(), these.begin(), these.end());
  }
  return groups;
}

}  // namespace

namespace {

// The pairs of a benchmark folder that can be read, and the ones skipped (with the reason).
struct LoadedPairs {
  std::vector<PairMeta> good;
  std::vector<CausePair> pairs;
  std::vector<SkippedPair> skipped;
};

LoadedPairs load_pairs(const std::filesystem::path& dir, const std::function<void(const std::string&)>& warn) {
  LoadedPairs loaded;
  for (const auto& meta : read_benchmark_meta(dir)) {
    try {
      loaded.pairs.push_back(read_pair(meta.file));
      loaded.good.push_back(meta);
    } catch (const std::exception& e) {
      loaded.skipped.push_back({meta, e.what()});
      if (warn) warn("skipping " + meta.file.filename().string() + ": " + e.what());
    }
  }
  return loaded;
}

// The loaded pairs whose data meta-cgnn's model was trained on (its labelled_checksums), with a
// warning naming the first few: its figures on them would be training-set figures.
std::vector<PairMeta> pairs_seen_in_training(const LoadedPairs& loaded, const BenchmarkOptions& options,
                                             const std::function<void(const std::string&)>& warn) {
  if (std::find(options.methods.begin(), options.methods.end(), "meta-cgnn") == options.methods.end()) return {};
  std::set<std::string> seen;  // any model's labelled pairs
  for (const auto& model : options.method_options.meta_models)
    if (model) seen.insert(model->training().labelled_checksums.begin(), model->training().labelled_checksums.end());
  std::vector<PairMeta> found;
  std::string names;
  for (std::size_t p = 0; p < loaded.pairs.size(); ++p) {
    // The same data with its columns the other way round is the same pair (a file may list the
    // effect first), so both orientations are looked up.
    const CausePair& pair = loaded.pairs[p];
    if (!seen.count(pair_checksum(pair)) && !seen.count(pair_checksum({pair.name, pair.y, pair.x}))) continue;
    found.push_back(loaded.good[p]);
    if (found.size() <= 5) names += (names.empty() ? "" : ", ") + loaded.good[p].file.filename().string();
  }
  if (!found.empty() && warn)
    warn(std::to_string(found.size()) + " of the " + std::to_string(loaded.pairs.size()) + " pairs were in the meta-model's training data (" +
         names + (found.size() > 5 ? ", ..." : "") + "): meta-cgnn's figures on them are training-set figures, not a test");
  return found;
}

}  // namespace

std::vector<LabelledPair> read_labelled_pairs(const std::filesystem::path& dir) {
  std::vector<LabelledPair> labelled;
  for (const auto& meta : read_benchmark_meta(dir)) labelled.push_back({read_pair(meta.file), meta.direction, meta.weight});
  if (labelled.empty()) throw InputError((dir / "meta.csv").string() + ": lists no pairs");
  return labelled;
}

namespace {

// Task t of a benchmark: method t / n_pairs on pair t % n_pairs, seeded by (seed, pair id): the same
// pair gets the same random streams whatever the thread count, the ranks or the other pairs.
DirectionResult run_task(const LoadedPairs& loaded, const BenchmarkOptions& options, std::size_t task) {
  const std::size_t n_pairs = loaded.pairs.size();
  const std::size_t m = task / n_pairs, p = task % n_pairs;
  return run_method(options.methods[m], loaded.pairs[p], options.method_options,
                    stream_seed(options.seed, static_cast<std::uint64_t>(loaded.good[p].pair_id)), 1);
}

// Spread over the ranks of an MPI job (sbi/parallel/cluster.hpp): a chunk is a range of tasks; its
// result is, per task, whether it ran and its DirectionResult.
constexpr const char* kBenchmarkJob = "causal-benchmark";

// What identifies the benchmark, so that a worker refuses a job for other pairs or methods.
std::string benchmark_fingerprint(const LoadedPairs& loaded, const BenchmarkOptions& options) {
  std::string key = "seed " + std::to_string(options.seed) + "; methods";
  for (const auto& m : options.methods) {
    key += ' ';
    key += m;
  }
  key += "; pairs";
  for (const auto& meta : loaded.good) {
    key += ' ';
    key += std::to_string(meta.pair_id);
  }
  return key;
}

void put_result(cluster::ByteWriter& w, bool done, const DirectionResult& r) {
  w.put(done).put_string(r.method).put(r.score).put(r.direction).put(r.criterion_xy).put(r.criterion_yx);
  w.put<std::uint64_t>(r.run_scores.size());
  for (double v : r.run_scores) w.put(v);
  w.put(r.run_score_sd).put(r.hidden).put<std::int64_t>(r.samples_used).put(r.seconds);
}

bool get_result(cluster::ByteReader& reader, DirectionResult& r) {
  const bool done = reader.get<bool>();
  r.method = reader.get_string();
  r.score = reader.get<double>();
  r.direction = reader.get<int>();
  r.criterion_xy = reader.get<double>();
  r.criterion_yx = reader.get<double>();
  r.run_scores.resize(reader.get<std::uint64_t>());
  for (double& v : r.run_scores) v = reader.get<double>();
  r.run_score_sd = reader.get<double>();
  r.hidden = reader.get<int>();
  r.samples_used = static_cast<Eigen::Index>(reader.get<std::int64_t>());
  r.seconds = reader.get<double>();
  return done;
}

// Runs tasks [begin, end) on `threads` threads; `stop` (may be null) skips the tasks not started.
std::string run_task_range(const LoadedPairs& loaded, const BenchmarkOptions& options, std::uint64_t begin, std::uint64_t end,
                           const std::atomic<bool>* stop) {
  const auto count = static_cast<std::size_t>(end - begin);
  std::vector<DirectionResult> results(count);
  std::vector<char> done(count, 0);
  parallel_for(count, options.threads, [&](std::size_t k, std::size_t) {
    if (stop && stop->load()) return;
    results[k] = run_task(loaded, options, static_cast<std::size_t>(begin) + k);
    done[k] = 1;
  });
  cluster::ByteWriter w;
  for (std::size_t k = 0; k < count; ++k) put_result(w, done[k] != 0, results[k]);
  return w.take();
}

}  // namespace

bool serve_benchmark_if_worker(const std::filesystem::path& dir, const BenchmarkOptions& options) {
  if (!cluster::active() || cluster::is_driver()) return false;
  auto loaded = std::make_shared<LoadedPairs>(load_pairs(dir, {}));
  auto worker_options = std::make_shared<BenchmarkOptions>(options);
  worker_options->interrupt = nullptr;  // rank 0 decides when to stop
  worker_options->progress = false;
  cluster::register_handler(kBenchmarkJob, [loaded, worker_options](const std::string& job) -> cluster::ChunkFunction {
    if (job != benchmark_fingerprint(*loaded, *worker_options))
      throw InputError("has another benchmark (" + benchmark_fingerprint(*loaded, *worker_options) + ") than rank 0 (" + job +
                       "): every rank must see the same folder and options");
    return [loaded, worker_options](std::uint64_t begin, std::uint64_t end, const std::string&) {
      return run_task_range(*loaded, *worker_options, begin, end, nullptr);
    };
  });
  cluster::serve();
  return true;
}

BenchmarkResult run_benchmark(const std::filesystem::path& dir, const BenchmarkOptions& options,
                              const std::function<void(const std::string&)>& warn) {
  for (const auto& m : options.methods) {
    if (!is_method(m)) run_method(m, CausePair{}, options.method_options, 0);  // throws the "unknown method" message
    if (m == "meta-cgnn" && options.method_options.meta_models.empty())
      throw InputError("the benchmark lists meta-cgnn but no meta-model was given");
  }
  const auto start = std::chrono::steady_clock::now();
  BenchmarkResult result;
  LoadedPairs loaded = load_pairs(dir, warn);
  result.skipped = loaded.skipped;
  result.seen_in_training = pairs_seen_in_training(loaded, options, warn);
  const std::vector<PairMeta>& good = loaded.good;
  const auto groups = grouped_subsets(good, options.group_by, dir / "meta.csv");  // checked before the long run
  const std::size_t n_pairs = loaded.pairs.size(), n_methods = options.methods.size();
  std::vector<DirectionResult> results(n_pairs * n_methods);
  std::vector<char> done(results.size(), 0);
  ProgressBar bar("causal", results.size(), options.progress, "pair");
  std::mutex bar_mutex;
  std::size_t finished = 0;
  if (cluster::can_run_job() && !results.empty()) {
    // Under MPI: one task per chunk (a task takes from milliseconds to minutes), spread over the ranks.
    cluster::JobOptions sizing;
    sizing.first_chunk = sizing.max_chunk = static_cast<std::uint64_t>(std::max(1, options.threads));
    sizing.stop = options.interrupt;
    cluster::run_job(
        kBenchmarkJob, benchmark_fingerprint(loaded, options), results.size(), sizing,
        [&](std::uint64_t begin, std::uint64_t end, const std::string&) { return run_task_range(loaded, options, begin, end, options.interrupt); },
        [&](std::uint64_t begin, std::uint64_t end, std::string&& bytes) {
          cluster::ByteReader reader(bytes);
          for (auto task = begin; task < end; ++task) done[task] = get_result(reader, results[task]);
          finished += static_cast<std::size_t>(end - begin);
          bar.update(finished);
        });
  } else {
    parallel_for(results.size(), options.threads, [&](std::size_t task, std::size_t) {
      if (options.interrupt && options.interrupt->load()) return;
      results[task] = run_task(loaded, options, task);
      done[task] = 1;
      std::lock_guard lock(bar_mutex);
      bar.update(++finished);
    });
  }
  bar.finish();
  result.interrupted = options.interrupt && options.interrupt->load();
  for (std::size_t task = 0; task < results.size(); ++task)
    if (done[task]) result.outcomes.push_back({good[task % n_pairs], results[task]});
  for (const auto& method : options.methods) {
    result.summaries.push_back(summarise_outcomes(method, "all", result.outcomes));
    for (const auto& [label, excluded] : options.subsets) {
      std::vector<PairOutcome> kept;
      for (const auto& o : result.outcomes)
        if (!excluded.count(o.meta.pair_id)) kept.push_back(o);
      result.summaries.push_back(summarise_outcomes(method, label, kept));
    }
    for (const auto& [label, members] : groups) {
      std::vector<PairOutcome> kept;
      for (const auto& o : result.outcomes)
        if (members.count(o.meta.pair_id)) kept.push_back(o);
      result.summaries.push_back(summarise_outcomes(method, label, kept));
    }
  }
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

std::string outcomes_csv(const BenchmarkResult& result) {
  std::string out = "pair_id,file,method,truth,weight,score,direction,correct,criterion_xy,criterion_yx,run_score_sd,samples_used,seconds,hidden\n";
  for (const auto& o : result.outcomes) {
    out += std::to_string(o.meta.pair_id) + "," + o.meta.file.filename().string() + "," + o.result.method + "," +
           std::to_string(o.meta.direction) + ",";
    append_double(out, o.meta.weight);
    out += ",";
    append_double(out, o.result.score);
    // Appended piecewise: GCC 12 warns (-Wrestrict, a false positive) on "," + std::string + ",".
    out += ',';
    out += std::to_string(o.result.direction);
    out += ',';
    append_double(out, credit({o.meta.direction, o.meta.weight, o.result.score}));
    out += ",";
    append_double(out, o.result.criterion_xy);
    out += ",";
    append_double(out, o.result.criterion_yx);
    out += ",";
    append_double(out, o.result.run_score_sd);
    out += ',';
    out += std::to_string(o.result.samples_used);
    out += ',';
    append_double(out, o.result.seconds);
    out += ',';
    out += std::to_string(o.result.hidden);
    out += "\n";
  }
  return out;
}

namespace {
std::string percent(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f %%", 100.0 * v);
  return buffer;
}
}  // namespace

std::string summary_markdown(const BenchmarkResult& result, const BenchmarkOptions& options) {
  std::string out = "| method | subset | pairs | weighted accuracy | accuracy | weighted AUC | AUC | summed pair time | time per pair |\n"
                    "|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& s : result.summaries) {
    char per_pair[32];
    std::snprintf(per_pair, sizeof per_pair, "%.3g s", s.pairs > 0 ? s.seconds / s.pairs : 0.0);
    out += "| " + s.method + " | " + s.subset + " | " + std::to_string(s.pairs) + " | " + percent(s.weighted_accuracy) + " | " +
           percent(s.accuracy) + " | " + percent(s.weighted_auc) + " | " + percent(s.auc) + " | " + format_duration(s.seconds) + " | " +
           per_pair + " |\n";
  }
  out += "\nSeed " + std::to_string(options.seed) + ", " + std::to_string(options.threads) + " thread(s), wall time " +
         format_duration(result.wall_seconds) + ". Skipped pairs: " + std::to_string(result.skipped.size()) + "\n";
  for (const auto& s : result.skipped) out += "- " + s.meta.file.filename().string() + ": " + s.reason + "\n";
  if (!result.seen_in_training.empty())
    out += "\nTRAINING DATA: " + std::to_string(result.seen_in_training.size()) +
           " of these pairs were in the meta-model's training data; meta-cgnn's figures on them are not a test.\n";
  if (result.interrupted) out += "\nINTERRUPTED: the figures cover only the pairs finished before the interrupt.\n";
  return out;
}

std::string summary_json(const BenchmarkResult& result, const BenchmarkOptions& options) {
  nlohmann::json j;
  j["seed"] = options.seed;
  j["threads"] = options.threads;
  j["wall_seconds"] = result.wall_seconds;
  j["interrupted"] = result.interrupted;
  j["skipped_count"] = result.skipped.size();
  j["meta_model_trained_on"] = nlohmann::json::array();  // pair ids whose data the meta-model was trained on
  for (const auto& m : result.seen_in_training) j["meta_model_trained_on"].push_back(m.pair_id);
  j["skipped"] = nlohmann::json::array();
  for (const auto& s : result.skipped) j["skipped"].push_back({{"file", s.meta.file.filename().string()}, {"reason", s.reason}});
  j["summaries"] = nlohmann::json::array();
  for (const auto& s : result.summaries)
    j["summaries"].push_back({{"method", s.method},
                              {"subset", s.subset},
                              {"pairs", s.pairs},
                              {"total_weight", s.total_weight},
                              {"weighted_accuracy", s.weighted_accuracy},
                              {"accuracy", s.accuracy},
                              {"weighted_auc", s.weighted_auc},
                              {"auc", s.auc},
                              {"pair_seconds", s.seconds}});
  j["cgnn_options"] = options.method_options.cgnn.to_json();
  if (std::find(options.methods.begin(), options.methods.end(), "meta-cgnn") != options.methods.end()) {
    j["meta_cgnn_options"] = options.method_options.meta_cgnn.to_json();
    // "meta_model" describes the (first) model, as before ensembles; "meta_models" lists them all.
    auto describe = [](const MetaCgnnModel& model) {
      return nlohmann::json{{"options", model.options().to_json()}, {"training", model.training().to_json()}};
    };
    const auto& models = options.method_options.meta_models;
    if (!models.empty() && models.front()) j["meta_model"] = describe(*models.front());
    if (models.size() > 1) {
      j["meta_models"] = nlohmann::json::array();
      for (const auto& model : models)
        if (model) j["meta_models"].push_back(describe(*model));
    }
  }
  j["kernel_max_samples"] = options.method_options.kernel_max_samples;
  return j.dump(2) + "\n";
}

}  // namespace sbi::causal
