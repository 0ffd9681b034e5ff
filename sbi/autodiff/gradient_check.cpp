#include "sbi/autodiff/gradient_check.hpp"

#include "sbi/autodiff/ops.hpp"
#include "sbi/random/rng.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace sbi::ad {
namespace {

using Mat = Matrix<double>;

Mat random_matrix(Eigen::Index rows, Eigen::Index cols, Rng& rng) {
  Mat m(rows, cols);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = rng.normal();
  return m;
}

// Σ R ⊙ out, with R drawn once per output shape from a fixed stream.
Var<double> project(Var<double> out, std::uint64_t seed) {
  Rng rng = Rng::stream(seed, static_cast<std::uint64_t>(out.rows() * 1000 + out.cols()));
  if (out.rows() == 1 && out.cols() == 1) return out;
  return sum(mul(out, out.tape().constant(random_matrix(out.rows(), out.cols(), rng))));
}

struct Comparison {
  double worst = 0;
  int count = 0;
  std::ostringstream report;
  int reported = 0;
  void add(const std::string& where, double analytic, double numeric, const GradientCheckOptions& options) {
    const double scale = options.absolute_tolerance + options.relative_tolerance * std::max(std::abs(analytic), std::abs(numeric));
    const double error = std::abs(analytic - numeric) / scale;
    ++count;
    if (!(error <= 1.0) && reported < 10) {
      report << where << ": analytic " << analytic << ", finite difference " << numeric << "\n";
      ++reported;
    }
    if (!(error <= worst)) worst = error;  // NaN propagates as "worst"
  }
};

GradientCheckResult finish(Comparison& comparison, const std::string& title) {
  GradientCheckResult result;
  result.max_error = comparison.worst;
  result.ok = comparison.worst <= 1.0;
  result.checked_entries = comparison.count;
  if (!result.ok) result.report = title + " mismatch:\n" + comparison.report.str();
  return result;
}

// First-order check of the scalar function g over the given inputs.
GradientCheckResult check_scalar(const Function& g, const std::vector<Mat>& inputs, const GradientCheckOptions& options,
                                 const std::string& title) {
  Tape<double> tape;
  std::vector<Var<double>> leaves;
  for (const Mat& m : inputs) leaves.push_back(tape.variable(m));
  const Var<double> out = g(tape, leaves);
  if (out.rows() != 1 || out.cols() != 1) throw std::invalid_argument("check_gradients: internal function is not scalar");
  const auto analytic = tape.grad(out, leaves);
  std::vector<Mat> analytic_values;
  for (const auto& v : analytic) analytic_values.push_back(v.value());

  Comparison comparison;
  std::vector<Mat> perturbed = inputs;
  auto evaluate = [&]() {
    Tape<double> t;
    std::vector<Var<double>> in;
    for (const Mat& m : perturbed) in.push_back(t.variable(m));
    return g(t, in).item();
  };
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    for (Eigen::Index e = 0; e < inputs[k].size(); ++e) {
      const double x = inputs[k].data()[e];
      const double h = options.step * std::max(1.0, std::abs(x));
      perturbed[k].data()[e] = x + h;
      const double up = evaluate();
      perturbed[k].data()[e] = x - h;
      const double down = evaluate();
      perturbed[k].data()[e] = x;
      std::ostringstream where;
      where << "input " << k << " entry " << e;
      comparison.add(where.str(), analytic_values[k].data()[e], (up - down) / (2 * h), options);
    }
  }
  return finish(comparison, title);
}

}  // namespace

bool GradientCheckOptions::is_valid(std::string* why) const {
  auto fail = [&](const char* message) {
    if (why) *why = message;
    return false;
  };
  if (!(step > 0)) return fail("step must be positive");
  if (!(relative_tolerance >= 0) || !(absolute_tolerance >= 0)) return fail("tolerances must be non-negative");
  if (relative_tolerance == 0 && absolute_tolerance == 0) return fail("at least one tolerance must be positive");
  return true;
}

GradientCheckResult check_gradients(const Function& f, const std::vector<Mat>& inputs, const GradientCheckOptions& options) {
  std::string why;
  if (!options.is_valid(&why)) throw std::invalid_argument("GradientCheckOptions: " + why);
  const std::uint64_t seed = options.seed;
  const Function first = [&f, seed](Tape<double>& tape, const std::vector<Var<double>>& in) {
    return project(f(tape, in), seed);
  };
  GradientCheckResult result = check_scalar(first, inputs, options, "first-order gradient");
  if (!result.ok || !options.second_order) return result;

  // The recorded (create_graph) gradient must equal the numeric one, which was just checked
  // against finite differences; otherwise the second-order check below would test a wrong function.
  {
    Tape<double> tape;
    std::vector<Var<double>> leaves;
    for (const Mat& m : inputs) leaves.push_back(tape.variable(m));
    const Var<double> s = first(tape, leaves);
    const auto recorded = tape.grad(s, leaves, /*create_graph=*/true);
    const auto numeric = tape.grad(s, leaves, /*create_graph=*/false);
    Comparison comparison;
    for (std::size_t k = 0; k < leaves.size(); ++k)
      for (Eigen::Index e = 0; e < inputs[k].size(); ++e)
        comparison.add("recorded gradient of input " + std::to_string(k) + " entry " + std::to_string(e),
                       recorded[k].value().data()[e], numeric[k].value().data()[e], options);
    GradientCheckResult consistency = finish(comparison, "create_graph gradient vs numeric gradient");
    if (!consistency.ok) return consistency;
  }

  const Function second = [&first, seed](Tape<double>& tape, const std::vector<Var<double>>& in) {
    const Var<double> s = first(tape, in);
    const auto gradients = tape.grad(s, in, /*create_graph=*/true);
    Var<double> total = tape.constant(0.0);
    for (std::size_t k = 0; k < gradients.size(); ++k) total = add(total, project(gradients[k], seed + 1 + k));
    return total;
  };
  GradientCheckResult second_result = check_scalar(second, inputs, options, "second-order gradient");
  second_result.checked_entries += result.checked_entries;
  second_result.max_error = std::max(second_result.max_error, result.max_error);
  return second_result;
}

GradientCheckResult check_parameter_gradients(const ParameterFunction& f, const std::vector<ParameterRef>& parameters,
                                              const GradientCheckOptions& options) {
  std::string why;
  if (!options.is_valid(&why)) throw std::invalid_argument("GradientCheckOptions: " + why);
  for (const auto& p : parameters) p.grad->setZero(p.value->rows(), p.value->cols());
  {
    Tape<double> tape;
    const Var<double> out = f(tape);
    if (out.rows() != 1 || out.cols() != 1) throw std::invalid_argument("check_parameter_gradients: f must return a 1x1 loss");
    tape.backward(out);
  }
  std::vector<Mat> analytic;
  for (const auto& p : parameters) analytic.push_back(*p.grad);

  Comparison comparison;
  auto evaluate = [&]() {
    Tape<double> tape;
    return f(tape).item();
  };
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    Mat& value = *parameters[k].value;
    for (Eigen::Index e = 0; e < value.size(); ++e) {
      const double x = value.data()[e];
      const double h = options.step * std::max(1.0, std::abs(x));
      value.data()[e] = x + h;
      const double up = evaluate();
      value.data()[e] = x - h;
      const double down = evaluate();
      value.data()[e] = x;
      std::ostringstream where;
      where << "parameter " << k << " entry " << e;
      comparison.add(where.str(), analytic[k].data()[e], (up - down) / (2 * h), options);
    }
  }
  return finish(comparison, "parameter gradient");
}

}  // namespace sbi::ad
