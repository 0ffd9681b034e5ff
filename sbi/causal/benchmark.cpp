#include "sbi/causal/benchmark.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
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

BenchmarkResult run_benchmark(const std::filesystem::path& dir, const BenchmarkOptions& options,
                              const std::function<void(const std::string&)>& warn) {
  for (const auto& m : options.methods) {
    if (!is_method(m)) run_method(m, CausePair{}, options.method_options, 0);  // throws the "unknown method" message
    if (m == "meta-cgnn" && !options.method_options.meta_model)
      throw InputError("the benchmark lists meta-cgnn but no meta-model was given");
  }
  const auto start = std::chrono::steady_clock::now();
  BenchmarkResult result;
  const std::vector<PairMeta> metas = read_benchmark_meta(dir);
  std::vector<PairMeta> good;
  std::vector<CausePair> pairs;
  for (const auto& meta : metas) {
    try {
      pairs.push_back(read_pair(meta.file));
      good.push_back(meta);
    } catch (const std::exception& e) {
      result.skipped.push_back({meta, e.what()});
      if (warn) warn("skipping " + meta.file.filename().string() + ": " + e.what());
    }
  }
  const auto groups = grouped_subsets(good, options.group_by, dir / "meta.csv");  // checked before the long run
  const std::size_t n_pairs = pairs.size(), n_methods = options.methods.size();
  std::vector<DirectionResult> results(n_pairs * n_methods);
  std::vector<char> done(results.size(), 0);
  ProgressBar bar("causal", results.size(), options.progress, "pair");
  std::mutex bar_mutex;
  std::size_t finished = 0;
  // Task t: method t / n_pairs, pair t % n_pairs, seeded by (seed, pair id): the same pair gets the
  // same random streams whatever the thread count or the other pairs in the folder.
  parallel_for(results.size(), options.threads, [&](std::size_t task, std::size_t) {
    if (options.interrupt && options.interrupt->load()) return;
    const std::size_t m = task / n_pairs, p = task % n_pairs;
    results[task] = run_method(options.methods[m], pairs[p], options.method_options,
                               stream_seed(options.seed, static_cast<std::uint64_t>(good[p].pair_id)), 1);
    done[task] = 1;
    std::lock_guard lock(bar_mutex);
    bar.update(++finished);
  });
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
    if (options.method_options.meta_model) {
      j["meta_model"] = {{"options", options.method_options.meta_model->options().to_json()},
                         {"training", options.method_options.meta_model->training().to_json()}};
    }
  }
  j["kernel_max_samples"] = options.method_options.kernel_max_samples;
  return j.dump(2) + "\n";
}

}  // namespace sbi::causal
