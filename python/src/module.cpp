// The extension module sbipp._core: the bindings of the sbi++ library. The package python/sbipp/
// wraps it into the interface users call (see python/sbipp/__init__.py).
#include "python/src/common.hpp"
#include "sbi/util/allocator.hpp"
#include "sbi/util/version.hpp"

PYBIND11_MODULE(_core, m) {
  sbi::configure_allocator();  // reuse freed memory instead of trimming after every call (sbi/util/allocator.hpp)
  m.doc() = "sbi++ bindings (use the sbipp package, not this module directly)";
  m.attr("__version__") = sbi::version();
  sbipp::bind_errors(m);
  sbipp::bind_random(m);
  sbipp::bind_priors(m);
  sbipp::bind_simulators(m);
  sbipp::bind_tables(m);
  sbipp::bind_inference(m);
  sbipp::bind_diagnostics(m);
  sbipp::bind_calibration(m);
}
