#pragma once
// Wall-clock time stamps for provenance and reports (one format everywhere).
#include <string>

namespace sbi {

// The current UTC time in ISO 8601, to the second: "2026-12-02T03:18:06Z".
std::string utc_timestamp();

}  // namespace sbi
