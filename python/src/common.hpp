#pragma once
// What every binding file of the sbipp extension module shares: NumPy ↔ Eigen conversions with
// errors that name the argument, JSON ↔ Python conversion, and the registration functions of the
// binding files (one per library concern).
//
// The extension (`sbipp._core`) is a thin layer: it converts arguments, releases the GIL around
// library calls and converts results back. The conveniences users see (defaults taken from a spec,
// progress bars, sbipp.Interrupted) live in the Python package (python/sbipp/).
#include "sbi/core/types.hpp"

#include <nlohmann/json.hpp>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cstdint>
#include <string>

namespace sbipp {

namespace py = pybind11;

// A float64, C-ordered NumPy array (lists and integer arrays are converted).
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using SeedArray = py::array_t<std::uint64_t, py::array::c_style | py::array::forcecast>;

// A 2-D array (n × cols; cols < 0 = any) as a row-major matrix. A 1-D array of length `cols` is one
// row when `allow_single_row`. InputError names `what` and the shape it got.
sbi::RowMatrix to_row_matrix(const DoubleArray& array, const std::string& what, std::ptrdiff_t cols = -1, bool allow_single_row = false);
// A 1-D array (length `size`; < 0 = any) as a vector.
sbi::Vector to_vector(const DoubleArray& array, const std::string& what, std::ptrdiff_t size = -1);

// NumPy arrays that own a copy (or take over the matrix: no copy for an rvalue).
py::array_t<double> to_numpy(sbi::RowMatrix&& matrix);
py::array_t<double> to_numpy(const sbi::Vector& vector);
// A read-only NumPy view of memory owned by `owner` (kept alive by the view).
py::array read_only_view(const double* data, py::ssize_t rows, py::ssize_t cols, py::handle owner);

// Python values (dict, list, tuple, str, bool, int, float, None, NumPy scalars and arrays) as JSON.
// TypeError names the path of a value that has no JSON form.
nlohmann::json to_json(py::handle value, const std::string& path = "options");
py::object from_json(const nlohmann::json& value);

// Registration of each binding file (python/src/bind_<topic>.cpp).
void bind_errors(py::module_& m);
void bind_random(py::module_& m);
void bind_priors(py::module_& m);
void bind_simulators(py::module_& m);
void bind_tables(py::module_& m);
void bind_inference(py::module_& m);
void bind_diagnostics(py::module_& m);
void bind_calibration(py::module_& m);

}  // namespace sbipp
