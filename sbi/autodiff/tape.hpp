#pragma once
// Reverse-mode automatic differentiation over Eigen matrices (rows = samples of a batch).
//
// A Tape records one entry per *matrix* operation. Entries and their matrices are kept between
// training steps: clear() only rewinds a counter, so the next step overwrites node k with a matrix
// of (usually) the same shape and Eigen does not allocate again. A StepScope clears the tape when it
// goes out of scope.
//
//   sbi::ad::Tape<float> tape;
//   for (...) {
//     auto step = tape.scope();                       // cleared at the end of the iteration
//     auto x = tape.constant(batch);
//     auto w = tape.parameter(weights, weight_grad);   // gradients accumulate into weight_grad
//     auto loss = mean(square(matmul(x, w)));
//     tape.backward(loss);
//   }
//
// Gradients of gradients: grad(loss, {x}, /*create_graph=*/true) records the backward pass itself
// as ordinary operations, so the returned Vars can be used in a new loss and differentiated again
// (gradient penalties). Operations live in sbi/autodiff/ops.hpp.
//
// Thread safety: a Tape and its Vars belong to one thread; use one tape per thread.
#include <Eigen/Core>

#include <cstdint>
#include <deque>
#include <initializer_list>
#include <span>
#include <type_traits>
#include <vector>

namespace sbi::ad {

template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;  // column-major, rows = batch

// The operation that produced a node. Kept as an enum (not a closure) so that nodes are plain data
// that can be reused, and so that the two backward passes (numeric and graph-recording) are explicit.
enum class Op : std::uint8_t {
  leaf,
  matmul,
  affine,  // x W + 1 bᵀ
  add_bias,
  transpose,
  concat_cols,
  slice_cols,
  embed_cols,  // the adjoint of slice_cols: place a block into zero columns
  relu,
  leaky_relu,
  elu,
  tanh,
  sigmoid,
  softplus,
  log_sigmoid,
  exp,
  log,
  square,
  sqrt,
  abs,
  sum,       // all entries, times a scale (mean = sum with scale 1/n)
  sum_rows,  // one value per row (n × 1), times a scale
  sum_cols,  // one value per column (1 × m), times a scale
  broadcast, // a 1×1, n×1 or 1×m matrix repeated to n×m
  pairwise_sq_dist,
  logsumexp,
  logsumexp_rows,
  add_scalar,
  mul_scalar,
  add,
  sub,
  mul,
  div,
  neg,
  // Added for the conditional density estimators (sbi/flows); forward passes in flow_ops.cpp.
  gather_cols,   // columns of the input picked by an index list (repeats allowed)
  scatter_cols,  // the adjoint of gather_cols: add columns into zero columns at an index list
  reshape,       // the same column-major data with another shape
  rq_spline,     // monotone rational-quadratic spline with linear tails (first derivatives only)
};

template <class T>
class Tape;

// A handle to a node on a tape. Cheap to copy; valid until the tape is cleared.
template <class T>
class Var {
 public:
  Var() = default;
  Var(Tape<T>* tape, int index) : tape_(tape), index_(index) {}

  Tape<T>& tape() const { return *tape_; }
  int index() const { return index_; }
  bool valid() const { return tape_ != nullptr; }
  const Matrix<T>& value() const;
  Eigen::Index rows() const { return value().rows(); }
  Eigen::Index cols() const { return value().cols(); }
  // The scalar value of a 1×1 node (a loss).
  T item() const { return value()(0, 0); }
  bool requires_grad() const;

 private:
  Tape<T>* tape_ = nullptr;
  int index_ = -1;
};

template <class T>
class Tape {
 public:
  using Mat = Matrix<T>;

  // One recorded operation. Public so that new operations can be written outside this folder, but
  // methods should normally only compose the functions in ops.hpp.
  struct Node {
    Op op = Op::leaf;
    int inputs[3] = {-1, -1, -1};
    T scalar = T(0);                  // op parameter: slope, scale, added constant
    Eigen::Index offset = 0;          // op parameter: first column of a slice / embed
    Eigen::Index extent = 0;          // op parameter: total columns of an embed
    std::span<const Eigen::Index> indices;  // op parameter: gather/scatter columns (caller-owned)
    bool requires_grad = false;
    Mat value;                        // unused when external_value is set
    const Mat* external_value = nullptr;
    Mat* external_grad = nullptr;     // parameters: backward() adds the adjoint here
    Mat adjoint;
    bool has_adjoint = false;

    const Mat& val() const { return external_value ? *external_value : value; }
  };

  // Clears the tape when destroyed: one scope per training step.
  class StepScope {
   public:
    explicit StepScope(Tape& tape) : tape_(&tape) {}
    StepScope(const StepScope&) = delete;
    StepScope& operator=(const StepScope&) = delete;
    ~StepScope() { tape_->clear(); }

   private:
    Tape* tape_;
  };

  Tape() = default;
  Tape(const Tape&) = delete;  // Vars point at their tape
  Tape& operator=(const Tape&) = delete;
  Tape(Tape&&) = default;      // only while no Var refers to it (e.g. inside a moved network)
  Tape& operator=(Tape&&) = default;

  // Data: not differentiated. The matrix is copied into reused storage.
  Var<T> constant(const Mat& value);
  Var<T> constant(T value);  // 1×1
  // A leaf whose gradient is wanted (grad(loss, {x})), e.g. the input of a gradient penalty.
  Var<T> variable(const Mat& value);
  // A leaf that refers to external storage (a network weight): no copy. backward() adds d loss/d
  // value into `grad`, which must have the shape of `value` (or be empty: it is then zero-filled).
  // Both must outlive the tape's current step.
  Var<T> parameter(const Mat& value, Mat& grad);

  // d loss / d (every node); adds the gradients of parameters into their external grad matrices.
  // `loss` must be 1×1. Afterwards gradient(v) reads the adjoint of any node.
  void backward(Var<T> loss);
  // The adjoint of `v` from the last backward() (zeros of v's shape if v did not influence it).
  // For a parameter leaf this is its accumulated grad matrix.
  Mat gradient(Var<T> v) const;

  // d loss / d wrt[k]. With create_graph the backward pass is recorded on this tape, so the result
  // can be differentiated again; without it the results are constants. Parameters' external grads
  // are not touched (as in torch.autograd.grad).
  std::vector<Var<T>> grad(Var<T> loss, std::span<const Var<T>> wrt, bool create_graph = false);

  // Forget all nodes but keep their storage for the next step.
  void clear() { used_ = 0; }
  [[nodiscard]] StepScope scope() { return StepScope(*this); }
  std::size_t size() const { return used_; }
  std::size_t capacity() const { return nodes_.size(); }

  // For operation implementers: append a node (inputs by index) and get it back to fill its value.
  int push(Op op, int a = -1, int b = -1, int c = -1);
  Node& node(int i) { return nodes_[static_cast<std::size_t>(i)]; }
  const Node& node(int i) const { return nodes_[static_cast<std::size_t>(i)]; }
  const Mat& value(int i) const { return node(i).val(); }
  Var<T> var(int i) { return Var<T>(this, i); }

 private:
  void run_backward(int loss, bool accumulate_into_parameters);
  void propagate(int i);        // numeric adjoints of node i's inputs
  void propagate_graph(int i, std::vector<int>& adjoint_of);  // recorded as new nodes
  Mat& adjoint_target(int input);  // adjoint matrix of an input, zero-initialised if first use
  Mat* parameter_sink(Node& n);    // a parameter's grad matrix during backward(), else nullptr
  void accumulate(int input, const auto& contribution);
  void accumulate_elementwise(int input, const auto& entry);  // entry(k): contribution to element k
  // write(out, add): the contribution written (add = false) or added (add = true) into `out`, the
  // input's adjoint storage, by a kernel.
  void accumulate_into(int input, const auto& write);

  // std::deque: references to nodes stay valid while new nodes are appended (the graph-recording
  // backward pass appends while it reads), and storage is never moved.
  std::deque<Node> nodes_;
  std::size_t used_ = 0;
  bool parameters_direct_ = false;  // the last backward pass wrote parameters' gradients in place
};

template <class T>
const Matrix<T>& Var<T>::value() const {
  return tape_->value(index_);
}
template <class T>
bool Var<T>::requires_grad() const {
  return tape_->node(index_).requires_grad;
}

// Free-function form, as in torch.autograd.grad.
template <class T>
std::vector<Var<T>> grad(Var<T> loss, std::initializer_list<Var<T>> wrt, bool create_graph = false) {
  return loss.tape().grad(loss, std::span<const Var<T>>(wrt.begin(), wrt.size()), create_graph);
}
template <class T>
std::vector<Var<T>> grad(Var<T> loss, const std::vector<Var<T>>& wrt, bool create_graph = false) {
  return loss.tape().grad(loss, std::span<const Var<T>>(wrt.data(), wrt.size()), create_graph);
}

extern template class Tape<float>;
extern template class Tape<double>;

}  // namespace sbi::ad
