// sbi::Rng and the stream seeds, so that Python code (a Python simulator above all) can draw the very
// numbers a built-in simulator draws from the same stream.
#include "python/src/common.hpp"
#include "sbi/random/rng.hpp"

#include <optional>

namespace sbipp {

namespace {

// `size` draws (a float when size is None) of `draw` from `rng`, in stream order.
template <class Draw>
py::object draws(sbi::Rng& rng, std::optional<py::ssize_t> size, Draw draw) {
  if (!size) return py::float_(draw(rng));
  if (*size < 0) throw py::value_error("size: expected a count ≥ 0, got " + std::to_string(*size));
  py::array_t<double> out(*size);
  double* data = out.mutable_data();
  for (py::ssize_t i = 0; i < *size; ++i) data[i] = draw(rng);
  return out;
}

// Row r: the first `k` draws of the stream seeded seeds[r].
template <class Draw>
py::array_t<double> row_draws(const SeedArray& seeds, py::ssize_t k, Draw draw) {
  if (seeds.ndim() != 1) throw py::value_error("seeds: expected a 1-D array of seeds (one per row)");
  if (k < 0) throw py::value_error("k: expected a count ≥ 0, got " + std::to_string(k));
  const py::ssize_t n = seeds.shape(0);
  py::array_t<double> out({n, k});
  double* data = out.mutable_data();
  const std::uint64_t* seed = seeds.data();
  {
    py::gil_scoped_release release;
    for (py::ssize_t r = 0; r < n; ++r) {
      sbi::Rng rng(seed[r]);
      for (py::ssize_t j = 0; j < k; ++j) data[r * k + j] = draw(rng);
    }
  }
  return out;
}

}  // namespace

void bind_random(py::module_& m) {
  py::class_<sbi::Rng>(m, "Rng", R"(The library's random stream (xoshiro256++): the same seed gives the same draws as in C++.

Rng(seed) is the stream a simulation row receives as its seed; Rng.stream(seed, index, substream)
the stream of simulation `index` of a run with `seed`.)")
      .def(py::init<std::uint64_t>(), py::arg("seed") = 0)
      .def_static("stream", &sbi::Rng::stream, py::arg("seed"), py::arg("index"), py::arg("substream") = 0)
      .def("next", [](sbi::Rng& rng) { return rng(); }, "The next 64 random bits.")
      .def(
          "uniform", [](sbi::Rng& rng, double low, double high, std::optional<py::ssize_t> size) {
            return draws(rng, size, [&](sbi::Rng& r) { return r.uniform(low, high); });
          },
          py::arg("low") = 0.0, py::arg("high") = 1.0, py::arg("size") = py::none(), "Uniform on [low, high): low + (high − low)·u.")
      .def(
          "normal", [](sbi::Rng& rng, double mean, double sd, std::optional<py::ssize_t> size) {
            return draws(rng, size, [&](sbi::Rng& r) { return r.normal(mean, sd); });
          },
          py::arg("mean") = 0.0, py::arg("sd") = 1.0, py::arg("size") = py::none(), "Normal: mean + sd·z (Marsaglia's polar method).")
      .def(
          "exponential", [](sbi::Rng& rng, std::optional<py::ssize_t> size) { return draws(rng, size, [](sbi::Rng& r) { return r.exponential(); }); },
          py::arg("size") = py::none(), "Exponential with rate 1.")
      .def("below", &sbi::Rng::below, py::arg("n"), "A uniform integer in [0, n).");

  m.def("stream_seed", &sbi::stream_seed, py::arg("seed"), py::arg("index"), py::arg("substream") = 0,
        "The seed of stream (seed, index, substream); simulation i of a run with seed s simulates from stream_seed(s, i, 1).");
  m.def(
      "normals", [](const SeedArray& seeds, py::ssize_t k) { return row_draws(seeds, k, [](sbi::Rng& r) { return r.normal(); }); },
      py::arg("seeds"), py::arg("k"),
      "Standard normals, shape (len(seeds), k): row r holds the first k draws of Rng(seeds[r]), as r.normal() gives them in C++.");
  m.def(
      "uniforms", [](const SeedArray& seeds, py::ssize_t k) { return row_draws(seeds, k, [](sbi::Rng& r) { return r.uniform(); }); },
      py::arg("seeds"), py::arg("k"), "Uniforms on [0, 1), shape (len(seeds), k): row r holds the first k draws of Rng(seeds[r]).");
}

}  // namespace sbipp
