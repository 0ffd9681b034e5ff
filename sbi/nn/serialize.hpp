#pragma once
// Saving and loading networks.
//
// File format "sbi-nn", version 1 (all integers and floats little-endian):
//
//   offset 0   8 bytes   magic: the ASCII characters "SBINNET" followed by a newline (0x0A)
//   offset 8   8 bytes   uint64 H: length of the JSON header in bytes
//   offset 16  H bytes   JSON header, UTF-8:
//       { "format": "sbi-nn",
//         "format_version": 1,          // readers refuse versions newer than they know
//         "kind": "mlp",
//         "scalar": "f32" | "f64",      // type of every number in the data block
//         "options": { MlpOptions::to_json() },
//         "tensors": [ { "name": "layer0.weight", "rows": 22, "cols": 128, "offset": 0 }, ... ],
//         "data_bytes": N,              // length of the data block
//         "checksum": "fnv1a64:<16 hex digits>" }  // FNV-1a 64 of the data block
//   offset 16+H  N bytes   the data block: each tensor column-major, at its offset (bytes from the
//                          start of the block), IEEE-754 binary32 or binary64.
//
// Tensors of an MLP: "layer<k>.weight" (in × out), "layer<k>.bias" (1 × out), with spectral
// normalisation "layer<k>.spectral_u" (in × 1) and "layer<k>.spectral_v" (out × 1), and when the
// model has a standardisation "standardizer.mean" and "standardizer.sd" (1 × in each).
//
// Values are stored bit for bit, so a loaded network computes bit-identical outputs. Every
// problem (missing file, wrong magic, newer version, truncation, checksum or shape mismatch) is
// reported as sbi::FileError naming the file and the problem.
//
// Other models (the conditional density estimators of sbi/flows) use the same container with their
// own "kind" and "options" through write_tensor_file / read_tensor_file.
#include "sbi/nn/mlp.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace sbi::nn {

inline constexpr int kNetworkFormatVersion = 1;

template <class T>
struct NamedTensor {
  std::string name;
  ad::Matrix<T> value;
};

// The contents of a file in the format above, checked (magic, version, kind, sizes, checksum).
template <class T>
struct TensorFile {
  std::filesystem::path path;
  nlohmann::json options;                          // the header's "options"
  std::map<std::string, ad::Matrix<T>> tensors;    // converted to T if stored in the other type
  std::uint64_t scalars = 0;                       // numbers in the data block (bounds any architecture)
  // The tensor `name` with the given shape; FileError naming the file if missing or misshapen.
  const ad::Matrix<T>& take(const std::string& name, Eigen::Index rows, Eigen::Index cols) const;
  // FileError naming the file, for problems found by the caller.
  [[noreturn]] void fail(const std::string& problem) const;
};

// Writes `tensors` in order, with header "kind" and "options".
template <class T>
void write_tensor_file(const std::filesystem::path& path, const std::string& kind, const nlohmann::json& options,
                       const std::vector<NamedTensor<T>>& tensors);
// Reads a file whose header "kind" must be `kind`; FileError naming the file for any problem.
template <class T>
TensorFile<T> read_tensor_file(const std::filesystem::path& path, const std::string& kind);

template <class T>
void save(const BasicMlp<T>& network, const std::filesystem::path& path);

// Reads a file written with either scalar type and converts to T.
template <class T>
BasicMlp<T> load_mlp(const std::filesystem::path& path);

// Several named networks in one file of kind `kind` (a fit made of more than one network, such as a
// generator and its discriminator), with `extra` JSON kept beside them (the fit's standardisation,
// say). Tensors are named "<network>/<tensor>"; the header's options are
// {"networks": {name: MlpOptions}, "extra": extra}. Names must be unique and without '/'.
template <class T>
void save_networks(const std::filesystem::path& path, const std::string& kind,
                   const std::vector<std::pair<std::string, const BasicMlp<T>*>>& networks, const nlohmann::json& extra);

template <class T>
struct NetworkGroup {
  std::map<std::string, BasicMlp<T>> networks;
  nlohmann::json extra;
};
// Reads a file written by save_networks whose kind is `kind`; FileError naming the file for any problem.
template <class T>
NetworkGroup<T> load_networks(const std::filesystem::path& path, const std::string& kind);

}  // namespace sbi::nn
