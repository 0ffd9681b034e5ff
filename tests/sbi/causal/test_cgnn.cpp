// CGNN's options from the original (sbi/causal/cgnn.hpp): minibatches, hidden units chosen per pair
// by cross-validation; JSON in and out; the same bits at any thread count.
#include "sbi/causal/cgnn.hpp"
#include "sbi/causal/synthetic.hpp"
#include "sbi/core/error.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

#include <nlohmann/json.hpp>

namespace {

using namespace sbi::causal;

CgnnOptions quick() {
  CgnnOptions o;
  o.runs = 2;
  o.train_epochs = 30;
  o.eval_epochs = 4;
  return o;
}

}  // namespace

TEST_CASE("CGNN options read from JSON with errors naming the path", "[causal][cgnn]") {
  CgnnOptions o;
  o.hidden_candidates = {5, 10, 20};
  o.batch_size = 128;
  o.max_samples = 0;
  CHECK(CgnnOptions::from_json(o.to_json(), "cgnn").to_json() == o.to_json());
  CHECK_THROWS_WITH(CgnnOptions::from_json(nlohmann::json::parse(R"({"hidden_candidates": [5, 0]})"), "cgnn"),
                    Catch::Contains("cgnn.hidden_candidates[1]"));
  CHECK_THROWS_WITH(CgnnOptions::from_json(nlohmann::json::parse(R"({"cv_folds": 1})"), "cgnn"), Catch::Contains("cgnn.cv_folds"));
  CHECK_THROWS_WITH(CgnnOptions::from_json(nlohmann::json::parse(R"({"batchsize": 10})"), "cgnn"), Catch::Contains("batchsize"));
  o.gammas.clear();
  std::string why;
  CHECK_FALSE(o.is_valid(&why));
  CHECK_THAT(why, Catch::Contains("gammas"));
  const auto pair = generate_pair(MechanismFamily::additive, 60, 3, 0).pair;
  CHECK_THROWS_AS(cgnn(pair, o, 1), sbi::InputError);
}

TEST_CASE("CGNN with minibatches uses every row and keeps the same bits at any thread count", "[causal][cgnn]") {
  const auto pair = generate_pair(MechanismFamily::additive, 300, 3, 1).pair;
  CgnnOptions o = quick();
  o.max_samples = 0;
  o.batch_size = 64;
  const auto a = cgnn(pair, o, 5, 1);
  const auto b = cgnn(pair, o, 5, 3);
  CHECK(a.samples_used == 300);
  CHECK(a.score == b.score);
  CHECK(a.run_scores == b.run_scores);
  // A batch as large as the pair is the full-batch fit.
  CgnnOptions full = quick();
  full.max_samples = 0;
  CgnnOptions same = full;
  same.batch_size = 300;
  CHECK(cgnn(pair, full, 5, 1).score == cgnn(pair, same, 5, 1).score);
  CHECK(cgnn(pair, full, 5, 1).score != a.score);
}

TEST_CASE("CGNN chooses its hidden units by cross-validation, the same at any thread count", "[causal][cgnn]") {
  const auto pair = generate_pair(MechanismFamily::heteroscedastic, 80, 3, 2).pair;
  CgnnOptions o = quick();
  o.hidden_candidates = {2, 8, 16};
  const auto a = cgnn(pair, o, 9, 1);
  const auto b = cgnn(pair, o, 9, 2);
  REQUIRE(a.cv_mmd.size() == 3);
  CHECK(a.cv_mmd == b.cv_mmd);
  CHECK(a.hidden == b.hidden);
  CHECK(a.score == b.score);
  // The choice is the candidate with the smallest summed held-out MMD².
  const auto best = std::min_element(a.cv_mmd.begin(), a.cv_mmd.end()) - a.cv_mmd.begin();
  CHECK(a.hidden == o.hidden_candidates[static_cast<std::size_t>(best)]);
  for (const double m : a.cv_mmd) CHECK(m > 0);
  // Without candidates the fixed width is used.
  CHECK(cgnn(pair, quick(), 9, 1).hidden == quick().hidden);
}
