// Go type descriptors (abi.Type / runtime._type) read from the live process, and the rendering
// of panic values (an `any`: type word + data word) into text a person can read.
#pragma once

#include "binary/address.h"
#include "goruntime/runtime_offsets.h"
#include "process/process_memory.h"

#include <optional>
#include <string>
#include <unordered_map>

namespace deftrace {

struct GoType {
    Addr addr;
    std::string name; // "*errors.errorString", "main.MyErr", "string"
    uint8_t kind = 0; // abi.Kind without flag bits
    uint64_t size = 0;
    bool direct = false; // the interface data word holds the value itself (pointer-shaped)
};

// abi.Kind values (stable since Go 1.0).
enum GoKind : uint8_t {
    kBool = 1,
    kInt,
    kInt8,
    kInt16,
    kInt32,
    kInt64,
    kUint,
    kUint8,
    kUint16,
    kUint32,
    kUint64,
    kUintptr,
    kFloat32,
    kFloat64,
    kComplex64,
    kComplex128,
    kArray,
    kChan,
    kFunc,
    kInterface,
    kMap,
    kPointer,
    kSlice,
    kString,
    kStruct,
    kUnsafePointer
};

class TypeReader {
public:
    // `types` is moduledata.types at run time (type names are offsets from it); `varint_names`:
    // a name's length is a uvarint (Go 1.17+), else a big-endian u16.
    TypeReader(const ProcessMemory &mem, Addr types, bool varint_names)
        : mem_(mem), types_(types), varint_names_(varint_names) {}
    [[nodiscard]] std::optional<GoType> type_at(Addr type) const;
    [[nodiscard]] const ProcessMemory &memory() const { return mem_; }

private:
    const ProcessMemory &mem_;
    Addr types_;
    mutable std::unordered_map<Addr, GoType> cache_;
    bool varint_names_ = true;
};

struct RenderedValue {
    std::string type;                 // dynamic type name; "nil" for a nil interface
    std::optional<std::string> value; // the value as text; nullopt when it cannot be shown
    bool is_error = false;            // rendered through a known error type's message
};

// Renders an `any` as Go's panic printing would show it where deftrace can reproduce that
// without running code in the tracee: strings, numbers, bools, the runtime's own errors
// (bounds, nil dereference, nil map, divide), errors.New / fmt.Errorf values, and named types
// of those kinds. Anything else gets its type name and no value.
RenderedValue render_any(const TypeReader &types, Addr type, Addr data);

} // namespace deftrace
