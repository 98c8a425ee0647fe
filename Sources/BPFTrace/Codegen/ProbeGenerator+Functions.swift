import BPFObject
import Foundation

/// Code for `print(value)` and the functions `TraceCompiler+Functions` types: each leaves its
/// integer result in r0.
extension ProbeGenerator {
    static let checkedIntegerFunctions: Set<String> = ["strcontains", "strncmp", "has_key", "nsecs", "bswap", "kptr", "uptr", "strerror", "unwatch", "debugf", "cgroup_path"]

    /// `sargN` in a uprobe or kprobe: the Nth argument passed on the stack. At function entry
    /// on x86-64 the return address is at sp and the stack arguments follow it (SysV ABI), each
    /// 8 bytes; read from the probe's address space (0 when the read fails).
    mutating func stackArgument(_ index: Int) throws {
        guard let stackPointer = ProbeRegisters.offsets["sp"] else { try fail("no stack pointer register", currentRange ?? SourceRange(at: .start)) }
        let value = try slot(8)
        asm.store(.doubleWord, .r10, value, immediate: 0)
        asm.load(.doubleWord, .r3, .r9, stackPointer)
        asm.add(.r3, Int32(8 * (index + 1)))
        readAddressInR3(into: value, size: 8, user: context.pointersAreUserMemory)
        asm.load(.doubleWord, .r0, .r10, value)
    }

    /// `print(value)`: one record with the value, printed alone on a line by the runtime.
    mutating func printValue(_ value: Expression) throws {
        let valueType = try type(of: value)
        try emitFormatted(TraceFormat(format: "", argumentTypes: [valueType], action: .value), [value])
    }

    mutating func checkedInteger(_ name: String, _ arguments: [Expression], _ expression: Expression) throws {
        switch name {
        case "strcontains": try stringContains(arguments[0], arguments[1])
        case "strncmp":
            guard case .integer(let length) = arguments[2].kind else { try fail("strncmp() expects a integer literal", expression.range) }
            try stringPrefixesDiffer(arguments[0], arguments[1], length: Int(clamping: length))
        case "has_key": try hasKey(arguments[0], arguments[1], expression)
        case "nsecs":
            var helper = HelperFunction.ktimeGetNs
            if case .identifier(let mode)? = arguments.first?.kind, let modeHelper = TraceCompiler.timestampModes[mode] { helper = modeHelper }
            asm.call(helperID: helper.rawValue)
        case "bswap":
            var inferScope = scope
            let width = compiler.integerWidth(arguments[0], &inferScope) ?? 8
            try integer(arguments[0])
            switch width {
            case 1: break // one byte has nothing to swap
            case 2: asm.toBigEndian(.r0, bits: .bits16)
            case 4: asm.toBigEndian(.r0, bits: .bits32)
            default: asm.toBigEndian(.r0, bits: .bits64)
            }
        case "debugf": try debugPrint(arguments)
        case "unwatch":
            // [unwatch, address]: the runtime detaches that address's watchpoints.
            try integer(arguments[0])
            let record = try slot(16)
            asm.store(.doubleWord, .r10, record + 8, .r0)
            asm.loadImmediate64(.r1, TraceEventID.unwatch)
            asm.store(.doubleWord, .r10, record, .r1)
            try submit(record, size: 16)
            asm.mov(.r0, 0)
        default: // kptr, uptr, strerror, cgroup_path: the integer itself
            try integer(arguments[0])
        }
    }

    /// `str(pointer[, length])`: at most `length` characters (bpftrace 0.17 reads `length + 1`
    /// bytes with the NUL) and never more than the buffer; a run-time length is clamped to
    /// [0, size - 1] so the verifier sees a bounded read size.
    mutating func readString(_ pointer: Expression, length: Expression?, into buffer: Int16, size: Int) throws {
        var lengthSlot: Int16?
        var limit = size
        if let length {
            if case .integer(let characters) = length.kind {
                limit = Int(clamping: min(Int64(size), max(0, characters) + 1))
            } else {
                try integer(length)
                let slot = try slot(8)
                asm.store(.doubleWord, .r10, slot, .r0)
                lengthSlot = slot
            }
        }
        try integer(pointer)
        asm.mov(.r3, .r0)
        asm.mov(.r1, .r10)
        asm.add(.r1, Int32(buffer))
        if let lengthSlot {
            let positive = newLabel("strlen.positive"), bounded = newLabel("strlen.bounded")
            asm.load(.doubleWord, .r2, .r10, lengthSlot)
            asm.jump(.sge, .r2, 0, to: positive)
            asm.mov(.r2, 0)
            asm.label(positive)
            asm.add(.r2, 1)
            asm.jump(.le, .r2, Int32(size), to: bounded)
            asm.mov(.r2, Int32(size))
            asm.label(bounded)
        } else {
            asm.mov(.r2, Int32(limit))
        }
        // bpf_probe_read_str reads user or kernel addresses on x86-64 (non-overlapping spaces).
        asm.call(helperID: HelperFunction.probeReadStr.rawValue)
    }

    /// `debugf(fmt, args...)`: bpf_trace_vprintk, so the kernel formats the text into the trace
    /// buffer (trace_pipe), as bpftrace does. Integers go in the u64 argument array as they are,
    /// strings as the address of their stack buffer (the kernel reads `%s` through it).
    mutating func debugPrint(_ arguments: [Expression]) throws {
        guard case .string(let bytes) = arguments.first?.kind else { try fail("debugf() expects a string literal", arguments.first?.range ?? currentRange ?? SourceRange(at: .start)) }
        let values = Array(arguments.dropFirst())
        let array = try slot(max(8, 8 * values.count))
        for (index, value) in values.enumerated() {
            let valueType = try type(of: value)
            if valueType.isString {
                let buffer = try string(value, size: valueType.storageSize)
                asm.mov(.r0, .r10)
                asm.add(.r0, Int32(buffer))
            } else {
                try integer(value)
            }
            asm.store(.doubleWord, .r10, array + Int16(index * 8), .r0)
        }
        let format = try slot(bytes.count + 1)
        zero(format, alignedStringSize(bytes.count + 1))
        for (index, byte) in bytes.enumerated() { asm.store(.byte, .r10, format + Int16(index), immediate: Int32(byte)) }
        asm.mov(.r1, .r10)
        asm.add(.r1, Int32(format))
        asm.mov(.r2, Int32(bytes.count + 1))
        if values.isEmpty {
            asm.mov(.r3, 0)
        } else {
            asm.mov(.r3, .r10)
            asm.add(.r3, Int32(array))
        }
        asm.mov(.r4, Int32(8 * values.count))
        asm.call(helperID: HelperFunction.traceVprintk.rawValue)
    }

    /// `strcontains(haystack, needle)`: r0 = 1 when `needle` occurs in `haystack` (an empty needle
    /// always does). Two counted loops over the stack buffers, bounded by their sizes so the
    /// verifier can walk them; no helper is called inside, so r1-r5 stay ours.
    mutating func stringContains(_ haystack: Expression, _ needle: Expression) throws {
        let haystackSize = try type(of: haystack).storageSize, needleSize = try type(of: needle).storageSize
        let text = try string(haystack, size: haystackSize)
        let pattern = try string(needle, size: needleSize)
        let outer = newLabel("strcontains.outer"), inner = newLabel("strcontains.inner"), next = newLabel("strcontains.next")
        let found = newLabel("strcontains.found"), done = newLabel("strcontains.done")
        asm.mov(.r0, 0)
        asm.mov(.r1, 0)                                    // r1: start in the haystack
        asm.label(outer)
        asm.jump(.ge, .r1, Int32(haystackSize), to: done)
        asm.mov(.r2, 0)                                    // r2: position in the needle
        asm.label(inner)
        asm.jump(.ge, .r2, Int32(needleSize), to: next)
        asm.mov(.r3, .r10)
        asm.add(.r3, Int32(pattern))
        asm.add(.r3, .r2)
        asm.load(.byte, .r4, .r3, 0)
        asm.jump(.eq, .r4, 0, to: found)                   // the whole needle matched
        asm.mov(.r5, .r1)
        asm.add(.r5, .r2)
        asm.jump(.ge, .r5, Int32(haystackSize), to: done)  // ran off the haystack
        asm.mov(.r3, .r10)
        asm.add(.r3, Int32(text))
        asm.add(.r3, .r5)
        asm.load(.byte, .r5, .r3, 0)
        asm.jump(.ne, .r5, .r4, to: next)                  // also stops at the haystack's NUL
        asm.add(.r2, 1)
        asm.jump(to: inner)
        asm.label(next)
        asm.mov(.r3, .r10)
        asm.add(.r3, Int32(text))
        asm.add(.r3, .r1)
        asm.load(.byte, .r5, .r3, 0)
        asm.jump(.eq, .r5, 0, to: done)                    // no later start can match
        asm.add(.r1, 1)
        asm.jump(to: outer)
        asm.label(found)
        asm.mov(.r0, 1)
        asm.label(done)
    }

    /// `strncmp(a, b, n)`: r0 = 0 when the first `n` bytes agree (up to a NUL both share), else 1,
    /// as bpftrace 0.17 returns it (no ordering).
    mutating func stringPrefixesDiffer(_ lhs: Expression, _ rhs: Expression, length: Int) throws {
        let leftSize = try type(of: lhs).storageSize, rightSize = try type(of: rhs).storageSize
        let left = try string(lhs, size: leftSize)
        let right = try string(rhs, size: rightSize)
        let equal = newLabel("strncmp.equal"), differ = newLabel("strncmp.differ"), done = newLabel("strncmp.done")
        for index in 0..<min(length, leftSize, rightSize) {
            asm.load(.byte, .r1, .r10, left + Int16(index))
            asm.load(.byte, .r2, .r10, right + Int16(index))
            asm.jump(.ne, .r1, .r2, to: differ)
            asm.jump(.eq, .r1, 0, to: equal)
        }
        asm.label(equal)
        asm.mov(.r0, 0)
        asm.jump(to: done)
        asm.label(differ)
        asm.mov(.r0, 1)
        asm.label(done)
    }

    /// `has_key(@map, key)`: r0 = 1 when the map holds the key (bpf_map_lookup_elem finds it).
    mutating func hasKey(_ mapExpression: Expression, _ keyExpression: Expression, _ expression: Expression) throws {
        guard case .map(let name, _) = mapExpression.kind, let index = compiler.mapIndex[name] else {
            try fail("has_key() expects a map argument", mapExpression.range)
        }
        let map = compiler.maps[index]
        let key: Int16
        if map.keyTypes.count > 1, case .tuple(let elements) = keyExpression.kind {
            key = try mapKey(map, elements, range: keyExpression.range)
        } else if map.keyTypes.count > 1 {
            // A tuple value packs its elements back to back, as a multi-part key does; the
            // parts must have the key's sizes (string lengths included) to line up.
            guard case .tuple(let elements) = try type(of: keyExpression),
                  elements.map(\.storageSize) == map.keyTypes.map(\.storageSize) else {
                try fail("has_key(): the tuple's element sizes differ from \(name)'s key; pass the key as (a, b, ...) literally", keyExpression.range)
            }
            key = try string(keyExpression, size: map.scriptKeySize)
        } else {
            key = try mapKey(map, [keyExpression], range: keyExpression.range)
        }
        let missing = newLabel("haskey.missing")
        lookup(Int32(index + 1), key: key)
        asm.jump(.eq, .r0, 0, to: missing)
        asm.mov(.r0, 1)
        asm.label(missing)
    }
}
