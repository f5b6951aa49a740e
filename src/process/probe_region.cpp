#include "process/probe_region.h"

#include "binary/error.h"

#include <cerrno>
#include <cstring>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

namespace deftrace {

namespace {

// glibc keeps a mutex's futex word first (__data.__lock): the word the kernel marks when the
// owner of a robust mutex dies, and the word the trampolines compare with their gate value.
static_assert(offsetof(pthread_mutex_t, __data.__lock) == 0);

[[noreturn]] void failed(const char *what, int e) {
    throw Error(ErrorKind::Process, std::string("probe region: ") + what + ": " + std::strerror(e));
}

} // namespace

ProbeRegion::ProbeRegion(UniqueFd fd, Addr remote) : fd_(std::move(fd)), remote_(remote) {
    if (ftruncate(fd_.get(), static_cast<off_t>(kSize)) != 0)
        failed("ftruncate", errno);
    void *p = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
    if (p == MAP_FAILED)
        failed("mmap", errno);
    base_ = static_cast<uint8_t *>(p);

    auto *mutex = reinterpret_cast<pthread_mutex_t *>(base_);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    int e = pthread_mutex_init(mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    if (e != 0 || (e = pthread_mutex_lock(mutex)) != 0) {
        munmap(base_, kSize);
        failed("robust mutex", e);
    }
    locked_ = true;
    gate_open_ = static_cast<uint32_t>(gettid());
    uint32_t word;
    std::memcpy(&word, base_, sizeof word);
    if (word != gate_open_) { // not glibc's layout after all: the gate would never open
        close_gates();
        munmap(base_, kSize);
        throw Error(ErrorKind::Process, "probe region: the mutex's lock word is not its owner's thread id");
    }
}

ProbeRegion::~ProbeRegion() {
    close_gates();
    munmap(base_, kSize);
}

void ProbeRegion::close_gates() {
    if (locked_) {
        pthread_mutex_unlock(reinterpret_cast<pthread_mutex_t *>(base_));
        locked_ = false;
    }
}

std::optional<Addr> ProbeRegion::allocate_armed() {
    if (next_armed_ >= kCodeOffset)
        return std::nullopt;
    const Addr a = remote_ + next_armed_++;
    set_armed(a, true);
    return a;
}

void ProbeRegion::set_armed(Addr armed, bool on) const {
    __atomic_store_n(local(armed), on ? 1 : 0, __ATOMIC_RELEASE);
}

} // namespace deftrace
