// progress.cpp: the progress bar / progress lines.
#include "apps/common/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace apps {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[32];
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

Progress::Progress(std::string program, int64_t total_steps, std::string unit, int64_t first_step)
    : program_(std::move(program)), unit_(std::move(unit)), total_(total_steps), first_(first_step), step_(first_step) {
  tty_ = ::isatty(2) == 1;
  start_ = last_draw_ = Clock::now();
}

Progress::~Progress() { finish(); }

void Progress::update(int64_t step, double loss, double lr, int64_t items) {
  step_ = step;
  loss_ = loss;
  lr_ = lr;
  items_ += items;
  draw(step == total_);
}

void Progress::draw(bool force) {
  const auto now = Clock::now();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const int64_t done = step_ - first_;
  if (!force) {
    if (tty_ && since_draw < 0.1) return;
    const int64_t every = std::max<int64_t>(1, (total_ - first_) / 20);
    if (!tty_ && done != 1 && done % every != 0 && since_draw < 10) return;
  }
  last_draw_ = now;
  const double rate = elapsed > 0 ? items_ / elapsed : 0;
  const double eta = done > 0 ? elapsed / done * (total_ - step_) : NAN;
  char stats[200];
  std::snprintf(stats, sizeof stats, "step %lld/%lld  loss %.4f  lr %.2e  %.0f %s/s  ETA %s", (long long)step_,
                (long long)total_, loss_, lr_, rate, unit_.c_str(), format_duration(eta).c_str());
  if (tty_) {
    const int width = 24;
    const int fill = total_ > 0 ? static_cast<int>(width * static_cast<double>(step_) / total_) : width;
    std::string bar(fill, '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r\033[K%s [%s] %s", program_.c_str(), bar.c_str(), stats);
    open_line_ = true;
  } else {
    std::fprintf(stderr, "%s: %s\n", program_.c_str(), stats);
  }
  std::fflush(stderr);
}

void Progress::note(const std::string& line) {
  if (open_line_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s: %s\n", program_.c_str(), line.c_str());
  if (open_line_) draw(true);
  std::fflush(stderr);
}

void Progress::finish() {
  if (open_line_) {
    std::fprintf(stderr, "\n");
    std::fflush(stderr);
    open_line_ = false;
  }
}

}  // namespace apps
