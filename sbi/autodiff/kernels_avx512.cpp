// The kernels compiled for AVX-512 (F, DQ, BW, VL) with FMA; CMakeLists.txt adds the flags to this
// file only. Eigen's namespace is renamed for the reason given in kernels_avx2.cpp.
#include "sbi/autodiff/kernels_variants.hpp"

#include <cmath>
#include <utility>

#if !defined(__AVX512F__) || !defined(__AVX512DQ__) || !defined(__FMA__)
#error "kernels_avx512.cpp must be compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma"
#endif

#define Eigen sbi_eigen_avx512
#include <Eigen/Core>

namespace sbi::ad::kernels {
namespace {
#include "sbi/autodiff/kernels_body.inc"
}  // namespace

namespace detail {
const Table<float> avx512_float = make_table<float>(Variant::avx512);
}  // namespace detail

}  // namespace sbi::ad::kernels
