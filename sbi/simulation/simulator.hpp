#pragma once
// The simulator concept and its type-erased runtime value, sbi::Simulator.
//
// What a user provides (a plain struct or lambda; no base class):
//
// | expression                         | meaning                                                      |
// |------------------------------------|--------------------------------------------------------------|
// | `bool ok = f(theta, y, rng)`       | simulate one data set y (length data_dim) for parameters     |
// |                                    | theta (length parameter_dim), drawing only from `rng`;       |
// |                                    | return false (or throw SimulationError) when it fails        |
//
// plus a SimulatorInfo: name, parameter and data names, and whether f may be called from several
// threads at once. make_simulator() wraps the two into a Simulator. Simulators that talk to other
// processes (see simulators/external_process.hpp) implement SimulatorModel directly.
//
// Reproducibility contract: row r of a batch is simulated from the stream whose seed is
// stream_seeds[r] (derived from (run seed, simulation index)), and from nothing else.
#include "sbi/core/error.hpp"
#include "sbi/core/types.hpp"
#include "sbi/random/rng.hpp"

#include <nlohmann/json.hpp>

#include <concepts>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sbi {

struct SimulatorInfo {
  std::string name;
  Names parameter_names;
  Names data_names;
  // False when the simulation function must not run concurrently (shared mutable state).
  bool thread_safe = true;
  // Options the simulator was built with, recorded in tables and posteriors.
  nlohmann::json options = nlohmann::json::object();
  // Keys of `options` that change how, not what, it simulates (worker counts, timeouts): left out
  // when a table is matched to its simulator (simulator_options_hash, check_table_fits).
  Names execution_option_keys = {};

  std::size_t parameter_dim() const { return parameter_names.size(); }
  std::size_t data_dim() const { return data_names.size(); }
};

enum class SimulationStatus : std::uint8_t { ok, failed, non_finite };

struct SimulationOutcome {
  SimulationStatus status = SimulationStatus::ok;
  std::string message;  // empty unless something went wrong
  bool ok() const { return status == SimulationStatus::ok; }
};

// The runtime interface behind sbi::Simulator.
class SimulatorModel {
 public:
  virtual ~SimulatorModel() = default;
  virtual const SimulatorInfo& info() const = 0;
  // Simulates every row of `theta` into the same row of `y` (already sized rows × data_dim).
  // Row r draws only from Rng(stream_seeds[r]). Never throws for a failed simulation: the outcome
  // of row r goes to outcomes[r] (the runner checks finiteness afterwards).
  virtual void simulate_batch(const RowMatrix& theta, RowMatrix& y,
                              std::span<const std::uint64_t> stream_seeds,
                              std::span<SimulationOutcome> outcomes) const = 0;
  // As simulate_batch, also given each row's simulation index within its run (the runner knows
  // it; e.g. the external-process protocol passes it on). By default the index is not needed.
  virtual void simulate_batch_indexed(const RowMatrix& theta, RowMatrix& y, std::span<const std::uint64_t> stream_seeds,
                                      std::span<const std::uint64_t> indices, std::span<SimulationOutcome> outcomes) const {
    (void)indices;
    simulate_batch(theta, y, stream_seeds, outcomes);
  }
  // True when simulate_batch runs its own workers (e.g. external processes): the runner then
  // hands it whole batches from one thread instead of splitting rows across threads.
  virtual bool runs_own_workers() const { return false; }
};

// A type-erased, cheaply copyable simulator value.
class Simulator {
 public:
  Simulator() = default;
  // Checks the model's names (check_simulator_names); InputError if one cannot be a CSV column.
  explicit Simulator(std::shared_ptr<const SimulatorModel> model);

  const SimulatorInfo& info() const { return model_->info(); }
  const std::string& name() const { return info().name; }
  std::size_t parameter_dim() const { return info().parameter_dim(); }
  std::size_t data_dim() const { return info().data_dim(); }
  bool thread_safe() const { return info().thread_safe; }
  bool runs_own_workers() const { return model_->runs_own_workers(); }
  explicit operator bool() const { return model_ != nullptr; }

  void simulate_batch(const RowMatrix& theta, RowMatrix& y,
                      std::span<const std::uint64_t> stream_seeds,
                      std::span<SimulationOutcome> outcomes) const {
    model_->simulate_batch(theta, y, stream_seeds, outcomes);
  }
  void simulate_batch(const RowMatrix& theta, RowMatrix& y, std::span<const std::uint64_t> stream_seeds,
                      std::span<const std::uint64_t> indices, std::span<SimulationOutcome> outcomes) const {
    model_->simulate_batch_indexed(theta, y, stream_seeds, indices, outcomes);
  }

  // One simulation with an explicit stream; throws SimulationError naming θ if it fails.
  Vector simulate_one(ConstRow theta, std::uint64_t stream_seed) const;

 private:
  std::shared_ptr<const SimulatorModel> model_;
};

template <class F>
concept RowSimulatorFunction = std::invocable<const F&, ConstRow, MutableRow, Rng&>;

namespace detail {

// Runs a row function over a batch, turning a false return or an exception into an outcome.
template <class F>
void simulate_rows(const F& f, const RowMatrix& theta, RowMatrix& y,
                   std::span<const std::uint64_t> stream_seeds,
                   std::span<SimulationOutcome> outcomes) {
  for (Eigen::Index r = 0; r < theta.rows(); ++r) {
    Rng rng(stream_seeds[static_cast<std::size_t>(r)]);
    auto& outcome = outcomes[static_cast<std::size_t>(r)];
    try {
      bool ok = true;
      if constexpr (std::same_as<std::invoke_result_t<const F&, ConstRow, MutableRow, Rng&>, void>) {
        f(row_span(theta, r), row_span(y, r), rng);
      } else {
        ok = static_cast<bool>(f(row_span(theta, r), row_span(y, r), rng));
      }
      outcome = ok ? SimulationOutcome{} : SimulationOutcome{SimulationStatus::failed, "simulator reported failure"};
    } catch (const std::exception& e) {
      outcome = SimulationOutcome{SimulationStatus::failed, e.what()};
    }
  }
}

template <class F>
class FunctionSimulator final : public SimulatorModel {
 public:
  FunctionSimulator(SimulatorInfo info, F f) : info_(std::move(info)), f_(std::move(f)) {}
  const SimulatorInfo& info() const override { return info_; }
  void simulate_batch(const RowMatrix& theta, RowMatrix& y,
                      std::span<const std::uint64_t> stream_seeds,
                      std::span<SimulationOutcome> outcomes) const override {
    simulate_rows(f_, theta, y, stream_seeds, outcomes);
  }

 private:
  SimulatorInfo info_;
  F f_;
};

}  // namespace detail

// Wraps a row function `f(theta, y, rng) -> bool|void` into a Simulator.
template <class F>
Simulator make_simulator(SimulatorInfo info, F f) {
  static_assert(RowSimulatorFunction<F>,
                "sbi::make_simulator: the function must be callable as f(sbi::ConstRow theta, "
                "sbi::MutableRow y, sbi::Rng& rng) and return bool or void; see "
                "sbi/simulation/simulator.hpp");
  return Simulator(std::make_shared<detail::FunctionSimulator<F>>(std::move(info), std::move(f)));
}

// "θ = (alpha=0.5, beta=0.02)" for error messages.
std::string describe_theta(const Names& names, ConstRow theta);

// Throws InputError unless every parameter and data name can be a CSV column that reads back as
// itself (sbi::csv_name_problem) and no name repeats within the parameters or within the data.
void check_simulator_names(const SimulatorInfo& info);

// "fnv1a64:<16 hex digits>" of the options without their execution settings: two simulators with the
// same name and hash simulate the same thing.
std::string simulator_options_hash(const SimulatorInfo& info);
// `options` without `execution_option_keys` (the part that identifies what is simulated).
nlohmann::json identity_options(const nlohmann::json& options, const Names& execution_option_keys);

}  // namespace sbi
