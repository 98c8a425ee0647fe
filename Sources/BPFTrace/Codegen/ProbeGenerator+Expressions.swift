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
            let left = try slot(8)
            asm.store(.doubleWord, .r10, left, .r0)
            try integer(rhs)
            asm.mov(.r2, .r0)
            asm.load(.doubleWord, .r0, .r10, left)
            switch op {
            case .add: asm.add(.r0, .r2)
            case .subtract: asm.sub(.r0, .r2)
            case .multiply: asm.alu(.mul, .r0, .r2)
            case .divide, .modulo:
                // bpftrace 0.17 always emits BPF's unsigned div/mod (so -5 / 2 is 2^63 - 3, with a
                // warning); division by zero does not fault in BPF, it yields 0 (mod: the dividend).
                asm.alu(op == .divide ? .div : .mod, .r0, .r2)
            case .bitAnd: asm.alu(.and, .r0, .r2)
            case .bitOr: asm.alu(.or, .r0, .r2)
            case .bitXor: asm.alu(.xor, .r0, .r2)
            case .shiftLeft: asm.alu(.lsh, .r0, .r2)
            case .shiftRight: asm.alu(signed ? .arsh : .rsh, .r0, .r2)
            case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual:
                let condition: JumpCondition
                switch op {
                case .equal: condition = .eq
                case .notEqual: condition = .ne
                case .less: condition = signed ? .slt : .lt
                case .lessEqual: condition = signed ? .sle : .le
                case .greater: condition = signed ? .sgt : .gt
                default: condition = signed ? .sge : .ge
                }
                let yes = newLabel("cmp.true")
                asm.mov(.r1, .r0)
                asm.mov(.r0, 1)
                asm.jump(condition, .r1, .r2, to: yes)
                asm.mov(.r0, 0)
                asm.label(yes)
            case .logicalAnd, .logicalOr: break
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
                // address spaces); a failed read yields 0 like bpftrace's zeroed buffer.
                let value = try slot(8)
                asm.store(.doubleWord, .r10, value, immediate: 0)
                asm.mov(.r3, .r0)
                asm.mov(.r1, .r10)
                asm.add(.r1, Int32(value))
                asm.mov(.r2, 8)
                let isUser: Bool = switch context.arguments { case .registers, .usdt: true; default: false }
                asm.call(helperID: (isUser ? HelperFunction.probeReadUser : HelperFunction.probeReadKernel).rawValue)
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
        case .field(_, let name, _) where memberChain(expression) != nil:
            let chain = memberChain(expression)!
            guard let access = compiler.memberAccess(chain, range: expression.range) else { try fail("cannot read \(name)", expression.range) }
            let address = try memberAddress(chain, access)
            let (size, signed): (Int, Bool)
            switch access.result {
            case .integer(let bytes, let isSigned): (size, signed) = (bytes, isSigned)
            case .structPointer: (size, signed) = (8, false)
            case .string: try fail("\(name) is not an integer", expression.range)
            }
            let value = try slot(8)
            zero(value, 8)
            read(into: value, size: size, from: address, user: chain.pointee.isUser)
            asm.load(.doubleWord, .r0, .r10, value)
            if signed && size < 8 {
                let bits = Int32(64 - size * 8)
                asm.alu(.lsh, .r0, bits)
                asm.alu(.arsh, .r0, bits)
            }
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
            asm.mov(.r3, .r0)
            asm.mov(.r1, .r10)
            asm.add(.r1, Int32(value))
            asm.mov(.r2, 6)
            let isUser: Bool = switch context.arguments { case .registers, .usdt: true; default: false }
            asm.call(helperID: (isUser ? HelperFunction.probeReadUser : HelperFunction.probeReadKernel).rawValue)
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
        case .call(let name, let arguments) where Self.checkedIntegerFunctions.contains(name):
            try checkedInteger(name, arguments, expression)
        case .call(let name, _):
            try fail("\(name)() does not return an integer", expression.range)
        default:
            try fail("swiftbpf trace does not support this expression yet", expression.range)
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
        case .builtin("probe"), .builtin("func"):
            let text = expression.kind == .builtin("probe") ? context.probeName : context.function ?? ""
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
            var at = 0
            let count = min(size, map.kind.valueSize)
            while at < count {
                asm.load(.byte, .r1, .r0, Int16(at))
                asm.store(.byte, .r10, buffer + Int16(at), .r1)
                at += 1
            }
            asm.label(done)
        case .field(_, let name, _) where memberChain(expression) != nil:
            let chain = memberChain(expression)!
            guard let access = compiler.memberAccess(chain, range: expression.range),
                  case .string(let count) = access.result else { try fail("\(name) is not a string", expression.range) }
            let address = try memberAddress(chain, access)
            asm.mov(.r1, .r10)
            asm.add(.r1, Int32(buffer))
            asm.mov(.r2, Int32(min(size, count)))
            asm.load(.doubleWord, .r3, .r10, address)
            asm.call(helperID: (chain.pointee.isUser ? HelperFunction.probeReadUserStr : HelperFunction.probeReadKernelStr).rawValue)
        case .field(_, let name, _):
            try readStringField(name, into: buffer, size: size, range: expression.range)
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
            let isUser: Bool = { if case .registers = context.arguments { true } else { false } }()
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
                return buffer
            }
            let argumentType = try type(of: argument)
            if argumentType.isString {
                let source = try string(argument, size: size)
                copy(from: source, to: buffer, size: size)
                return buffer
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
        return buffer
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

    /// Walks a member chain from its struct pointer; returns the stack slot holding the final
    /// member's address. Pointers met on the way are read from the chain's address space.
    mutating func memberAddress(_ chain: MemberChain, _ access: KernelMemberAccess) throws -> Int16 {
        let address = try slot(8)
        switch chain.root {
        case .currentTask: asm.call(helperID: HelperFunction.getCurrentTask.rawValue)
        case .value(let pointer): try integer(pointer)
        }
        asm.store(.doubleWord, .r10, address, .r0)
        for step in access.steps {
            switch step {
            case .add(let offset):
                asm.load(.doubleWord, .r0, .r10, address)
                asm.add(.r0, Int32(offset))
                asm.store(.doubleWord, .r10, address, .r0)
            case .loadPointer:
                read(into: address, size: 8, from: address, user: chain.pointee.isUser)
            }
        }
        return address
    }

    /// bpf_probe_read_user/kernel(r10 + target, size, *(u64 *)(r10 + addressSlot)).
    mutating func read(into target: Int16, size: Int, from addressSlot: Int16, user: Bool) {
        asm.load(.doubleWord, .r3, .r10, addressSlot)
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

    /// `a == b` / `a != b` on strings: byte by byte up to the first NUL, result in r0.
    mutating func stringComparison(_ op: BinaryOperator, _ lhs: Expression, _ rhs: Expression) throws {
        let leftType = try type(of: lhs), rightType = try type(of: rhs)
        let size = min(leftType.storageSize, rightType.storageSize)
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
