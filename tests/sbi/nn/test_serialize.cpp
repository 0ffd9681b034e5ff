#include "sbi/core/error.hpp"
#include "sbi/nn/serialize.hpp"

#include <catch2/catch.hpp>

#include <cstring>
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

TEST_CASE("a group of networks saves to one file with its extra JSON and loads bit-identical", "[nn][io]") {
  auto first = make_network();
  sbi::nn::MlpOptions small;
  small.widths = {3, 8, 1};
  sbi::nn::Mlp second(small, 5);
  const auto path = temp_file("group.sbinn");
  const nlohmann::json extra = {{"noise_dim", 2}, {"scale", 0.1}};
  sbi::nn::save_networks<float>(path, "test-group", {{"generator", &first}, {"critic", &second}}, extra);
  auto group = sbi::nn::load_networks<float>(path, "test-group");
  CHECK(group.extra == extra);
  REQUIRE(group.networks.count("generator") == 1);
  REQUIRE(group.networks.count("critic") == 1);
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(16, 4), z = Eigen::MatrixXf::Random(16, 3);
  const Eigen::MatrixXf a = first.predict(x), b = group.networks.at("generator").predict(x);
  CHECK(std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0);
  const Eigen::MatrixXf c = second.predict(z), d = group.networks.at("critic").predict(z);
  CHECK(std::memcmp(c.data(), d.data(), sizeof(float) * c.size()) == 0);
  // Another kind, a damaged byte, a single network read as a group: each a FileError naming the file.
  CHECK_THROWS_WITH(sbi::nn::load_networks<float>(path, "other-group"), Catch::Contains(path.string()) && Catch::Contains("other-group"));
  std::string bytes = read_all(path);
  bytes[bytes.size() - 3] ^= 0x5a;
  write_all(path, bytes);
  CHECK_THROWS_WITH(sbi::nn::load_networks<float>(path, "test-group"), Catch::Contains(path.string()) && Catch::Contains("checksum"));
  sbi::nn::save(first, path);
  CHECK_THROWS_AS(sbi::nn::load_networks<float>(path, "mlp"), sbi::FileError);
  CHECK_THROWS_AS(sbi::nn::save_networks<float>(path, "g", {{"a/b", &first}}, {}), std::invalid_argument);
  fs::remove(path);
}

TEST_CASE("copy_weights_from gives the same outputs, and refuses another architecture", "[nn]") {
  auto trained = make_network();
  sbi::nn::Mlp fresh(trained.options(), 99);
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(8, 4);
  trained.eval();
  fresh.eval();
  CHECK_FALSE(trained.predict(x).isApprox(fresh.predict(x)));
  fresh.copy_weights_from(trained);
  const Eigen::MatrixXf a = trained.predict(x), b = fresh.predict(x);
  CHECK(std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0);
  sbi::nn::MlpOptions other = trained.options();
  other.widths = {4, 8, 2};
  sbi::nn::Mlp narrower(other, 1);
  CHECK_THROWS_AS(narrower.copy_weights_from(trained), std::invalid_argument);
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

namespace {
// A network file with the given header (the data block's checksum made right, so that the header's
// claims are what the loader has to check).
void write_network_file(const fs::path& path, nlohmann::json header, const std::string& data) {
  header["data_bytes"] = data.size();
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const unsigned char c : data) hash = (hash ^ c) * 0x100000001b3ULL;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  header["checksum"] = std::string("fnv1a64:") + hex;
  const std::string text = header.dump();
  const std::uint64_t length = text.size();
  std::string bytes("SBINNET\n", 8);
  bytes.append(reinterpret_cast<const char*>(&length), 8);
  write_all(path, bytes + text + data);
}

nlohmann::json small_header() {
  return {{"format", "sbi-nn"},
          {"format_version", 1},
          {"kind", "mlp"},
          {"scalar", "f32"},
          {"options", {{"widths", {2, 1}}, {"activation", "relu"}}},
          {"tensors", {{{"name", "layer0.weight"}, {"rows", 2}, {"cols", 1}, {"offset", 0}},
                       {{"name", "layer0.bias"}, {"rows", 1}, {"cols", 1}, {"offset", 8}}}}};
}
}  // namespace

TEST_CASE("network headers are checked before anything is allocated or indexed", "[nn][io]") {
  const auto path = temp_file("hostile.sbinn");
  const std::string data(12, '\0');
  write_network_file(path, small_header(), data);
  CHECK(sbi::nn::load_mlp<float>(path).options().widths == std::vector<Eigen::Index>{2, 1});

  // An architecture of 10^10 weights claimed by a 12-byte file (was: a 40 GB allocation).
  auto huge = small_header();
  huge["options"]["widths"] = {100000, 100000};
  write_network_file(path, huge, data);
  CHECK_THROWS_WITH(sbi::nn::load_mlp<float>(path), Catch::Contains("more weights than the data block holds"));

  // rows × cols overflowing 64 bits (was: a wrapped length check, then a huge allocation).
  auto overflow = small_header();
  overflow["tensors"][0]["rows"] = std::uint64_t{1} << 62;
  overflow["tensors"][0]["cols"] = 8;
  write_network_file(path, overflow, data);
  CHECK_THROWS_WITH(sbi::nn::load_mlp<float>(path), Catch::Contains("outside the data block"));

  // Shapes as floats or negatives (was: undefined float-to-integer conversion).
  for (const nlohmann::json& bad : {nlohmann::json(1e300), nlohmann::json(-2), nlohmann::json("2")}) {
    auto shape = small_header();
    shape["tensors"][0]["rows"] = bad;
    write_network_file(path, shape, data);
    CHECK_THROWS_AS(sbi::nn::load_mlp<float>(path), sbi::FileError);
    auto widths = small_header();
    widths["options"]["widths"] = {bad, 1};
    write_network_file(path, widths, data);
    CHECK_THROWS_AS(sbi::nn::load_mlp<float>(path), sbi::FileError);
  }
  auto repeated = small_header();
  repeated["tensors"][1]["name"] = "layer0.weight";
  write_network_file(path, repeated, data);
  CHECK_THROWS_WITH(sbi::nn::load_mlp<float>(path), Catch::Contains("appears twice"));

  // A header nested 100,000 deep (was: a stack overflow in the JSON parser).
  std::string deep("SBINNET\n", 8);
  const std::string nested(100000, '[');
  const std::uint64_t length = nested.size();
  deep.append(reinterpret_cast<const char*>(&length), 8);
  write_all(path, deep + nested);
  CHECK_THROWS_AS(sbi::nn::load_mlp<float>(path), sbi::FileError);
  fs::remove(path);
}
