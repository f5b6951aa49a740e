// What deftrace is doing before the traced program starts, for a person at a terminal and for
// --stats. On a large binary (rclone, hugo: tens of megabytes) reading it, analysing its defer
// sites and placing thousands of probes takes a second or more, in which nothing else appears:
// after half a second, a status line on standard error says which step is under way, and it is
// erased when the program starts. Nothing is shown when standard error is not a terminal.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace deftrace {

class StartupProgress {
public:
    // `show`: standard error is a terminal, where the status line may go.
    explicit StartupProgress(bool show);
    ~StartupProgress(); // done(), if it was not called
    StartupProgress(const StartupProgress &) = delete;
    StartupProgress &operator=(const StartupProgress &) = delete;

    // The step now under way ("analysing the defer sites of 1,204 functions"); the previous one
    // ends here.
    void step(const std::string &what, const char *name);
    // Renames the step under way (for --stats: "analysis (cached)").
    void rename_step(const char *name);
    // The program is about to run: the status line, if shown, is erased. Idempotent.
    void done();
    // Each step's name and wall-clock milliseconds, in order (for --stats).
    [[nodiscard]] std::string summary() const;

private:
    void show_loop();
    using Clock = std::chrono::steady_clock;
    mutable std::mutex mu_;
    std::condition_variable wake_;
    bool finished_ = false;
    std::string status_;
    Clock::time_point start_, step_start_;
    std::vector<std::pair<std::string, double>> steps_; // name, ms
    const char *step_name_ = nullptr;
    std::thread shower_;
};

} // namespace deftrace
