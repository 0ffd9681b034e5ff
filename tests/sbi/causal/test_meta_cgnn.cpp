// Meta-CGNN (sbi/causal/meta_cgnn.hpp): options in and out of JSON, the two dataset encoders, the
// meta-training gradient against finite differences, the same bits at any thread count, the saved
// folder (round trip, damaged files named), and a small meta-model beating chance on easy pairs.
#include "sbi/causal/meta_cgnn.hpp"
#include "sbi/causal/methods.hpp"
#include "sbi/causal/synthetic.hpp"
#include "sbi/core/error.hpp"
#include "sbi/random/rng.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace {

using namespace sbi::causal;

// A meta-model small enough to train in a second or two: narrow networks, small data sets.
MetaCgnnOptions tiny_options() {
  MetaCgnnOptions o;
  o.encoder.width = 16;
  o.encoder.embedding = 4;
  o.generator.width = 16;
  o.steps = 20;
  o.tasks_per_step = 4;
  o.sizes = {40, 80};
  o.training_rows = 60;
  o.encoder_rows = 60;
  return o;
}

// Trained on unwarped additive-noise data sets of 100 rows, 300 steps: about a second on two cores,
// and enough to beat chance on such pairs (with the default half of the causes warped, 300 steps
// are too few to learn more than the marginals).
MetaCgnnOptions additive_options() {
  MetaCgnnOptions o = tiny_options();
  o.distortions.cause_warp = 0;
  o.encoder.kind = "kernel-mean";
  o.families = {"additive"};
  o.sizes = {100};
  o.training_rows = 100;
  o.encoder_rows = 100;
  o.contrast_weight = 1;
  o.steps = 300;
  o.tasks_per_step = 8;
  o.learning_rate = 0.003;
  return o;
}

std::filesystem::path scratch(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("sbi_meta_cgnn_" + name + "_" + std::to_string(::getpid()));
}

std::vector<Eigen::MatrixXf> weights_of(MetaCgnnModel& model) {
  std::vector<Eigen::MatrixXf> out;
  for (auto* p : detail::meta_parameters(model)) out.push_back(p->value);
  return out;
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("Meta-CGNN options read from JSON with errors naming the path", "[causal][meta-cgnn]") {
  MetaCgnnOptions o;
  o.encoder.kind = "kernel-mean";
  o.contrast_weight = 0.5;
  o.sizes = {50, 100};
  o.distortions = {.cause_warp = 0.25, .cause_noise = 0.1, .confounding = 0.2};
  const auto back = MetaCgnnOptions::from_json(o.to_json(), "meta");
  CHECK(back.to_json() == o.to_json());
  CHECK_THROWS_WITH(MetaCgnnOptions::from_json(nlohmann::json::parse(R"({"encoder": {"kind": "deep"}})"), "meta"),
                    Catch::Contains("meta.encoder.kind"));
  CHECK_THROWS_WITH(MetaCgnnOptions::from_json(nlohmann::json::parse(R"({"generator": {"widht": 3}})"), "meta"),
                    Catch::Contains("widht"));
  CHECK_THROWS_WITH(MetaCgnnOptions::from_json(nlohmann::json::parse(R"({"families": ["linear"]})"), "meta"),
                    Catch::Contains("families"));
  CHECK_THROWS_WITH(MetaCgnnOptions::from_json(nlohmann::json::parse(R"({"contrast_weight": -1})"), "meta"),
                    Catch::Contains("meta.contrast_weight"));
  CHECK_THROWS_WITH(MetaCgnnOptions::from_json(nlohmann::json::parse(R"({"cause_warp": 2})"), "meta"),
                    Catch::Contains("meta.cause_warp"));
  CHECK_THROWS_WITH(MetaCgnnOptions::from_json(nlohmann::json::parse(R"({"confounding": -0.1})"), "meta"),
                    Catch::Contains("meta.confounding"));
  CHECK_THROWS_WITH(MetaCgnnOptions::from_json(nlohmann::json::parse(R"({"labelled_fraction": 1.5})"), "meta"),
                    Catch::Contains("meta.labelled_fraction"));
  // Missing keys keep the base's values (continuing a model's training starts from its options).
  MetaCgnnOptions base;
  base.steps = 7;
  base.encoder.kind = "set";
  const auto merged = MetaCgnnOptions::from_json(nlohmann::json::parse(R"({"learning_rate": 0.0003})"), "meta", base);
  CHECK(merged.steps == 7);
  CHECK(merged.encoder.kind == "set");
  CHECK(merged.learning_rate == 0.0003);
  MetaCgnnDecisionOptions d;
  d.adapt = "generator";
  d.adapt_steps = 3;
  CHECK(MetaCgnnDecisionOptions::from_json(d.to_json(), "decide").to_json() == d.to_json());
  CHECK_THROWS_WITH(MetaCgnnDecisionOptions::from_json(nlohmann::json::parse(R"({"adapt": "all"})"), "decide"),
                    Catch::Contains("decide.adapt"));
}

TEST_CASE("the dataset encoders ignore the order of the points", "[causal][meta-cgnn]") {
  const Eigen::Index n = 50;
  sbi::Rng rng = sbi::Rng::stream(3, 0);
  sbi::ad::Matrix<float> points(n, 2), reversed(n, 2);
  for (Eigen::Index i = 0; i < n; ++i) points.row(i) << static_cast<float>(rng.normal()), static_cast<float>(rng.normal());
  reversed = points.colwise().reverse();
  for (const std::string kind : {"set", "kernel-mean"}) {
    DatasetEncoderOptions o;
    o.kind = kind;
    DatasetEncoder encoder(o, 5);
    sbi::ad::Tape<float> tape;
    const sbi::ad::Matrix<float> a = encoder.forward(tape, points).value();
    const sbi::ad::Matrix<float> b = encoder.forward(tape, reversed).value();
    INFO(kind);
    REQUIRE(a.cols() == o.embedding);
    // Only the order of a float sum of 50 terms changes: agreement to a few ulps of the result.
    CHECK((a - b).cwiseAbs().maxCoeff() <= 1e-5f * (1 + a.cwiseAbs().maxCoeff()));
  }
}

TEST_CASE("the kernel mean embedding of one point is a Gaussian bump at the landmarks", "[causal][meta-cgnn]") {
  DatasetEncoderOptions o;
  o.kind = "kernel-mean";
  o.grid = 3;               // landmarks −2.5, 0, 2.5 on each axis
  o.bandwidths = {1.0};
  DatasetEncoder encoder(o, 1);
  sbi::ad::Matrix<float> point(1, 2);
  point << 0.0f, 0.0f;
  const auto features = encoder.kernel_mean_features(point);
  REQUIRE(features.cols() == 9);
  CHECK(features(0, 4) == Approx(1.0));                         // the centre landmark (0, 0)
  CHECK(features(0, 1) == Approx(std::exp(-2.5 * 2.5 / 2)));    // (−2.5, 0)
  CHECK(features(0, 0) == Approx(std::exp(-2 * 2.5 * 2.5 / 2)));  // (−2.5, −2.5)
}

TEST_CASE("the meta-training gradient agrees with finite differences of the loss", "[causal][meta-cgnn]") {
  // Both reverse-direction terms switched on, so that every branch of the loss is checked. Float
  // networks: a central difference with step h = 1e-3 on a loss of size ~0.1 computed to ~1e-7
  // relative has a rounding error near 1e-7 / 1e-3 = 1e-4 at worst, and a truncation error
  // O(h²·third derivative). The step must stay this small: with h = 1e-2 a weight of the
  // kernel-mean encoder (128 inputs up to 1) moves the task vector far enough to cross ReLU kinks of
  // the generator, and the difference was 8 % off. 5 % of the gradient (or 2e-4) is far tighter
  // than what a wiring error (a wrong sign or weight, a missing term) produces.
  for (const std::string kind : {"set", "kernel-mean"}) {
    MetaCgnnOptions o = tiny_options();
    o.encoder.kind = kind;
    o.anticausal_weight = 0.5;
    o.contrast_weight = 0.3;
    MetaCgnnModel model(o, 9);
    auto parameters = detail::meta_parameters(model);
    for (auto* p : parameters) p->zero_grad();
    const double loss = detail::meta_training_loss(model, 4, 17);
    REQUIRE(std::isfinite(loss));
    // Read now: every later evaluation adds its gradient too.
    std::vector<Eigen::MatrixXf> gradients;
    for (auto* p : parameters) gradients.push_back(p->grad);
    int checked = 0;
    for (std::size_t k = 0; k < parameters.size(); k += 3) {
      auto* p = parameters[k];
      const Eigen::Index entry = p->value.size() / 2;
      const float analytic = gradients[k].data()[entry];
      const float saved = p->value.data()[entry];
      const float h = 1e-3f;
      p->value.data()[entry] = saved + h;
      const double up = detail::meta_training_loss(model, 4, 17);
      p->value.data()[entry] = saved - h;
      const double down = detail::meta_training_loss(model, 4, 17);
      p->value.data()[entry] = saved;
      const double numeric = (up - down) / (2 * h);
      INFO(kind << " parameter " << p->name << " entry " << entry << ": analytic " << analytic << ", numeric " << numeric);
      CHECK(std::abs(analytic - numeric) <= 2e-4 + 0.05 * std::abs(numeric));
      ++checked;
    }
    CHECK(checked >= 3);
  }
}

TEST_CASE("meta-training and decisions give the same bits at any thread count", "[causal][meta-cgnn]") {
  MetaCgnnOptions o = tiny_options();
  o.contrast_weight = 0.2;
  MetaCgnnModel one = meta_train(o, 3, 1);
  MetaCgnnModel two = meta_train(o, 3, 2);
  MetaCgnnModel three = meta_train(o, 3, 3);
  MetaCgnnModel other_seed = meta_train(o, 4, 2);
  const auto w1 = weights_of(one), w2 = weights_of(two), w3 = weights_of(three), w4 = weights_of(other_seed);
  REQUIRE(w1.size() == w2.size());
  bool differs = false;
  for (std::size_t k = 0; k < w1.size(); ++k) {
    CHECK(w1[k] == w2[k]);
    CHECK(w1[k] == w3[k]);
    differs = differs || w1[k] != w4[k];
  }
  CHECK(differs);
  CHECK(one.training().steps == o.steps);
  CHECK(one.training().loss_curve.size() == 1);

  const auto pair = generate_pair(MechanismFamily::additive, 120, 77, 0).pair;
  MetaCgnnDecisionOptions d;
  d.adapt_steps = 3;
  d.eval_draws = 5;
  const auto a = meta_cgnn(one, pair, d, 8, 1);
  const auto b = meta_cgnn(one, pair, d, 8, 2);
  CHECK(a.score == b.score);
  CHECK(a.mmd_xy == b.mmd_xy);
  d.adapt = "generator";
  CHECK(meta_cgnn(one, pair, d, 8, 1).score == meta_cgnn(one, pair, d, 8, 2).score);
  // Swapping the columns swaps the two fits exactly (same noise draws for both directions).
  const CausePair swapped{"", pair.y, pair.x};
  d.adapt = "embedding";
  const auto s = meta_cgnn(one, swapped, d, 8, 1);
  CHECK(s.mmd_xy == a.mmd_yx);
  CHECK(s.score == -a.score);
}

TEST_CASE("a saved meta-model loads with the same weights and names a damaged file", "[causal][meta-cgnn]") {
  for (const std::string kind : {"set", "kernel-mean"}) {
    MetaCgnnOptions o = tiny_options();
    o.encoder.kind = kind;
    MetaCgnnModel model = meta_train(o, 5, 2);
    const auto dir = scratch("save_" + kind);
    std::filesystem::remove_all(dir);
    model.save(dir);
    MetaCgnnModel loaded = MetaCgnnModel::load(dir);
    INFO(kind);
    CHECK(loaded.options().to_json() == o.to_json());
    CHECK(loaded.training().steps == model.training().steps);
    CHECK(loaded.training().loss_curve == model.training().loss_curve);
    CHECK(weights_of(loaded) == weights_of(model));
    const auto pair = generate_pair(MechanismFamily::heteroscedastic, 90, 77, 1).pair;
    CHECK(meta_cgnn(loaded, pair, {}, 2).score == meta_cgnn(model, pair, {}, 2).score);

    // A truncated network file is refused with its name.
    const auto victim = dir / "generator_layer1.sbinn";
    std::filesystem::resize_file(victim, std::filesystem::file_size(victim) - 10);
    CHECK_THAT(error_of([&] { MetaCgnnModel::load(dir); }), Catch::Contains("generator_layer1.sbinn"));
    // A missing one too.
    model.save(dir);
    std::filesystem::remove(dir / "encoder_set.sbinn");
    CHECK_THAT(error_of([&] { MetaCgnnModel::load(dir); }), Catch::Contains("encoder_set.sbinn"));
    // A network file swapped for one of another shape.
    model.save(dir);
    std::filesystem::copy_file(dir / "generator_layer0.sbinn", dir / "generator_layer1.sbinn",
                               std::filesystem::copy_options::overwrite_existing);
    CHECK_THAT(error_of([&] { MetaCgnnModel::load(dir); }), Catch::Contains("generator_layer1.sbinn") && Catch::Contains("match"));
    // The description: not JSON, an unknown option, a newer format.
    model.save(dir);
    std::ofstream(dir / "meta_cgnn.json") << "{\"format\": \"sbi-meta-cgnn\", ";
    CHECK_THAT(error_of([&] { MetaCgnnModel::load(dir); }), Catch::Contains("meta_cgnn.json"));
    model.save(dir);
    {
      auto j = nlohmann::json::parse(std::ifstream(dir / "meta_cgnn.json"));
      j["options"]["encoder"]["colour"] = 1;
      std::ofstream(dir / "meta_cgnn.json") << j.dump();
    }
    CHECK_THAT(error_of([&] { MetaCgnnModel::load(dir); }), Catch::Contains("meta_cgnn.json") && Catch::Contains("colour"));
    {
      auto j = nlohmann::json::parse(std::ifstream(dir / "meta_cgnn.json"));
      j["options"]["encoder"].erase("colour");
      j["format_version"] = 99;
      std::ofstream(dir / "meta_cgnn.json") << j.dump();
    }
    CHECK_THAT(error_of([&] { MetaCgnnModel::load(dir); }), Catch::Contains("meta_cgnn.json") && Catch::Contains("newer"));
    CHECK_THAT(error_of([&] { MetaCgnnModel::load(dir / "nothing"); }), Catch::Contains("nothing"));
    std::filesystem::remove_all(dir);
  }
}

TEST_CASE("meta-cgnn is reached through run_method and needs a model", "[causal][meta-cgnn]") {
  const auto pair = generate_pair(MechanismFamily::additive, 60, 77, 2).pair;
  MethodOptions options;
  CHECK_THROWS_WITH(run_method("meta-cgnn", pair, options, 1), Catch::Contains("meta-model"));
  options.meta_models = {std::make_shared<const MetaCgnnModel>(meta_train(tiny_options(), 1, 1))};
  const auto r = run_method("meta-cgnn", pair, options, 1);
  CHECK(r.method == "meta-cgnn");
  CHECK(r.score == meta_cgnn(*options.meta_models[0], pair, options.meta_cgnn, 1).score);
  CHECK(r.samples_used == 60);
  // Several models decide together: the score and the criteria are the means of each model's own.
  const auto second = std::make_shared<const MetaCgnnModel>(meta_train(tiny_options(), 2, 1));
  const auto alone = meta_cgnn(*second, pair, options.meta_cgnn, 1);
  REQUIRE(alone.score != r.score);  // two seeds: two different models
  options.meta_models.push_back(second);
  const auto both = run_method("meta-cgnn", pair, options, 1);
  CHECK(both.score == Approx((r.score + alone.score) / 2).epsilon(1e-15));
  CHECK(both.criterion_xy == Approx((r.criterion_xy + alone.mmd_xy) / 2).epsilon(1e-15));
  CHECK(both.criterion_yx == Approx((r.criterion_yx + alone.mmd_yx) / 2).epsilon(1e-15));
  CHECK(both.direction == (both.score > 0 ? 1 : -1));
  options.meta_models.push_back(nullptr);
  CHECK_THROWS_WITH(run_method("meta-cgnn", pair, options, 1), Catch::Contains("meta-model"));
}

TEST_CASE("a small meta-model decides easy generated pairs better than chance", "[causal][meta-cgnn]") {
  // Trained on additive-noise data sets of 100 rows (300 steps, about a second on two cores), then
  // asked about 48 other additive pairs of 100 rows (seed 2026: streams the training never draws).
  // Under "the model guesses" the number right is Binomial(48, ½); P(Bin(48, ½) ≥ 33) = 0.0066 ≤
  // 0.01 while P(≥ 32) = 0.0147 (scipy.stats.binom.sf(32, 48, .5)), so 33 of 48 rejects guessing at
  // the 1 % level. (This configuration was right on 165 of 200 such pairs when it was written, so
  // the bound sits over two binomial sd below its expected count. It trains on unwarped causes, as
  // then: with the default half warped, 300 steps are too few to learn more than the marginals.)
  MetaCgnnOptions o = additive_options();
  const MetaCgnnModel model = meta_train(o, 1, 2);
  MetaCgnnDecisionOptions d;
  d.eval_draws = 20;
  int correct = 0;
  for (std::uint64_t k = 0; k < 48; ++k) {
    const auto g = generate_pair(MechanismFamily::additive, 100, 2026, k);
    correct += (meta_cgnn(model, g.pair, d, k).score > 0 ? 1 : -1) == g.direction;
  }
  INFO(correct << " of 48 right");
  CHECK(correct >= 33);
}

namespace {
// Additive pairs of 100 rows from `seed`, labelled with their true direction or the opposite one.
std::vector<LabelledPair> labelled_additive(std::uint64_t seed, int count, bool flipped) {
  std::vector<LabelledPair> out;
  for (int k = 0; k < count; ++k) {
    auto g = generate_pair(MechanismFamily::additive, 100, seed, static_cast<std::uint64_t>(k));
    g.pair.name = "pair" + std::to_string(k);
    out.push_back({g.pair, flipped ? -g.direction : g.direction, 1.0 + k % 3});
  }
  return out;
}

MetaTrainData pairs_only(std::vector<LabelledPair> labelled) {
  MetaTrainData data;
  data.labelled = std::move(labelled);
  return data;
}
}  // namespace

TEST_CASE("meta-training continues a model and draws labelled pairs, reproducibly", "[causal][meta-cgnn]") {
  MetaCgnnOptions o = tiny_options();
  MetaCgnnModel first = meta_train(o, 3, 1);
  const auto labelled = labelled_additive(41, 6, false);

  // Zero more steps keep the starting weights exactly; the summary says where they came from.
  MetaCgnnOptions more = o;
  more.steps = 0;
  MetaCgnnModel same = meta_train(more, 9, 2, {}, {.labelled = {}, .start = &first, .start_name = "first"});
  CHECK(weights_of(same) == weights_of(first));
  CHECK(same.training().started_from == "first");
  CHECK(same.training().start_steps == o.steps);

  // With labelled pairs: the same bits at any thread count, different from training without them.
  more.steps = 15;
  const MetaTrainData data{.labelled = labelled, .start = &first, .start_name = "first"};
  MetaCgnnModel one = meta_train(more, 5, 1, {}, data);
  MetaCgnnModel two = meta_train(more, 5, 2, {}, data);
  MetaCgnnModel without = meta_train(more, 5, 2, {}, {.labelled = {}, .start = &first, .start_name = "first"});
  CHECK(weights_of(one) == weights_of(two));
  CHECK(weights_of(one) != weights_of(without));
  REQUIRE(one.training().labelled_pairs.size() == 6);
  CHECK(one.training().labelled_pairs[2] == "pair2");
  // A labelled fraction of 0 draws none of them: the generated data sets are those of a run without.
  more.labelled_fraction = 0;
  MetaCgnnModel none_drawn = meta_train(more, 5, 2, {}, data);
  CHECK(weights_of(none_drawn) == weights_of(without));
  more.labelled_fraction = 0.5;

  // The summary survives a save and load.
  const auto dir = scratch("continued");
  std::filesystem::remove_all(dir);
  one.save(dir);
  const MetaCgnnModel loaded = MetaCgnnModel::load(dir);
  CHECK(loaded.training().started_from == "first");
  CHECK(loaded.training().start_steps == o.steps);
  CHECK(loaded.training().labelled_pairs == one.training().labelled_pairs);
  CHECK(loaded.training().labelled_checksums == one.training().labelled_checksums);
  CHECK(one.training().labelled_checksums[0] == pair_checksum(labelled[0].pair));
  CHECK(one.training().labelled_checksums[0] != one.training().labelled_checksums[1]);
  std::filesystem::remove_all(dir);

  // Refused with the reason: a start of other shapes, a bad labelled pair, weights summing to 0.
  MetaCgnnOptions wider = more;
  wider.generator.width = 24;
  CHECK_THROWS_WITH(meta_train(wider, 5, 1, {}, {.labelled = {}, .start = &first, .start_name = "first"}),
                    Catch::Contains("first") && Catch::Contains("generator"));
  auto bad = labelled;
  bad[3].direction = 0;
  CHECK_THROWS_WITH(meta_train(more, 5, 1, {}, pairs_only(bad)), Catch::Contains("pair3") && Catch::Contains("direction"));
  bad = labelled;
  bad[1].pair.y.setConstant(2.0);
  CHECK_THROWS_WITH(meta_train(more, 5, 1, {}, pairs_only(bad)), Catch::Contains("pair1") && Catch::Contains("constant"));
  bad = labelled;
  for (auto& p : bad) p.weight = 0;
  CHECK_THROWS_WITH(meta_train(more, 5, 1, {}, pairs_only(bad)), Catch::Contains("weights"));
}

TEST_CASE("fine-tuning on labelled pairs learns their directions", "[causal][meta-cgnn]") {
  // The small additive model of "a small meta-model decides easy generated pairs better than chance"
  // (33 or more of 48 held-out additive pairs right), then
  // 600 more steps drawing only labelled additive pairs whose labels are the *opposite* of the truth.
  // If the labels are used with their direction, the fine-tuned model learns the reversed rule and
  // agrees with the reversed label on the held-out pairs; if they were ignored (or read the wrong
  // way round) it would keep deciding like the start, right on 33+ of 48. The bound is the same
  // binomial one: under guessing P(Bin(48, ½) ≥ 33) = 0.0066, so 33 of 48 reversed decisions is
  // no accident. (Written when the start was right on 42 and the fine-tuned model reversed 37: with
  // 300 steps it reversed 35.)
  MetaCgnnOptions o = additive_options();
  const MetaCgnnModel start = meta_train(o, 1, 2);
  o.labelled_fraction = 1;
  o.steps = 600;
  const MetaCgnnModel tuned =
      meta_train(o, 2, 2, {}, {.labelled = labelled_additive(3030, 40, /*flipped=*/true), .start = &start, .start_name = "start"});
  MetaCgnnDecisionOptions d;
  d.eval_draws = 20;
  int reversed = 0, start_right = 0;
  for (std::uint64_t k = 0; k < 48; ++k) {
    const auto g = generate_pair(MechanismFamily::additive, 100, 2026, k);
    reversed += (meta_cgnn(tuned, g.pair, d, k).score > 0 ? 1 : -1) == -g.direction;
    start_right += (meta_cgnn(start, g.pair, d, k).score > 0 ? 1 : -1) == g.direction;
  }
  INFO(start_right << " of 48 right before, " << reversed << " of 48 reversed after");
  CHECK(start_right >= 33);
  CHECK(reversed >= 33);
}

TEST_CASE("the shipped default meta-model loads and was trained with the default options", "[causal][meta-cgnn]") {
  // data/causal_meta_cgnn is what `sbi causal --method meta-cgnn` uses without --model; its README
  // says it is `sbi causal meta-train` with the defaults, which this keeps true when they change.
  const MetaCgnnModel model = MetaCgnnModel::load(std::filesystem::path(SBI_SOURCE_DIR) / "data" / "causal_meta_cgnn");
  CHECK(model.options().to_json() == MetaCgnnOptions{}.to_json());
  CHECK(model.training().steps == MetaCgnnOptions{}.steps);
  CHECK_FALSE(model.training().interrupted);
  const auto g = generate_pair(MechanismFamily::additive, 100, 2026, 0);
  CHECK(std::isfinite(meta_cgnn(model, g.pair, {}, 1).score));
}

TEST_CASE("the shipped Tübingen-tuned meta-model continues the default on the 99 headline pairs", "[causal][meta-cgnn]") {
  // data/causal_meta_cgnn_tuebingen's README says how it was made (bench/causal/meta_cgnn_tuebingen.sh);
  // this keeps its description true: the default's options with the fine-tuning's steps and rate,
  // started from the default, the 99 pairs (no 47, 70, 107) drawn for half of the data sets.
  const auto data = std::filesystem::path(SBI_SOURCE_DIR) / "data";
  const MetaCgnnModel model = MetaCgnnModel::load(data / "causal_meta_cgnn_tuebingen");
  MetaCgnnOptions expected;
  expected.steps = 12000;
  expected.learning_rate = 3e-4;
  CHECK(model.options().to_json() == expected.to_json());
  CHECK(model.training().steps == 12000);
  CHECK(model.training().started_from == "data/causal_meta_cgnn");
  CHECK(model.training().start_steps == MetaCgnnOptions{}.steps);
  const auto& names = model.training().labelled_pairs;
  CHECK(names.size() == 99);
  CHECK(model.training().labelled_checksums.size() == 99);
  for (const char* left_out : {"pair0047", "pair0070", "pair0107"})
    CHECK(std::find(names.begin(), names.end(), left_out) == names.end());
  const auto g = generate_pair(MechanismFamily::additive, 100, 2026, 0);
  CHECK(std::isfinite(meta_cgnn(model, g.pair, {}, 1).score));
}
