#pragma once
// A simulator written in Python, as a sbi::SimulatorModel: the library's runner calls it like any
// built-in simulator, batch by batch.
//
// What the user provides: a function on a batch, `y = f(theta, seeds)`, with
//   theta  float64 array (n, P), one row per simulation;
//   seeds  uint64 array (n,), the seed of each row's own random stream (stream_seed(run seed, index, 1));
//   y      array-like (n, D) of numbers (or (n,) when D = 1); a row with NaN or ±inf counts as a
//          failed simulation (the run's failure policy drops or redraws it).
// Row r must draw its randomness from seeds[r] alone (e.g. sbipp.normals(seeds, k), or
// numpy.random.default_rng(seeds[r])): which rows share a batch depends on timing, so the table is
// reproducible only if each row depends on its own seed and nothing else. A seed per batch could
// not be.
//
// The function runs with the GIL held, so the simulator declares itself not thread-safe and the
// runner calls it from one thread. An exception raised by the function stops the run and is raised
// again to the caller. A KeyboardInterrupt inside it during a library call asks the call to stop
// and repeats the batch (same seeds, same values), so the rows in flight complete; a second one
// stops at once.
#include "python/src/common.hpp"
#include "sbi/simulation/simulator.hpp"

namespace sbipp {

class PythonSimulator final : public sbi::SimulatorModel {
 public:
  // Construct with the GIL held.
  PythonSimulator(py::function function, sbi::SimulatorInfo info);
  ~PythonSimulator() override;

  const sbi::SimulatorInfo& info() const override { return info_; }
  void simulate_batch(const sbi::RowMatrix& theta, sbi::RowMatrix& y, std::span<const std::uint64_t> stream_seeds,
                      std::span<sbi::SimulationOutcome> outcomes) const override;

 private:
  // One call of the function; throws py::error_already_set for a Python error.
  void call_once(const sbi::RowMatrix& theta, sbi::RowMatrix& y, std::span<const std::uint64_t> stream_seeds) const;
  // Adds a note to the user's exception naming the θ that raised it (found row by row).
  void name_the_failing_row(py::error_already_set& error, const sbi::RowMatrix& theta, std::span<const std::uint64_t> stream_seeds) const;

  py::function function_;
  sbi::SimulatorInfo info_;
};

}  // namespace sbipp
