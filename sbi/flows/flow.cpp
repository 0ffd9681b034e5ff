#include "sbi/flows/flow.hpp"

#include "sbi/core/error.hpp"

#include <Eigen/Core>

#include <cmath>
#include <numbers>

namespace sbi::flows {
namespace {

using Index = Eigen::Index;

// Columns of a plain matrix by index.
Mat columns(const Mat& m, const std::vector<Index>& indices) {
  Mat out(m.rows(), static_cast<Index>(indices.size()));
  for (std::size_t k = 0; k < indices.size(); ++k) out.col(static_cast<Index>(k)) = m.col(indices[k]);
  return out;
}

}  // namespace

Transform::Output Transform::inverse_on_tape(const Binder&, Var, Var) const {
  throw InputError("a flow with \"direction\": \"sampling\" has a differentiable log_prob (for maximum likelihood) only "
                   "with spline coupling layers (\"type\": \"nsf\", \"form\": \"coupling\", \"linear\": false)");
}

namespace {

// z_k = x_{order[k]}.
class Permutation final : public Transform {
 public:
  explicit Permutation(std::vector<Index> order) : order_(std::move(order)), inverse_(order_.size()) {
    for (std::size_t k = 0; k < order_.size(); ++k) inverse_[static_cast<std::size_t>(order_[k])] = static_cast<Index>(k);
  }
  Output forward(const Binder&, Var x, Var) const override { return {ad::gather_cols(x, order_), Var()}; }
  Mat inverse(const Binder&, const Mat& z, Var) const override { return columns(z, inverse_); }
  Output inverse_on_tape(const Binder&, Var z, Var) const override { return {ad::gather_cols(z, inverse_), Var()}; }
  void collect(nn::ParameterList<float>&) override {}

 private:
  std::vector<Index> order_, inverse_;
};

// softplus(raw + shift) + m equals 1 at raw = 0, so a zero-initialised output is the identity.
constexpr float kMinScale = 1e-3f;
float scale_shift() { return static_cast<float>(std::log(std::expm1(1.0 - kMinScale))); }

// MAF layer: z = x ⊙ s + t with (t, s) from a MADE of x_{<j} and h; s = softplus(·) + 10⁻³ (the form
// nflows uses: bounded away from 0 and unbounded above, so narrow posteriors are reachable).
class AffineAutoregressive final : public Transform {
 public:
  AffineAutoregressive(Index d, Index k, const DensityEstimatorOptions& o, Rng& rng, const std::string& name) : d_(d) {
    std::vector<Index> output_dimension(static_cast<std::size_t>(2 * d));
    for (Index col = 0; col < 2 * d; ++col) output_dimension[static_cast<std::size_t>(col)] = col % d;
    made_ = Made(d, k, o.hidden, output_dimension, o.activation, rng, name + ".made");
  }
  Output forward(const Binder& bind, Var x, Var h) const override {
    const Var out = made_.forward(bind, x, h);
    const Var scale = ad::add_scalar(ad::softplus(ad::add_scalar(ad::slice_cols(out, d_, d_), scale_shift())), kMinScale);
    const Var z = ad::add(ad::mul(x, scale), ad::slice_cols(out, 0, d_));
    return {z, ad::sum_rows(ad::log(scale))};
  }
  Mat inverse(const Binder& bind, const Mat& z, Var h) const override {
    Tape& tape = bind.tape();
    Mat x = Mat::Zero(z.rows(), z.cols());
    for (Index j = 0; j < d_; ++j) {  // x_j needs x_{<j}: one MADE pass per dimension
      const Mat out = made_.forward(bind, tape.constant(x), h).value();
      for (Index r = 0; r < z.rows(); ++r) {
        const float v = out(r, d_ + j) + scale_shift();
        const float scale = std::max(v, 0.0f) + std::log1p(std::exp(-std::abs(v))) + kMinScale;
        x(r, j) = (z(r, j) - out(r, j)) / scale;
      }
    }
    return x;
  }
  void collect(nn::ParameterList<float>& list) override { made_.collect(list); }

 private:
  Index d_;
  Made made_;
};

// NSF autoregressive layer: each z_j = spline_j(x_j) with the spline's 3K − 1 parameters from a MADE.
class SplineAutoregressive final : public Transform {
 public:
  SplineAutoregressive(Index d, Index k, const DensityEstimatorOptions& o, Rng& rng, const std::string& name)
      : d_(d), bins_(o.bins), bound_(static_cast<float>(o.tail_bound)) {
    const Index per = 3 * bins_ - 1;
    std::vector<Index> output_dimension(static_cast<std::size_t>(d * per));
    for (Index col = 0; col < d * per; ++col) output_dimension[static_cast<std::size_t>(col)] = col / per;
    made_ = Made(d, k, o.hidden, output_dimension, o.activation, rng, name + ".made");
  }
  Output forward(const Binder& bind, Var x, Var h) const override {
    const Var out = ad::rq_spline(x, made_.forward(bind, x, h), bound_, bins_);
    return {ad::slice_cols(out, 0, d_), ad::slice_cols(out, d_, 1)};
  }
  Mat inverse(const Binder& bind, const Mat& z, Var h) const override {
    Tape& tape = bind.tape();
    Mat x = Mat::Zero(z.rows(), z.cols());
    Mat solved;
    for (Index j = 0; j < d_; ++j) {
      const Mat params = made_.forward(bind, tape.constant(x), h).value();
      ad::rq_spline_inverse(z, params, bound_, bins_, solved);
      x.col(j) = solved.col(j);
    }
    return x;
  }
  void collect(nn::ParameterList<float>& list) override { made_.collect(list); }

 private:
  Index d_;
  int bins_;
  float bound_;
  Made made_;
};

// NSF coupling layer: the dimensions in `transformed` go through splines whose parameters come from
// an MLP of the other dimensions and h; the others pass unchanged. With one dimension the MLP sees h
// alone (the fallback for 1-D data).
class SplineCoupling final : public Transform {
 public:
  SplineCoupling(Index d, Index k, int parity, const DensityEstimatorOptions& o, Rng& rng, const std::string& name)
      : d_(d), bins_(o.bins), bound_(static_cast<float>(o.tail_bound)) {
    for (Index j = 0; j < d; ++j) (d == 1 || j % 2 == parity ? transformed_ : identity_).push_back(j);
    const Index outputs = static_cast<Index>(transformed_.size()) * (3 * bins_ - 1);
    if (o.conditioner == DensityEstimatorOptions::Conditioner::residual) {
      // The bin widths' and heights' logits are divided by √width (as nflows does): a softmax
      // temperature that keeps the bins from sharpening as fast as the rest of the network learns.
      // On gaussian_linear at 10^4 it took the best validation NLL from −0.294 to −0.440
      // (bench/npe/RESULTS.md, "Residual conditioner").
      const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(o.hidden.front())));
      softmax_scale_ = Mat::Ones(1, outputs);
      for (Index c = 0; c < outputs; ++c)
        if (c % (3 * bins_ - 1) < 2 * bins_) softmax_scale_(0, c) = scale;
      residual_ = ResidualConditioner(static_cast<Index>(identity_.size()), k, o.hidden.front(), static_cast<int>(o.hidden.size()), outputs,
                                      o.activation, 0.1, rng, name + ".conditioner");
      use_residual_ = true;
      return;
    }
    FeedForwardOptions net;
    net.widths.push_back(static_cast<Index>(identity_.size()) + k);
    net.widths.insert(net.widths.end(), o.hidden.begin(), o.hidden.end());
    net.widths.push_back(outputs);
    net.activation = o.activation;
    net.output_init_scale = 0.1;
    conditioner_ = FeedForward(net, rng, name + ".conditioner");
  }
  // Spline parameters from the kept dimensions (invalid when none) and the context.
  Var spline_parameters(const Binder& bind, Var kept, Var h) const {
    Var raw = use_residual_ ? residual_.forward(bind, kept, h)
                            : conditioner_.forward(bind, !kept.valid() ? h : h.valid() ? ad::concat_cols(kept, h) : kept);
    if (softmax_scale_.size() == 0) return raw;
    return ad::mul(raw, ad::broadcast(bind.constant(softmax_scale_), raw.value().rows(), raw.value().cols()));
  }
  Output forward(const Binder& bind, Var x, Var h) const override {
    const Index t = static_cast<Index>(transformed_.size());
    const Var kept = identity_.empty() ? Var() : ad::gather_cols(x, identity_);
    const Var params = spline_parameters(bind, kept, h);
    const Var out = ad::rq_spline(ad::gather_cols(x, transformed_), params, bound_, bins_);
    Var z = ad::scatter_cols(ad::slice_cols(out, 0, t), transformed_, d_);
    if (!identity_.empty()) z = ad::add(z, ad::scatter_cols(kept, identity_, d_));
    return {z, ad::slice_cols(out, t, 1)};
  }
  Mat inverse(const Binder& bind, const Mat& z, Var h) const override {
    Tape& tape = bind.tape();
    const Mat kept = columns(z, identity_);
    const Mat params = spline_parameters(bind, identity_.empty() ? Var() : tape.constant(kept), h).value();
    Mat solved;
    ad::rq_spline_inverse(columns(z, transformed_), params, bound_, bins_, solved);
    Mat x(z.rows(), z.cols());
    for (std::size_t k = 0; k < transformed_.size(); ++k) x.col(transformed_[k]) = solved.col(static_cast<Index>(k));
    for (std::size_t k = 0; k < identity_.size(); ++k) x.col(identity_[k]) = kept.col(static_cast<Index>(k));
    return x;
  }
  // The kept half passes unchanged, so the spline's parameters come from z's kept half as in forward().
  // The transformed half x_b = S⁻¹(z_b; p) is solved off the tape (x*), then put on it by one Newton
  // step at the root, x_b = x* − (S(x*; p) − z_b)/S′(x*) with x* and S′(x*) constants: its value is x*
  // (to rounding) and its first derivatives are the implicit function's, ∂x_b/∂z_b = 1/S′ and
  // ∂x_b/∂p = −(∂S/∂p)/S′. The log-determinant is then the forward spline's at x_b, so its
  // derivatives run through x_b as well.
  Output inverse_on_tape(const Binder& bind, Var z, Var h) const override {
    Tape& tape = bind.tape();
    const Index t = static_cast<Index>(transformed_.size());
    const Var kept = identity_.empty() ? Var() : ad::gather_cols(z, identity_);
    const Var params = spline_parameters(bind, kept, h);
    const Var z_b = ad::gather_cols(z, transformed_);
    Mat root;
    ad::rq_spline_inverse(z_b.value(), params.value(), bound_, bins_, root);
    // S′(x*) elementwise: the spline acts on each element alone, so ∂/∂x of Σ S(x) is the slope.
    Mat upstream = Mat::Zero(root.rows(), t + 1), slope = Mat::Zero(root.rows(), t);
    upstream.leftCols(t).setOnes();
    ad::rq_spline_backward(root, params.value(), upstream, bound_, static_cast<Index>(bins_), &slope, static_cast<Mat*>(nullptr));
    const Var at_root = ad::slice_cols(ad::rq_spline(tape.constant(root), params, bound_, bins_), 0, t);
    const Var x_b = ad::sub(tape.constant(root), ad::mul(ad::sub(at_root, z_b), tape.constant(Mat(slope.cwiseInverse()))));
    const Var log_det = ad::slice_cols(ad::rq_spline(x_b, params, bound_, bins_), t, 1);
    Var x = ad::scatter_cols(x_b, transformed_, d_);
    if (!identity_.empty()) x = ad::add(x, ad::scatter_cols(kept, identity_, d_));
    return {x, log_det};
  }
  void collect(nn::ParameterList<float>& list) override {
    if (use_residual_) residual_.collect(list);
    else conditioner_.collect(list);
  }

 private:
  Index d_;
  int bins_;
  float bound_;
  std::vector<Index> identity_, transformed_;
  FeedForward conditioner_;
  ResidualConditioner residual_;
  bool use_residual_ = false;
  Mat softmax_scale_;
};

// A learned invertible linear map z = x A + b with A = (I + L)(diag(s) + U), L strictly lower, U
// strictly upper triangular, s = softplus(·) + 10⁻³ > 0 (nflows' LULinear): log |det A| = Σ log s,
// inverted by two triangular solves. Starts as the identity. It mixes and rescales all dimensions,
// which coupling layers on their own cannot do.
class LuLinear final : public Transform {
 public:
  LuLinear(Index d, const std::string& name) : lower_mask_(Mat::Zero(d, d)), upper_mask_(Mat::Zero(d, d)), identity_(Mat::Identity(d, d)) {
    for (Index i = 0; i < d; ++i)
      for (Index j = 0; j < d; ++j) (i > j ? lower_mask_ : upper_mask_)(i, j) = i == j ? 0.0f : 1.0f;
    lower_.name = name + ".lower";
    upper_.name = name + ".upper";
    diagonal_.name = name + ".diagonal";
    bias_.name = name + ".bias";
    lower_.value.setZero(d, d);
    upper_.value.setZero(d, d);
    diagonal_.value.setZero(1, d);  // softplus(0 + shift) + 10⁻³ = 1
    bias_.value.setZero(1, d);
    for (auto* p : {&lower_, &upper_, &diagonal_, &bias_}) p->zero_grad();
  }
  Output forward(const Binder& bind, Var x, Var) const override {
    const Index d = identity_.rows();
    const Var scale = ad::add_scalar(ad::softplus(ad::add_scalar(bind(diagonal_), scale_shift())), kMinScale);
    const Var l = ad::add(ad::mul(bind(lower_), bind.constant(lower_mask_)), bind.constant(identity_));
    const Var u = ad::add(ad::mul(bind(upper_), bind.constant(upper_mask_)),
                          ad::mul(ad::broadcast(scale, d, d), bind.constant(identity_)));
    const Var z = ad::add_bias(ad::matmul(x, ad::matmul(l, u)), bind(bias_));
    return {z, ad::broadcast(ad::sum(ad::log(scale)), x.rows(), 1)};
  }
  Mat inverse(const Binder&, const Mat& z, Var) const override {
    // x A = z − b with A = L U  ⇒  x = ((z − b) U⁻¹) L⁻¹, i.e. Uᵀ Lᵀ xᵀ = (z − b)ᵀ.
    const Index d = identity_.rows();
    Mat l = lower_.value.cwiseProduct(lower_mask_) + identity_;
    Mat u = upper_.value.cwiseProduct(upper_mask_);
    for (Index i = 0; i < d; ++i) {
      const float v = diagonal_.value(0, i) + scale_shift();
      u(i, i) = std::max(v, 0.0f) + std::log1p(std::exp(-std::abs(v))) + kMinScale;
    }
    Mat rhs = (z.rowwise() - bias_.value.row(0)).transpose();  // d × n
    u.transpose().triangularView<Eigen::Lower>().solveInPlace(rhs);
    l.transpose().triangularView<Eigen::UnitUpper>().solveInPlace(rhs);
    return rhs.transpose();
  }
  void collect(nn::ParameterList<float>& list) override {
    for (auto* p : {&lower_, &upper_, &diagonal_, &bias_}) list.push_back(p);
  }

 private:
  nn::Parameter lower_, upper_, diagonal_, bias_;
  Mat lower_mask_, upper_mask_, identity_;
};

std::vector<Index> permutation_order(Index d, DensityEstimatorOptions::Permutation kind, Rng& rng) {
  std::vector<Index> order(static_cast<std::size_t>(d));
  for (Index j = 0; j < d; ++j) order[static_cast<std::size_t>(j)] = kind == DensityEstimatorOptions::Permutation::reverse ? d - 1 - j : j;
  if (kind == DensityEstimatorOptions::Permutation::random)
    for (Index j = d - 1; j > 0; --j) std::swap(order[static_cast<std::size_t>(j)], order[rng.below(static_cast<std::uint64_t>(j + 1))]);
  return order;
}

}  // namespace

FlowDensity::FlowDensity(const DensityEstimatorOptions& options, Eigen::Index data_dim, Eigen::Index context_dim, std::uint64_t seed)
    : ConditionalDensity(options, data_dim, context_dim, seed) {
  using Type = DensityEstimatorOptions::Type;
  const Index k = embedded_dim();
  const bool coupling = options.type == Type::nsf && options.form == DensityEstimatorOptions::Form::coupling;
  for (int t = 0; t < options.transforms; ++t) {
    Rng rng = Rng::stream(seed, static_cast<std::uint64_t>(t) + 1);
    const std::string name = "transform" + std::to_string(t);
    // Coupling layers alternate which half they transform; autoregressive layers are separated by
    // permutations (reverse order by default), so that every dimension is conditioned on every other.
    if (!coupling && t > 0 && data_dim > 1) {
      Rng order_rng = Rng::stream(seed, static_cast<std::uint64_t>(t) + 1, 1);
      transforms_.push_back(std::make_unique<Permutation>(permutation_order(data_dim, options.permutation, order_rng)));
    }
    if (options.type == Type::maf) transforms_.push_back(std::make_unique<AffineAutoregressive>(data_dim, k, options, rng, name));
    else if (coupling) transforms_.push_back(std::make_unique<SplineCoupling>(data_dim, k, t % 2, options, rng, name));
    else transforms_.push_back(std::make_unique<SplineAutoregressive>(data_dim, k, options, rng, name));
    if (options.linear && data_dim > 1) transforms_.push_back(std::make_unique<LuLinear>(data_dim, name + ".linear"));
  }
}

Transform::Output FlowDensity::run_forward(const Binder& bind, Var x, Var h) const {
  Var u = x;
  Var log_det;
  for (const auto& transform : transforms_) {
    const Transform::Output out = transform->forward(bind, u, h);
    u = out.z;
    if (out.log_det.valid()) log_det = log_det.valid() ? ad::add(log_det, out.log_det) : out.log_det;
  }
  return {u, log_det};
}

Mat FlowDensity::run_inverse(const Binder& bind, const Mat& z, Var h) const {
  Mat x = z;
  for (auto it = transforms_.rbegin(); it != transforms_.rend(); ++it) x = (*it)->inverse(bind, x, h);
  return x;
}

namespace {
// log N(u; 0, I) per row = −½ Σ u² − (d/2) log 2π.
Var standard_normal_log_prob(Var u) {
  const float normaliser = static_cast<float>(-0.5 * static_cast<double>(u.cols()) * std::log(2.0 * std::numbers::pi));
  return ad::add_scalar(ad::mul_scalar(ad::sum_rows(ad::square(u)), -0.5f), normaliser);
}
}  // namespace

Var FlowDensity::family_log_prob(const Binder& bind, Var z, Var h) const {
  if (!sampling_direction()) {
    const Transform::Output out = run_forward(bind, z, h);
    const Var lp = standard_normal_log_prob(out.z);
    return out.log_det.valid() ? ad::add(lp, out.log_det) : lp;
  }
  // Sampling direction: ε = f⁻¹(z), then log q̃(z) = log N(ε) − log |det ∂f/∂ε|. With gradients (maximum
  // likelihood) the layers are inverted on the tape, last to first; else on plain values, then one
  // forward pass from ε for the log-determinant.
  if (bind.gradients()) {
    Var eps = z, log_det;
    for (auto it = transforms_.rbegin(); it != transforms_.rend(); ++it) {
      const Transform::Output out = (*it)->inverse_on_tape(bind, eps, h);
      eps = out.z;
      if (out.log_det.valid()) log_det = log_det.valid() ? ad::add(log_det, out.log_det) : out.log_det;
    }
    const Var lp = standard_normal_log_prob(eps);
    return log_det.valid() ? ad::sub(lp, log_det) : lp;
  }
  const Var noise = bind.tape().constant(run_inverse(bind, z.value(), h));
  const Transform::Output out = run_forward(bind, noise, h);
  const Var lp = standard_normal_log_prob(noise);
  return out.log_det.valid() ? ad::sub(lp, out.log_det) : lp;
}

ConditionalDensity::Draw FlowDensity::family_rsample(const Binder& bind, Var h, const Mat& noise) const {
  if (!sampling_direction()) return ConditionalDensity::family_rsample(bind, h, noise);
  const Var eps = bind.tape().constant(noise);
  const Transform::Output out = run_forward(bind, eps, h);
  const Var lp = standard_normal_log_prob(eps);
  return {out.z, out.log_det.valid() ? ad::sub(lp, out.log_det) : lp};
}

Mat FlowDensity::family_sample(const Binder& bind, Var h, Rng& rng) const {
  const Mat noise = standard_normal(h.rows(), data_dim(), rng);
  if (sampling_direction()) return run_forward(bind, bind.tape().constant(noise), h).z.value();
  return run_inverse(bind, noise, h);
}

void FlowDensity::family_parameters(nn::ParameterList<float>& list) {
  for (auto& transform : transforms_) transform->collect(list);
}

}  // namespace sbi::flows
