// Context embeddings: the convolution against a direct loop, permutation invariance of the set
// network, their gradients inside a flow, and the errors for contexts that do not fit.
#include "flow_test_helpers.hpp"

#include "sbi/core/error.hpp"
#include "sbi/flows/embedding.hpp"

#include <catch2/catch.hpp>

using namespace flow_tests;
using namespace sbi::flows;

TEST_CASE("embedding: the 1-D CNN computes convolution, ReLU, average pooling and a linear map", "[flows][embedding]") {
  EmbeddingOptions o;
  o.type = EmbeddingOptions::Type::cnn;
  o.in_channels = 2;
  o.channels = {3};
  o.kernel = 3;
  o.pool = 2;
  o.hidden = {};
  o.output = 2;
  const Eigen::Index length = 9, channels = 2;
  Embedding net(o, length * channels, 5);
  sbi::nn::ParameterList<float> list;
  net.collect(list);
  REQUIRE(list.size() == 4);  // kernel, kernel bias, output weight, output bias
  for (auto* p : list) p->value.setRandom();
  const Mat c = Mat::Random(4, length * channels);
  Tape tape;
  const Mat h = net.forward(Binder(tape, false), tape.constant(c)).value();
  REQUIRE(h.rows() == 4);
  REQUIRE(h.cols() == 2);

  // Direct loops: out[co][l] = relu(Σ_{ci, j} W(j + K ci, co) x[ci][l + j] + b), pooled pairs, then dense.
  const Mat& W = list[0]->value;
  const Mat& b = list[1]->value;
  const Mat& D = list[2]->value;
  const Mat& e = list[3]->value;
  const Eigen::Index K = 3, L_out = length - K + 1, L_pool = L_out / 2, C_out = 3;
  for (Eigen::Index r = 0; r < 4; ++r) {
    Eigen::VectorXd flat(L_pool * C_out);
    for (Eigen::Index co = 0; co < C_out; ++co) {
      Eigen::VectorXd conv(L_out);
      for (Eigen::Index l = 0; l < L_out; ++l) {
        double sum = b(0, co);
        for (Eigen::Index ci = 0; ci < channels; ++ci)
          for (Eigen::Index j = 0; j < K; ++j) sum += W(j + K * ci, co) * c(r, (l + j) + length * ci);
        conv(l) = std::max(sum, 0.0);
      }
      for (Eigen::Index l = 0; l < L_pool; ++l) flat(l + L_pool * co) = 0.5 * (conv(2 * l) + conv(2 * l + 1));
    }
    for (Eigen::Index k = 0; k < 2; ++k) {
      double out = e(0, k);
      for (Eigen::Index i = 0; i < flat.size(); ++i) out += D(i, k) * flat(i);
      CHECK(h(r, k) == Approx(out).epsilon(1e-5).margin(1e-5));
    }
  }
}

TEST_CASE("embedding: the set network is invariant to the order of the trials", "[flows][embedding]") {
  EmbeddingOptions o;
  o.type = EmbeddingOptions::Type::set;
  o.trial_dim = 2;
  o.hidden = {8, 8};
  o.output = 4;
  const Eigen::Index trials = 5;
  Embedding net(o, trials * 2, 6);
  const Mat c = Mat::Random(3, trials * 2);
  Mat shuffled(3, trials * 2);
  const std::vector<int> order = {3, 0, 4, 2, 1};
  for (Eigen::Index t = 0; t < trials; ++t) shuffled.middleCols(2 * t, 2) = c.middleCols(2 * order[static_cast<std::size_t>(t)], 2);
  Tape tape;
  const Binder bind(tape, false);
  const Mat a = net.forward(bind, tape.constant(c)).value();
  const Mat b = net.forward(bind, tape.constant(shuffled)).value();
  CHECK((a - b).cwiseAbs().maxCoeff() < 1e-5f);  // same sum in another order: float rounding only
  Mat changed = c;
  changed(0, 2) += 1.0f;  // the second trial's first value, row 0 only
  const Mat d = net.forward(bind, tape.constant(changed)).value();
  CHECK((d.row(0) - a.row(0)).cwiseAbs().maxCoeff() > 1e-4f);
  CHECK((d.bottomRows(2) - a.bottomRows(2)).cwiseAbs().maxCoeff() == 0.0f);
}

TEST_CASE("embedding: every kind trains jointly (gradients reach it) and integrates to one", "[flows][embedding]") {
  for (const std::string kind : {"mlp", "cnn", "set"}) {
    INFO(kind);
    DensityEstimatorOptions o = small_options("nsf_coupling");
    o.embedding = EmbeddingOptions::from_json(kind == "mlp"   ? nlohmann::json{{"type", "mlp"}, {"hidden", {8}}, {"output", 4}}
                                              : kind == "cnn" ? nlohmann::json{{"type", "cnn"}, {"channels", {4}}, {"kernel", 3}, {"hidden", {8}}, {"output", 4}}
                                                              : nlohmann::json{{"type", "set"}, {"trial_dim", 2}, {"hidden", {8, 8}}, {"output", 4}});
    auto q = make_density(o, 2, 12, 7);
    randomize(*q, 0.3, 7);
    // The embedding's parameters come first in parameters(); they must get non-zero gradients.
    Tape tape;
    const RowMatrix x = normal_rows(16, 2, 70), c = normal_rows(16, 12, 71);
    auto params = q->parameters();
    sbi::nn::zero_grad(params);
    tape.backward(sbi::ad::mean(q->standardized_log_prob(tape.constant(q->standardize_x(x)), tape.constant(q->standardize_c(c)))));
    CHECK(params.front()->name.rfind("embedding.", 0) == 0);
    CHECK(params.front()->grad.cwiseAbs().maxCoeff() > 0.0f);
    const Vector context = c.row(0).transpose();
    CHECK(integrate_2d(*q, context, Eigen::Vector2d(-10, -10), Eigen::Vector2d(10, 10), 400) == Approx(1.0).margin(2e-3));
  }
}

TEST_CASE("embedding: contexts that do not fit are InputErrors", "[flows][embedding]") {
  EmbeddingOptions cnn;
  cnn.type = EmbeddingOptions::Type::cnn;
  cnn.in_channels = 2;
  CHECK_THROWS_AS(Embedding(cnn, 7, 1), sbi::InputError);  // 7 values in 2 channels
  cnn.in_channels = 1;
  CHECK_THROWS_WITH(Embedding(cnn, 6, 1), Catch::Contains("too short"));
  EmbeddingOptions set;
  set.type = EmbeddingOptions::Type::set;
  set.trial_dim = 3;
  CHECK_THROWS_WITH(Embedding(set, 10, 1), Catch::Contains("trial_dim"));
}
