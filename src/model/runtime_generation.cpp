#include "model/runtime_generation.h"

#include "model/era_a.h"
#include "model/era_b.h"

namespace deftrace::model {

std::unique_ptr<RuntimeGeneration> make_generation(const GenerationTraits &t) {
    if (t.era == Era::A) {
        return std::make_unique<EraA>(t);
    }
    return std::make_unique<EraB>(t);
}

} // namespace deftrace::model
