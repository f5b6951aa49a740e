// A disagreement between the model's prediction and what the tracer observed. The model never
// throws or aborts on a mismatch; it returns one of these and resynchronises.
#pragma once

#include "model/model_types.h"

#include <string>

namespace deftrace::model {

struct Divergence {
    Goid goid = 0;
    uint64_t observation = 0; // 1-based index of the observation (Model::observation_count at the time)
    std::string rule;         // which rule the prediction came from, e.g. "era-B nextDefer order"
    std::string expected;
    std::string observed;
};

std::string to_string(const Divergence &d); // one line

} // namespace deftrace::model
