#include "model/runtime_generation.h"

#include "model/era_a.h"
#include "model/era_b.h"

#include <stdexcept>

namespace deftrace::model {

std::unique_ptr<RuntimeGeneration> make_generation(const GoRelease &t) {
    // The registry row chooses the adapter. No default: a new Era in release/go_releases.h fails
    // to compile here (-Wswitch) until its adapter exists, so no release goes unmodelled.
    switch (t.era) {
    case Era::A: return std::make_unique<EraA>(t);
    case Era::B: return std::make_unique<EraB>(t);
    }
    throw std::logic_error("no runtime adapter for the era of Go " + t.name()); // an out-of-range Era value
}

} // namespace deftrace::model
