// The portable kernels: compiled with the build's own flags (SSE2 on x86-64 by default), for every
// CPU, and the reference the wide copies are tested against. Uses the same Eigen as the rest of the
// library.
#include "sbi/autodiff/kernels_variants.hpp"

#include <Eigen/Core>

#include <cmath>
#include <utility>

namespace sbi::ad::kernels {
namespace {
#include "sbi/autodiff/kernels_body.inc"
}  // namespace

namespace detail {
const Table<float> portable_float = make_table<float>(Variant::portable);
const Table<double> portable_double = make_table<double>(Variant::portable);
}  // namespace detail

}  // namespace sbi::ad::kernels
