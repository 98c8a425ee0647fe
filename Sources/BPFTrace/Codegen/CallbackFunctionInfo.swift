import BPFObject

/// The BTF a trace program needs once it passes a callback to a helper (`len()` through
/// `bpf_for_each_map_elem`): the verifier refuses a program with a BPF_PSEUDO_FUNC reference
/// unless BPF_PROG_LOAD carries func_info ("missing btf func_info"), one record per
/// subprogram, and a callback must have static linkage (kernel/bpf/verifier.c).
public enum CallbackFunctionInfo {
    /// BTF type ids of the two FUNC records in `btf`.
    public static let mainFunctionTypeID: UInt32 = 4
    public static let callbackTypeID: UInt32 = 6

    /// `int probe(void *ctx)` (global, the program itself) and
    /// `static int count_element(void *map, void *key, void *value, void *ctx)`.
    public static let btf: [UInt8] = {
        var builder = BTFBuilder()
        let int = builder.addInt("int", size: 4, encoding: .signed)
        let voidPointer = builder.addPointer(to: 0)
        let mainPrototype = builder.addFunctionProto(returning: int, parameters: [("ctx", voidPointer)])
        let main = builder.addFunction("probe", prototype: mainPrototype, linkage: .global)
        let callbackPrototype = builder.addFunctionProto(returning: int, parameters: [
            ("map", voidPointer), ("key", voidPointer), ("value", voidPointer), ("ctx", voidPointer),
        ])
        let callback = builder.addFunction("count_element", prototype: callbackPrototype, linkage: .static)
        precondition(main == mainFunctionTypeID && callback == callbackTypeID)
        return builder.encode()
    }()

    /// `struct bpf_func_info` records ({insn_off, type_id}, 8 bytes each, host byte order): the program at 0,
    /// then each callback at its first instruction.
    public static func records(callbackStarts: [Int]) -> [UInt8] {
        var bytes: [UInt8] = []
        func append(_ instruction: Int, _ typeID: UInt32) {
            for word in [UInt32(instruction), typeID] { withUnsafeBytes(of: word) { bytes += $0 } }
        }
        append(0, mainFunctionTypeID)
        for start in callbackStarts { append(start, callbackTypeID) }
        return bytes
    }
}
