#include "sbi/simulation/simulator.hpp"

#include "sbi/io/json_reader.hpp"

#include <cmath>

namespace sbi {

std::string describe_theta(const Names& names, ConstRow theta) {
  std::string text = "θ = (";
  for (std::size_t i = 0; i < theta.size(); ++i) {
    if (i) text += ", ";
    if (i < names.size()) text += names[i] + "=";
    text += format_number(theta[i]);
  }
  return text + ")";
}

Vector Simulator::simulate_one(ConstRow theta, std::uint64_t stream_seed) const {
  RowMatrix t = Eigen::Map<const RowMatrix>(theta.data(), 1, static_cast<Eigen::Index>(theta.size()));
  RowMatrix y(1, static_cast<Eigen::Index>(data_dim()));
  SimulationOutcome outcome;
  simulate_batch(t, y, {&stream_seed, 1}, {&outcome, 1});
  if (outcome.ok() && !y.allFinite()) outcome = {SimulationStatus::non_finite, "non-finite output"};
  if (!outcome.ok())
    throw SimulationError(name() + ": simulation failed at " + describe_theta(info().parameter_names, theta) + ": " + outcome.message);
  return y.row(0).transpose();
}

}  // namespace sbi
