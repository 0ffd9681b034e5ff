#pragma once
// Cause-effect benchmarks in the folder format of data/tuebingen: one pairNNNN.csv per pair (two
// numeric columns, x then y) and meta.csv with at least the columns pair_id, direction (+1: x → y,
// −1: y → x) and weight. Scoring: accuracy, weighted accuracy, and the area under the
// accuracy–decision-rate curve.
#include "sbi/causal/methods.hpp"

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace sbi::causal {

struct PairMeta {
  int pair_id = 0;
  int direction = 0;  // +1 or −1
  double weight = 1;
  std::filesystem::path file;  // DIR/pairNNNN.csv
  // The other columns of meta.csv by name (n_samples, family, mechanism, ...), for --group-by.
  std::map<std::string, std::string> labels;
};

// Reads DIR/meta.csv. Throws sbi::InputError naming the file and line for a missing column, a
// direction other than ±1 or a negative weight.
std::vector<PairMeta> read_benchmark_meta(const std::filesystem::path& dir);

// One decision: the true direction, its weight and the method's signed score.
struct Decision {
  int truth = 0;
  double weight = 1;
  double score = 0;
};

// 1 when sign(score) = truth, 0 when opposite, ½ when the score is 0 (undecided: a coin flip).
double credit(const Decision& d);
double accuracy(const std::vector<Decision>& decisions, bool weighted);
// Decisions sorted by |score|, largest first (ties keep their input order); at each k the accuracy
// of the first k; the area is Σ_k (w_k / Σw) · accuracy_k, i.e. the step curve of accuracy against
// decision rate (the fraction of total weight decided) integrated over [0, 1]. Unweighted: w = 1.
double accuracy_decision_rate_auc(const std::vector<Decision>& decisions, bool weighted);

struct PairOutcome {
  PairMeta meta;
  DirectionResult result;
};

struct MethodSummary {
  std::string method;
  std::string subset;        // "all" or a label
  int pairs = 0;
  double total_weight = 0;
  double accuracy = 0, weighted_accuracy = 0;
  double auc = 0, weighted_auc = 0;
  double seconds = 0;        // summed over pairs: elapsed time of each pair on its thread (> CPU time when the machine is loaded)
};

MethodSummary summarise_outcomes(const std::string& method, const std::string& subset,
                                 const std::vector<PairOutcome>& outcomes);

struct SkippedPair {
  PairMeta meta;
  std::string reason;
};

struct BenchmarkOptions {
  std::vector<std::string> methods = {"cgnn"};
  MethodOptions method_options;
  std::uint64_t seed = 1;
  int threads = 1;  // pairs in parallel; results do not depend on it
  bool progress = false;
  // Extra subset summaries: label → pair ids to exclude.
  std::vector<std::pair<std::string, std::set<int>>> subsets;
  // Extra summaries by the values of meta.csv columns: each entry is one column ("family") or
  // several joined by '+' ("family+n_samples") for their combinations; subsets are labelled
  // "family=additive", "family=additive,n_samples=50". A column missing from meta.csv is an error.
  std::vector<std::string> group_by;
  const std::atomic<bool>* interrupt = nullptr;
};

struct BenchmarkResult {
  std::vector<PairOutcome> outcomes;  // by method, then pair order of meta.csv
  std::vector<SkippedPair> skipped;
  // Pairs whose data the meta-model was trained on (its training summary's labelled_checksums, in
  // either column order; a rescaled copy is not recognised): their meta-cgnn decisions are
  // training-set decisions. Warned about, and said in the summaries.
  std::vector<PairMeta> seen_in_training;
  std::vector<MethodSummary> summaries;
  double wall_seconds = 0;
  bool interrupted = false;
};

// Reads every pair listed in meta.csv (bad files are skipped and listed with the reason), runs each
// method on every good pair, pairs in parallel, and summarises. `warn` receives one line per
// skipped pair as it is found, and one when meta-cgnn's model was trained on some of the pairs.
BenchmarkResult run_benchmark(const std::filesystem::path& dir, const BenchmarkOptions& options,
                              const std::function<void(const std::string&)>& warn);

// Under MPI (sbi/parallel/cluster.hpp), run_benchmark on rank 0 spreads its tasks (method × pair) over
// the ranks, with the same results. A program that runs the same command on every rank calls this
// before run_benchmark: on a worker rank it reads the folder, serves rank 0's tasks until rank 0
// finishes, and returns true (the caller returns at once); on rank 0 or alone it returns false.
[[nodiscard]] bool serve_benchmark_if_worker(const std::filesystem::path& dir, const BenchmarkOptions& options);

// The pairs of a benchmark folder as labelled data sets for meta-training (sbi/causal/meta_cgnn.hpp),
// with their directions and weights. Unlike run_benchmark, a pair that cannot be read is an error
// (InputError naming its file): training on part of what was asked for would go unnoticed.
std::vector<LabelledPair> read_labelled_pairs(const std::filesystem::path& dir);

// Per-pair table (CSV) and summaries (Markdown, JSON) as text.
std::string outcomes_csv(const BenchmarkResult& result);
std::string summary_markdown(const BenchmarkResult& result, const BenchmarkOptions& options);
std::string summary_json(const BenchmarkResult& result, const BenchmarkOptions& options);

}  // namespace sbi::causal
