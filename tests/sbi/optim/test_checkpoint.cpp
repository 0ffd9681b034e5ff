// Training checkpoints (sbi/optim/checkpoint.hpp, sbi/io/checkpoint_files.hpp): a run stopped and
// resumed from its checkpoint ends with exactly the weights, curve and outcome of a run never stopped.
#include "sbi/optim/checkpoint.hpp"

#include "sbi/core/error.hpp"
#include "sbi/flows/fit.hpp"
#include "sbi/flows/density.hpp"
#include "sbi/inference/nre.hpp"
#include "sbi/io/checkpoint_files.hpp"
#include "sbi/optim/adam.hpp"
#include "sbi/optim/training_loop.hpp"
#include "sbi/priors/prior.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

using namespace sbi;

namespace {

class MemoryCheckpoints : public CheckpointStore {
 public:
  std::optional<optim::TrainingCheckpoint> load(const std::string& key) const override {
    const auto it = saved.find(key);
    if (it == saved.end()) return std::nullopt;
    return optim::TrainingCheckpoint::from_bytes(it->second, key);  // through the byte form, as on disk
  }
  void save(const std::string& key, const optim::TrainingCheckpoint& c) override {
    saved[key] = c.to_bytes();
    ++saves;
  }
  std::map<std::string, std::string> saved;
  int saves = 0;
};

// A noisy quadratic: Adam on a 3 × 2 parameter pulled towards a target, with minibatch-like noise
// from a running random stream (state the method must checkpoint itself), validated by the distance
// to the target. Stopping at `stop_at_step` sets the stop flag from inside that step.
struct NoisyQuadratic {
  nn::Parameter weight;
  Rng rng{42};
  std::atomic<bool> stop{false};
  int stop_at_step = -1;

  NoisyQuadratic() {
    weight.name = "weight";
    weight.value = ad::Matrix<float>::Constant(3, 2, 2.0f);
  }
  optim::TrainingOutcome run(CheckpointStore* store, int max_steps = 200) {
    optim::Adam adam({&weight}, {.learning_rate = 0.05});
    optim::TrainingLoop loop({.max_steps = max_steps, .min_steps = 0, .eval_every = 10, .patience = 4}, {"loss"});
    loop.track({&weight});
    optim::TrainingHooks hooks;
    hooks.step = [&](int step, std::span<double> losses) {
      weight.grad = weight.value;  // d/dw of ‖w‖²/2, plus noise
      for (Eigen::Index i = 0; i < weight.grad.size(); ++i) weight.grad.data()[i] += static_cast<float>(0.3 * rng.normal());
      losses[0] = 0.5 * static_cast<double>(weight.value.squaredNorm());
      adam.step();
      if (step == stop_at_step) stop = true;
    };
    hooks.validate = [&] { return static_cast<double>(weight.value.norm()) + 0.01 * rng.uniform(); };
    hooks.save_state = [&] { return nlohmann::json{{"rng", optim::rng_state_to_json(rng)}, {"adam_steps", adam.steps_taken()}}; };
    hooks.restore_state = [&](const nlohmann::json& s) {
      optim::rng_state_from_json(s.at("rng"), rng);
      adam.set_steps_taken(s.at("adam_steps").get<long>());
    };
    TrainingCallbacks callbacks;
    callbacks.stop = &stop;
    callbacks.checkpoints = store;
    return loop.run(hooks, callbacks);
  }
};

void check_same_outcome(const optim::TrainingOutcome& a, const optim::TrainingOutcome& b) {
  CHECK(a.best_step == b.best_step);
  CHECK(a.best_validation == b.best_validation);
  CHECK(a.stopped_early == b.stopped_early);
  REQUIRE(a.curve.records.size() == b.curve.records.size());
  for (std::size_t r = 0; r < a.curve.records.size(); ++r) {
    CHECK(a.curve.records[r].step == b.curve.records[r].step);
    CHECK(a.curve.records[r].losses == b.curve.records[r].losses);
    CHECK(a.curve.records[r].validation == b.curve.records[r].validation);
  }
}

// Callbacks that checkpoint into `store` and set the stop flag at the `stop_after_checks`-th
// progress report (−1: never), as Ctrl-C would.
struct StopAfterChecks {
  std::atomic<bool> stop{false};
  int checks = 0;
  TrainingCallbacks callbacks;
  StopAfterChecks(CheckpointStore* store, int stop_after_checks) {
    callbacks.stop = &stop;
    callbacks.checkpoints = store;
    callbacks.on_progress = [this, stop_after_checks](const TrainingProgress&) {
      if (++checks == stop_after_checks) stop = true;
    };
  }
};

}  // namespace

TEST_CASE("a training loop stopped between checks or at one resumes to exactly the uninterrupted result", "[optim][checkpoint]") {
  NoisyQuadratic reference;
  const auto uninterrupted = reference.run(nullptr);
  REQUIRE(uninterrupted.curve.records.size() >= 5);  // the run must be long enough to stop in the middle

  for (int stop_at : {23, 30, 47}) {  // between checks, at a check, and later
    INFO("stopped at step " << stop_at);
    MemoryCheckpoints store;
    NoisyQuadratic first;
    first.stop_at_step = stop_at;
    const auto stopped = first.run(&store);
    CHECK(stopped.interrupted);
    REQUIRE(store.saved.count("train") == 1);
    // A new process: fresh weights, fresh stream, the same store.
    NoisyQuadratic second;
    const auto resumed = second.run(&store);
    CHECK_FALSE(resumed.interrupted);
    check_same_outcome(uninterrupted, resumed);
    CHECK((second.weight.value.array() == reference.weight.value.array()).all());
  }
}

TEST_CASE("periodic checkpoints: a run killed after one resumes to the same result, a loop without state hooks writes none",
          "[optim][checkpoint]") {
  NoisyQuadratic reference;
  const auto uninterrupted = reference.run(nullptr);
  // Simulate a SIGKILL: keep the store as it was after the first periodic checkpoint only.
  MemoryCheckpoints store;
  store.every_checks = 2;
  NoisyQuadratic first;
  first.run(&store);
  CHECK(store.saves >= 1);
  MemoryCheckpoints after_first;
  {
    NoisyQuadratic partial;
    partial.stop_at_step = 20;  // the second check is at step 20: its periodic checkpoint is the one kept
    partial.run(&after_first);
  }
  NoisyQuadratic resumed_run;
  const auto resumed = resumed_run.run(&after_first);
  check_same_outcome(uninterrupted, resumed);
  CHECK((resumed_run.weight.value.array() == reference.weight.value.array()).all());

  // Without save_state/restore_state the loop cannot resume exactly, so it never checkpoints.
  nn::Parameter p;
  p.name = "p";
  p.value = ad::Matrix<float>::Zero(1, 1);
  optim::TrainingLoop loop({.max_steps = 50, .min_steps = 0, .eval_every = 10, .patience = 10}, {"loss"});
  loop.track({&p});
  optim::TrainingHooks hooks;
  hooks.step = [&](int, std::span<double> losses) { losses[0] = 1; };
  hooks.validate = [] { return 1.0; };
  MemoryCheckpoints unused;
  unused.every_checks = 1;
  TrainingCallbacks callbacks;
  callbacks.checkpoints = &unused;
  loop.run(hooks, callbacks);
  CHECK(unused.saves == 0);
}

TEST_CASE("a checkpoint that does not fit the network, or damaged bytes, are refused with a reason", "[optim][checkpoint]") {
  MemoryCheckpoints store;
  NoisyQuadratic first;
  first.stop_at_step = 25;
  first.run(&store);
  REQUIRE(store.saved.count("train") == 1);

  NoisyQuadratic other;
  other.weight.value = ad::Matrix<float>::Constant(4, 2, 2.0f);  // another network shape
  CHECK_THROWS_WITH(other.run(&store), Catch::Contains("does not fit") && Catch::Contains("weight"));
  NoisyQuadratic shorter;
  CHECK_THROWS_WITH(shorter.run(&store, 20), Catch::Contains("beyond this run's 20"));

  const std::string bytes = store.saved["train"];
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  CHECK_THROWS_WITH(optim::TrainingCheckpoint::from_bytes(flipped, "x.ckpt"), Catch::Contains("x.ckpt") && Catch::Contains("checksum"));
  CHECK_THROWS_WITH(optim::TrainingCheckpoint::from_bytes(bytes.substr(0, bytes.size() - 7), "x.ckpt"), Catch::Contains("damaged"));
  CHECK_THROWS_WITH(optim::TrainingCheckpoint::from_bytes("hello", "x.ckpt"), Catch::Contains("not a training checkpoint"));
}

TEST_CASE("checkpoint files: written atomically under their key, a damaged one names its file, removed when done", "[optim][checkpoint][io]") {
  const auto folder = std::filesystem::temp_directory_path() / ("sbi_checkpoints_" + std::to_string(::getpid()));
  std::filesystem::remove_all(folder);
  DirectoryCheckpoints store(folder / "checkpoints");
  CHECK(store.empty());
  CHECK_FALSE(store.load("train").has_value());
  NoisyQuadratic first;
  first.stop_at_step = 31;
  first.run(&store);
  CHECK_FALSE(store.empty());
  const auto file = folder / "checkpoints" / "train.ckpt";
  REQUIRE(std::filesystem::is_regular_file(file));
  CHECK(store.load("train")->step == 31);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x7f');
  }
  CHECK_THROWS_WITH(store.load("train"), Catch::Contains(file.string()));
  CHECK_THROWS_AS(store.save("../escape", optim::TrainingCheckpoint{}), std::invalid_argument);
  store.remove_all();
  CHECK_FALSE(std::filesystem::exists(folder / "checkpoints"));
  std::filesystem::remove_all(folder);
}

TEST_CASE("density fitting (NPE, NLE) and NRE resume exactly from a checkpoint taken when stopped", "[optim][checkpoint][flows][nre]") {
  // Data: x | c ~ N(c, 0.5²), c ~ N(0, 1).
  Rng rng(5);
  RowMatrix c(400, 1), x(400, 1);
  for (Eigen::Index i = 0; i < 400; ++i) {
    c(i, 0) = rng.normal();
    x(i, 0) = c(i, 0) + 0.5 * rng.normal();
  }
  flows::DensityEstimatorOptions flow_options;
  flow_options.type = flows::DensityEstimatorOptions::Type::maf;
  flow_options.transforms = 2;
  flow_options.hidden = {16};
  // Constant learning rate, and one that decays when patience runs out (its schedule is part of the
  // checkpoint: a large rate and patience 1 so that decays happen before and after the stop).
  const flows::DensityFitOptions constant_rate{.batch_size = 50, .max_epochs = 12, .patience = 20, .seed = 9};
  flows::DensityFitOptions decaying = constant_rate;
  decaying.learning_rate = 0.05;
  decaying.patience = 1;
  decaying.learning_rate_decay = 0.5;
  decaying.decays = 4;
  for (const auto& fit_options : {constant_rate, decaying}) {
    INFO("learning_rate_decay " << fit_options.learning_rate_decay);
    auto fit = [&](flows::ConditionalDensity& q, CheckpointStore* store, int stop_after_checks) {
      StopAfterChecks run(store, stop_after_checks);
      return flows::fit_density(q, x, c, fit_options, run.callbacks);
    };
    auto reference = flows::make_density(flow_options, 1, 1, 3);
    const auto uninterrupted = fit(*reference, nullptr, -1);
    MemoryCheckpoints store;
    auto first = flows::make_density(flow_options, 1, 1, 3);
    const auto stopped = fit(*first, &store, 5);
    CHECK(stopped.interrupted);
    if (fit_options.learning_rate_decay < 1) {
      // The scenario needs a decay before the stop and another after it.
      REQUIRE(stopped.final_learning_rate < fit_options.learning_rate);
      REQUIRE(uninterrupted.final_learning_rate < stopped.final_learning_rate);
    }
    auto second = flows::make_density(flow_options, 1, 1, 3);
    const auto resumed = fit(*second, &store, -1);
    CHECK(resumed.epochs == uninterrupted.epochs);
    CHECK(resumed.best_validation == uninterrupted.best_validation);
    CHECK(resumed.final_learning_rate == uninterrupted.final_learning_rate);
    const auto pa = reference->parameters(), pb = second->parameters();
    REQUIRE(pa.size() == pb.size());
    for (std::size_t i = 0; i < pa.size(); ++i) CHECK((pa[i]->value.array() == pb[i]->value.array()).all());
  }

  // NRE: its batch stream and epoch order are part of the checkpoint.
  const auto prior = prior_from_json(nlohmann::json::parse(R"([{"name": "c", "dist": "uniform", "low": -4, "high": 4}])"));
  NreOptions nre_options;
  nre_options.max_epochs = 8;
  nre_options.classifier.hidden = {16};
  nre_options.classifier.batch_size = 50;
  auto train = [&](CheckpointStore* store, int stop_after_checks) {
    StopAfterChecks run(store, stop_after_checks);
    return train_nre(c, x, *prior, nre_options, run.callbacks);
  };
  NreFit nre_reference = train(nullptr, -1);
  MemoryCheckpoints nre_store;
  CHECK(train(&nre_store, 3).training.interrupted);
  NreFit nre_resumed = train(&nre_store, -1);
  CHECK(nre_resumed.training.best_step == nre_reference.training.best_step);
  const auto ra = nre_reference.classifier.parameters(), rb = nre_resumed.classifier.parameters();
  REQUIRE(ra.size() == rb.size());
  for (std::size_t i = 0; i < ra.size(); ++i) CHECK((ra[i]->value.array() == rb[i]->value.array()).all());
}

TEST_CASE("racing candidates (fit_best_density) resume exactly from the checkpoints taken when stopped", "[optim][checkpoint][flows]") {
  // x | c = c ± 1 (a fair coin) + N(0, 0.1²): two modes, which a one-component mixture cannot fit,
  // so it trails the others and leaves the race.
  Rng rng(6);
  RowMatrix c(600, 1), x(600, 1);
  for (Eigen::Index i = 0; i < 600; ++i) {
    c(i, 0) = rng.normal();
    x(i, 0) = c(i, 0) + (rng.uniform() < 0.5 ? -1.0 : 1.0) + 0.1 * rng.normal();
  }
  flows::DensityEstimatorOptions one;
  one.type = flows::DensityEstimatorOptions::Type::mog;
  one.components = 1;
  one.hidden = {16};
  flows::DensityEstimatorOptions three = one;
  three.components = 3;
  flows::DensityEstimatorOptions maf;
  maf.type = flows::DensityEstimatorOptions::Type::maf;
  maf.transforms = 2;
  maf.hidden = {16};
  const std::vector<flows::DensityEstimatorOptions> candidates = {one, three, maf};
  const flows::DensityFitOptions options{.batch_size = 50, .max_epochs = 25, .patience = 20, .race_window = 3, .race_margin = 0.05, .seed = 9};
  auto fit = [&](CheckpointStore* store, int stop_after_checks, int threads) {
    StopAfterChecks run(store, stop_after_checks);
    run.callbacks.checkpoint_key = "npe";
    return flows::fit_best_density(candidates, x, c, 3, options, run.callbacks, threads);
  };
  const auto uninterrupted = fit(nullptr, -1, 2);
  REQUIRE(uninterrupted.trials.size() == 3);
  REQUIRE(uninterrupted.trials[0].result.left_race);  // the scenario: someone leaves, after the stop below
  REQUIRE(uninterrupted.trials[0].result.epochs > 2);
  for (int threads : {1, 2}) {
    INFO(threads << " threads");
    MemoryCheckpoints store;
    const auto stopped = fit(&store, 2, threads);  // candidate 0 reports progress: stopped after its second epoch
    CHECK(stopped.trials[0].result.interrupted);
    CHECK(store.saved.size() == 3);
    const auto resumed = fit(&store, -1, threads);
    for (std::size_t i = 0; i < 3; ++i) {
      INFO("candidate " << i);
      CHECK(resumed.trials[i].result.epochs == uninterrupted.trials[i].result.epochs);
      CHECK(resumed.trials[i].result.left_race == uninterrupted.trials[i].result.left_race);
      CHECK(resumed.trials[i].result.best_validation == uninterrupted.trials[i].result.best_validation);
      CHECK(resumed.trials[i].kept == uninterrupted.trials[i].kept);
    }
    const auto pa = uninterrupted.density->parameters(), pb = resumed.density->parameters();
    REQUIRE(pa.size() == pb.size());
    for (std::size_t i = 0; i < pa.size(); ++i) CHECK((pa[i]->value.array() == pb[i]->value.array()).all());
  }
}
