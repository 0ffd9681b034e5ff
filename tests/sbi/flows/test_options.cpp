// Options of the density estimators and of their fitting: JSON round trips, defaults, errors with paths.
#include "sbi/core/error.hpp"
#include "sbi/flows/fit.hpp"
#include "sbi/flows/options.hpp"

#include <catch2/catch.hpp>

using namespace sbi::flows;

TEST_CASE("density estimator options: spec form, round trip, errors with the JSON path", "[flows][options]") {
  const auto o = DensityEstimatorOptions::from_json(
      nlohmann::json::parse(R"({"type": "nsf", "transforms": 4, "hidden": [32, 32], "bins": 10, "tail_bound": 4,
                                "form": "autoregressive",
                                "embedding": {"type": "cnn", "channels": [4, 8], "kernel": 3, "pool": 2, "output": 12}})"),
      "inference.density_estimator");
  CHECK(o.type == DensityEstimatorOptions::Type::nsf);
  CHECK(o.form == DensityEstimatorOptions::Form::autoregressive);
  CHECK(o.transforms == 4);
  CHECK(o.bins == 10);
  CHECK(o.tail_bound == 4.0);
  CHECK(o.embedding.type == EmbeddingOptions::Type::cnn);
  CHECK(o.embedding.channels == std::vector<int>{4, 8});
  CHECK(DensityEstimatorOptions::from_json(o.to_json()).to_json() == o.to_json());
  CHECK(o.is_valid());

  for (const char* family : {"maf", "mog"}) {
    const auto f = DensityEstimatorOptions::from_json({{"type", family}});
    CHECK(DensityEstimatorOptions::from_json(f.to_json()).to_json() == f.to_json());
  }
  CHECK_FALSE(DensityEstimatorOptions{}.linear);  // off by default
  const auto linear = DensityEstimatorOptions::from_json({{"type", "nsf"}, {"linear", true}});
  CHECK(linear.linear);
  CHECK(DensityEstimatorOptions::from_json(linear.to_json()).linear);
  CHECK_THROWS_WITH(DensityEstimatorOptions::from_json({{"type", "mog"}, {"linear", true}}, "x"), Catch::Contains("x.linear"));
  CHECK_THROWS_WITH(DensityEstimatorOptions::from_json({{"type", "maf"}, {"linear", 1}}, "x"), Catch::Contains("x.linear"));
  // The residual conditioner: for coupling NSF only, one width for its blocks; the choice is always written.
  CHECK(DensityEstimatorOptions{}.conditioner == DensityEstimatorOptions::Conditioner::mlp);
  CHECK(DensityEstimatorOptions{}.to_json().at("conditioner") == "mlp");
  const auto residual = DensityEstimatorOptions::from_json({{"type", "nsf"}, {"conditioner", "residual"}});
  CHECK(DensityEstimatorOptions::from_json(residual.to_json()).conditioner == DensityEstimatorOptions::Conditioner::residual);
  CHECK_THROWS_WITH(DensityEstimatorOptions::from_json({{"type", "maf"}, {"conditioner", "residual"}}, "x"), Catch::Contains("x.conditioner"));
  CHECK_THROWS_WITH(DensityEstimatorOptions::from_json({{"type", "nsf"}, {"form", "autoregressive"}, {"conditioner", "residual"}}, "x"),
                    Catch::Contains("x.conditioner"));
  CHECK_THROWS_WITH(DensityEstimatorOptions::from_json({{"type", "nsf"}, {"conditioner", "residual"}, {"hidden", {64, 32}}}, "x"),
                    Catch::Contains("x.hidden"));
  CHECK_THROWS_WITH(DensityEstimatorOptions::from_json({{"type", "nsf"}, {"conditioner", "resnet"}}, "x"), Catch::Contains("x.conditioner"));

  CHECK_THROWS_WITH(DensityEstimatorOptions::from_json({{"type", "nsf"}, {"bins", 0}}, "inference.density_estimator"),
                    Catch::Contains("inference.density_estimator.bins"));
  CHECK_THROWS_WITH(DensityEstimatorOptions::from_json({{"type", "flowz"}}, "x"), Catch::Contains("x.type"));
  CHECK_THROWS_WITH(DensityEstimatorOptions::from_json({{"hiden", {3}}}, "x"), Catch::Contains("hiden"));
  CHECK_THROWS_WITH(DensityEstimatorOptions::from_json({{"hidden", {3, -1}}}, "x"), Catch::Contains("x.hidden[1]"));
  CHECK_THROWS_WITH(DensityEstimatorOptions::from_json({{"embedding", {{"type", "set"}, {"trial_dim", 0}}}}, "x"),
                    Catch::Contains("x.embedding.trial_dim"));
  CHECK_THROWS_AS(DensityEstimatorOptions::from_json({{"tail_bound", -1}}), sbi::InputError);

  DensityEstimatorOptions bad;
  bad.hidden = {};
  std::string why;
  CHECK_FALSE(bad.is_valid(&why));
  CHECK(why.rfind("hidden", 0) == 0);
}

TEST_CASE("density estimator options saved before every key was written read back as saved", "[flows][options]") {
  // Then "conditioner" (MLP) and "direction" (density) were left out; read against a method whose
  // default differs (NPE's residual conditioner) they must still mean what they meant.
  nlohmann::json saved = {{"batch_size", 50},
                          {"density_estimator", {{"type", "nsf"}, {"transforms", 5}, {"bins", 8}, {"hidden", {64, 64}}}},
                          {"ratio", {{"classifier", {{"type", "maf"}, {"transforms", 2}}}}}};
  complete_saved_estimator_options(saved);
  CHECK(saved["density_estimator"]["conditioner"] == "mlp");
  CHECK(saved["density_estimator"]["direction"] == "density");
  CHECK(saved["ratio"]["classifier"]["direction"] == "density");
  CHECK_FALSE(saved["ratio"]["classifier"].contains("conditioner"));
  DensityEstimatorOptions residual;
  residual.conditioner = DensityEstimatorOptions::Conditioner::residual;
  CHECK(DensityEstimatorOptions::from_json(saved["density_estimator"], "x", residual).conditioner == DensityEstimatorOptions::Conditioner::mlp);
  // What is written now names both, so reading needs no completion.
  const nlohmann::json now = residual.to_json();
  CHECK(now.at("conditioner") == "residual");
  CHECK(now.at("direction") == "density");
  // A user's partial section is not a saved one: it is left alone.
  nlohmann::json partial = {{"density_estimator", {{"type", "nsf"}, {"activation", "tanh"}}}};
  complete_saved_estimator_options(partial);
  CHECK_FALSE(partial["density_estimator"].contains("conditioner"));
}

TEST_CASE("density fit options: defaults documented and validated", "[flows][options]") {
  const DensityFitOptions defaults;
  CHECK(defaults.is_valid());
  CHECK(DensityFitOptions::from_json(defaults.to_json()).to_json() == defaults.to_json());
  CHECK_THROWS_WITH(DensityFitOptions::from_json({{"learning_rate", 0}}, "training"), Catch::Contains("training.learning_rate"));
  CHECK_THROWS_WITH(DensityFitOptions::from_json({{"validation_fraction", 0.7}}, "training"), Catch::Contains("validation_fraction"));
}
