// Priors: from their spec form (a list of dicts, as in a spec's "prior") or a built-in task's own.
#include "python/src/common.hpp"
#include "python/src/handles.hpp"
#include "sbi/priors/prior.hpp"
#include "simulators/registry.hpp"

namespace sbipp {

void bind_priors(py::module_& m) {
  py::class_<sbi::Prior, std::shared_ptr<sbi::Prior>>(m, "Prior", R"(A prior over the simulator's parameters (immutable).

Prior.from_spec([{"name": "a", "dist": "uniform", "low": -1, "high": 1}, ...]) takes the spec's form
(dists uniform, normal, lognormal, mvnormal); Prior.builtin("two_moons") a built-in task's prior.)")
      .def_static(
          "from_spec", [](const py::object& spec, const std::string& path) { return prior_handle(sbi::prior_from_json(to_json(spec, path), path)); },
          py::arg("spec"), py::arg("path") = "prior", "The prior of a spec's \"prior\" section (errors name the JSON path under `path`).")
      .def_static(
          "builtin",
          [](const std::string& name, const py::dict& options) {
            const auto& entry = sbi::simulators::find_builtin_simulator(name, "name");
            const nlohmann::json json_options = to_json(options, "options");
            entry.make(json_options, "options");  // checks the options as the simulator would
            return prior_handle(entry.default_prior(json_options));
          },
          py::arg("name"), py::arg("options") = py::dict(), "The own prior of a built-in simulator's task (sbibm's for the benchmark tasks).")
      .def_property_readonly("dim", &sbi::Prior::dim)
      .def_property_readonly("names", &sbi::Prior::names)
      .def(
          "sample",
          [](const sbi::Prior& prior, Eigen::Index n, std::uint64_t seed) {
            if (n < 0) throw py::value_error("n: expected a count ≥ 0, got " + std::to_string(n));
            sbi::RowMatrix theta(n, static_cast<Eigen::Index>(prior.dim()));
            {
              py::gil_scoped_release release;
              // Row i from the stream the runner draws simulation i's θ from (sbi/simulation/runner.hpp).
              for (Eigen::Index i = 0; i < n; ++i) {
                sbi::Rng rng = sbi::Rng::stream(seed, static_cast<std::uint64_t>(i), 0);
                prior.sample(rng, sbi::row_span(theta, i));
              }
            }
            return to_numpy(std::move(theta));
          },
          py::arg("n"), py::arg("seed") = 1,
          "n draws (rows); row i comes from the stream of simulation i of a run with `seed`, so it is the θ of row i of a table "
          "simulated with that seed (when no simulation failed).")
      .def(
          "log_prob",
          [](const sbi::Prior& prior, const DoubleArray& theta) {
            const sbi::RowMatrix rows = to_row_matrix(theta, "theta", static_cast<std::ptrdiff_t>(prior.dim()), true);
            sbi::Vector out(rows.rows());
            for (Eigen::Index i = 0; i < rows.rows(); ++i) out[i] = prior.log_prob(sbi::row_span(rows, i));
            return to_numpy(out);
          },
          py::arg("theta"), "log π(θ) per row (−inf outside the support).")
      .def(
          "in_support",
          [](const sbi::Prior& prior, const DoubleArray& theta) {
            const sbi::RowMatrix rows = to_row_matrix(theta, "theta", static_cast<std::ptrdiff_t>(prior.dim()), true);
            py::array_t<bool> out(rows.rows());
            for (Eigen::Index i = 0; i < rows.rows(); ++i) out.mutable_data()[i] = prior.in_support(sbi::row_span(rows, i));
            return out;
          },
          py::arg("theta"))
      .def(
          "to_unconstrained",
          [](const sbi::Prior& prior, const DoubleArray& theta) {
            return to_numpy(prior.to_unconstrained(to_row_matrix(theta, "theta", static_cast<std::ptrdiff_t>(prior.dim()))));
          },
          py::arg("theta"), "The bijection to R^d the generators and MCMC work in (log for positive, logit for boxes).")
      .def(
          "to_constrained",
          [](const sbi::Prior& prior, const DoubleArray& u) {
            return to_numpy(prior.to_constrained(to_row_matrix(u, "u", static_cast<std::ptrdiff_t>(prior.dim()))));
          },
          py::arg("u"))
      .def("to_spec", [](const sbi::Prior& prior) { return from_json(prior.to_json()); }, "The spec form (a list of dicts).")
      .def("__repr__", [](const sbi::Prior& prior) { return "sbipp.Prior.from_spec(" + prior.to_json().dump() + ")"; });
}

}  // namespace sbipp
