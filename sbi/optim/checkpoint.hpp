#pragma once
// Checkpoints of a training loop, so that long training survives an interruption (Ctrl-C, a
// scheduler's pre-emption, the out-of-memory killer) and resumes where it stopped with the same
// result as a run that was never interrupted.
//
// A checkpoint holds everything the next step depends on: the step reached, the tracked parameters
// with their optimiser slots (Adam's moments), the best weights and early-stopping state, the
// training curve so far and the method's own state (random streams, optimiser step counts) as JSON.
// The loop writes one at every `every_checks`-th validation check and when it is stopped; a method
// whose randomness is not all in that state does not offer resumption.
//
//   sbi::DirectoryCheckpoints store(folder / "checkpoints");   // sbi/io/checkpoint_files.hpp
//   sbi::TrainingCallbacks callbacks;
//   callbacks.checkpoints = &store;                           // loads "train" if present, then saves
//   train_npe(..., callbacks);
#include "sbi/autodiff/tape.hpp"
#include "sbi/random/rng.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sbi::optim {

struct TrainingRecord;

struct ParameterCheckpoint {
  std::string name{};
  ad::Matrix<float> value{};
  std::vector<ad::Matrix<float>> slots{};  // the optimiser's state (Parameter::state)
  ad::Matrix<float> best{};                // the value at the best validation loss (empty before the first)
};

struct TrainingCheckpoint {
  int step = 0;                    // optimisation steps done
  bool have_best = false;
  double best_validation = 0;
  int best_step = 0;
  int checks_since_best = 0;
  int steps_since_record = 0;      // steps since the last validation check, and their loss sums
  std::vector<double> loss_sums{};
  double seconds = 0;              // training time before this checkpoint
  std::vector<std::string> loss_names{};
  std::vector<int> record_steps{};  // the training curve so far, column by column
  std::vector<std::vector<double>> record_losses{};
  std::vector<double> record_validation{}, record_seconds{};
  std::vector<ParameterCheckpoint> parameters{};
  nlohmann::json method_state = nlohmann::json::object();

  // A self-checking byte string (a checksum over the encoded content); from_bytes throws InputError
  // naming `source` when the bytes are damaged or not a checkpoint.
  std::string to_bytes() const;
  static TrainingCheckpoint from_bytes(std::string_view bytes, const std::string& source);
};

// A random stream's exact state as JSON (in a checkpoint's method_state), and back; throws InputError
// when `j` is not one.
nlohmann::json rng_state_to_json(const Rng& rng);
void rng_state_from_json(const nlohmann::json& j, Rng& rng);

}  // namespace sbi::optim

namespace sbi {

// Where a training loop keeps its checkpoints, by key ("train", "member-3"). Implementations must
// allow concurrent calls with different keys (ensemble members train in parallel).
class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;
  virtual std::optional<optim::TrainingCheckpoint> load(const std::string& key) const = 0;
  virtual void save(const std::string& key, const optim::TrainingCheckpoint& checkpoint) = 0;
  int every_checks = 10;  // validation checks between checkpoints (one is also written when stopped)
};

}  // namespace sbi
