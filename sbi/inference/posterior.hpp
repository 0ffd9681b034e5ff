#pragma once
// sbi::Posterior: the one value every inference method returns, whatever it is made of (an implicit
// generator, a normalising flow, a likelihood or ratio estimate sampled by MCMC, ABC samples, an
// ensemble). Cheap to copy (shared, immutable), safe to use from several threads at once.
//
//   sbi::Posterior posterior = ...;                       // from a method (sbi/inference/method.hpp)
//   sbi::RowMatrix theta = posterior.sample(y_obs, 10000, /*seed=*/1);
//   if (posterior.info().has_log_prob) sbi::Vector lp = posterior.log_prob(theta, y_obs);
//   posterior.save("out/posterior");                      // sbi::load_posterior(folder) reads it back
//
// What a posterior kind provides (a class deriving from PosteriorModel; see models/ for the kinds):
//
// | member                                   | meaning                                                    |
// |------------------------------------------|------------------------------------------------------------|
// | `info()`                                 | kind, method, options, provenance, what log_prob means     |
// | `parameter_names()`, `data_names()`      | θ and y column names                                       |
// | `prior()`                                | the prior it was trained under                             |
// | `sample(y, n, seed)`                     | n draws of θ for observation y; the same seed, same bits,  |
// |                                          | for any thread count                                       |
// | `log_prob(theta, y)`                     | per row of theta (only when info().has_log_prob)           |
// | `save_state(folder)`                     | writes the kind's files into folder and returns its state  |
// |                                          | (JSON kept in posterior.json under "state")                |
//
// ## The saved format (a folder), the one place it is written down
//
//   posterior.json   {"format": "sbi-posterior", "format_version": 2, "kind": ..., "method": ...,
//                     "parameter_names": [...], "data_names": [...], "prior": <spec form>,
//                     "amortized": bool, "observation": [...] or null, "has_log_prob": bool,
//                     "log_prob_normalized": bool, "options": {...the method's options...},
//                     "provenance": {...}, "state": {...the kind's own...},
//                     "files": {"<name>": {"bytes": N, "fnv1a64": "<16 hex digits>"}, ...}}
//   other files      the kind's (networks as .sbinn, samples as .csv, ...), each listed under "files"
//                    with its size and FNV-1a 64-bit checksum, so that a damaged or truncated file
//                    is refused with its name.
//
// Every file is written to a temporary name and renamed; posterior.json goes last, so an interrupted
// save never leaves a folder that loads. Format version 1 (sbi++ 0.1: "kind": "implicit_generator",
// the generator's standardisation and options at the top level, no checksums) still loads.
//
// Loading (sbi::load_posterior in models/registry.hpp) dispatches on "kind"; an unknown kind, a
// newer format_version or a damaged file is a FileError naming the file and what is wrong.
#include "sbi/core/types.hpp"
#include "sbi/priors/prior.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace sbi::optim {
struct TrainingCurve;  // sbi/optim/training_loop.hpp
}
namespace sbi {
struct TrainingCallbacks;  // sbi/optim/training_loop.hpp
}

namespace sbi {

inline constexpr int kPosteriorFormatVersion = 2;

// How a posterior was made.
struct Provenance {
  std::string method;
  std::string simulator;
  nlohmann::json simulator_options = nlohmann::json::object();
  nlohmann::json spec = nullptr;   // the spec it was trained from, if any
  std::uint64_t seed = 0;
  std::size_t simulations = 0;     // simulations the method used (table rows or its own budget)
  std::string table;               // where the table came from ("simulated", a file, or "" when none)
  double training_seconds = 0;
  double simulation_seconds = 0;
  std::string created;             // UTC time stamp, ISO 8601 (utc_timestamp())
  std::string sbi_version;

  nlohmann::json to_json() const;
  static Provenance from_json(const nlohmann::json& j);  // missing keys keep their defaults
};

struct PosteriorInfo {
  std::string kind;                     // "implicit_generator", "flow", "abc_samples", ...
  std::string method;                   // the registered method that made it ("lfvi", "smc", ...)
  // True: sample() works for any observation. False: made for one observation (`observation`) only.
  bool amortized = true;
  std::optional<Vector> observation;    // the observation a non-amortised posterior was made for
  bool has_log_prob = false;            // log_prob() is available
  bool log_prob_normalized = false;     // ... and integrates to one (else: up to a constant)
  nlohmann::json options = nlohmann::json::object();  // the method's options (its JSON form)
  Provenance provenance;
};

// The interface a posterior kind implements. Implementations must be immutable after
// construction: sample() and log_prob() are called concurrently from several threads.
class PosteriorModel {
 public:
  virtual ~PosteriorModel() = default;
  virtual const PosteriorInfo& info() const = 0;
  virtual const Names& parameter_names() const = 0;
  virtual const Names& data_names() const = 0;
  virtual const Prior& prior() const = 0;
  virtual PriorPtr prior_ptr() const = 0;
  // n draws (rows) for `observation`; throws InputError for an observation of the wrong length or,
  // for a non-amortised posterior, another observation than the one it was made for.
  virtual RowMatrix sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const = 0;
  // sample() for a caller that can be interrupted: kinds whose sampling can take minutes (MCMC)
  // report progress through `callbacks` and stop when callbacks.stop is set, throwing
  // sbi::Interrupted (chains stopped early leave no samples worth keeping). The default is sample().
  virtual RowMatrix sample_watched(const Vector& observation, Eigen::Index n, std::uint64_t seed, const TrainingCallbacks& callbacks) const;
  // log q(θ | y) per row of theta (−∞ outside the prior's support). The default throws InputError
  // saying that this kind has no density.
  virtual Vector log_prob(const RowMatrix& theta, const Vector& observation) const;
  // What the method reports about itself (training: best step, stop reason; ABC: tolerance per
  // generation; MCMC: R-hat and ESS). Empty by default.
  virtual nlohmann::json diagnostics() const { return nlohmann::json::object(); }
  // Writes the kind's own files into `folder` (atomically, one by one) and returns the kind's state
  // for posterior.json. The names of the files written are appended to `files`.
  virtual nlohmann::json save_state(const std::filesystem::path& folder, std::vector<std::string>& files) const = 0;
};

// What most kinds share: the prior, the data names and the info, with the accessors over them.
class PosteriorModelBase : public PosteriorModel {
 public:
  const PosteriorInfo& info() const override { return info_; }
  const Names& parameter_names() const override { return prior_->names(); }
  const Names& data_names() const override { return data_names_; }
  const Prior& prior() const override { return *prior_; }
  PriorPtr prior_ptr() const override { return prior_; }

 protected:
  PosteriorModelBase() = default;
  // Throws InputError without a prior.
  PosteriorModelBase(PriorPtr prior, Names data_names, PosteriorInfo info);
  PriorPtr prior_;
  Names data_names_;
  PosteriorInfo info_;
};

class Posterior {
 public:
  Posterior() = default;
  explicit Posterior(std::shared_ptr<const PosteriorModel> model) : model_(std::move(model)) {}

  explicit operator bool() const { return model_ != nullptr; }
  const PosteriorInfo& info() const { return model().info(); }
  const std::string& kind() const { return info().kind; }
  const std::string& method() const { return info().method; }
  const Names& parameter_names() const { return model().parameter_names(); }
  const Names& data_names() const { return model().data_names(); }
  const Prior& prior() const { return model().prior(); }
  PriorPtr prior_ptr() const { return model().prior_ptr(); }
  std::size_t parameter_dim() const { return parameter_names().size(); }
  std::size_t data_dim() const { return data_names().size(); }

  // See PosteriorModel. Checks n ≥ 1 and the observation's length and finiteness first.
  RowMatrix sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const;
  // The same, interruptible and reporting progress (PosteriorModel::sample_watched).
  RowMatrix sample(const Vector& observation, Eigen::Index n, std::uint64_t seed, const TrainingCallbacks& callbacks) const;
  Vector log_prob(const RowMatrix& theta, const Vector& observation) const;
  nlohmann::json diagnostics() const { return model().diagnostics(); }

  // Writes the folder described at the top of this file (created if needed; files of an earlier
  // save in it are replaced).
  void save(const std::filesystem::path& folder) const;

  // The kind behind the value, for kind-specific extras (training curve, MCMC diagnostics, ...):
  //   if (auto* flow = posterior.model_as<models::FlowPosterior>()) ...
  template <class Kind>
  const Kind* model_as() const { return dynamic_cast<const Kind*>(model_.get()); }
  const PosteriorModel& model() const;

 private:
  std::shared_ptr<const PosteriorModel> model_;
};

// Checks that `observation` fits a posterior over `data_names`: the right length and finite values.
// Throws InputError saying what is wrong.
void check_observation(const Vector& observation, const Names& data_names);

// ---------------------------------------------------------------------------------------------
// For posterior kinds: reading and writing the folder.

// The common part of posterior.json, read and checked (format, version, files' sizes and checksums).
struct SavedPosterior {
  std::filesystem::path folder;
  nlohmann::json document;     // the whole posterior.json
  int format_version = 0;
  std::string kind;
  PosteriorInfo info;          // kind, method, amortized, observation, log-prob flags, options, provenance
  Names parameter_names, data_names;
  PriorPtr prior;
  const nlohmann::json& state() const;  // document["state"] (version 2), or the document (version 1)
  std::filesystem::path file(const std::string& name) const { return folder / name; }
};

// Reads folder/posterior.json and verifies every listed file. FileError names the file and the problem
// (missing, not JSON, not a posterior, newer format, size or checksum mismatch).
SavedPosterior read_saved_posterior(const std::filesystem::path& folder);

// The training curve a kind saved as training_curve.csv (columns as TrainingCurve::columns()), so that
// a loaded posterior saves the same files again; an empty curve when there is no such file. FileError
// names the file when it is damaged.
optim::TrainingCurve read_training_curve(const SavedPosterior& saved);

// FNV-1a 64-bit checksum of a file's bytes, as 16 lower-case hex digits; FileError if unreadable.
std::string file_checksum(const std::filesystem::path& path);

}  // namespace sbi
