#pragma once
// The loss shared by CGNN and Meta-CGNN: the biased MMD² between generated pairs (c_i, g_i) and
// observed pairs (c_i, e_i) with the kernel k(a, b) = Σ_γ exp(−γ |a − b|²), and its gradient with
// respect to the generated values g, by a fused loop (one pass over the n × n pairs, no n × n
// matrix stored; the rows run on sbi/causal/kernel_rows.hpp). Float throughout.
//
//   PairedMmd mmd(gammas);                                  // one per thread: it owns scratch space
//   float observed = mmd.observed_term(cause, effect);      // constant for a data set
//   float loss = mmd.generated_terms(cause, generated, effect, &gradient) + observed;
#include <Eigen/Core>

#include <vector>

namespace sbi::causal {

class PairedMmd {
 public:
  explicit PairedMmd(const std::vector<float>& gammas);
  explicit PairedMmd(const std::vector<double>& gammas);

  // (1/n²)[Σ_ij k(G_i, G_j) − 2 Σ_ij k(G_i, O_j)], the generator-dependent part of the MMD²; writes
  // d/dg_i into `gradient` (resized) when it is non-null. cause, generated, effect: same length n ≥ 1.
  float generated_terms(const Eigen::VectorXf& cause, const Eigen::VectorXf& generated, const Eigen::VectorXf& effect,
                        Eigen::VectorXf* gradient);
  // (1/n²) Σ_ij k(O_i, O_j): the constant part (the same for the pair with its columns swapped).
  float observed_term(const Eigen::VectorXf& cause, const Eigen::VectorXf& effect);
  // Both: the MMD² itself.
  float value(const Eigen::VectorXf& cause, const Eigen::VectorXf& generated, const Eigen::VectorXf& effect,
              Eigen::VectorXf* gradient = nullptr) {
    return generated_terms(cause, generated, effect, gradient) + observed_term(cause, effect);
  }

  const std::vector<float>& gammas() const { return gammas_; }

 private:
  std::vector<float> gammas_;
  // Which γ_k can be had as the tenth power of the previous term (γ_k = 10 γ_{k−1}, as in the
  // default list {0.01, …, 100}): four multiplications instead of an exponential. The relative error
  // grows tenfold per step (float: ~6e-7 after one, 6e-6 after two), irrelevant for the loss; the
  // default list costs two exponentials per entry (γ = 0.01 and γ = 1 start chains).
  std::vector<char> chained_;
  Eigen::ArrayXf scratch_[6];
};

}  // namespace sbi::causal
