#include "python/src/python_simulator.hpp"

#include "python/src/call_context.hpp"
#include "sbi/core/error.hpp"

#include <cstring>

namespace sbipp {

PythonSimulator::PythonSimulator(py::function function, sbi::SimulatorInfo info) : function_(std::move(function)), info_(std::move(info)) {
  info_.thread_safe = false;  // it runs under the GIL
}

PythonSimulator::~PythonSimulator() {
  // The last copy of a Simulator may go away where the GIL is released (inside a library call).
  if (!Py_IsInitialized()) {
    function_.release();  // the interpreter is gone; nothing left to free
    return;
  }
  py::gil_scoped_acquire gil;
  function_ = py::function();
}

void PythonSimulator::call_once(const sbi::RowMatrix& theta, sbi::RowMatrix& y, std::span<const std::uint64_t> stream_seeds) const {
  const auto n = theta.rows();
  // Copies: the function may keep its arguments beyond the call.
  py::array_t<double> theta_array({n, theta.cols()});
  if (theta.size() > 0) std::memcpy(theta_array.mutable_data(), theta.data(), sizeof(double) * static_cast<std::size_t>(theta.size()));
  py::array_t<std::uint64_t> seed_array(static_cast<py::ssize_t>(stream_seeds.size()));
  if (!stream_seeds.empty()) std::memcpy(seed_array.mutable_data(), stream_seeds.data(), sizeof(std::uint64_t) * stream_seeds.size());

  const py::object result = function_(theta_array, seed_array);
  const std::string who = "simulator \"" + info_.name + "\"";
  DoubleArray values;
  try {
    values = py::cast<DoubleArray>(result);
  } catch (const py::cast_error&) {
    throw sbi::InputError(who + ": expected an array of numbers of shape (" + std::to_string(n) + ", " + std::to_string(y.cols()) + "), got " +
                          py::repr(py::type::handle_of(result)).cast<std::string>());
  }
  const bool column = values.ndim() == 1 && y.cols() == 1 && values.shape(0) == n;
  if (!column && (values.ndim() != 2 || values.shape(0) != n || values.shape(1) != y.cols())) {
    std::string shape;
    for (py::ssize_t d = 0; d < values.ndim(); ++d) shape += (d ? ", " : "") + std::to_string(values.shape(d));
    throw sbi::InputError(who + ": returned an array of shape (" + shape + (values.ndim() == 1 ? ",)" : ")") + " for " + std::to_string(n) +
                          " parameter rows; expected (" + std::to_string(n) + ", " + std::to_string(y.cols()) + ")");
  }
  if (y.size() > 0) std::memcpy(y.data(), values.data(), sizeof(double) * static_cast<std::size_t>(y.size()));
}

void PythonSimulator::name_the_failing_row(py::error_already_set& error, const sbi::RowMatrix& theta,
                                           std::span<const std::uint64_t> stream_seeds) const {
  // The user's exception keeps its type and traceback; a note (Python 3.11) says which θ raised it.
  // Each row depends on its own seed only, so calling the rows one at a time finds the first that
  // raises, as it would have in the batch.
  std::string note;
  const auto n = theta.rows();
  if (n == 1) {
    note = "raised by simulator \"" + info_.name + "\" at " + sbi::describe_theta(info_.parameter_names, sbi::row_span(theta, 0));
  } else {
    sbi::RowMatrix one_y(1, static_cast<Eigen::Index>(info_.data_names.size()));
    for (Eigen::Index r = 0; r < n && note.empty(); ++r) {
      try {
        const sbi::RowMatrix one_theta = theta.middleRows(r, 1);
        call_once(one_theta, one_y, stream_seeds.empty() ? stream_seeds : stream_seeds.subspan(static_cast<std::size_t>(r), 1));
      } catch (py::error_already_set&) {
        note = "raised by simulator \"" + info_.name + "\" at " + sbi::describe_theta(info_.parameter_names, sbi::row_span(theta, r)) +
               " (row " + std::to_string(r) + " of a batch of " + std::to_string(n) + "; called alone it raises too)";
      } catch (const std::exception&) {
        // A row alone may return a shape the batch would not have; it is not the row we look for.
      }
    }
    if (note.empty())
      note = "raised by simulator \"" + info_.name + "\" on a batch of " + std::to_string(n) + " rows, the first at " +
             sbi::describe_theta(info_.parameter_names, sbi::row_span(theta, 0)) + " (no row raises when called alone)";
  }
  const py::object value = error.value();
  if (py::hasattr(value, "add_note")) value.attr("add_note")(note);
}

void PythonSimulator::simulate_batch(const sbi::RowMatrix& theta, sbi::RowMatrix& y, std::span<const std::uint64_t> stream_seeds,
                                     std::span<sbi::SimulationOutcome> outcomes) const {
  py::gil_scoped_acquire gil;
  try {
    call_once(theta, y, stream_seeds);
  } catch (py::error_already_set& error) {
    // First Ctrl-C during a library call: stop after this batch, which is simulated again in full
    // (each row depends on its seed only, so the values are the ones it would have had).
    if (error.matches(PyExc_KeyboardInterrupt)) {
      if (!CallContext::stop_active_call()) throw;
      call_once(theta, y, stream_seeds);
    } else {
      name_the_failing_row(error, theta, stream_seeds);
      throw;
    }
  }
  for (auto& outcome : outcomes) outcome = {};  // non-finite rows are flagged by the runner
}

}  // namespace sbipp
