#include "python/src/common.hpp"

#include "sbi/core/error.hpp"

#include <cmath>
#include <cstring>

namespace sbipp {

namespace {

std::string shape_text(const py::array& array) {
  std::string text = "(";
  for (py::ssize_t d = 0; d < array.ndim(); ++d) text += (d ? ", " : "") + std::to_string(array.shape(d));
  return text + (array.ndim() == 1 ? ",)" : ")");
}

}  // namespace

sbi::RowMatrix to_row_matrix(const DoubleArray& array, const std::string& what, std::ptrdiff_t cols, bool allow_single_row) {
  const std::string expected = cols < 0 ? "a 2-D array" : "a 2-D array with " + std::to_string(cols) + " columns";
  if (array.ndim() == 1 && allow_single_row && cols >= 0 && array.shape(0) == cols) {
    sbi::RowMatrix m(1, cols);
    std::memcpy(m.data(), array.data(), sizeof(double) * static_cast<std::size_t>(cols));
    return m;
  }
  if (array.ndim() != 2 || (cols >= 0 && array.shape(1) != cols))
    throw sbi::InputError(what + ": expected " + expected + ", got shape " + shape_text(array));
  sbi::RowMatrix m(array.shape(0), array.shape(1));
  if (m.size() > 0) std::memcpy(m.data(), array.data(), sizeof(double) * static_cast<std::size_t>(m.size()));
  return m;
}

sbi::Vector to_vector(const DoubleArray& array, const std::string& what, std::ptrdiff_t size) {
  if (array.ndim() != 1 || (size >= 0 && array.shape(0) != size))
    throw sbi::InputError(what + ": expected a 1-D array" + (size >= 0 ? " of length " + std::to_string(size) : std::string()) +
                          ", got shape " + shape_text(array));
  sbi::Vector v(array.shape(0));
  if (v.size() > 0) std::memcpy(v.data(), array.data(), sizeof(double) * static_cast<std::size_t>(v.size()));
  return v;
}

py::array_t<double> to_numpy(sbi::RowMatrix&& matrix) {
  auto* owned = new sbi::RowMatrix(std::move(matrix));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<sbi::RowMatrix*>(p); });
  return py::array_t<double>({owned->rows(), owned->cols()}, {static_cast<py::ssize_t>(sizeof(double)) * owned->cols(), py::ssize_t{sizeof(double)}},
                             owned->data(), free_when_done);
}

py::array_t<double> to_numpy(const sbi::Vector& vector) {
  py::array_t<double> out(vector.size());
  if (vector.size() > 0) std::memcpy(out.mutable_data(), vector.data(), sizeof(double) * static_cast<std::size_t>(vector.size()));
  return out;
}

py::array read_only_view(const double* data, py::ssize_t rows, py::ssize_t cols, py::handle owner) {
  py::array view(py::dtype::of<double>(), {rows, cols}, {static_cast<py::ssize_t>(sizeof(double)) * cols, py::ssize_t{sizeof(double)}}, data, owner);
  // Writing into the view would change the table behind the library's back.
  py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return view;
}

nlohmann::json to_json(py::handle value, const std::string& path) {
  if (value.is_none()) return nullptr;
  // bool before int: Python's bool is an int.
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>();
  if (py::isinstance<py::int_>(value)) {
    // Negative values as int64, the rest as uint64 (seeds use the whole 64-bit range).
    if (value.cast<py::int_>() < py::int_(0)) {
      try {
        return value.cast<std::int64_t>();
      } catch (const py::cast_error&) {
        throw py::type_error(path + ": the integer " + py::str(value).cast<std::string>() + " does not fit in 64 bits");
      }
    }
    try {
      return value.cast<std::uint64_t>();
    } catch (const py::cast_error&) {
      throw py::type_error(path + ": the integer " + py::str(value).cast<std::string>() + " does not fit in 64 bits");
    }
  }
  if (py::isinstance<py::float_>(value)) return value.cast<double>();
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  if (py::isinstance<py::dict>(value)) {
    nlohmann::json object = nlohmann::json::object();
    for (const auto& [key, item] : value.cast<py::dict>()) {
      if (!py::isinstance<py::str>(key)) throw py::type_error(path + ": keys must be strings, got " + py::repr(key).cast<std::string>());
      const std::string name = key.cast<std::string>();
      object[name] = to_json(item, path + "." + name);
    }
    return object;
  }
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
    nlohmann::json list = nlohmann::json::array();
    std::size_t i = 0;
    for (const auto& item : value) list.push_back(to_json(item, path + "[" + std::to_string(i++) + "]"));
    return list;
  }
  // NumPy arrays and scalars (np.float64, np.int64, np.bool_) through their Python equivalents.
  if (py::isinstance<py::array>(value) || py::hasattr(value, "item")) {
    const py::object plain = py::isinstance<py::array>(value) ? value.attr("tolist")() : value.attr("item")();
    if (!plain.is(value)) return to_json(plain, path);
  }
  throw py::type_error(path + ": " + py::repr(py::type::handle_of(value)).cast<std::string>() + " has no JSON form");
}

py::object from_json(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return py::none();
    case nlohmann::json::value_t::boolean: return py::bool_(value.get<bool>());
    case nlohmann::json::value_t::number_integer: return py::int_(value.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: return py::int_(value.get<std::uint64_t>());
    case nlohmann::json::value_t::number_float: return py::float_(value.get<double>());
    case nlohmann::json::value_t::string: return py::str(value.get<std::string>());
    case nlohmann::json::value_t::array: {
      py::list list;
      for (const auto& item : value) list.append(from_json(item));
      return list;
    }
    case nlohmann::json::value_t::object: {
      py::dict dict;
      for (const auto& [key, item] : value.items()) dict[py::str(key)] = from_json(item);
      return dict;
    }
    default: return py::none();  // binary and discarded values do not occur in the library's JSON
  }
}

}  // namespace sbipp
