#include "sbi/nn/standardizer.hpp"

#include <cmath>
#include <stdexcept>

namespace sbi::nn {

template <class T>
BasicStandardizer<T> BasicStandardizer<T>::fit(const ad::Matrix<T>& data, T min_sd) {
  if (data.rows() < 2) throw std::invalid_argument("BasicStandardizer::fit: need at least two rows");
  BasicStandardizer result;
  // Accumulate in double: float sums over 10⁵ rows lose digits.
  const Eigen::MatrixXd x = data.template cast<double>();
  const Eigen::RowVectorXd mean = x.colwise().mean();
  const Eigen::RowVectorXd variance =
      (x.rowwise() - mean).array().square().colwise().sum() / static_cast<double>(x.rows() - 1);
  result.mean = mean.cast<T>();
  result.sd.resize(1, x.cols());
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    const double sd = std::sqrt(variance(j));
    result.sd(0, j) = sd < static_cast<double>(min_sd) ? T(1) : static_cast<T>(sd);
  }
  return result;
}

template <class T>
ad::Var<T> BasicStandardizer<T>::apply(ad::Var<T> x) const {
  if (empty()) return x;
  if (x.cols() != mean.cols()) throw std::invalid_argument("BasicStandardizer::apply: input has the wrong number of columns");
  auto& tape = x.tape();
  const ad::Matrix<T> scale = sd.cwiseInverse();
  const ad::Matrix<T> shift = -mean.cwiseProduct(scale);
  return ad::add_bias(ad::mul(x, ad::broadcast(tape.constant(scale), x.rows(), x.cols())), tape.constant(shift));
}

template <class T>
ad::Matrix<T> BasicStandardizer<T>::apply(const ad::Matrix<T>& x) const {
  if (empty()) return x;
  ad::Tape<T> tape;
  return apply(tape.constant(x)).value();
}

template struct BasicStandardizer<float>;
template struct BasicStandardizer<double>;

}  // namespace sbi::nn
