#include "sbi/optim/checkpoint.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/checksum.hpp"

#include <cstring>

namespace sbi::optim {

namespace {

// "SBICKPT1" then the checksum of the payload as 16 hex digits, then the payload: CBOR, with float
// matrices as byte strings (this machine's float layout: checkpoints are for resuming on the same
// kind of machine, not for exchange).
constexpr std::string_view kMagic = "SBICKPT1";
constexpr std::size_t kHeader = 8 + 16;

nlohmann::json matrix_to_json(const ad::Matrix<float>& m) {
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(m.size()) * sizeof(float));
  if (!bytes.empty()) std::memcpy(bytes.data(), m.data(), bytes.size());
  return {{"rows", m.rows()}, {"cols", m.cols()}, {"data", nlohmann::json::binary(std::move(bytes))}};
}

ad::Matrix<float> matrix_from_json(const nlohmann::json& j) {
  const auto rows = j.at("rows").get<Eigen::Index>(), cols = j.at("cols").get<Eigen::Index>();
  const auto& bytes = j.at("data").get_binary();
  if (rows < 0 || cols < 0 || bytes.size() != static_cast<std::size_t>(rows * cols) * sizeof(float))
    throw InputError("a matrix's size does not match its data");
  ad::Matrix<float> m(rows, cols);
  if (!bytes.empty()) std::memcpy(m.data(), bytes.data(), bytes.size());
  return m;
}

}  // namespace

std::string TrainingCheckpoint::to_bytes() const {
  nlohmann::json j;
  j["step"] = step;
  j["have_best"] = have_best;
  j["best_validation"] = best_validation;
  j["best_step"] = best_step;
  j["checks_since_best"] = checks_since_best;
  j["steps_since_record"] = steps_since_record;
  j["loss_sums"] = loss_sums;
  j["seconds"] = seconds;
  j["loss_names"] = loss_names;
  j["record_steps"] = record_steps;
  j["record_losses"] = record_losses;
  j["record_validation"] = record_validation;
  j["record_seconds"] = record_seconds;
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : parameters) {
    nlohmann::json slots = nlohmann::json::array();
    for (const auto& s : p.slots) slots.push_back(matrix_to_json(s));
    params.push_back({{"name", p.name}, {"value", matrix_to_json(p.value)}, {"slots", std::move(slots)}, {"best", matrix_to_json(p.best)}});
  }
  j["parameters"] = std::move(params);
  j["method_state"] = method_state;
  const std::vector<std::uint8_t> payload = nlohmann::json::to_cbor(j);
  const std::string_view view(reinterpret_cast<const char*>(payload.data()), payload.size());
  std::string out(kMagic);
  out += hex64(fnv1a64(view));
  out.append(view);
  return out;
}

TrainingCheckpoint TrainingCheckpoint::from_bytes(std::string_view bytes, const std::string& source) {
  if (bytes.size() < kHeader || bytes.substr(0, kMagic.size()) != kMagic)
    throw InputError(source + ": not a training checkpoint (no SBICKPT1 header)");
  const std::string_view payload = bytes.substr(kHeader);
  if (std::string(bytes.substr(kMagic.size(), 16)) != hex64(fnv1a64(payload)))
    throw InputError(source + ": damaged training checkpoint (checksum mismatch; truncated or altered)");
  try {
    const nlohmann::json j = nlohmann::json::from_cbor(payload.begin(), payload.end());
    TrainingCheckpoint c;
    c.step = j.at("step").get<int>();
    c.have_best = j.at("have_best").get<bool>();
    c.best_validation = j.at("best_validation").get<double>();
    c.best_step = j.at("best_step").get<int>();
    c.checks_since_best = j.at("checks_since_best").get<int>();
    c.steps_since_record = j.at("steps_since_record").get<int>();
    c.loss_sums = j.at("loss_sums").get<std::vector<double>>();
    c.seconds = j.at("seconds").get<double>();
    c.loss_names = j.at("loss_names").get<std::vector<std::string>>();
    c.record_steps = j.at("record_steps").get<std::vector<int>>();
    c.record_losses = j.at("record_losses").get<std::vector<std::vector<double>>>();
    c.record_validation = j.at("record_validation").get<std::vector<double>>();
    c.record_seconds = j.at("record_seconds").get<std::vector<double>>();
    const std::size_t records = c.record_steps.size();
    if (c.record_losses.size() != records || c.record_validation.size() != records || c.record_seconds.size() != records ||
        c.loss_sums.size() != c.loss_names.size() || c.step < 0)
      throw InputError("inconsistent training curve");
    for (const auto& p : j.at("parameters")) {
      ParameterCheckpoint parameter;
      parameter.name = p.at("name").get<std::string>();
      parameter.value = matrix_from_json(p.at("value"));
      for (const auto& s : p.at("slots")) parameter.slots.push_back(matrix_from_json(s));
      parameter.best = matrix_from_json(p.at("best"));
      c.parameters.push_back(std::move(parameter));
    }
    c.method_state = j.at("method_state");
    return c;
  } catch (const InputError& e) {
    throw InputError(source + ": damaged training checkpoint (" + e.what() + ")");
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source + ": damaged training checkpoint (" + e.what() + ")");
  }
}

nlohmann::json rng_state_to_json(const Rng& rng) {
  const Rng::State s = rng.state();
  return {{"words", s.words}, {"spare_normal", s.spare_normal}, {"has_spare_normal", s.has_spare_normal}};
}

void rng_state_from_json(const nlohmann::json& j, Rng& rng) {
  try {
    Rng::State s;
    s.words = j.at("words").get<std::array<std::uint64_t, 4>>();
    s.spare_normal = j.at("spare_normal").get<double>();
    s.has_spare_normal = j.at("has_spare_normal").get<bool>();
    rng.set_state(s);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("training checkpoint: a random stream's state is damaged (") + e.what() + ")");
  }
}

}  // namespace sbi::optim
