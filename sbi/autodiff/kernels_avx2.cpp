// The kernels compiled for AVX2 with FMA (CMakeLists.txt adds -mavx2 -mfma to this file only).
//
// One definition rule: Eigen is a header library, so a product compiled here instantiates the same
// templates (same mangled names) as the portable code elsewhere in the library, and the linker
// would keep one copy of each — possibly this one, which would then crash a CPU without AVX2, or
// the SSE2 one, which would lose the speed. Renaming Eigen's namespace for this file makes every
// instantiation here a distinct symbol. Nothing else from a header with inline code may be used
// here (the standard library's templates would have the same problem);
// tests/sbi/autodiff/check_kernel_symbols.cmake checks the object file for shared symbols.
#include "sbi/autodiff/kernels_variants.hpp"

#include <cmath>
#include <utility>

#if !defined(__AVX2__) || !defined(__FMA__)
#error "kernels_avx2.cpp must be compiled with -mavx2 -mfma"
#endif

#define Eigen sbi_eigen_avx2
#include <Eigen/Core>

namespace sbi::ad::kernels {
namespace {
#include "sbi/autodiff/kernels_body.inc"
}  // namespace

namespace detail {
const Table<float> avx2_float = make_table<float>(Variant::avx2);
}  // namespace detail

}  // namespace sbi::ad::kernels
