#include "sbi/core/error.hpp"
#include "sbi/nn/serialize.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace {
namespace fs = std::filesystem;

fs::path temp_file(const std::string& name) {
  return fs::temp_directory_path() / ("sbi_nn_test_" + std::to_string(::getpid()) + "_" + name);
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
void write_all(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

sbi::nn::Mlp make_network() {
  sbi::nn::MlpOptions options;
  options.widths = {4, 16, 16, 2};
  options.activation = sbi::nn::Activation::elu;
  options.residual = true;
  options.spectral_norm = true;
  options.spectral.bound = 2.0;
  sbi::nn::Mlp net(options, 21);
  Eigen::MatrixXf data = Eigen::MatrixXf::Random(64, 4) * 3.0f;
  net.set_standardizer(sbi::nn::Standardizer::fit(data));
  // Move the weights and spectral vectors away from their initial values.
  sbi::ad::Tape<float> tape;
  for (int k = 0; k < 5; ++k) {
    auto scope = tape.scope();
    net.forward(tape.constant(data));
  }
  return net;
}
}  // namespace

TEST_CASE("a saved network loads with bit-identical outputs", "[nn][io]") {
  auto net = make_network();
  const auto path = temp_file("roundtrip.sbinn");
  sbi::nn::save(net, path);
  auto loaded = sbi::nn::load_mlp<float>(path);
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(32, 4) * 5.0f;
  const Eigen::MatrixXf a = net.predict(x);
  const Eigen::MatrixXf b = loaded.predict(x);
  REQUIRE(a.rows() == b.rows());
  CHECK(std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0);
  CHECK(loaded.options().residual);
  CHECK(loaded.options().spectral.bound == 2.0);
  // Double networks too, and a float file read as double converts exactly.
  auto as_double = sbi::nn::load_mlp<double>(path);
  CHECK(as_double.layers()[1].weight().value == net.layers()[1].weight().value.cast<double>());
  fs::remove(path);
}

TEST_CASE("bad network files give a clear FileError", "[nn][io]") {
  auto net = make_network();
  const auto path = temp_file("bad.sbinn");
  sbi::nn::save(net, path);
  const std::string good = read_all(path);

  SECTION("missing file") {
    CHECK_THROWS_WITH(sbi::nn::load_mlp<float>(temp_file("does_not_exist")), Catch::Contains("cannot open"));
  }
  SECTION("newer format version") {
    std::string bytes = good;
    const auto at = bytes.find("\"format_version\":1");
    REQUIRE(at != std::string::npos);
    bytes.replace(at, 18, "\"format_version\":9");  // same length, so the header length stays right
    write_all(path, bytes);
    CHECK_THROWS_AS(sbi::nn::load_mlp<float>(path), sbi::FileError);
    CHECK_THROWS_WITH(sbi::nn::load_mlp<float>(path), Catch::Contains("newer"));
  }
  SECTION("truncated data") {
    write_all(path, good.substr(0, good.size() - 10));
    CHECK_THROWS_WITH(sbi::nn::load_mlp<float>(path), Catch::Contains("truncated"));
  }
  SECTION("truncated header") {
    write_all(path, good.substr(0, 40));
    CHECK_THROWS_WITH(sbi::nn::load_mlp<float>(path), Catch::Contains("truncated"));
  }
  SECTION("corrupted weights") {
    std::string bytes = good;
    bytes[bytes.size() - 5] ^= 0x40;
    write_all(path, bytes);
    CHECK_THROWS_WITH(sbi::nn::load_mlp<float>(path), Catch::Contains("checksum"));
  }
  SECTION("not a network file") {
    write_all(path, "hello, world, this is not a network");
    CHECK_THROWS_WITH(sbi::nn::load_mlp<float>(path), Catch::Contains("magic"));
  }
  fs::remove(path);
}
