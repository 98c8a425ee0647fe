import BPFObject
import Foundation

/// Reads through pointers (member chains, `p[i]`, `*p`, bitfields, tracepoint array fields) and
/// the compile-time constants (`sizeof`, `offsetof`, enum names).
extension ProbeGenerator {
    /// Evaluates `expression` into r0 when it is a read through memory or a type constant;
    /// false when it is neither.
    mutating func integerThroughMemory(_ expression: Expression) throws -> Bool {
        if TraceCompiler.isTypeConstant(expression) {
            var inferScope = scope
            guard let value = compiler.typeConstant(expression, &inferScope) else { try fail("not a constant", expression.range) }
            if let small = Int32(exactly: Int64(bitPattern: value)) { asm.mov(.r0, small) } else { asm.loadImmediate64(.r0, value) }
            return true
        }
        switch expression.kind {
        case .binary(let op, let lhs, let rhs):
            return try pointerArithmetic(op, lhs, rhs, range: expression.range)
        case .call("uptr", let arguments), .call("kptr", let arguments):
            guard let argument = arguments.first else { try fail("expected an argument", expression.range) }
            try integer(argument)
            return true
        case .cast(let type, let operand) where try type.pointerDepth > 0 && !self.type(of: operand).isInteger:
            // An array member cast to a pointer: its address.
            guard let chain = memberChain(operand), let path = compiler.memberAccess(chain, range: operand.range) else {
                try fail("cannot take the address of this value", operand.range)
            }
            asm.load(.doubleWord, .r0, .r10, try memberAddress(chain, path))
            return true
        case .index(let base, let index):
            if case .success(let (offset, _, size, signed))? = compiler.tracepointArrayElement(base, scope) {
                try tracepointArrayElement(offset: offset, size: size, signed: signed, index: index)
                return true
            }
            // Elements of arrays reached through pointers are read alone (below), not copied whole.
            if case .integer(let constant) = index.kind, memberChain(expression) == nil,
               let element = TraceCompiler.arrayValueElement(try type(of: base)),
               let access = AccessSize(byteCount: element.size) {
                // An array value: evaluated into a stack buffer, then one element loaded.
                let buffer = try string(base, size: try type(of: base).storageSize)
                asm.load(access, .r0, .r10, buffer + Int16(Int(constant) * element.size))
                if element.signed && element.size < 8 {
                    let bits = Int32(64 - element.size * 8)
                    asm.alu(.lsh, .r0, bits)
                    asm.alu(.arsh, .r0, bits)
                }
                return true
            }
        case .field, .unary(.dereference, _, _):
            break
        default:
            return false
        }
        guard let chain = memberChain(expression) else { return false }
        guard let path = compiler.memberAccess(chain, range: expression.range) else { try fail("cannot read this member", expression.range) }
        let (size, signed): (Int, Bool)
        switch path.result {
        case .integer(let bytes, let isSigned): (size, signed) = (bytes, isSigned)
        case .pointer: (size, signed) = (8, false)
        case .bitfield(let bytes, let shift, let bits, let isSigned):
            try readValue(size: bytes, from: try memberAddress(chain, path), user: chain.pointee.isUser)
            // Move the field's top bit to bit 63, then shift back: arithmetic for signed fields.
            asm.alu(.lsh, .r0, Int32(64 - shift - bits))
            asm.alu(isSigned ? .arsh : .rsh, .r0, Int32(64 - bits))
            return true
        default:
            try fail("this member is not an integer", expression.range)
        }
        try readValue(size: size, from: try memberAddress(chain, path), user: chain.pointee.isUser)
        if signed && size < 8 {
            let bits = Int32(64 - size * 8)
            asm.alu(.lsh, .r0, bits)
            asm.alu(.arsh, .r0, bits)
        }
        return true
    }

    /// `args->array[index]`: a constant index reads the context directly; a variable one reads
    /// through bpf_probe_read_kernel (the verifier allows only constant context offsets).
    mutating func tracepointArrayElement(offset: Int, size: Int, signed: Bool, index: Expression) throws {
        guard let access = AccessSize(byteCount: size) else { try fail("unsupported element size \(size)", index.range) }
        if case .integer(let constant) = index.kind {
            asm.load(access, .r0, .r9, Int16(offset + Int(constant) * size))
        } else {
            let value = try slot(8)
            zero(value, 8)
            try integer(index)
            asm.alu(.mul, .r0, Int32(size))
            asm.mov(.r3, .r9)
            asm.add(.r3, .r0)
            asm.add(.r3, Int32(offset))
            asm.mov(.r1, .r10)
            asm.add(.r1, Int32(value))
            asm.mov(.r2, Int32(size))
            asm.call(helperID: HelperFunction.probeReadKernel.rawValue)
            asm.load(.doubleWord, .r0, .r10, value)
        }
        if signed && size < 8 {
            let bits = Int32(64 - size * 8)
            asm.alu(.lsh, .r0, bits)
            asm.alu(.arsh, .r0, bits)
        }
    }

    /// Reads what a member chain reaches as a string (a `char` array) or whole byte array into
    /// `buffer` (zeroed, `size` bytes).
    mutating func readThroughMemory(_ expression: Expression, into buffer: Int16, size: Int) throws {
        guard let chain = memberChain(expression), let path = compiler.memberAccess(chain, range: expression.range) else {
            try fail("cannot read this member", expression.range)
        }
        let address = try memberAddress(chain, path)
        switch path.result {
        case .string(let count):
            asm.mov(.r1, .r10)
            asm.add(.r1, Int32(buffer))
            asm.mov(.r2, Int32(min(size, count)))
            asm.load(.doubleWord, .r3, .r10, address)
            asm.call(helperID: (chain.pointee.isUser ? HelperFunction.probeReadUserStr : HelperFunction.probeReadKernelStr).rawValue)
        case .byteArray(let count):
            read(into: buffer, size: min(size, count), from: address, user: chain.pointee.isUser)
        case .integerArray(let elementSize, _, let count):
            read(into: buffer, size: min(size, elementSize * count), from: address, user: chain.pointee.isUser)
        default:
            try fail("this member is not a string", expression.range)
        }
    }

    /// Walks a member chain from its pointer; returns the stack slot holding the final object's
    /// address. The address stays in r0 on the way (constant offsets folded into one add);
    /// pointers met on the way are read from the chain's address space.
    mutating func memberAddress(_ chain: MemberChain, _ path: MemoryPath) throws -> Int16 {
        switch chain.root {
        case .currentTask: asm.call(helperID: HelperFunction.getCurrentTask.rawValue)
        case .value(let pointer): try integer(pointer)
        }
        var pending: Int64 = 0
        for step in path.steps {
            if case .add(let offset) = step {
                pending += Int64(offset)
                continue
            }
            if pending != 0 { asm.add(.r0, Int32(truncatingIfNeeded: pending)) }
            pending = 0
            switch step {
            case .add: break
            case .addIndex(let index, let stride):
                let base = try privateSlot()
                asm.store(.doubleWord, .r10, base, .r0)
                try integer(index)
                asm.alu(.mul, .r0, Int32(stride))
                asm.load(.doubleWord, .r1, .r10, base)
                asm.add(.r0, .r1)
            case .loadPointer:
                let pointer = try slot(8)
                readAddressInR0(into: pointer, size: 8, user: chain.pointee.isUser)
                asm.load(.doubleWord, .r0, .r10, pointer)
            }
        }
        if pending != 0 { asm.add(.r0, Int32(truncatingIfNeeded: pending)) }
        // Callers read it back from a private slot; the peephole pass forwards that reload and
        // drops the store.
        let address = try privateSlot()
        asm.store(.doubleWord, .r10, address, .r0)
        return address
    }

    /// `p + n`, `n + p`, `p - n` into r0: the integer scaled by the pointee's size, so `p + 1`
    /// steps one element as in C. False for other operations.
    mutating func pointerArithmetic(_ op: BinaryOperator, _ lhs: Expression, _ rhs: Expression, range: SourceRange) throws -> Bool {
        guard op == .add || op == .subtract else { return false }
        let leftType = try type(of: lhs), rightType = try type(of: rhs)
        let pointee: TracePointee
        let pointer: Expression, offset: Expression
        switch (leftType, rightType) {
        case (.pointer(let target), .integer): (pointee, pointer, offset) = (target, lhs, rhs)
        case (.integer, .pointer(let target)) where op == .add: (pointee, pointer, offset) = (target, rhs, lhs)
        default: return false
        }
        let stride: Int
        do { stride = try pointee.target.size { try compiler.kernelBTF() } } catch { try fail("\(error)", range) }
        guard stride <= Int(Int32.max) else { try fail("'\(pointee.target)' is too large for pointer arithmetic", range) }
        let base = try slot(8)
        try integer(pointer)
        asm.store(.doubleWord, .r10, base, .r0)
        try integer(offset)
        if stride != 1 { asm.alu(.mul, .r0, Int32(stride)) }
        asm.load(.doubleWord, .r1, .r10, base)
        if op == .add {
            asm.add(.r0, .r1)
        } else {
            asm.sub(.r1, .r0)
            asm.mov(.r0, .r1)
        }
        return true
    }

    /// Reads `size` bytes at the address in `addressSlot` into r0, zero-extended. A failed
    /// bpf_probe_read_* zeroes its destination, so sizes with a load width need no zeroing first.
    mutating func readValue(size: Int, from addressSlot: Int16, user: Bool) throws {
        let value = try slot(8)
        if let access = AccessSize(byteCount: size) {
            read(into: value, size: size, from: addressSlot, user: user)
            asm.load(access, .r0, .r10, value)
        } else {
            zero(value, 8)
            read(into: value, size: size, from: addressSlot, user: user)
            asm.load(.doubleWord, .r0, .r10, value)
        }
    }

    /// Copies `size` bytes of tracepoint array field `name` from the context into `buffer`,
    /// eight bytes at a time (the element sizes of these arrays divide their size).
    mutating func copyTracepointArray(_ name: String, into buffer: Int16, size: Int, range: SourceRange) throws {
        guard let field = context.tracepoint?.field(named: name) else { try fail("no field \(name)", range) }
        var at = 0
        while at < size {
            let chunk = [8, 4, 2, 1].first { $0 <= size - at } ?? 1
            guard let access = AccessSize(byteCount: chunk) else { break }
            asm.load(access, .r1, .r9, Int16(field.offset + at))
            asm.store(access, .r10, buffer + Int16(at), .r1)
            at += chunk
        }
    }
}
