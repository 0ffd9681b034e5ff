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
#include "sbi/nn/mlp.hpp"

#include <filesystem>

namespace sbi::nn {

inline constexpr int kNetworkFormatVersion = 1;

template <class T>
void save(const BasicMlp<T>& network, const std::filesystem::path& path);

// Reads a file written with either scalar type and converts to T.
template <class T>
BasicMlp<T> load_mlp(const std::filesystem::path& path);

}  // namespace sbi::nn
