#pragma once
// FNV-1a 64-bit checksums (Fowler, Noll and Vo): fast, incremental, good at catching flipped bits and
// truncation in our files. Not cryptographic: they detect damage, not tampering.
#include <cstdint>
#include <string>
#include <string_view>

namespace sbi {

inline constexpr std::uint64_t kFnv1a64Basis = 0xcbf29ce484222325ULL;

// Continues a checksum over `bytes` (start from kFnv1a64Basis).
std::uint64_t fnv1a64(std::string_view bytes, std::uint64_t hash = kFnv1a64Basis);
// 16 lower-case hex digits.
std::string hex64(std::uint64_t value);

}  // namespace sbi
