#include "models/ensemble_training.hpp"

#include "models/ensemble_posterior.hpp"
#include "models/methods.hpp"
#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/parallel/bytes.hpp"
#include "sbi/parallel/cluster.hpp"
#include "sbi/parallel/parallel_for.hpp"
#include "sbi/random/rng.hpp"
#include "sbi/util/clock.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <unistd.h>

namespace sbi::models {

namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------------
// A private temporary folder, removed when it goes out of scope.
class TemporaryFolder {
 public:
  TemporaryFolder() {
    static std::atomic<std::uint64_t> counter{0};
    const fs::path base = fs::temp_directory_path();
    for (;;) {
      path_ = base / ("sbi-posterior-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
      if (fs::create_directory(path_)) break;
    }
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// ---------------------------------------------------------------------------------------------
// The members' seeds, checkpoint keys and inputs: the same on every thread and rank.

TrainingInput member_input(const TrainingInput& input, std::size_t member) {
  TrainingInput out = input;
  out.ensemble = 1;
  out.seed = stream_seed(input.seed, member, 0xe75e);
  return out;
}

std::string member_key(const std::string& key, std::size_t member) { return key + "-member-" + std::to_string(member); }

PosteriorInfo mixture_info(const std::vector<Posterior>& members, const TrainingInput& input, double seconds) {
  PosteriorInfo info = members.front().info();
  info.options["ensemble"] = input.ensemble;
  info.provenance.seed = input.seed;
  info.provenance.training_seconds = seconds;
  return info;
}

// ---------------------------------------------------------------------------------------------
// Under MPI: the job "ensemble-members" (one chunk = one member; its result, the member's bytes).

constexpr const char* kEnsembleJob = "ensemble-members";

// What a worker needs to train any member: the job's bytes, decoded.
struct EnsembleJob {
  std::string method;
  nlohmann::json options;
  TrainingInput input;             // input.table points at `table`
  ReferenceTable table;
  std::string checkpoint_key;
  int every_checks = 10;
};

std::string encode_job(const std::string& method, const nlohmann::json& options, const TrainingInput& input, const std::string& prior_json,
                       const TrainingCallbacks& callbacks) {
  cluster::ByteWriter w;
  w.put_string(method).put_string(options.dump()).put_string(prior_json);
  const ReferenceTable& table = *input.table;
  w.put_string(table.metadata.to_json().dump());
  w.put<std::uint64_t>(table.indices.size());
  w.put_raw(table.indices.data(), table.indices.size() * sizeof(std::uint64_t));
  w.put_matrix(table.theta).put_matrix(table.y);
  w.put(input.observation.has_value());
  if (input.observation) {
    w.put<std::int64_t>(input.observation->size());
    w.put_raw(input.observation->data(), static_cast<std::size_t>(input.observation->size()) * sizeof(double));
  }
  w.put<std::uint64_t>(input.budget).put(input.ensemble).put(input.seed).put(input.threads);
  w.put(input.simulation.threads).put<std::uint64_t>(input.simulation.batch_size).put(input.simulation.failure_policy).put(input.simulation.max_redraws);
  w.put_string(input.provenance.to_json().dump());
  w.put_string(callbacks.checkpoint_key);
  w.put(callbacks.checkpoints ? callbacks.checkpoints->every_checks : 10);
  return w.take();
}

std::shared_ptr<EnsembleJob> decode_job(const std::string& bytes) {
  auto job = std::make_shared<EnsembleJob>();
  cluster::ByteReader r(bytes);
  job->method = r.get_string();
  job->options = nlohmann::json::parse(r.get_string());
  TrainingInput& input = job->input;
  input.prior = prior_from_json(nlohmann::json::parse(r.get_string()));
  job->table.metadata = TableMetadata::from_json(nlohmann::json::parse(r.get_string()), "the ensemble job's table");
  job->table.indices.resize(r.get<std::uint64_t>());
  r.get_raw(job->table.indices.data(), job->table.indices.size() * sizeof(std::uint64_t));
  job->table.theta = r.get_matrix<RowMatrix>();
  job->table.y = r.get_matrix<RowMatrix>();
  input.table = &job->table;
  if (r.get<bool>()) {
    Vector observation(r.get<std::int64_t>());
    r.get_raw(observation.data(), static_cast<std::size_t>(observation.size()) * sizeof(double));
    input.observation = std::move(observation);
  }
  input.budget = r.get<std::uint64_t>();
  input.ensemble = r.get<int>();
  input.seed = r.get<std::uint64_t>();
  input.threads = r.get<int>();
  input.simulation.threads = r.get<int>();
  input.simulation.batch_size = r.get<std::uint64_t>();
  input.simulation.failure_policy = r.get<FailurePolicy>();
  input.simulation.max_redraws = r.get<int>();
  input.provenance = Provenance::from_json(nlohmann::json::parse(r.get_string()));
  job->checkpoint_key = r.get_string();
  job->every_checks = r.get<int>();
  if (!r.done()) throw std::runtime_error("ensemble job: unexpected bytes at the end");
  return job;
}

// A worker's checkpoints: rank 0's checkpoint of the member (sent with the chunk) to resume from;
// the ones the member writes are kept in memory only (rank 0 alone writes in the run's folder).
class MemberCheckpoints final : public CheckpointStore {
 public:
  MemberCheckpoints(std::string key, std::optional<optim::TrainingCheckpoint> start, int every)
      : key_(std::move(key)), latest_(std::move(start)) {
    every_checks = every;
  }
  std::optional<optim::TrainingCheckpoint> load(const std::string& key) const override {
    return key == key_ ? latest_ : std::nullopt;
  }
  void save(const std::string& key, const optim::TrainingCheckpoint& checkpoint) override {
    if (key == key_) latest_ = checkpoint;
  }

 private:
  std::string key_;
  std::optional<optim::TrainingCheckpoint> latest_;
};

// Chunk payloads: for each member of the chunk, rank 0's checkpoint of it (empty when none).
std::string encode_checkpoints(const TrainingCallbacks& callbacks, std::uint64_t begin, std::uint64_t end) {
  cluster::ByteWriter w;
  for (auto k = begin; k < end; ++k) {
    std::optional<optim::TrainingCheckpoint> checkpoint;
    if (callbacks.checkpoints) checkpoint = callbacks.checkpoints->load(member_key(callbacks.checkpoint_key, k));
    w.put_string(checkpoint ? checkpoint->to_bytes() : std::string());
  }
  return w.take();
}

// Trains members [begin, end) of the job on a worker rank.
std::string train_members_on_worker(const EnsembleJob& job, std::uint64_t begin, std::uint64_t end, const std::string& payload) {
  const Method& method = builtin_methods().at(job.method);
  cluster::ByteReader checkpoints(payload);
  cluster::ByteWriter w;
  for (auto k = begin; k < end; ++k) {
    const std::string key = member_key(job.checkpoint_key, k);
    const std::string saved = checkpoints.get_string();
    std::optional<optim::TrainingCheckpoint> start;
    if (!saved.empty()) start = optim::TrainingCheckpoint::from_bytes(saved, "rank 0's checkpoint " + key);
    MemberCheckpoints store(key, std::move(start), job.every_checks);
    TrainingCallbacks callbacks;
    callbacks.checkpoints = &store;
    callbacks.checkpoint_key = key;
    // The registered train function trains one member when input.ensemble is 1.
    const Posterior member = method.train(member_input(job.input, static_cast<std::size_t>(k)), job.options, callbacks);
    w.put_string(posterior_to_bytes(member));
  }
  return w.take();
}

const bool ensemble_handler_registered = [] {
  cluster::register_handler(kEnsembleJob, [](const std::string& bytes) -> cluster::ChunkFunction {
    std::shared_ptr<const EnsembleJob> job = decode_job(bytes);
    builtin_methods().at(job->method);  // an unknown method is refused when the job arrives
    return [job](std::uint64_t begin, std::uint64_t end, const std::string& payload) {
      return train_members_on_worker(*job, begin, end, payload);
    };
  });
  return true;
}();

// Member k's callbacks on rank 0 or alone: the caller's stop flag and checkpoint store.
TrainingCallbacks member_callbacks(const TrainingCallbacks& callbacks, std::size_t member) {
  TrainingCallbacks out;
  out.stop = callbacks.stop;
  out.checkpoints = callbacks.checkpoints;
  out.checkpoint_key = member_key(callbacks.checkpoint_key, member);
  return out;
}

Posterior train_over_ranks(const std::string& method, const MemberTraining& train_member, const TrainingInput& input,
                           const nlohmann::json& options, const TrainingCallbacks& callbacks, const std::string& prior_json) {
  const auto k = static_cast<std::size_t>(input.ensemble);
  const auto start = std::chrono::steady_clock::now();
  std::vector<Posterior> members(k);
  std::size_t delivered = 0;
  const std::string stage = "train (ensemble of " + std::to_string(k) + " over " + std::to_string(cluster::size()) + " ranks)";
  callbacks.report({.stage = stage, .done = 0, .total = k, .unit = "member", .status = ""});
  cluster::JobOptions sizing;
  sizing.first_chunk = sizing.max_chunk = 1;
  sizing.stop = callbacks.stop;
  cluster::run_job(
      kEnsembleJob, encode_job(method, options, input, prior_json, callbacks), k, sizing,
      [&](std::uint64_t begin, std::uint64_t end, const std::string&) {
        // Rank 0's own members, on its compute thread: its checkpoint store and stop flag.
        cluster::ByteWriter w;
        for (auto m = begin; m < end; ++m) {
          const auto member = static_cast<std::size_t>(m);
          w.put_string(posterior_to_bytes(train_member(member_input(input, member), options, member_callbacks(callbacks, member))));
        }
        return w.take();
      },
      [&](std::uint64_t begin, std::uint64_t end, std::string&& bytes) {
        cluster::ByteReader r(bytes);
        for (auto m = begin; m < end; ++m) members[static_cast<std::size_t>(m)] = posterior_from_bytes(r.get_string());
        delivered = static_cast<std::size_t>(end);
        callbacks.report({.stage = stage, .done = delivered, .total = k, .unit = "member", .status = ""});
      },
      [&](std::uint64_t begin, std::uint64_t end) { return encode_checkpoints(callbacks, begin, end); });
  // Stopped: the members never handed out see the stop flag at once, as they would alone.
  for (std::size_t member = delivered; member < k; ++member)
    members[member] = train_member(member_input(input, member), options, member_callbacks(callbacks, member));
  PosteriorInfo info = mixture_info(members, input, seconds_since(start));
  return Posterior(std::make_shared<EnsemblePosterior>(std::move(members), std::move(info)));
}

}  // namespace

Posterior train_ensemble(const std::string& method, const MemberTraining& train_member, const TrainingInput& input,
                         const nlohmann::json& options, const TrainingCallbacks& callbacks) {
  if (input.ensemble < 2) throw std::invalid_argument("train_ensemble: an ensemble needs at least 2 members");
  const auto k = static_cast<std::size_t>(input.ensemble);
  if (cluster::can_run_job() && input.table && input.prior && input.checkpoint.empty()) {
    // A prior without a portable JSON form keeps the members on rank 0's threads.
    if (const auto prior_json = portable_prior_json(*input.prior)) return train_over_ranks(method, train_member, input, options, callbacks, *prior_json);
  }
  std::vector<Posterior> members(k);
  const int threads = input.threads > 0 ? input.threads : hardware_threads();
  const auto start = std::chrono::steady_clock::now();
  parallel_for(k, threads, [&](std::size_t member, std::size_t) {
    TrainingCallbacks own = member_callbacks(callbacks, member);
    // Progress is reported for member 0 only (the members progress alike).
    if (member == 0 && callbacks.on_progress)
      own.on_progress = [&](const TrainingProgress& p) {
        TrainingProgress labelled = p;
        labelled.stage = p.stage + " (ensemble of " + std::to_string(k) + ")";
        callbacks.report(labelled);
      };
    members[member] = train_member(member_input(input, member), options, own);
  });
  PosteriorInfo info = mixture_info(members, input, seconds_since(start));
  return Posterior(std::make_shared<EnsemblePosterior>(std::move(members), std::move(info)));
}

std::string posterior_to_bytes(const Posterior& posterior) {
  TemporaryFolder folder;
  posterior.save(folder.path());
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(folder.path()))
    if (entry.is_regular_file()) files.push_back(entry.path().lexically_relative(folder.path()));
  std::sort(files.begin(), files.end());
  cluster::ByteWriter w;
  w.put<std::uint64_t>(files.size());
  for (const auto& file : files) w.put_string(file.generic_string()).put_string(read_text_file(folder.path() / file));
  return w.take();
}

Posterior posterior_from_bytes(const std::string& bytes) {
  TemporaryFolder folder;
  try {
    cluster::ByteReader r(bytes);
    const auto count = r.get<std::uint64_t>();
    for (std::uint64_t f = 0; f < count; ++f) {
      const fs::path name = r.get_string();
      const std::string content = r.get_string();
      for (const auto& part : name)
        if (part == ".." || part == "." || name.is_absolute()) throw FileError("a posterior's bytes name the file \"" + name.string() + "\"");
      const fs::path file = folder.path() / name;
      fs::create_directories(file.parent_path());
      std::ofstream out(file, std::ios::binary);
      out.write(content.data(), static_cast<std::streamsize>(content.size()));
      if (!out) throw FileError(file.string() + ": cannot be written");
    }
    if (!r.done()) throw FileError("a posterior's bytes: unexpected bytes at the end");
  } catch (const FileError&) {
    throw;
  } catch (const std::runtime_error& e) {  // truncated bytes (ByteReader)
    throw FileError(std::string("a posterior's bytes: ") + e.what());
  }
  return load_posterior(folder.path());
}

}  // namespace sbi::models
