// The library's errors as Python exceptions, with the library's messages (a bad option's JSON path,
// a CSV cell's line and column, the θ of a failed simulation).
#include "python/src/common.hpp"
#include "sbi/core/error.hpp"

#include <filesystem>

namespace sbipp {

void bind_errors(py::module_& m) {
  // Subclasses of the built-in exceptions Python code already catches for such problems.
  py::register_exception<sbi::InputError>(m, "InputError", PyExc_ValueError);
  static py::exception<sbi::FileError>& file_error = py::register_exception<sbi::FileError>(m, "FileError", PyExc_OSError);
  py::register_exception<sbi::SimulationError>(m, "SimulationError", PyExc_RuntimeError);
  // A folder or file the operating system refuses (no such directory, no permission, disk full)
  // is a FileError too, not pybind11's RuntimeError.
  py::register_exception_translator([](std::exception_ptr thrown) {
    try {
      if (thrown) std::rethrow_exception(thrown);
    } catch (const std::filesystem::filesystem_error& e) {
      PyErr_SetString(file_error.ptr(), e.what());
    }
  });
}

}  // namespace sbipp
