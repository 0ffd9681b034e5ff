#pragma once
// The inner loops of network training — matrix products, the pointwise activations and their
// derivatives, column sums, Adam's update and gradient clipping — behind one table of function
// pointers, with one table per instruction set, chosen at run time from the CPU's features.
//
// Why: Eigen fixes its vector width at compile time, so a build without -march=native runs 4-wide
// SSE2 code without FMA on any CPU, at under half the speed of the same code built for the machine
// (bench/RESULTS.md, "Neural-network training throughput"). The same kernel source
// (kernels_body.inc) is therefore compiled three times: portable (the build's own flags), AVX2+FMA
// and AVX-512 (F, DQ, BW, VL, with FMA); the fastest one the CPU and the operating system support
// is used. Each compiled copy has its own renamed copy of Eigen, so that the linker cannot merge a
// wide instantiation into code that must run on every CPU (see kernels_avx2.cpp).
//
// Results: for a fixed build and CPU, every kernel is deterministic (one thread, fixed order), so
// training is bit-identical run to run. Different variants agree to float rounding only (FMA and
// wider packets change the order of roundings; tests/sbi/autodiff/test_kernels.cpp bounds the
// differences). A user who needs the same bits on different CPUs can pin the portable variant:
// `set_variant(Variant::portable)` or the environment variable SBI_KERNELS=portable.
//
// Matrices are column-major and contiguous (leading dimension = rows), as every tape matrix is.
// `accumulate` = add into the output; otherwise overwrite it. Outputs must not alias inputs.
#include <cstddef>
#include <string>

namespace sbi::ad::kernels {

using Index = std::ptrdiff_t;

enum class Variant : unsigned char { portable, avx2, avx512 };

// The pointwise operations with a kernel. Forward: y = f(x). Backward: d = g · f'(x), computed
// from x and y (ELU's derivative for x ≤ 0 is y + α; tanh's 1 − y²; sigmoid's y(1 − y)).
enum class Pointwise : unsigned char {
  relu,
  leaky_relu,   // parameter: negative slope
  elu,          // parameter: α
  tanh,
  sigmoid,
  softplus,     // log(1 + eˣ), stable for any x
  log_sigmoid,  // −softplus(−x)
};

// One Adam step's scalars, with the bias corrections folded in (see sbi/optim/adam.cpp):
//   w ← w·shrink;  g ← g + l2·w;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
//   w ← w − step_size · m / (√v · inverse_sqrt_c2 + ε).
template <class T>
struct AdamScalars {
  T beta1, beta2, step_size, inverse_sqrt_c2, epsilon;
  T l2_decay = T(0);     // added to the gradient (classic Adam weight decay); the gradient is updated
  T shrink = T(1);       // decoupled weight decay (AdamW): 1 − lr·decay
};

template <class T>
struct Table {
  Variant variant;
  // out (m×n) = a (m×k) · b (k×n)
  void (*product)(const T* a, const T* b, T* out, Index m, Index k, Index n, bool accumulate);
  // out (m×n) = a (m×k) · bᵀ, b stored n×k
  void (*product_bt)(const T* a, const T* b, T* out, Index m, Index k, Index n, bool accumulate);
  // out (m×n) = aᵀ · b, a stored k×m, b stored k×n
  void (*product_at)(const T* a, const T* b, T* out, Index m, Index k, Index n, bool accumulate);
  // out (m×n) = x (m×k) · w (k×n) + bias (1×n) added to every row
  void (*affine)(const T* x, const T* w, const T* bias, T* out, Index m, Index k, Index n);
  // out (1×n) = column sums of g (m×n)
  void (*column_sums)(const T* g, T* out, Index m, Index n, bool accumulate);
  void (*pointwise)(Pointwise op, T parameter, const T* x, T* y, Index size);
  void (*pointwise_backward)(Pointwise op, T parameter, const T* x, const T* y, const T* g, T* out, Index size,
                             bool accumulate);
  void (*adam_update)(const AdamScalars<T>& s, T* w, T* g, T* m, T* v, Index size);
  // Σ x_k² accumulated in double (the same bits in every variant), and x ← factor·x.
  double (*squared_norm)(const T* x, Index size);
  void (*scale)(T* x, T factor, Index size);
  // Threads for the products when the library is built with OpenMP (each copy of Eigen has its own
  // setting; sbi::nn::set_num_threads sets them all). Ignored otherwise.
  void (*set_threads)(int threads);
};

// The table in use for float (dispatched) and for double (always portable: double networks are for
// gradient checks and tests, not for speed).
template <class T>
const Table<T>& active();

// The table of one variant, whatever is active (tests compare them). Throws std::invalid_argument
// if the variant is not supported here (see supported()).
const Table<float>& table(Variant variant);

// Compiled into this build, and the CPU and the operating system support its instructions.
bool supported(Variant variant);
// The fastest supported variant: the default choice unless SBI_KERNELS says otherwise.
Variant best_supported();
// Which variant the float kernels use now. The first call reads SBI_KERNELS (portable, avx2,
// avx512 or auto); an unknown or unsupported value there throws sbi::InputError naming it.
Variant active_variant();
// Use `variant` from now on (not while another thread trains). Throws std::invalid_argument if
// it is not supported.
void set_variant(Variant variant);

const char* to_string(Variant variant);  // "portable", "avx2", "avx512"
// One line for `sbi --version` and benchmark logs, e.g. "avx512 (supported here: portable avx2 avx512)".
std::string describe();

}  // namespace sbi::ad::kernels
