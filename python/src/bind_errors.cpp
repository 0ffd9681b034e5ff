// The library's errors as Python exceptions, with the library's messages (a bad option's JSON path,
// a CSV cell's line and column, the θ of a failed simulation).
#include "python/src/common.hpp"
#include "sbi/core/error.hpp"

namespace sbipp {

void bind_errors(py::module_& m) {
  // Subclasses of the built-in exceptions Python code already catches for such problems.
  py::register_exception<sbi::InputError>(m, "InputError", PyExc_ValueError);
  py::register_exception<sbi::FileError>(m, "FileError", PyExc_OSError);
  py::register_exception<sbi::SimulationError>(m, "SimulationError", PyExc_RuntimeError);
}

}  // namespace sbipp
