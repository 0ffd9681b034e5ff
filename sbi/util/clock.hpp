#pragma once
// Wall-clock time stamps for provenance and reports (one format everywhere).
#include <chrono>
#include <string>

namespace sbi {

// The current UTC time in ISO 8601, to the second: "2026-12-02T03:18:06Z".
std::string utc_timestamp();

// Seconds of the steady clock since `start` (durations in reports and provenance).
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace sbi
