#include "sbi/util/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace sbi {

std::string format_duration(double seconds) {
  char buffer[64];
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) std::snprintf(buffer, sizeof buffer, "%.1f s", seconds);
  else if (seconds < 3600) std::snprintf(buffer, sizeof buffer, "%d min %02d s", static_cast<int>(seconds / 60), static_cast<int>(seconds) % 60);
  else std::snprintf(buffer, sizeof buffer, "%d h %02d min", static_cast<int>(seconds / 3600), static_cast<int>(seconds / 60) % 60);
  return buffer;
}

bool ProgressBar::should_show(bool quiet) { return !quiet && ::isatty(STDERR_FILENO); }

ProgressBar::ProgressBar(std::string label, std::size_t total, bool enabled, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), enabled_(enabled),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  if (enabled_) draw(true);
}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(std::size_t done) {
  done_ = done;
  if (enabled_) draw(false);
}

void ProgressBar::set_status(std::string status) { status_ = std::move(status); }

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  draw(true);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void ProgressBar::draw(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double fraction = total_ ? std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_)) : 0.0;
  constexpr int width = 28;
  const int filled = static_cast<int>(fraction * width);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(width, '.');
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - std::min(total_, done_)) / rate : NAN;
  char rate_text[32];
  if (rate >= 1000) std::snprintf(rate_text, sizeof rate_text, "%.1fk", rate / 1000);
  else std::snprintf(rate_text, sizeof rate_text, "%.1f", rate);
  std::fprintf(stderr, "\r%s [%s] %3d%% %zu/%zu %s %s/s, ETA %s%s%s\x1b[K", label_.c_str(), bar.c_str(),
               static_cast<int>(fraction * 100), done_, total_, rate_text, unit_.c_str(),
               done_ >= total_ ? "0 s" : format_duration(eta).c_str(), status_.empty() ? "" : "  ", status_.c_str());
  std::fflush(stderr);
}

}  // namespace sbi
