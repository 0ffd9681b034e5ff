#include "sbi/nn/serialize.hpp"

#include "sbi/core/error.hpp"

#include <bit>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace sbi::nn {
namespace {

static_assert(std::endian::native == std::endian::little,
              "sbi-nn files are little-endian; add byte swapping for big-endian hosts");

constexpr char kMagic[8] = {'S', 'B', 'I', 'N', 'N', 'E', 'T', '\n'};

std::uint64_t fnv1a64(const std::string& bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string hex64(std::uint64_t value) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(value));
  return buffer;
}

template <class T>
constexpr const char* scalar_name() {
  return sizeof(T) == 4 ? "f32" : "f64";
}

template <class T>
std::vector<NamedTensor<T>> tensors_of(const BasicMlp<T>& network) {
  std::vector<NamedTensor<T>> list;
  for (std::size_t k = 0; k < network.layers().size(); ++k) {
    const auto& layer = network.layers()[k];
    const std::string prefix = "layer" + std::to_string(k);
    list.push_back({prefix + ".weight", layer.weight().value});
    list.push_back({prefix + ".bias", layer.bias().value});
    if (const auto* sn = layer.spectral_norm()) {
      list.push_back({prefix + ".spectral_u", sn->u()});
      list.push_back({prefix + ".spectral_v", sn->v()});
    }
  }
  if (!network.standardizer().empty()) {
    list.push_back({"standardizer.mean", network.standardizer().mean});
    list.push_back({"standardizer.sd", network.standardizer().sd});
  }
  return list;
}

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw FileError("network file " + path.string() + ": " + problem);
}

}  // namespace

template <class T>
void write_tensor_file(const std::filesystem::path& path, const std::string& kind, const nlohmann::json& options,
                       const std::vector<NamedTensor<T>>& tensors) {
  std::string data;
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& t : tensors) {
    entries.push_back({{"name", t.name}, {"rows", t.value.rows()}, {"cols", t.value.cols()}, {"offset", data.size()}});
    data.append(reinterpret_cast<const char*>(t.value.data()), static_cast<std::size_t>(t.value.size()) * sizeof(T));
  }
  const nlohmann::json header = {{"format", "sbi-nn"},
                                 {"format_version", kNetworkFormatVersion},
                                 {"kind", kind},
                                 {"scalar", scalar_name<T>()},
                                 {"options", options},
                                 {"tensors", entries},
                                 {"data_bytes", data.size()},
                                 {"checksum", "fnv1a64:" + hex64(fnv1a64(data))}};
  const std::string header_text = header.dump();
  const std::uint64_t header_length = header_text.size();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path, "cannot open for writing");
  out.write(kMagic, sizeof kMagic);
  out.write(reinterpret_cast<const char*>(&header_length), sizeof header_length);
  out.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out.flush()) fail(path, "write failed");
}

template <class T>
TensorFile<T> read_tensor_file(const std::filesystem::path& path, const std::string& kind) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open for reading");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();

  if (bytes.size() < 16 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    if (bytes.size() < 16 && bytes.size() > 0 && std::memcmp(bytes.data(), kMagic, std::min<std::size_t>(bytes.size(), 8)) == 0)
      fail(path, "truncated (shorter than the fixed preamble)");
    fail(path, "not an sbi-nn network file (wrong magic bytes)");
  }
  std::uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data() + 8, sizeof header_length);
  if (header_length > bytes.size() - 16) fail(path, "truncated inside the JSON header");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 16, bytes.begin() + 16 + static_cast<std::ptrdiff_t>(header_length));
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("corrupted JSON header (") + e.what() + ")");
  }
  TensorFile<T> file;
  file.path = path;
  try {
    if (header.at("format").get<std::string>() != "sbi-nn") fail(path, "not an sbi-nn file");
    const int version = header.at("format_version").get<int>();
    if (version > kNetworkFormatVersion)
      fail(path, "format version " + std::to_string(version) + " was written by a newer sbi++; this build reads up to version " +
                     std::to_string(kNetworkFormatVersion));
    if (version < 1) fail(path, "invalid format version " + std::to_string(version));
    if (header.at("kind").get<std::string>() != kind)
      fail(path, "holds a '" + header.at("kind").get<std::string>() + "', not " + (kind == "mlp" ? "an mlp" : "a '" + kind + "'"));
    const std::string scalar = header.at("scalar").get<std::string>();
    if (scalar != "f32" && scalar != "f64") fail(path, "unknown scalar type '" + scalar + "'");
    const std::size_t scalar_size = scalar == "f32" ? 4 : 8;
    const auto data_bytes = header.at("data_bytes").get<std::uint64_t>();
    const std::size_t data_start = 16 + header_length;
    if (bytes.size() - data_start < data_bytes)
      fail(path, "truncated: data block has " + std::to_string(bytes.size() - data_start) + " of " + std::to_string(data_bytes) + " bytes");
    const std::string data = bytes.substr(data_start, data_bytes);
    if (header.at("checksum").get<std::string>() != "fnv1a64:" + hex64(fnv1a64(data)))
      fail(path, "corrupted: checksum of the data block does not match");
    file.options = header.at("options");
    for (const auto& entry : header.at("tensors")) {
      const auto rows = entry.at("rows").get<Eigen::Index>();
      const auto cols = entry.at("cols").get<Eigen::Index>();
      const auto offset = entry.at("offset").get<std::uint64_t>();
      if (rows < 0 || cols < 0 || (rows > 0 && cols > static_cast<Eigen::Index>(data_bytes) / rows))
        fail(path, "corrupted: tensor " + entry.at("name").get<std::string>() + " has an impossible shape");
      const std::uint64_t length = static_cast<std::uint64_t>(rows * cols) * scalar_size;
      if (offset > data_bytes || length > data_bytes - offset)
        fail(path, "corrupted: tensor " + entry.at("name").get<std::string>() + " lies outside the data block");
      ad::Matrix<T> m(rows, cols);
      if (scalar_size == 4) {
        Eigen::MatrixXf raw(rows, cols);
        std::memcpy(raw.data(), data.data() + offset, length);
        m = raw.cast<T>();
      } else {
        Eigen::MatrixXd raw(rows, cols);
        std::memcpy(raw.data(), data.data() + offset, length);
        m = raw.cast<T>();
      }
      file.tensors[entry.at("name").get<std::string>()] = std::move(m);
    }
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("malformed header (") + e.what() + ")");
  }
  return file;
}

template <class T>
const ad::Matrix<T>& TensorFile<T>::take(const std::string& name, Eigen::Index rows, Eigen::Index cols) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) fail("missing tensor " + name);
  if (it->second.rows() != rows || it->second.cols() != cols)
    fail("tensor " + name + " has shape " + std::to_string(it->second.rows()) + "x" + std::to_string(it->second.cols()) +
         ", the architecture needs " + std::to_string(rows) + "x" + std::to_string(cols));
  return it->second;
}

template <class T>
void TensorFile<T>::fail(const std::string& problem) const {
  sbi::nn::fail(path, problem);
}

template <class T>
void save(const BasicMlp<T>& network, const std::filesystem::path& path) {
  write_tensor_file(path, "mlp", network.options().to_json(), tensors_of(network));
}

template <class T>
BasicMlp<T> load_mlp(const std::filesystem::path& path) {
  const TensorFile<T> file = read_tensor_file<T>(path, "mlp");
  MlpOptions options;
  try {
    options = MlpOptions::from_json(file.options);
  } catch (const InputError& e) {
    file.fail(e.what());
  }
  BasicMlp<T> network(options, 0);
  for (std::size_t k = 0; k < network.layers().size(); ++k) {
    auto& layer = network.layers()[k];
    const std::string prefix = "layer" + std::to_string(k);
    layer.weight().value = file.take(prefix + ".weight", layer.inputs(), layer.outputs());
    layer.bias().value = file.take(prefix + ".bias", 1, layer.outputs());
    if (auto* sn = layer.spectral_norm())
      sn->set_vectors(file.take(prefix + ".spectral_u", layer.inputs(), 1), file.take(prefix + ".spectral_v", layer.outputs(), 1));
  }
  if (file.tensors.count("standardizer.mean")) {
    const Eigen::Index d = options.widths.front();
    BasicStandardizer<T> standardizer;
    standardizer.mean = file.take("standardizer.mean", 1, d);
    standardizer.sd = file.take("standardizer.sd", 1, d);
    network.set_standardizer(std::move(standardizer));
  }
  network.zero_grad();
  return network;
}

template void save(const BasicMlp<float>&, const std::filesystem::path&);
template void save(const BasicMlp<double>&, const std::filesystem::path&);
template BasicMlp<float> load_mlp(const std::filesystem::path&);
template BasicMlp<double> load_mlp(const std::filesystem::path&);
template void write_tensor_file(const std::filesystem::path&, const std::string&, const nlohmann::json&,
                                const std::vector<NamedTensor<float>>&);
template void write_tensor_file(const std::filesystem::path&, const std::string&, const nlohmann::json&,
                                const std::vector<NamedTensor<double>>&);
template TensorFile<float> read_tensor_file(const std::filesystem::path&, const std::string&);
template TensorFile<double> read_tensor_file(const std::filesystem::path&, const std::string&);
template struct TensorFile<float>;
template struct TensorFile<double>;

}  // namespace sbi::nn
