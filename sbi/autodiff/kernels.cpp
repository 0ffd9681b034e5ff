// Chooses the kernel table: the widest variant that is compiled in and that the CPU and the
// operating system support, unless SBI_KERNELS or set_variant() says otherwise.
#include "sbi/autodiff/kernels.hpp"

#include "sbi/autodiff/kernels_variants.hpp"
#include "sbi/core/error.hpp"

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace sbi::ad::kernels {
namespace {

constexpr Variant kAllVariants[] = {Variant::portable, Variant::avx2, Variant::avx512};

bool cpu_supports(Variant variant) {
  switch (variant) {
    case Variant::portable: return true;
#if defined(SBI_WIDE_KERNELS)
    // GCC's and Clang's run-time checks also require the operating system to save the wide
    // registers (XGETBV), so a CPU with AVX-512 under an OS that does not enable it reports false.
    case Variant::avx2:
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Variant::avx512:
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("fma");
#else
    default: return false;
#endif
  }
  return false;
}

const Table<float>& table_of(Variant variant) {
  switch (variant) {
    case Variant::portable: return detail::portable_float;
#if defined(SBI_WIDE_KERNELS)
    case Variant::avx2: return detail::avx2_float;
    case Variant::avx512: return detail::avx512_float;
#else
    default: break;
#endif
  }
  return detail::portable_float;
}

std::string supported_list() {
  std::string list;
  for (const Variant v : kAllVariants)
    if (supported(v)) list += std::string(list.empty() ? "" : " ") + to_string(v);
  return list;
}

Variant choice_from_environment() {
  const char* setting = std::getenv("SBI_KERNELS");
  if (setting == nullptr || *setting == '\0' || std::string(setting) == "auto") return best_supported();
  for (const Variant v : kAllVariants) {
    if (setting == std::string(to_string(v))) {
      if (!supported(v))
        throw InputError(std::string("SBI_KERNELS=") + setting + ": this build or CPU does not support it (supported here: " +
                         supported_list() + ")");
      return v;
    }
  }
  throw InputError(std::string("SBI_KERNELS=") + setting + ": expected auto, portable, avx2 or avx512");
}

std::atomic<const Table<float>*> chosen{nullptr};

}  // namespace

const char* to_string(Variant variant) {
  switch (variant) {
    case Variant::portable: return "portable";
    case Variant::avx2: return "avx2";
    case Variant::avx512: return "avx512";
  }
  return "unknown";
}

bool supported(Variant variant) { return cpu_supports(variant); }

Variant best_supported() {
  Variant best = Variant::portable;
  for (const Variant v : kAllVariants)
    if (supported(v)) best = v;
  return best;
}

const Table<float>& table(Variant variant) {
  if (!supported(variant))
    throw std::invalid_argument(std::string("sbi::ad::kernels: variant ") + to_string(variant) +
                                " is not supported by this build or CPU");
  return table_of(variant);
}

template <>
const Table<float>& active<float>() {
  if (const Table<float>* t = chosen.load(std::memory_order_acquire)) return *t;
  // The first use decides (thread-safe; an invalid SBI_KERNELS throws here, and again next time).
  static const Table<float>& initial = table(choice_from_environment());
  const Table<float>* expected = nullptr;
  chosen.compare_exchange_strong(expected, &initial, std::memory_order_acq_rel);
  return *chosen.load(std::memory_order_acquire);
}

template <>
const Table<double>& active<double>() {
  return detail::portable_double;
}

Variant active_variant() { return active<float>().variant; }

void set_variant(Variant variant) { chosen.store(&table(variant), std::memory_order_release); }

std::string describe() {
  std::string text;
  try {
    text = to_string(active_variant());
  } catch (const InputError& e) {
    text = std::string("none chosen (") + e.what() + ")";
  }
  return text + " (supported here: " + supported_list() + ")";
}

}  // namespace sbi::ad::kernels
