import BPFObject
import Foundation

/// Generates one probe's program. Values: integers in r0, strings in stack buffers (offsets
/// from r10), each evaluated straight into its destination (map key, event record) where it has
/// one. r9 holds the context for the whole program; r6–r8 hold values that must survive helper
/// calls (`save()`/`release()`). The assembled program then goes through `PeepholeOptimizer`.
struct ProbeGenerator {
    var compiler: TraceCompiler
    let context: TraceCompiler.ProbeContext
    var asm = Assembler()
    var ranges: [SourceRange?] = []
    var scope: TraceCompiler.Scope
    /// Bytes of stack used so far (slots grow down from r10).
    var stackUsed = 0
    var variableSlots: [String: Int16] = [:]
    var labelCounter = 0
    var currentRange: SourceRange?
    var compilerFormats: [TraceFormat]
    var startTimeSlots: [Int] = []
    var childProcessSlots: [Int] = []
    /// Labels of the enclosing while loops, for continue/break.
    var loops: [(next: String, end: String)] = []
    /// Slots the peephole pass may treat as unaliased (see `privateSlot()`).
    var privateSlots: Set<Int16> = []
    /// Stack offsets (8-byte granules) some non-private allocation covered.
    var sharedSlots: Set<Int16> = []
    /// How many of `calleeSaved` hold live values.
    var savedRegisters = 0
    /// `lddw` slots (emitted as `lddw rX, 0`) that `generate` turns into references to the
    /// element-counting callback (BPF_PSEUDO_FUNC) it appends after the optimized program.
    var callbackReferenceSlots: [Int] = []
    /// Where the callback subprograms start in the final program.
    var callbackStarts: [Int] = []

    /// The kernel limit on a BPF program's stack (MAX_BPF_STACK).
    static let stackLimit = 512
    /// fd_array[0] is the event ring buffer; maps follow.
    static let eventRingIndex: Int32 = 0

    init(compiler: TraceCompiler, context: TraceCompiler.ProbeContext) {
        self.compiler = compiler
        self.context = context
        self.scope = TraceCompiler.Scope(context: context)
        self.compilerFormats = compiler.printFormats
    }

    struct StackOverflow: Error {}

    mutating func generate(_ probe: Probe) throws -> ([Instruction], [SourceRange?]) {
        asm.mov(.r9, .r1)
        if let predicate = probe.predicate {
            currentRange = predicate.range
            try branch(unless: predicate, to: "return")
        }
        try block(probe.body)
        asm.label("return")
        asm.mov(.r0, 0)
        asm.exit()
        let assembled = try asm.assemble()
        // Ranges were recorded per emitted instruction count; pad for the epilogue.
        while ranges.count < assembled.count { ranges.append(nil) }
        let optimized = PeepholeOptimizer.optimize(assembled, privateSlots: privateSlots.subtracting(sharedSlots))
        // Slots patched at load time (lddw, never removed) move with their instructions.
        startTimeSlots = startTimeSlots.compactMap { optimized.newIndex[$0] }
        childProcessSlots = childProcessSlots.compactMap { optimized.newIndex[$0] }
        var instructions = optimized.instructions
        var finalRanges = optimized.remap(ranges)
        let callbackReferences = callbackReferenceSlots.compactMap { optimized.newIndex[$0] }
        if !callbackReferences.isEmpty {
            // bpf_for_each_map_elem's callback, after the optimized program (whose jumps then
            // need no re-resolving): returning 0 continues the walk, so the helper's result is
            // the number of elements.
            let start = instructions.count
            var callback = Assembler()
            callback.mov(.r0, 0)
            callback.exit()
            instructions += try callback.assemble()
            finalRanges += [nil, nil]
            for slot in callbackReferences {
                // lddw rX, callback (BPF_PSEUDO_FUNC): imm is relative to the next instruction.
                instructions[slot].src = PseudoSource.function.rawValue
                instructions[slot].immediate = Int32(start - (slot + 1))
            }
            callbackStarts = [start]
        }
        return (instructions, finalRanges)
    }

    // MARK: Stack

    mutating func slot(_ size: Int) throws -> Int16 {
        try slot(size, isPrivate: false)
    }

    private mutating func slot(_ size: Int, isPrivate: Bool) throws -> Int16 {
        let rounded = (size + 7) & ~7
        stackUsed += rounded
        guard stackUsed <= Self.stackLimit else {
            compiler.diagnostics.error("the probe needs more than \(Self.stackLimit) bytes of BPF stack (strings and map keys take stack space)", at: currentRange ?? SourceRange(at: .start))
            throw TraceCompiler.Failure(diagnostics: compiler.diagnostics.errors)
        }
        // Statements reuse the stack of the ones before them, so an offset that is private in
        // one statement may be a buffer passed to a helper in another: such offsets are not
        // private for the peephole pass.
        if !isPrivate {
            for granule in stride(from: -stackUsed, to: -stackUsed + rounded, by: 8) { sharedSlots.insert(Int16(granule)) }
        }
        return Int16(-stackUsed)
    }

    mutating func zero(_ offset: Int16, _ size: Int) {
        var at = 0
        while at < size {
            asm.store(.doubleWord, .r10, offset + Int16(at), immediate: 0)
            at += 8
        }
        mark()
    }

    /// An 8-byte slot only ever reached as `r10 + offset` (never passed to a helper), which the
    /// peephole pass may drop once no load reads it.
    mutating func privateSlot() throws -> Int16 {
        let offset = try slot(8, isPrivate: true)
        privateSlots.insert(offset)
        return offset
    }

    /// Keeps `r0` across code that may call helpers: in the next free callee-saved register
    /// (r6–r8; r9 holds the context) or else a private stack slot. Balance with `release`.
    mutating func save() throws -> SavedValue {
        if savedRegisters < Self.calleeSaved.count {
            let register = Self.calleeSaved[savedRegisters]
            savedRegisters += 1
            asm.mov(register, .r0)
            return .register(register)
        }
        let offset = try privateSlot()
        asm.store(.doubleWord, .r10, offset, .r0)
        return .slot(offset)
    }

    /// Ends the life of a saved value (frees its register for the next `save()`).
    mutating func release(_ saved: SavedValue) {
        if case .register = saved { savedRegisters -= 1 }
    }

    enum SavedValue {
        case register(Register)
        case slot(Int16)
    }

    /// BPF's callee-saved registers that the generator hands out (r9 is the context).
    static let calleeSaved: [Register] = [.r6, .r7, .r8]

    mutating func newLabel(_ stem: String) -> String {
        labelCounter += 1
        return "\(stem).\(labelCounter)"
    }

    /// Records the statement range for the instructions emitted since the last call.
    mutating func mark() {
        while ranges.count < asm.count { ranges.append(currentRange) }
    }

    mutating func fail(_ message: String, _ range: SourceRange) throws -> Never {
        compiler.diagnostics.error(message, at: range)
        throw TraceCompiler.Failure(diagnostics: compiler.diagnostics.errors)
    }

    // MARK: Statements

    mutating func block(_ block: Block) throws {
        for statement in block.statements { try self.statement(statement) }
    }

    mutating func statement(_ statement: Statement) throws {
        currentRange = statement.range
        defer { mark() }
        switch statement.kind {
        case .expression(let expression):
            // An expression statement declares no variable, so its temporaries are dead once it
            // has run and the next statement reuses their stack (e.g. a run of print() calls).
            let stackBefore = stackUsed
            try expressionStatement(expression)
            stackUsed = stackBefore
        case .assignVariable(let variable, let value, _):
            guard case .variable(let name) = variable.kind else { return }
            var inferScope = scope
            guard let type = compiler.inferType(value, &inferScope) else { try fail("bad value", value.range) }
            let target: Int16
            if let existing = variableSlots[name] {
                target = existing
            } else {
                target = try slot(type.storageSize)
                variableSlots[name] = target
                scope.variables[name] = type
            }
            if !type.isRegisterValue {
                let size = scope.variables[name]!.storageSize
                let source = try string(value, size: size)
                copy(from: source, to: target, size: size)
            } else {
                try integer(value)
                asm.store(.doubleWord, .r10, target, .r0)
            }
        case .assignMap(let target, let value, _):
            try assignMap(target, value)
        case .if(let condition, let then, let otherwise):
            let elseLabel = newLabel("else"), endLabel = newLabel("endif")
            try branch(unless: condition, to: elseLabel)
            try block(then)
            asm.jump(to: endLabel)
            asm.label(elseLabel)
            if let otherwise { try block(otherwise) }
            asm.label(endLabel)
        case .jump(.return):
            leaveProbe()
        case .jump(let kind):
            guard let loop = loops.last else { try fail("'\(kind.rawValue)' statement is not allowed outside of a loop", statement.range) }
            // Conditional on a constant, like leaveProbe(), so following code is not unreachable.
            asm.mov(.r1, 0)
            asm.jump(.eq, .r1, 0, to: kind == .break ? loop.end : loop.next)
        case .while(let condition, let body):
            // The kernel verifies bounded loops (5.3+) by walking each iteration.
            let top = newLabel("while.top"), end = newLabel("while.end")
            asm.label(top)
            currentRange = condition.range
            try branch(unless: condition, to: end)
            loops.append((next: top, end: end))
            try block(body)
            loops.removeLast()
            asm.jump(to: top)
            asm.label(end)
        case .unroll(let count, let body):
            guard case .integer(let times) = count.kind else { try fail("unroll needs an integer literal", count.range) }
            for _ in 0..<times { try block(body) }
        }
    }

    mutating func expressionStatement(_ expression: Expression) throws {
        switch expression.kind {
        case .call(let name, let arguments):
            switch name {
            case "printf": try printf(arguments, range: expression.range)
            case "system": try printf(arguments, range: expression.range, action: .system)
            case "signal":
                // bpf_send_signal: to the current process, like bpftrace.
                guard let argument = arguments.first else { try fail("signal() expects a signal", expression.range) }
                if case .string(let bytes) = argument.kind {
                    guard let number = TraceCompiler.signalNumber(String(decoding: bytes, as: UTF8.self)) else {
                        try fail("\(String(decoding: bytes, as: UTF8.self)) is not a valid signal", argument.range)
                    }
                    asm.mov(.r1, number)
                } else {
                    try integer(argument)
                    asm.mov(.r1, .r0)
                }
                asm.call(helperID: HelperFunction.sendSignal.rawValue)
            case "cat": try printf(arguments, range: expression.range, action: .cat)
            case "exit":
                try emitEvent(id: TraceEventID.exit, payload: [])
                leaveProbe()
            case "print" where arguments.count == 1 && !{ if case .map = arguments[0].kind { true } else { false } }():
                try printValue(arguments[0])
            case "print", "clear", "zero":
                guard let argument = arguments.first, case .map(let mapName, let keys) = argument.kind, keys.isEmpty,
                      let index = compiler.mapIndex[mapName] else {
                    try fail("\(name)() expects a map without keys", expression.range)
                }
                let id = name == "print" ? TraceEventID.printMap : name == "clear" ? TraceEventID.clearMap : TraceEventID.zeroMap
                // print(@map, top, divisor): both must be integer literals, as in bpftrace, which
                // keeps them as u32 (so print(@m, -1) prints every element).
                var extra: [UInt64] = []
                if name == "print" {
                    for argument in arguments.dropFirst().prefix(2) {
                        guard case .integer(let value) = argument.kind else {
                            try fail("print() expects integer literals for top and divisor", argument.range)
                        }
                        extra.append(UInt64(UInt32(truncatingIfNeeded: value)))
                    }
                }
                try emitEvent(id: id, payload: [UInt64(index)] + extra)
            case "delete":
                guard let argument = arguments.first, case .map(let mapName, let keys) = argument.kind,
                      let index = compiler.mapIndex[mapName] else {
                    try fail("delete() expects a map element", expression.range)
                }
                let key = try mapKey(compiler.maps[index], keys, range: argument.range)
                asm.loadMapIndex(.r1, Int32(index + 1))
                asm.mov(.r2, .r10)
                asm.add(.r2, Int32(key))
                asm.call(helperID: HelperFunction.mapDeleteElem.rawValue)
            case "join": try join(arguments, range: expression.range)
            case "time":
                let format = arguments.first.flatMap { if case .string(let bytes) = $0.kind { String(decoding: bytes, as: UTF8.self) } else { nil } } ?? "%H:%M:%S\n"
                compilerFormats.append(TraceFormat(format: format, argumentTypes: []))
                try emitEvent(id: TraceEventID.time, payload: [UInt64(compilerFormats.count - 1)])
            default:
                try integer(expression)
            }
        case .unary(let op, let target, _) where op == .increment || op == .decrement:
            let one = Expression(.integer(1), range: expression.range)
            let value = Expression(.binary(op == .increment ? .add : .subtract, target, one), range: expression.range)
            if case .map = target.kind {
                try assignMap(target, value)
            } else if case .variable = target.kind {
                try statement(Statement(.assignVariable(variable: target, value: value, compound: nil), range: expression.range))
            }
        default:
            try integer(expression)
        }
    }

    /// Ends the probe early. The jump is conditional on a constant so that code after it (the
    /// rest of a block) is not "unreachable" to the verifier's CFG check, which refuses that.
    mutating func leaveProbe() {
        asm.mov(.r1, 0)
        asm.jump(.eq, .r1, 0, to: "return")
    }

    /// Sends `[id, payload...]` through the ring buffer.
    mutating func emitEvent(id: UInt64, payload: [UInt64]) throws {
        let record = try slot(8 * (payload.count + 1))
        for (index, value) in ([id] + payload).enumerated() {
            storeConstant(value, at: record + Int16(index * 8))
        }
        try submit(record, size: 8 * (payload.count + 1))
    }

    /// `join(argv[, sep])`: the strings behind up to 16 user pointers, in one ring buffer record
    /// reserved up front (16 strings do not fit the 512-byte stack); the runtime prints them
    /// joined by `sep` and a newline up to the first empty string, as bpftrace does: a NULL
    /// pointer (argv's end) or a failed read leaves its slot empty (bpf_probe_read_user_str
    /// zeroes the buffer on failure), so no per-element test is needed.
    mutating func join(_ arguments: [Expression], range: SourceRange) throws {
        guard let array = arguments.first else { try fail("join() expects an array", range) }
        var separator = " "
        if arguments.count > 1 {
            guard case .string(let bytes) = arguments[1].kind else { try fail("join() expects a string literal as its delimiter", arguments[1].range) }
            separator = String(decoding: bytes, as: UTF8.self)
        }
        compilerFormats.append(TraceFormat(format: separator, argumentTypes: []))
        let separatorIndex = compilerFormats.count - 1
        let count = TraceEventID.joinArguments, size = TraceEventID.joinArgumentSize
        let recordSize = 24 + count * size

        // All 16 pointers in one read (argv's are followed by envp and the auxiliary vector, so
        // the 128 bytes are mapped), then each string straight from its stack slot.
        try integer(array)
        let pointers = try slot(8 * count)
        readAddressInR0(into: pointers, size: 8 * count, user: true)
        asm.loadMapIndex(.r1, Self.eventRingIndex)
        asm.mov(.r2, Int32(recordSize))
        asm.mov(.r3, 0)
        asm.call(helperID: HelperFunction.ringbufReserve.rawValue)
        let skip = newLabel("join.skip"), reserved = newLabel("join.reserved")
        asm.jump(.ne, .r0, 0, to: reserved)
        try countLostEvent()
        asm.jump(to: skip)
        asm.label(reserved)
        let record = try save()
        func loadRecord(_ target: Register) {
            switch record {
            case .register(let register): asm.mov(target, register)
            case .slot(let offset): asm.load(.doubleWord, target, .r10, offset)
            }
        }
        storeConstant(TraceEventID.join, base: .r0, at: 0)
        storeConstant(UInt64(separatorIndex), base: .r0, at: 8)
        storeConstant(UInt64(count), base: .r0, at: 16)
        for index in 0..<count {
            // A failed read zeroes the pointers (bpf_probe_read_user): those strings are empty.
            asm.load(.doubleWord, .r3, .r10, pointers + Int16(index * 8))
            loadRecord(.r1)
            asm.add(.r1, Int32(24 + index * size))
            asm.mov(.r2, Int32(size))
            asm.call(helperID: HelperFunction.probeReadUserStr.rawValue)
        }
        loadRecord(.r1)
        asm.mov(.r2, 0)
        asm.call(helperID: HelperFunction.ringbufSubmit.rawValue)
        asm.label(skip)
        release(record)
    }

    /// `*(u64 *)(base + offset) = value` (offset 8-aligned): one ST when the value sign-extends
    /// from 32 bits, else two 32-bit STs (fewer than lddw + STX; x86-64 and arm64 are little-endian).
    mutating func storeConstant(_ value: UInt64, base: Register = .r10, at offset: Int16) {
        if let small = Int32(exactly: Int64(bitPattern: value)) {
            asm.store(.doubleWord, base, offset, immediate: small)
        } else {
            asm.store(.word, base, offset, immediate: Int32(bitPattern: UInt32(truncatingIfNeeded: value)))
            asm.store(.word, base, offset + 4, immediate: Int32(bitPattern: UInt32(truncatingIfNeeded: value >> 32)))
        }
    }

    mutating func submit(_ record: Int16, size: Int) throws {
        asm.loadMapIndex(.r1, Self.eventRingIndex)
        asm.mov(.r2, .r10)
        asm.add(.r2, Int32(record))
        asm.mov(.r3, Int32(size))
        asm.mov(.r4, 0)
        asm.call(helperID: HelperFunction.ringbufOutput.rawValue)
        let sent = newLabel("output.sent")
        asm.jump(.eq, .r0, 0, to: sent)
        try countLostEvent()
        asm.label(sent)
    }

    /// The ring buffer was full (bpf_ringbuf_output/reserve failed): count the lost event in the
    /// one-element counter array, which the runtime reports as bpftrace's "Lost N events".
    mutating func countLostEvent() throws {
        // The counter is element 0 of an array map, addressed directly (BPF_PSEUDO_MAP_IDX_VALUE):
        // no key, no lookup, no NULL check.
        asm.loadMapIndexValue(.r1, index: compiler.lostEventsMapReference, offset: 0)
        asm.mov(.r2, 1)
        asm.atomicAdd(.doubleWord, .r1, 0, .r2)
    }

    mutating func printf(_ arguments: [Expression], range: SourceRange, action: TraceFormatAction = .print) throws {
        guard let first = arguments.first, case .string(let bytes) = first.kind else {
            try fail("\(action == .print ? "printf" : action == .system ? "system" : "cat")() expects a string literal as its first argument", range)
        }
        let format = String(decoding: bytes, as: UTF8.self)
        let values = Array(arguments.dropFirst())
        var types: [TraceValueType] = []
        for value in values {
            var inferScope = scope
            guard let type = compiler.inferType(value, &inferScope) else { try fail("bad printf argument", value.range) }
            types.append(type)
        }
        if let problem = PrintfFormat.check(format, argumentTypes: types) { try fail(problem, range) }
        try emitFormatted(TraceFormat(format: format, argumentTypes: types, action: action), values)
    }

    /// Sends one record `[format index, values...]`, each value packed as its type's storage,
    /// for the runtime to format (printf, system, cat, print of a value).
    mutating func emitFormatted(_ format: TraceFormat, _ values: [Expression]) throws {
        let types = format.argumentTypes
        compilerFormats.append(format)
        let id = UInt64(compilerFormats.count - 1)
        let size = 8 + types.reduce(0) { $0 + $1.storageSize }
        // Each argument is evaluated straight into its place in the record.
        let record = try slot(size)
        var offset = 8
        for (value, type) in zip(values, types) {
            try evaluate(value, type, into: record + Int16(offset))
            offset += type.storageSize
        }
        storeConstant(id, at: record)
        try submit(record, size: size)
    }

    /// Evaluates `expression` of `type` into the stack at `target` (`type.storageSize` bytes).
    mutating func evaluate(_ expression: Expression, _ type: TraceValueType, into target: Int16) throws {
        if type.isRegisterValue {
            try integer(expression)
            asm.store(.doubleWord, .r10, target, .r0)
        } else if target % 8 == 0 && type.storageSize % 8 == 0 {
            try string(expression, into: target, size: type.storageSize)
        } else {
            // Stack accesses must be aligned (the verifier is strict for the stack): odd-sized
            // parts go through their own buffer and are copied byte by byte.
            let buffer = try string(expression, size: type.storageSize)
            copy(from: buffer, to: target, size: type.storageSize)
        }
    }

    /// Copies `size` bytes between stack buffers (8-byte steps, then single bytes).
    mutating func copy(from source: Int16, to target: Int16, size: Int) {
        var at = 0
        while at + 8 <= size {
            asm.load(.doubleWord, .r1, .r10, source + Int16(at))
            asm.store(.doubleWord, .r10, target + Int16(at), .r1)
            at += 8
        }
        while at < size {
            asm.load(.byte, .r1, .r10, source + Int16(at))
            asm.store(.byte, .r10, target + Int16(at), .r1)
            at += 1
        }
    }

    // MARK: Maps

    /// Builds a map's key on the stack; returns its offset.
    mutating func mapKey(_ map: TraceMap, _ keys: [Expression], range: SourceRange, extra: Int = 0) throws -> Int16 {
        let size = map.scriptKeySize + extra
        let key = try slot(size)
        // Every part fills its whole storage (strings are zero-padded), so the key needs no
        // separate zeroing; the extra tail is the caller's to fill.
        var offset = 0
        for (expression, type) in zip(keys, map.keyTypes) {
            try evaluate(expression, type, into: key + Int16(offset))
            offset += type.storageSize
        }
        if offset < map.scriptKeySize { zero(key + Int16(offset), map.scriptKeySize - offset) }
        return key
    }

    mutating func assignMap(_ target: Expression, _ value: Expression) throws {
        guard case .map(let name, let keys) = target.kind, let index = compiler.mapIndex[name] else {
            try fail("unknown map", target.range)
        }
        let map = compiler.maps[index]
        let mapReference = Int32(index + 1)
        var argumentSlot: Int16 = 0
        if case .call(_, let arguments) = value.kind, map.kind != .value(.integer(signed: true)), !isPlainValue(map.kind), !isHistogram(map.kind), let argument = arguments.first {
            try integer(argument)
            argumentSlot = try slot(8)
            asm.store(.doubleWord, .r10, argumentSlot, .r0)
        }
        switch map.kind {
        case .value(let type):
            let valueSlot: Int16
            if !type.isRegisterValue {
                valueSlot = try string(value, size: type.storageSize)
            } else {
                try integer(value)
                valueSlot = try slot(8)
                asm.store(.doubleWord, .r10, valueSlot, .r0)
            }
            let key = try mapKey(map, keys, range: target.range)
            update(mapReference, key: key, value: valueSlot)
        case .count:
            let key = try mapKey(map, keys, range: target.range)
            try incrementValue(mapReference, key: key)
        case .sum:
            let key = try mapKey(map, keys, range: target.range)
            try addToValue(mapReference, key: key, amounts: [argumentSlot])
        case .avg, .stats:
            let pair = try slot(16)
            asm.load(.doubleWord, .r1, .r10, argumentSlot)
            asm.store(.doubleWord, .r10, pair, .r1)
            asm.mov(.r1, 1)
            asm.store(.doubleWord, .r10, pair + 8, .r1)
            let key = try mapKey(map, keys, range: target.range)
            try addToValue(mapReference, key: key, amounts: [pair, pair + 8])
        case .min(let signed), .max(let signed):
            let key = try mapKey(map, keys, range: target.range)
            let isMax = { if case .max = map.kind { true } else { false } }()
            let store = newLabel("minmax.store"), set = newLabel("minmax.set"), done = newLabel("minmax.done")
            // The per-CPU value is [value, set]: this CPU's slot of an element another CPU
            // created is zeroed and unset, so it takes the new value whatever it is.
            let pair = try slot(16)
            asm.load(.doubleWord, .r1, .r10, argumentSlot)
            asm.store(.doubleWord, .r10, pair, .r1)
            asm.store(.doubleWord, .r10, pair + 8, immediate: 1)
            lookup(mapReference, key: key)
            asm.jump(.eq, .r0, 0, to: store)
            asm.load(.doubleWord, .r2, .r10, argumentSlot)
            asm.load(.doubleWord, .r1, .r0, 8)
            asm.jump(.eq, .r1, 0, to: set)
            asm.load(.doubleWord, .r1, .r0, 0)
            // Keep the current value unless the new one beats it.
            let keep: JumpCondition = isMax ? (signed ? .sge : .ge) : (signed ? .sle : .le)
            asm.jump(keep, .r1, .r2, to: done)
            asm.label(set)
            asm.store(.doubleWord, .r0, 0, .r2)
            asm.store(.doubleWord, .r0, 8, immediate: 1)
            asm.jump(to: done)
            asm.label(store)
            update(mapReference, key: key, value: pair)
            asm.label(done)
        case .hist, .lhist:
            // The key's parts first, then the value straight into the bucket word after them.
            let key = try mapKey(map, keys, range: target.range, extra: 8)
            guard case .call(_, let arguments) = value.kind, let argument = arguments.first else { try fail("\(name) needs a value", value.range) }
            try integer(argument)
            asm.mov(.r1, .r0)
            if case .lhist(let low, let high, let step) = map.kind {
                linearBucket(low: low, high: high, step: step)
            } else {
                log2Bucket()
            }
            asm.store(.doubleWord, .r10, key + Int16(map.scriptKeySize), .r0)
            try incrementValue(mapReference, key: key)
        }
    }

    func isHistogram(_ kind: TraceMapKind) -> Bool {
        switch kind {
        case .hist, .lhist: true
        default: false
        }
    }

    func isPlainValue(_ kind: TraceMapKind) -> Bool {
        if case .value = kind { true } else { false }
    }

    mutating func lookup(_ map: Int32, key: Int16) {
        asm.loadMapIndex(.r1, map)
        asm.mov(.r2, .r10)
        asm.add(.r2, Int32(key))
        asm.call(helperID: HelperFunction.mapLookupElem.rawValue)
    }

    mutating func update(_ map: Int32, key: Int16, value: Int16) {
        asm.loadMapIndex(.r1, map)
        asm.mov(.r2, .r10)
        asm.add(.r2, Int32(key))
        asm.mov(.r3, .r10)
        asm.add(.r3, Int32(value))
        asm.mov(.r4, 0)
        asm.call(helperID: HelperFunction.mapUpdateElem.rawValue)
    }

    /// Atomically adds each amount to consecutive u64s of the value, creating the element with
    /// the amounts when it is missing (a lost race re-adds, as bpftrace's per-CPU maps never race).
    mutating func addToValue(_ map: Int32, key: Int16, amounts: [Int16]) throws {
        let create = newLabel("add.create"), done = newLabel("add.done")
        lookup(map, key: key)
        asm.jump(.eq, .r0, 0, to: create)
        for (index, amount) in amounts.enumerated() {
            asm.load(.doubleWord, .r1, .r10, amount)
            asm.atomicAdd(.doubleWord, .r0, Int16(index * 8), .r1)
        }
        asm.jump(to: done)
        asm.label(create)
        // Consecutive amount slots are laid out value-first, so the first slot is the value.
        update(map, key: key, value: amounts[0])
        asm.label(done)
    }

    /// Adds 1 to the u64 value, creating the element as 1 when it is missing (count(), hist()).
    mutating func incrementValue(_ map: Int32, key: Int16) throws {
        let create = newLabel("inc.create"), done = newLabel("inc.done")
        lookup(map, key: key)
        asm.jump(.eq, .r0, 0, to: create)
        asm.mov(.r1, 1)
        asm.atomicAdd(.doubleWord, .r0, 0, .r1)
        asm.jump(to: done)
        asm.label(create)
        let one = try slot(8)
        asm.store(.doubleWord, .r10, one, immediate: 1)
        update(map, key: key, value: one)
        asm.label(done)
    }

    /// r1 (value) → r0 (bucket): 0 for negatives, 1 for 0, 2 + floor(log2(v)) otherwise.
    mutating func log2Bucket() {
        let done = newLabel("hist.done")
        asm.mov(.r0, 0)
        asm.jump(.slt, .r1, 0, to: done)
        asm.mov(.r0, 1)
        asm.jump(.eq, .r1, 0, to: done)
        asm.mov(.r0, 2)
        // Binary search for the highest set bit; v is positive here, so unsigned compares work.
        // 1 << 32 does not fit an immediate: that step tests the shifted value instead.
        let skip32 = newLabel("hist.skip")
        asm.mov(.r2, .r1)
        asm.alu(.rsh, .r2, 32)
        asm.jump(.eq, .r2, 0, to: skip32)
        asm.mov(.r1, .r2)
        asm.add(.r0, 32)
        asm.label(skip32)
        for shift in [16, 8, 4, 2, 1] {
            let skip = newLabel("hist.skip")
            asm.jump(.lt, .r1, Int32(1) << Int32(shift), to: skip)
            asm.alu(.rsh, .r1, Int32(shift))
            asm.add(.r0, Int32(shift))
            asm.label(skip)
        }
        asm.label(done)
    }

    /// r1 (value) → r0: 0 below `low`, 1 + (v - low) / step inside, the last bucket at or above `high`.
    mutating func linearBucket(low: Int64, high: Int64, step: Int64) {
        let buckets = (high - low + step - 1) / step
        let done = newLabel("lhist.done")
        asm.mov(.r0, 0)
        asm.loadImmediate64(.r2, UInt64(bitPattern: low))
        asm.jump(.slt, .r1, .r2, to: done)
        asm.loadImmediate64(.r0, UInt64(buckets + 1))
        asm.loadImmediate64(.r2, UInt64(bitPattern: high))
        asm.jump(.sge, .r1, .r2, to: done)
        asm.mov(.r0, .r1)
        asm.loadImmediate64(.r2, UInt64(bitPattern: low))
        asm.sub(.r0, .r2)
        asm.loadImmediate64(.r2, UInt64(bitPattern: step))
        asm.alu(.div, .r0, .r2)
        asm.add(.r0, 1)
        asm.label(done)
    }
}
