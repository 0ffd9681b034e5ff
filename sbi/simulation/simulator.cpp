#include "sbi/simulation/simulator.hpp"

#include "sbi/io/checksum.hpp"
#include "sbi/io/csv.hpp"
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

void check_simulator_names(const SimulatorInfo& info) {
  const std::string who = "simulator \"" + info.name + "\"";
  check_csv_names(info.parameter_names, who + ": parameter_names");
  check_csv_names(info.data_names, who + ": data_names");
}

nlohmann::json identity_options(const nlohmann::json& options, const Names& execution_option_keys) {
  if (!options.is_object()) return options;
  nlohmann::json identity = options;
  for (const auto& key : execution_option_keys) identity.erase(key);
  return identity;
}

std::string simulator_options_hash(const SimulatorInfo& info) {
  return "fnv1a64:" + hex64(fnv1a64(identity_options(info.options, info.execution_option_keys).dump()));
}

Simulator::Simulator(std::shared_ptr<const SimulatorModel> model) : model_(std::move(model)) {
  if (model_) check_simulator_names(model_->info());
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
