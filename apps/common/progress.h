// progress.h: training progress on stderr: step, loss, lr, throughput (images/s or tokens/s) and
// ETA. On a terminal a bar is redrawn in place (at most ~10 times a second); otherwise plain lines,
// about one every 20th of the run or every 10 seconds, whichever comes first.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace apps {

class Progress {
 public:
  // `unit`: what a step's items are ("images", "tokens"). Steps first_step..total_steps are to come.
  Progress(std::string program, int64_t total_steps, std::string unit, int64_t first_step = 0);
  ~Progress();
  // After step `step` (1-based count of steps done) with its loss, lr and items processed.
  void update(int64_t step, double loss, double lr, int64_t items);
  // A whole line (evaluation results, notes), printed below the bar.
  void note(const std::string& line);
  // Ends the bar's line on a terminal.
  void finish();

 private:
  void draw(bool force);
  using Clock = std::chrono::steady_clock;
  std::string program_, unit_;
  int64_t total_, first_, step_ = 0, items_ = 0;
  double loss_ = 0, lr_ = 0;
  bool tty_ = false, open_line_ = false;
  Clock::time_point start_, last_draw_;
};

// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

}  // namespace apps
