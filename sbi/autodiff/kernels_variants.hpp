#pragma once
// The per-instruction-set kernel tables that sbi/autodiff/kernels.cpp chooses from. Internal to
// the autodiff folder: use sbi/autodiff/kernels.hpp.
#include "sbi/autodiff/kernels.hpp"

namespace sbi::ad::kernels::detail {

extern const Table<float> portable_float;
extern const Table<double> portable_double;

#if defined(SBI_WIDE_KERNELS)
extern const Table<float> avx2_float;
extern const Table<float> avx512_float;
#endif

}  // namespace sbi::ad::kernels::detail
