import BPFObject
import Foundation

extension ProbeGenerator {
    mutating func type(of expression: Expression) throws -> TraceValueType {
        var inferScope = scope
        guard let type = compiler.inferType(expression, &inferScope) else {
            throw TraceCompiler.Failure(diagnostics: compiler.diagnostics.errors)
        }
        return type
    }

    /// Evaluates an integer expression into r0.
    mutating func integer(_ expression: Expression) throws {
        if try integerThroughMemory(expression) { return }
        switch expression.kind {
        case .integer(let value):
            if let small = Int32(exactly: value) { asm.mov(.r0, small) } else { asm.loadImmediate64(.r0, UInt64(bitPattern: value)) }
        case .positionalParameter(let index):
            let text = index > 0 && index <= compiler.options.positionalParameters.count ? compiler.options.positionalParameters[index - 1] : "0"
            asm.loadImmediate64(.r0, UInt64(bitPattern: Int64(text) ?? 0))
        case .parameterCount:
            asm.mov(.r0, Int32(compiler.options.positionalParameters.count))
        case .builtin(let name):
            switch name {
            case "pid":
                asm.call(helperID: HelperFunction.getCurrentPidTgid.rawValue)
                asm.alu(.rsh, .r0, 32)
            case "tid":
                asm.call(helperID: HelperFunction.getCurrentPidTgid.rawValue)
                asm.mov32(.r0, .r0)
            case "uid":
                asm.call(helperID: HelperFunction.getCurrentUidGid.rawValue)
                asm.mov32(.r0, .r0)
            case "gid":
                asm.call(helperID: HelperFunction.getCurrentUidGid.rawValue)
                asm.alu(.rsh, .r0, 32)
            case "nsecs":
                asm.call(helperID: HelperFunction.ktimeGetNs.rawValue)
            case "probe":
                // The attach point's index in `CompiledScript.probeNames`; a constant per program.
                asm.mov(.r0, Int32(compiler.probeNames.firstIndex(of: context.probeName) ?? 0))
            case "elapsed":
                asm.call(helperID: HelperFunction.ktimeGetNs.rawValue)
                startTimeSlots.append(asm.count)
                asm.loadImmediate64(.r1, 0)
                asm.sub(.r0, .r1)
            case "cpid":
                childProcessSlots.append(asm.count)
                asm.loadImmediate64(.r0, 0)
            case "cpu":
                asm.call(helperID: HelperFunction.getSmpProcessorId.rawValue)
            case "jiffies":
                asm.call(helperID: HelperFunction.jiffies64.rawValue)
            case "username":
                // The uid; the runtime names it.
                asm.call(helperID: HelperFunction.getCurrentUidGid.rawValue)
                asm.mov32(.r0, .r0)
            case "rand":
                asm.call(helperID: HelperFunction.getPrandomU32.rawValue)
            case "numaid":
                asm.call(helperID: HelperFunction.getNumaNodeId.rawValue)
            case "cgroup":
                asm.call(helperID: HelperFunction.getCurrentCgroupId.rawValue)
            case "curtask":
                asm.call(helperID: HelperFunction.getCurrentTask.rawValue)
            case "kstack", "ustack":
                try stackID(user: name == "ustack", TraceStack())
            case "retval":
                if case .kernelFunction(let parameters, _, let returnValue) = context.arguments {
                    // fexit's context: the parameters' u64 slots, then the return value.
                    asm.load(.doubleWord, .r0, .r9, Int16(parameters.count * 8))
                    if case .integer(let size, let signed)? = returnValue { extendInRegister(size: size, signed: signed) }
                } else {
                    asm.load(.doubleWord, .r0, .r9, TraceCompiler.returnValueOffset)
                }
            case _ where name.hasPrefix("sarg") && Int(name.dropFirst(4)) != nil:
                try stackArgument(Int(name.dropFirst(4))!)
            case _ where name.hasPrefix("arg") && Int(name.dropFirst(3)) != nil:
                let index = Int(name.dropFirst(3))!
                switch context.arguments {
                case .rawTracepoint, .kernelFunction: asm.load(.doubleWord, .r0, .r9, Int16(index * 8))
                case .registers: asm.load(.doubleWord, .r0, .r9, TraceCompiler.argumentRegisterOffsets[index])
                case .usdt(let arguments, _): try usdtArgument(arguments[index])
                case .none: try fail("\(name) is not available in this probe", expression.range)
                }
            default:
                try fail("swiftbpf trace does not support the builtin '\(name)' as an integer yet", expression.range)
            }
        case .variable(let name):
            guard let slot = variableSlots[name] else { try fail("Undefined or undeclared variable: \(name)", expression.range) }
            asm.load(.doubleWord, .r0, .r10, slot)
        case .map(let name, let keys):
            guard let index = compiler.mapIndex[name] else { try fail("Undefined map: \(name)", expression.range) }
            let map = compiler.maps[index]
            let key = try mapKey(map, keys, range: expression.range)
            let missing = newLabel("map.missing"), done = newLabel("map.done")
            lookup(Int32(index + 1), key: key)
            asm.jump(.eq, .r0, 0, to: missing)
            if map.kind == .avg || map.kind == .stats {
                asm.load(.doubleWord, .r1, .r0, 0)
                asm.load(.doubleWord, .r2, .r0, 8)
                asm.mov(.r0, .r1)
                asm.signedDiv(.r0, .r2)
            } else {
                asm.load(.doubleWord, .r0, .r0, 0)
            }
            asm.jump(to: done)
            asm.label(missing)
            asm.mov(.r0, 0)
            asm.label(done)
        case .binary(let op, let lhs, let rhs):
            let leftType = try type(of: lhs)
            if leftType.isString {
                try stringComparison(op, lhs, rhs)
                return
            }
            if case .byteArray(let count) = leftType {
                try byteArrayComparison(op, lhs, rhs, count: count)
                return
            }
            if op == .logicalAnd || op == .logicalOr {
                let done = newLabel("logic.done")
                try integer(lhs)
                asm.mov(.r1, .r0)
                asm.mov(.r0, op == .logicalAnd ? 0 : 1)
                asm.jump(op == .logicalAnd ? .eq : .ne, .r1, 0, to: done)
                try integer(rhs)
                asm.mov(.r1, .r0)
                asm.mov(.r0, 1)
                asm.jump(.ne, .r1, 0, to: done)
                asm.mov(.r0, 0)
                asm.label(done)
                return
            }
            let rightType = try type(of: rhs)
            let signed: Bool = {
                if case .integer(let a) = leftType, case .integer(let b) = rightType { return a && b }
                return false
            }()
            try integer(lhs)
            if let immediate = immediateOperand(op, rhs) {
                binaryOperation(op, signed: signed, left: .r0, right: .immediate(immediate))
                return
            }
            if case .integer(let value) = rhs.kind {
                // A literal too wide for an immediate: lddw into r2 (binaryOperation uses r1).
                asm.loadImmediate64(.r2, UInt64(bitPattern: value))
                binaryOperation(op, signed: signed, left: .r0, right: .register(.r2))
                return
            }
            let saved = try save()
            switch saved {
            case .register(let left):
                try integer(rhs)
                release(saved)
                binaryOperation(op, signed: signed, left: left, right: .register(.r0))
            case .slot(let left):
                try integer(rhs)
                asm.mov(.r2, .r0)
                asm.load(.doubleWord, .r0, .r10, left)
                binaryOperation(op, signed: signed, left: .r0, right: .register(.r2))
            }
        case .unary(let op, let operand, _):
            try integer(operand)
            switch op {
            case .logicalNot:
                let done = newLabel("not.done")
                asm.mov(.r1, .r0)
                asm.mov(.r0, 1)
                asm.jump(.eq, .r1, 0, to: done)
                asm.mov(.r0, 0)
                asm.label(done)
            case .bitNot: asm.alu(.xor, .r0, -1)
            case .negate: asm.neg(.r0)
            case .dereference:
                // `*addr` reads 8 bytes: user memory in uprobes, kernel memory elsewhere (bpftrace's
                // address spaces); a failed read yields 0 (bpf_probe_read_* zeroes the buffer).
                let value = try slot(8)
                readAddressInR0(into: value, size: 8, user: context.pointersAreUserMemory)
                asm.load(.doubleWord, .r0, .r10, value)
            default: try fail("swiftbpf trace does not support '\(op.rawValue)' here yet", expression.range)
            }
        case .ternary(let condition, let then, let otherwise):
            let elseLabel = newLabel("ternary.else"), done = newLabel("ternary.done")
            try integer(condition)
            asm.jump(.eq, .r0, 0, to: elseLabel)
            try integer(then)
            asm.jump(to: done)
            asm.label(elseLabel)
            try integer(otherwise)
            asm.label(done)
        case .field(_, let name, _) where context.kernelFunctionParameter(named: name) != nil:
            // kfunc `args->name`: the parameter's u64 slot in the context.
            let (index, parameter) = context.kernelFunctionParameter(named: name)!
            asm.load(.doubleWord, .r0, .r9, Int16(index * 8))
            if case .integer(let size, let signed) = parameter.kind { extendInRegister(size: size, signed: signed) }
        case .field(_, let name, _):
            guard let field = context.tracepoint?.field(named: name), let size = AccessSize(byteCount: field.size) else {
                try fail("cannot read field '\(name)' as an integer", expression.range)
            }
            asm.load(size, .r0, .r9, Int16(field.offset))
            if field.isSigned && field.size < 8 {
                let bits = Int32(64 - field.size * 8)
                asm.alu(.lsh, .r0, bits)
                asm.alu(.arsh, .r0, bits)
            }
        case .cast(let typeName, let operand):
            try integer(operand)
            // A struct pointer cast changes only the type.
            if typeName.pointerDepth > 0 { return }
            guard let width = castWidth(typeName.name) else { try fail("Cannot cast to \"\(typeName)\"", expression.range) }
            if width.bytes < 8 {
                let bits = Int32(64 - width.bytes * 8)
                asm.alu(.lsh, .r0, bits)
                asm.alu(width.signed ? .arsh : .rsh, .r0, bits)
            }
        case .call(let name, _) where name == "kstack" || name == "ustack":
            switch try type(of: expression) {
            case .kernelStack(let stack): try stackID(user: false, stack)
            case .userStack(let stack): try stackID(user: true, stack)
            default: try fail("\(name)() has no stack type", expression.range)
            }
        case .tupleIndex(let base, let index):
            let (buffer, offset, _) = try tupleElement(base, index)
            asm.load(.doubleWord, .r0, .r10, buffer + Int16(offset))
        case .call("ksym", let arguments), .call("strftime", let arguments):
            try integer(arguments[arguments.count - 1])
        case .call(let name, let arguments) where name == "kaddr" || name == "uaddr":
            guard case .string(let bytes) = arguments.first?.kind else { try fail("\(name)() expects a string literal", expression.range) }
            let symbol = String(decoding: bytes, as: UTF8.self)
            let address = name == "kaddr" ? compiler.options.kernelSymbolAddress?(symbol)
                : context.binary.flatMap { compiler.options.userSymbolAddress?($0, symbol) }
            guard let address else { try fail("Failed to resolve symbol: \(symbol)", expression.range) }
            asm.loadImmediate64(.r0, address)
        case .call("macaddr", let arguments):
            // Six bytes from the address into a zeroed u64, kept in memory order for printing.
            let value = try slot(8)
            asm.store(.doubleWord, .r10, value, immediate: 0)
            try integer(arguments[0])
            readAddressInR0(into: value, size: 6, user: context.pointersAreUserMemory)
            asm.load(.doubleWord, .r0, .r10, value)
        case .call("cgroupid", let arguments):
            guard case .string(let bytes) = arguments.first?.kind,
                  case .success(let id) = TraceCompiler.cgroupID(path: String(decoding: bytes, as: UTF8.self)) else {
                try fail("cgroupid() expects an existing cgroup path", expression.range)
            }
            asm.loadImmediate64(.r0, id)
        case .call("reg", let arguments):
            guard case .string(let bytes) = arguments.first?.kind, let offset = ProbeRegisters.offsets[String(decoding: bytes, as: UTF8.self)] else {
                try fail("reg() expects a register name", expression.range)
            }
            // r9 holds the probe's context, the `struct pt_regs` of the probed task.
            asm.load(.doubleWord, .r0, .r9, offset)
        case .call("len", let arguments):
            guard case .map(let name, let keys)? = arguments.first?.kind, keys.isEmpty, let index = compiler.mapIndex[name] else {
                try fail("len() expects a map to be provided", expression.range)
            }
            // The map's type is known only once every probe was read (it may be assigned later).
            if compiler.maps[index].keyTypes.isEmpty { try fail(TraceCompiler.lenOfScalarMap, arguments[0].range) }
            // bpf_for_each_map_elem(map, callback, ctx, flags) returns how many elements it
            // visited; the callback never stops the walk.
            asm.loadMapIndex(.r1, Int32(index + 1))
            // The callback's address is filled in once the program's final length is known.
            callbackReferenceSlots.append(asm.count)
            asm.loadImmediate64(.r2, 0)
            asm.mov(.r3, 0)
            asm.mov(.r4, 0)
            asm.call(helperID: HelperFunction.forEachMapElem.rawValue)
        case .call(let name, let arguments) where Self.checkedIntegerFunctions.contains(name):
            try checkedInteger(name, arguments, expression)
        case .call(let name, _):
            try fail("\(name)() does not return an integer", expression.range)
        default:
            try fail("swiftbpf trace does not support this expression yet", expression.range)
        }
    }

    /// Jumps to `label` when `condition` is false. Integer comparisons (and `&&` of them, `!x`)
    /// become the conditional jump itself instead of a 0/1 value tested against 0.
    mutating func branch(unless condition: Expression, to label: String) throws {
        switch condition.kind {
        case .binary(.logicalAnd, let lhs, let rhs):
            try branch(unless: lhs, to: label)
            try branch(unless: rhs, to: label)
            return
        case .unary(.logicalNot, let operand, _) where try type(of: operand).isRegisterValue:
            try integer(operand)
            asm.jump(.ne, .r0, 0, to: label)
            return
        case .binary(let op, let lhs, let rhs):
            if try branchOnLiteralComparison(op, lhs, rhs, unlessTo: label) { return }
            if try branchOnIntegerComparison(op, lhs, rhs, unlessTo: label) { return }
        default:
            break
        }
        try integer(condition)
        asm.jump(.eq, .r0, 0, to: label)
    }

    /// An integer comparison as one conditional jump to `label` when it is false; false (and
    /// nothing emitted) for any other operator or operand type.
    mutating func branchOnIntegerComparison(_ op: BinaryOperator, _ lhs: Expression, _ rhs: Expression, unlessTo label: String) throws -> Bool {
        let leftType = try type(of: lhs), rightType = try type(of: rhs)
        guard leftType.isRegisterValue, rightType.isRegisterValue else { return false }
        let signed: Bool = if case .integer(let a) = leftType, case .integer(let b) = rightType { a && b } else { false }
        guard let condition = comparisonCondition(op, signed: signed), let otherwise = Self.inverse(condition) else { return false }
        try integer(lhs)
        if let immediate = immediateOperand(op, rhs) {
            asm.jump(otherwise, .r0, immediate, to: label)
            return true
        }
        if case .integer(let value) = rhs.kind {
            asm.loadImmediate64(.r2, UInt64(bitPattern: value))
            asm.jump(otherwise, .r0, .r2, to: label)
            return true
        }
        let saved = try save()
        switch saved {
        case .register(let left):
            try integer(rhs)
            release(saved)
            asm.jump(otherwise, left, .r0, to: label)
        case .slot(let left):
            try integer(rhs)
            asm.mov(.r2, .r0)
            asm.load(.doubleWord, .r0, .r10, left)
            asm.jump(otherwise, .r0, .r2, to: label)
        }
        return true
    }

    /// A string compared with a literal (`==`/`!=`): each byte decides at once, up to the
    /// literal's NUL, jumping to `label` when the comparison is false. False when not that case.
    mutating func branchOnLiteralComparison(_ op: BinaryOperator, _ lhs: Expression, _ rhs: Expression, unlessTo label: String) throws -> Bool {
        let leftType = try type(of: lhs), rightType = try type(of: rhs)
        guard op == .equal || op == .notEqual, leftType.isString,
              let (other, otherType, literal) = literalComparison(lhs, leftType, rhs, rightType) else { return false }
        let size = min(leftType.storageSize, rightType.storageSize)
        let buffer = try string(other, size: otherType.storageSize)
        let mismatch = op == .equal ? label : newLabel("strne.true")
        for index in 0..<size {
            let byte = index < literal.count ? literal[index] : 0
            asm.load(.byte, .r1, .r10, buffer + Int16(index))
            asm.jump(.ne, .r1, Int32(byte), to: mismatch)
            if byte == 0 { break }
        }
        if op == .notEqual {
            asm.jump(to: label)
            asm.label(mismatch)
        }
        return true
    }

    /// The condition that holds exactly when `condition` does not.
    static func inverse(_ condition: JumpCondition) -> JumpCondition? {
        switch condition {
        case .eq: .ne
        case .ne: .eq
        case .gt: .le
        case .le: .gt
        case .ge: .lt
        case .lt: .ge
        case .sgt: .sle
        case .sle: .sgt
        case .sge: .slt
        case .slt: .sge
        case .always, .set: nil
        }
    }

    /// `rhs` as an instruction immediate, when it is a literal the verifier accepts there
    /// (no division by a zero immediate, shifts below 64).
    func immediateOperand(_ op: BinaryOperator, _ rhs: Expression) -> Int32? {
        guard case .integer(let value) = rhs.kind, let immediate = Int32(exactly: value) else { return nil }
        switch op {
        case .divide, .modulo: return immediate == 0 ? nil : immediate
        case .shiftLeft, .shiftRight: return (0..<64).contains(immediate) ? immediate : nil
        default: return immediate
        }
    }

    /// r0 = left op right, for the arithmetic, bitwise and comparison operators.
    mutating func binaryOperation(_ op: BinaryOperator, signed: Bool, left: Register, right: Operand) {
        func alu(_ operation: ALUOperation) {
            switch right {
            case .immediate(let value): asm.alu(operation, left, value)
            case .register(let register): asm.alu(operation, left, register)
            }
            if left != .r0 { asm.mov(.r0, left) }
        }
        switch op {
        case .add: alu(.add)
        case .subtract: alu(.sub)
        case .multiply: alu(.mul)
        // bpftrace 0.17 always emits BPF's unsigned div/mod (so -5 / 2 is 2^63 - 3, with a
        // warning); division by zero does not fault in BPF, it yields 0 (mod: the dividend).
        case .divide: alu(.div)
        case .modulo: alu(.mod)
        case .bitAnd: alu(.and)
        case .bitOr: alu(.or)
        case .bitXor: alu(.xor)
        case .shiftLeft: alu(.lsh)
        case .shiftRight: alu(signed ? .arsh : .rsh)
        case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual:
            let condition = comparisonCondition(op, signed: signed)!
            let yes = newLabel("cmp.true")
            // Neither operand may live in r0 once r0 is set to the result.
            var (left, right) = (left, right)
            if left == .r0 { asm.mov(.r1, .r0); left = .r1 }
            if right == .register(.r0) { asm.mov(.r1, .r0); right = .register(.r1) }
            asm.mov(.r0, 1)
            switch right {
            case .immediate(let value): asm.jump(condition, left, value, to: yes)
            case .register(let register): asm.jump(condition, left, register, to: yes)
            }
            asm.mov(.r0, 0)
            asm.label(yes)
        case .logicalAnd, .logicalOr: break
        }
    }

    func comparisonCondition(_ op: BinaryOperator, signed: Bool) -> JumpCondition? {
        switch op {
        case .equal: .eq
        case .notEqual: .ne
        case .less: signed ? .slt : .lt
        case .lessEqual: signed ? .sle : .le
        case .greater: signed ? .sgt : .gt
        case .greaterEqual: signed ? .sge : .ge
        default: nil
        }
    }

    /// r0 = the id of the current kernel or user stack in the stack-trace map for `stack.limit`
    /// (bpf_get_stackid; negative when it fails); user stacks carry the pid in the high 32 bits
    /// so the runtime can symbolise them against that process's mappings, as bpftrace does.
    mutating func stackID(user: Bool, _ stack: TraceStack) throws {
        asm.mov(.r1, .r9)
        asm.loadMapIndex(.r2, compiler.stackMapReference(limit: stack.limit))
        // BPF_F_USER_STACK (include/uapi/linux/bpf.h) selects the user stack.
        asm.mov(.r3, user ? 1 << 8 : 0)
        asm.call(helperID: HelperFunction.getStackid.rawValue)
        guard user else { return }
        let id = try slot(8)
        asm.mov32(.r0, .r0)
        asm.store(.doubleWord, .r10, id, .r0)
        asm.call(helperID: HelperFunction.getCurrentPidTgid.rawValue)
        asm.alu(.rsh, .r0, 32)
        asm.alu(.lsh, .r0, 32)
        asm.load(.doubleWord, .r1, .r10, id)
        asm.alu(.or, .r0, .r1)
    }

    /// Evaluates a string expression into a fresh zeroed stack buffer of `size` bytes.
    mutating func string(_ expression: Expression, size: Int) throws -> Int16 {
        let buffer = try slot(size)
        try string(expression, into: buffer, size: size)
        return buffer
    }

    /// Evaluates a string expression into the stack buffer at `buffer` (8-byte aligned), zeroed
    /// first so that every one of its `size` bytes is defined.
    mutating func string(_ expression: Expression, into buffer: Int16, size: Int) throws {
        if size % 8 == 0, let bytes = try constantBytes(expression, size: size) {
            storeConstantBytes(bytes, at: buffer, size: size)
            mark()
            return
        }
        if case .field = expression.kind, let chain = memberChain(expression),
           let access = compiler.memberAccess(chain, range: expression.range), case .string(let count) = access.result {
            // A char array at least as long as the buffer: copied whole, as bpftrace does, so no
            // zeroing is needed (a failed bpf_probe_read_* zeroes the buffer itself). Other
            // arrays and shorter strings take the general path below.
            if count >= size {
                let address = try memberAddress(chain, access)
                read(into: buffer, size: size, from: address, user: chain.pointee.isUser)
                mark()
                return
            }
        }
        zero(buffer, size)
        switch expression.kind {
        case .string(let bytes):
            for (index, byte) in bytes.prefix(size - 1).enumerated() {
                asm.store(.byte, .r10, buffer + Int16(index), immediate: Int32(byte))
            }
        case .positionalParameter(let index):
            let text = index > 0 && index <= compiler.options.positionalParameters.count ? compiler.options.positionalParameters[index - 1] : ""
            for (offset, byte) in Array(text.utf8).prefix(size - 1).enumerated() {
                asm.store(.byte, .r10, buffer + Int16(offset), immediate: Int32(byte))
            }
        case .builtin("comm"):
            asm.mov(.r1, .r10)
            asm.add(.r1, Int32(buffer))
            asm.mov(.r2, Int32(min(size, 16)))
            asm.call(helperID: HelperFunction.getCurrentComm.rawValue)
        case .builtin("func"):
            let text = context.function ?? ""
            // Zero-filled first so shorter names (one program per expanded point) compare and print right.
            for offset in stride(from: 0, to: size, by: 8) { asm.store(.doubleWord, .r10, buffer + Int16(offset), immediate: 0) }
            for (index, byte) in Array(text.utf8).prefix(size - 1).enumerated() {
                asm.store(.byte, .r10, buffer + Int16(index), immediate: Int32(byte))
            }
        case .variable(let name):
            guard let source = variableSlots[name], let type = scope.variables[name] else { try fail("Undefined or undeclared variable: \(name)", expression.range) }
            copy(from: source, to: buffer, size: min(size, type.storageSize))
        case .map(let name, let keys):
            guard let index = compiler.mapIndex[name] else { try fail("Undefined map: \(name)", expression.range) }
            let map = compiler.maps[index]
            let key = try mapKey(map, keys, range: expression.range)
            let done = newLabel("strmap.done")
            lookup(Int32(index + 1), key: key)
            asm.jump(.eq, .r0, 0, to: done)
            // 8 bytes at a time (the buffer is 8-aligned; map values may be read unaligned), then bytes.
            var at = 0
            let count = min(size, map.kind.valueSize)
            while at + 8 <= count {
                asm.load(.doubleWord, .r1, .r0, Int16(at))
                asm.store(.doubleWord, .r10, buffer + Int16(at), .r1)
                at += 8
            }
            while at < count {
                asm.load(.byte, .r1, .r0, Int16(at))
                asm.store(.byte, .r10, buffer + Int16(at), .r1)
                at += 1
            }
            asm.label(done)
        case .field, .index, .unary(.dereference, _, _):
            if case .field(_, let name, _) = expression.kind, memberChain(expression) == nil {
                if case .integerArray(let elementSize, _, let count) = try type(of: expression) {
                    try copyTracepointArray(name, into: buffer, size: min(size, elementSize * count), range: expression.range)
                    break
                }
                try readStringField(name, into: buffer, size: size, range: expression.range)
            } else {
                try readThroughMemory(expression, into: buffer, size: size)
            }
        case .tuple(let elements):
            var offset = 0
            for element in elements {
                let type = try type(of: element)
                if type.isRegisterValue {
                    try integer(element)
                    asm.store(.doubleWord, .r10, buffer + Int16(offset), .r0)
                } else {
                    let part = try string(element, size: type.storageSize)
                    copy(from: part, to: buffer + Int16(offset), size: type.storageSize)
                }
                offset += type.storageSize
            }
        case .tupleIndex(let base, let index):
            let (source, offset, type) = try tupleElement(base, index)
            copy(from: source + Int16(offset), to: buffer, size: min(size, type.storageSize))
        case .call("buf", let arguments):
            // [length, bytes...]: read from user memory in uprobes, kernel memory elsewhere.
            guard case .buffer(let capacity) = try type(of: expression) else { try fail("buf() needs a buffer type", expression.range) }
            try integer(arguments[0])
            asm.mov(.r3, .r0)
            asm.mov(.r1, .r10)
            asm.add(.r1, Int32(buffer + 8))
            asm.mov(.r2, Int32(capacity))
            let isUser = context.pointersAreUserMemory
            // Elsewhere bpf_probe_read, as bpftrace: a tracepoint's pointer may be a user one
            // (syscall arguments), and x86-64 user and kernel addresses do not overlap.
            asm.call(helperID: (isUser ? HelperFunction.probeReadUser : HelperFunction.probeRead).rawValue)
            asm.mov(.r1, Int32(capacity))
            asm.store(.doubleWord, .r10, buffer, .r1)
        case .call("pton", let arguments):
            guard case .string(let bytes) = arguments.first?.kind, let address = TraceCompiler.networkAddress(String(decoding: bytes, as: UTF8.self)) else {
                try fail("pton() expects an IPv4/IPv6 address", expression.range)
            }
            for (index, byte) in address.prefix(size).enumerated() {
                asm.store(.byte, .r10, buffer + Int16(index), immediate: Int32(byte))
            }
        case .call("ntop", let arguments):
            // [family, 16 address bytes]: bpftrace's inet value.
            let address = arguments[arguments.count - 1]
            let addressType = try type(of: address)
            if arguments.count == 2 {
                try integer(arguments[0])
                asm.store(.doubleWord, .r10, buffer, .r0)
            } else {
                let isIPv6: Bool = if case .byteArray(16) = addressType { true } else { false }
                asm.store(.doubleWord, .r10, buffer, immediate: isIPv6 ? AF_INET6 : AF_INET)
            }
            switch addressType {
            case .byteArray(let count), .string(let count):
                let source = try string(address, size: addressType.storageSize)
                copy(from: source, to: buffer + 8, size: Swift.min(16, count))
            default:
                // An integer holds an IPv4 address in network order in its low (first) 4 bytes.
                try integer(address)
                asm.store(.doubleWord, .r10, buffer + 8, .r0)
            }
        case .call("usym", let arguments):
            // [address, pid]: the address means something only in that process's mappings.
            try integer(arguments[0])
            asm.store(.doubleWord, .r10, buffer, .r0)
            asm.call(helperID: HelperFunction.getCurrentPidTgid.rawValue)
            asm.alu(.rsh, .r0, 32)
            asm.store(.doubleWord, .r10, buffer + 8, .r0)
        case .call("str", let arguments):
            guard let argument = arguments.first else { try fail("str() needs an argument", expression.range) }
            if case .field(_, let name, _) = argument.kind, let field = context.tracepoint?.field(named: name), field.kind != .scalar {
                try readStringField(name, into: buffer, size: size, range: argument.range)
                return
            }
            let argumentType = try type(of: argument)
            if argumentType.isString {
                let source = try string(argument, size: size)
                copy(from: source, to: buffer, size: size)
                return
            }
            try readString(argument, length: arguments.count > 1 ? arguments[1] : nil, into: buffer, size: size)
        case .ternary(let condition, let then, let otherwise):
            let elseLabel = newLabel("sternary.else"), done = newLabel("sternary.done")
            try integer(condition)
            asm.jump(.eq, .r0, 0, to: elseLabel)
            let a = try string(then, size: size)
            copy(from: a, to: buffer, size: size)
            asm.jump(to: done)
            asm.label(elseLabel)
            let b = try string(otherwise, size: size)
            copy(from: b, to: buffer, size: size)
            asm.label(done)
        default:
            try fail("swiftbpf trace does not support this string expression yet", expression.range)
        }
        mark()
    }

    /// The bytes of a string known at compile time (literals, positional parameters, `probe`,
    /// `func`, `pton`), cut as the code that stores them byte by byte would.
    mutating func constantBytes(_ expression: Expression, size: Int) throws -> [UInt8]? {
        switch expression.kind {
        case .string(let bytes):
            return Array(bytes.prefix(size - 1))
        case .positionalParameter(let index):
            let text = index > 0 && index <= compiler.options.positionalParameters.count ? compiler.options.positionalParameters[index - 1] : ""
            return Array(Array(text.utf8).prefix(size - 1))
        case .builtin("func"):
            let text = context.function ?? ""
            return Array(Array(text.utf8).prefix(size - 1))
        case .call("pton", let arguments):
            guard case .string(let bytes) = arguments.first?.kind, let address = TraceCompiler.networkAddress(String(decoding: bytes, as: UTF8.self)) else {
                try fail("pton() expects an IPv4/IPv6 address", expression.range)
            }
            return Array(address.prefix(size))
        default:
            return nil
        }
    }

    /// Fills the `size` bytes (a multiple of 8) at `buffer` with `bytes` and zeros, 8 at a time:
    /// one ST for a chunk whose value sign-extends from 32 bits, else lddw + STX.
    mutating func storeConstantBytes(_ bytes: [UInt8], at buffer: Int16, size: Int) {
        for start in stride(from: 0, to: size, by: 8) {
            var chunk: UInt64 = 0
            for index in 0..<8 where start + index < bytes.count {
                chunk |= UInt64(bytes[start + index]) << (8 * UInt64(index))
            }
            storeConstant(chunk, at: buffer + Int16(start))
        }
    }

    /// `tuple.N`: the tuple evaluated into a stack buffer, the element's offset in it and its type.
    mutating func tupleElement(_ base: Expression, _ index: Int) throws -> (Int16, Int, TraceValueType) {
        guard case .tuple(let elements) = try type(of: base), index < elements.count else { try fail("not a tuple", base.range) }
        let buffer = try string(base, size: elements.reduce(0) { $0 + $1.storageSize })
        let offset = elements.prefix(index).reduce(0) { $0 + $1.storageSize }
        return (buffer, offset, elements[index])
    }

    /// The member chain `expression` reads, if it is one.
    mutating func memberChain(_ expression: Expression) -> MemberChain? {
        var inferScope = scope
        return compiler.memberChain(expression, &inferScope)
    }

    /// bpf_probe_read_user/kernel(r10 + target, size, *(u64 *)(r10 + addressSlot)).
    mutating func read(into target: Int16, size: Int, from addressSlot: Int16, user: Bool) {
        asm.load(.doubleWord, .r3, .r10, addressSlot)
        readAddressInR3(into: target, size: size, user: user)
    }

    /// bpf_probe_read_user/kernel(r10 + target, size, r0).
    mutating func readAddressInR0(into target: Int16, size: Int, user: Bool) {
        asm.mov(.r3, .r0)
        readAddressInR3(into: target, size: size, user: user)
    }

    /// bpf_probe_read_user/kernel(r10 + target, size, r3).
    mutating func readAddressInR3(into target: Int16, size: Int, user: Bool) {
        asm.mov(.r1, .r10)
        asm.add(.r1, Int32(target))
        asm.mov(.r2, Int32(size))
        asm.call(helperID: (user ? HelperFunction.probeReadUser : HelperFunction.probeReadKernel).rawValue)
    }

    /// Copies a tracepoint char array or `__data_loc char[]` field into `buffer`.
    mutating func readStringField(_ name: String, into buffer: Int16, size: Int, range: SourceRange) throws {
        guard let field = context.tracepoint?.field(named: name) else { try fail("no field \(name)", range) }
        asm.mov(.r3, .r9)
        switch field.kind {
        case .array:
            asm.add(.r3, Int32(field.offset))
        case .dataLocation, .relativeLocation:
            // u32: low 16 bits offset (from the record, or from the field's end for __rel_loc).
            asm.load(.word, .r1, .r9, Int16(field.offset))
            asm.alu(.and, .r1, 0xFFFF)
            asm.add(.r3, .r1)
            if field.kind == .relativeLocation { asm.add(.r3, Int32(field.offset + field.size)) }
        case .scalar:
            try fail("field \(name) is not a string", range)
        }
        asm.mov(.r1, .r10)
        asm.add(.r1, Int32(buffer))
        if case .array(let count?) = field.kind { asm.mov(.r2, Int32(min(size, count))) } else { asm.mov(.r2, Int32(size)) }
        asm.call(helperID: HelperFunction.probeReadStr.rawValue)
    }

    /// `a == b` / `a != b` on byte arrays of `count` bytes (every byte counts, NULs too), result in r0.
    mutating func byteArrayComparison(_ op: BinaryOperator, _ lhs: Expression, _ rhs: Expression, count: Int) throws {
        let size = alignedStringSize(count)
        let left = try string(lhs, size: size)
        let right = try string(rhs, size: size)
        let differ = newLabel("arrayeq.differ"), done = newLabel("arrayeq.done")
        for index in 0..<count {
            asm.load(.byte, .r1, .r10, left + Int16(index))
            asm.load(.byte, .r2, .r10, right + Int16(index))
            asm.jump(.ne, .r1, .r2, to: differ)
        }
        asm.mov(.r0, op == .equal ? 1 : 0)
        asm.jump(to: done)
        asm.label(differ)
        asm.mov(.r0, op == .equal ? 0 : 1)
        asm.label(done)
    }

    /// For a comparison of a string with a literal: the other operand, its type, and the literal's
    /// bytes (as stored: at most its storage size less the NUL).
    func literalComparison(_ lhs: Expression, _ leftType: TraceValueType, _ rhs: Expression, _ rightType: TraceValueType) -> (Expression, TraceValueType, [UInt8])? {
        switch (lhs.kind, rhs.kind) {
        case (.string, .string): return nil
        default: break
        }
        if case .string(let bytes) = rhs.kind { return (lhs, leftType, Array(bytes.prefix(rightType.storageSize - 1))) }
        if case .string(let bytes) = lhs.kind { return (rhs, rightType, Array(bytes.prefix(leftType.storageSize - 1))) }
        return nil
    }

    /// `a == b` / `a != b` on strings: byte by byte up to the first NUL, result in r0.
    mutating func stringComparison(_ op: BinaryOperator, _ lhs: Expression, _ rhs: Expression) throws {
        let leftType = try type(of: lhs), rightType = try type(of: rhs)
        let size = min(leftType.storageSize, rightType.storageSize)
        // Against a literal, each byte of the other side is compared with an immediate.
        if let (other, otherType, literal) = literalComparison(lhs, leftType, rhs, rightType) {
            let buffer = try string(other, size: otherType.storageSize)
            let differ = newLabel("streq.differ"), done = newLabel("streq.done")
            for index in 0..<size {
                let byte = index < literal.count ? literal[index] : 0
                asm.load(.byte, .r1, .r10, buffer + Int16(index))
                asm.jump(.ne, .r1, Int32(byte), to: differ)
                if byte == 0 { break }
            }
            asm.mov(.r0, op == .equal ? 1 : 0)
            asm.jump(to: done)
            asm.label(differ)
            asm.mov(.r0, op == .equal ? 0 : 1)
            asm.label(done)
            return
        }
        let left = try string(lhs, size: leftType.storageSize)
        let right = try string(rhs, size: rightType.storageSize)
        let equal = newLabel("streq.equal"), differ = newLabel("streq.differ"), done = newLabel("streq.done")
        for index in 0..<size {
            asm.load(.byte, .r1, .r10, left + Int16(index))
            asm.load(.byte, .r2, .r10, right + Int16(index))
            asm.jump(.ne, .r1, .r2, to: differ)
            asm.jump(.eq, .r1, 0, to: equal)
        }
        asm.label(equal)
        asm.mov(.r0, op == .equal ? 1 : 0)
        asm.jump(to: done)
        asm.label(differ)
        asm.mov(.r0, op == .equal ? 0 : 1)
        asm.label(done)
    }

    /// Truncates r0 to `size` bytes, sign- or zero-extended (a narrow value in a u64 slot).
    mutating func extendInRegister(size: Int, signed: Bool) {
        guard size < 8 else { return }
        let bits = Int32(64 - size * 8)
        asm.alu(.lsh, .r0, bits)
        asm.alu(signed ? .arsh : .rsh, .r0, bits)
    }
}

extension TraceCompiler.ProbeContext {
    /// The position and type of kfunc parameter `name`, when this is a kfunc/kretfunc probe.
    func kernelFunctionParameter(named name: String) -> (Int, KernelFunctionParameter)? {
        guard case .kernelFunction(let parameters, _, _) = arguments,
              let index = parameters.firstIndex(where: { $0.name == name }) else { return nil }
        return (index, parameters[index])
    }
}
