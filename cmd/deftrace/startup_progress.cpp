#include "startup_progress.h"

#include <cstdio>

namespace deftrace {

namespace {
constexpr auto kQuiet = std::chrono::milliseconds(500); // a start-up this quick shows nothing
}

StartupProgress::StartupProgress(bool show) : start_(Clock::now()), step_start_(start_) {
    if (show)
        shower_ = std::thread([this] { show_loop(); });
}

StartupProgress::~StartupProgress() {
    done();
}

void StartupProgress::step(const std::string &what, const char *name) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = Clock::now();
    if (step_name_ != nullptr)
        steps_.emplace_back(step_name_, std::chrono::duration<double, std::milli>(now - step_start_).count());
    step_name_ = name;
    step_start_ = now;
    status_ = what;
    wake_.notify_all();
}

void StartupProgress::rename_step(const char *name) {
    std::lock_guard<std::mutex> lock(mu_);
    step_name_ = name;
}

void StartupProgress::done() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (finished_)
            return;
        finished_ = true;
        if (step_name_ != nullptr)
            steps_.emplace_back(step_name_,
                                std::chrono::duration<double, std::milli>(Clock::now() - step_start_).count());
        step_name_ = nullptr;
        wake_.notify_all();
    }
    if (shower_.joinable())
        shower_.join();
}

std::string StartupProgress::summary() const {
    std::lock_guard<std::mutex> lock(mu_);
    double total = 0;
    std::string parts;
    for (const auto &[name, ms] : steps_) {
        total += ms;
        char part[96];
        std::snprintf(part, sizeof part, "%s%s %.0f ms", parts.empty() ? "" : ", ", name.c_str(), ms);
        parts += part;
    }
    char head[64];
    std::snprintf(head, sizeof head, "start-up %.0f ms (", total);
    return head + parts + ")";
}

// The status line: written after kQuiet, rewritten in place as the steps change, erased at the
// end ("\r" and erase-line), so that the trace and the program's output start on a clean line.
void StartupProgress::show_loop() {
    std::unique_lock<std::mutex> lock(mu_);
    if (wake_.wait_until(lock, start_ + kQuiet, [this] { return finished_; }))
        return;
    std::string last;
    bool shown = false;
    while (!finished_) {
        if (status_ != last) {
            std::fprintf(stderr, "\r\033[Kdeftrace: %s…", status_.c_str());
            std::fflush(stderr);
            shown = true;
            last = status_;
        }
        wake_.wait(lock);
    }
    if (shown) {
        std::fputs("\r\033[K", stderr);
        std::fflush(stderr);
    }
}

} // namespace deftrace
