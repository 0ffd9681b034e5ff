#pragma once
// A progress bar on stderr with rate and ETA. Silent when disabled (--quiet) or when stderr is not
// a terminal, so logs and pipes stay clean. Redraws at most ten times a second.
#include <chrono>
#include <cstddef>
#include <string>

namespace sbi {

class ProgressBar {
 public:
  // `unit` names what is counted ("sim", "step").
  ProgressBar(std::string label, std::size_t total, bool enabled, std::string unit = "it");
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(std::size_t done);
  // Extra text shown after the bar (e.g. current losses).
  void set_status(std::string status);
  // Draws the final state and ends the line.
  void finish();
  bool enabled() const { return enabled_; }

  // True when stderr is a terminal and quiet is false.
  static bool should_show(bool quiet);

 private:
  void draw(bool force);
  std::string label_, unit_, status_;
  std::size_t total_, done_ = 0;
  bool enabled_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1.2 s", "3 min 05 s", "2 h 10 min".
std::string format_duration(double seconds);

}  // namespace sbi
