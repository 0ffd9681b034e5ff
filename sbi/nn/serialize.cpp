#include "sbi/nn/serialize.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/checksum.hpp"
#include "sbi/io/json_reader.hpp"

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

// A non-negative integer field of the header (no conversion of floats or negatives).
std::uint64_t header_unsigned(const nlohmann::json& entry, const char* key, const std::filesystem::path& path);

template <class T>
constexpr const char* scalar_name() {
  return sizeof(T) == 4 ? "f32" : "f64";
}

template <class T>
std::vector<NamedTensor<T>> tensors_of(const BasicMlp<T>& network, const std::string& prefix_of_all = "") {
  std::vector<NamedTensor<T>> list;
  for (std::size_t k = 0; k < network.layers().size(); ++k) {
    const auto& layer = network.layers()[k];
    const std::string prefix = prefix_of_all + "layer" + std::to_string(k);
    list.push_back({prefix + ".weight", layer.weight().value});
    list.push_back({prefix + ".bias", layer.bias().value});
    if (const auto* sn = layer.spectral_norm()) {
      list.push_back({prefix + ".spectral_u", sn->u()});
      list.push_back({prefix + ".spectral_v", sn->v()});
    }
  }
  if (!network.standardizer().empty()) {
    list.push_back({prefix_of_all + "standardizer.mean", network.standardizer().mean});
    list.push_back({prefix_of_all + "standardizer.sd", network.standardizer().sd});
  }
  return list;
}

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw FileError("network file " + path.string() + ": " + problem);
}

std::uint64_t header_unsigned(const nlohmann::json& entry, const char* key, const std::filesystem::path& path) {
  const auto it = entry.find(key);
  if (it == entry.end() || !(it->is_number_unsigned() || (it->is_number_integer() && it->get<std::int64_t>() >= 0)))
    fail(path, std::string("malformed header (\"") + key + "\" is missing or not a non-negative integer)");
  return it->get<std::uint64_t>();
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
    header = parse_json_text(bytes.substr(16, header_length), "header");
  } catch (const InputError& e) {
    fail(path, std::string("corrupted JSON header (") + e.what() + ")");
  }
  TensorFile<T> file;
  file.path = path;
  try {
    if (!header.is_object()) fail(path, "malformed header (not a JSON object)");
    if (header.at("format").get<std::string>() != "sbi-nn") fail(path, "not an sbi-nn file");
    const std::uint64_t version = header_unsigned(header, "format_version", path);
    if (version > static_cast<std::uint64_t>(kNetworkFormatVersion))
      fail(path, "format version " + std::to_string(version) + " was written by a newer sbi++; this build reads up to version " +
                     std::to_string(kNetworkFormatVersion));
    if (version < 1) fail(path, "invalid format version " + std::to_string(version));
    if (header.at("kind").get<std::string>() != kind)
      fail(path, "holds a '" + header.at("kind").get<std::string>() + "', not " + (kind == "mlp" ? "an mlp" : "a '" + kind + "'"));
    const std::string scalar = header.at("scalar").get<std::string>();
    if (scalar != "f32" && scalar != "f64") fail(path, "unknown scalar type '" + scalar + "'");
    const std::size_t scalar_size = scalar == "f32" ? 4 : 8;
    const auto data_bytes = header_unsigned(header, "data_bytes", path);
    const std::size_t data_start = 16 + header_length;
    if (bytes.size() - data_start < data_bytes)
      fail(path, "truncated: data block has " + std::to_string(bytes.size() - data_start) + " of " + std::to_string(data_bytes) + " bytes");
    const std::string data = bytes.substr(data_start, data_bytes);
    if (header.at("checksum").get<std::string>() != "fnv1a64:" + hex64(fnv1a64(data)))
      fail(path, "corrupted: checksum of the data block does not match");
    file.options = header.at("options");
    const std::uint64_t scalars = data_bytes / scalar_size;
    file.scalars = scalars;
    if (!header.at("tensors").is_array()) fail(path, "malformed header (\"tensors\" is not a list)");
    for (const auto& entry : header.at("tensors")) {
      if (!entry.is_object()) fail(path, "malformed header (a tensor entry is not an object)");
      const std::string name = entry.at("name").get<std::string>();
      const std::uint64_t rows = header_unsigned(entry, "rows", path);
      const std::uint64_t cols = header_unsigned(entry, "cols", path);
      const std::uint64_t offset = header_unsigned(entry, "offset", path);
      if (offset > data_bytes || rows > scalars || cols > scalars || (cols != 0 && rows > scalars / cols) ||
          rows * cols * scalar_size > data_bytes - offset)
        fail(path, "corrupted: tensor " + name + " lies outside the data block");
      const std::uint64_t length = rows * cols * scalar_size;
      const auto r = static_cast<Eigen::Index>(rows), c = static_cast<Eigen::Index>(cols);
      ad::Matrix<T> m(r, c);
      if (scalar_size == 4) {
        Eigen::MatrixXf raw(r, c);
        if (length) std::memcpy(raw.data(), data.data() + offset, length);
        m = raw.cast<T>();
      } else {
        Eigen::MatrixXd raw(r, c);
        if (length) std::memcpy(raw.data(), data.data() + offset, length);
        m = raw.cast<T>();
      }
      if (!file.tensors.emplace(name, std::move(m)).second) fail(path, "corrupted: tensor " + name + " appears twice");
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

namespace {

// The network of `options` whose tensors are "<prefix>layer<k>.weight" etc. in `file`.
template <class T>
BasicMlp<T> mlp_from_file(const TensorFile<T>& file, const nlohmann::json& options_json, const std::string& prefix) {
  MlpOptions options;
  try {
    options = MlpOptions::from_json(options_json);
  } catch (const InputError& e) {
    file.fail(e.what());
  }
  // Every weight of the architecture comes from the data block: an architecture larger than the
  // block is refused before anything is allocated for it.
  std::uint64_t needed = 0;
  for (std::size_t k = 0; k + 1 < options.widths.size(); ++k) {
    const auto in = static_cast<std::uint64_t>(options.widths[k]), out = static_cast<std::uint64_t>(options.widths[k + 1]);
    if (in > file.scalars || out > file.scalars || in * out > file.scalars || needed + in * out + out > file.scalars)
      file.fail("corrupted: the architecture in the header needs more weights than the data block holds");
    needed += in * out + out;
  }
  BasicMlp<T> network(options, 0);
  for (std::size_t k = 0; k < network.layers().size(); ++k) {
    auto& layer = network.layers()[k];
    const std::string name = prefix + "layer" + std::to_string(k);
    layer.weight().value = file.take(name + ".weight", layer.inputs(), layer.outputs());
    layer.bias().value = file.take(name + ".bias", 1, layer.outputs());
    if (auto* sn = layer.spectral_norm())
      sn->set_vectors(file.take(name + ".spectral_u", layer.inputs(), 1), file.take(name + ".spectral_v", layer.outputs(), 1));
  }
  if (file.tensors.count(prefix + "standardizer.mean")) {
    const Eigen::Index d = options.widths.front();
    BasicStandardizer<T> standardizer;
    standardizer.mean = file.take(prefix + "standardizer.mean", 1, d);
    standardizer.sd = file.take(prefix + "standardizer.sd", 1, d);
    network.set_standardizer(std::move(standardizer));
  }
  network.zero_grad();
  return network;
}

}  // namespace

template <class T>
BasicMlp<T> load_mlp(const std::filesystem::path& path) {
  const TensorFile<T> file = read_tensor_file<T>(path, "mlp");
  return mlp_from_file(file, file.options, "");
}

template <class T>
void save_networks(const std::filesystem::path& path, const std::string& kind,
                   const std::vector<std::pair<std::string, const BasicMlp<T>*>>& networks, const nlohmann::json& extra) {
  nlohmann::json options = nlohmann::json::object();
  std::vector<NamedTensor<T>> tensors;
  for (const auto& [name, network] : networks) {
    if (name.empty() || name.find('/') != std::string::npos || options.contains(name))
      throw std::invalid_argument("save_networks: network names must be unique, non-empty and without '/'");
    options[name] = network->options().to_json();
    for (auto& tensor : tensors_of(*network, name + "/")) tensors.push_back(std::move(tensor));
  }
  write_tensor_file(path, kind, nlohmann::json{{"networks", options}, {"extra", extra}}, tensors);
}

template <class T>
NetworkGroup<T> load_networks(const std::filesystem::path& path, const std::string& kind) {
  const TensorFile<T> file = read_tensor_file<T>(path, kind);
  if (!file.options.is_object() || !file.options.contains("networks") || !file.options.at("networks").is_object() ||
      !file.options.contains("extra"))
    file.fail("malformed header (a group of networks needs \"networks\" and \"extra\")");
  NetworkGroup<T> group;
  for (const auto& [name, options] : file.options.at("networks").items()) group.networks.emplace(name, mlp_from_file(file, options, name + "/"));
  group.extra = file.options.at("extra");
  return group;
}

template void save(const BasicMlp<float>&, const std::filesystem::path&);
template void save(const BasicMlp<double>&, const std::filesystem::path&);
template BasicMlp<float> load_mlp(const std::filesystem::path&);
template BasicMlp<double> load_mlp(const std::filesystem::path&);
template void save_networks(const std::filesystem::path&, const std::string&, const std::vector<std::pair<std::string, const BasicMlp<float>*>>&,
                            const nlohmann::json&);
template NetworkGroup<float> load_networks(const std::filesystem::path&, const std::string&);
template void write_tensor_file(const std::filesystem::path&, const std::string&, const nlohmann::json&,
                                const std::vector<NamedTensor<float>>&);
template void write_tensor_file(const std::filesystem::path&, const std::string&, const nlohmann::json&,
                                const std::vector<NamedTensor<double>>&);
template TensorFile<float> read_tensor_file(const std::filesystem::path&, const std::string&);
template TensorFile<double> read_tensor_file(const std::filesystem::path&, const std::string&);
template struct TensorFile<float>;
template struct TensorFile<double>;

}  // namespace sbi::nn
