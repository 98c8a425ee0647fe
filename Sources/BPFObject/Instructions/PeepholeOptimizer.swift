/// A small peephole pass over an assembled program (labels already resolved), for code generators
/// that emit simple, slot-based code (`swiftbpf trace`). It only ever removes instructions or
/// replaces a stack reload with a register move, and re-resolves every jump afterwards:
///
/// - `goto +0` is dropped;
/// - a 64-bit reload of a stack slot just stored (`*(u64 *)(r10 + X) = rA` … `rB = *(u64 *)(r10 + X)`)
///   becomes `rB = rA` (or nothing when rB is rA), as long as nothing in between can change the slot
///   or rA and no jump lands in between — the reload then holds exactly what was stored;
/// - a store to a *private* slot (one the generator vouches is only ever reached as `r10 + X`, never
///   through a copied pointer such as a helper argument) that no load reads is dropped;
/// - `rA = <load or constant>; rB = rA` becomes `rB = <load or constant>` when rA is dead after
///   the move (overwritten before any read on the straight-line path, with no jump landing in
///   between); conservatively kept otherwise;
/// - `rA = rA` (64-bit) is dropped;
/// - writes to a callee-saved register (r6–r9) that no instruction ever reads are dropped (the
///   context saved in r9 by a program that never uses it).
///
/// Programs with BPF-to-BPF calls, subprogram addresses, `gotol` or indirect jumps are returned
/// unchanged: their pc-relative immediates would need re-resolving too and the trace generator
/// never emits them.
public enum PeepholeOptimizer {
    /// The optimized program and where each input slot went.
    public struct Result: Sendable {
        public var instructions: [Instruction]
        /// For each slot of the input, its slot in the output, or nil when it was removed.
        public var newIndex: [Int?]

        /// Keeps a per-instruction side table (e.g. source ranges) aligned with the output.
        public func remap<T>(_ table: [T]) -> [T] {
            var result: [T] = []
            result.reserveCapacity(instructions.count)
            for (old, new) in newIndex.enumerated() where new != nil && old < table.count { result.append(table[old]) }
            return result
        }
    }

    /// `privateSlots`: offsets from r10 of 8-byte stack slots whose address is never taken.
    public static func optimize(_ program: [Instruction], privateSlots: Set<Int16> = []) -> Result {
        let unchanged = Result(instructions: program, newIndex: program.indices.map { $0 })
        // Decode into (first slot, operation) pairs; give up on anything we do not understand.
        var operations: [(slot: Int, operation: DecodedInstruction)] = []
        var index = 0
        while index < program.count {
            guard case .success(let operation) = DecodedInstruction.decode(program, at: index) else { return unchanged }
            switch operation {
            case .call(.subprogram), .call(.translatedSubprogram), .jumpLong, .jumpIndirect, .loadImmediate64(_, .function):
                return unchanged
            default: break
            }
            operations.append((index, operation))
            index += operation.instructions.count
        }
        let slotToOperation: [Int: Int] = Dictionary(uniqueKeysWithValues: operations.enumerated().map { ($1.slot, $0) })

        // Jump targets, by operation index.
        var targets: [Int?] = Array(repeating: nil, count: operations.count)
        for (position, entry) in operations.enumerated() {
            guard let offset = jumpOffset(entry.operation) else { continue }
            guard let target = slotToOperation[entry.slot + 1 + Int(offset)] else { return unchanged }
            targets[position] = target
        }

        var removed = Array(repeating: false, count: operations.count)
        var ops = operations.map(\.operation)
        let private_ = verifiedPrivateSlots(ops, privateSlots)

        var changed = true
        while changed {
            changed = false
            let landing = Set(targets.enumerated().compactMap { removed[$0.offset] ? nil : $0.element })
            for position in ops.indices where !removed[position] {
                switch ops[position] {
                case .jump(offset: _) where targets[position].map({ nextLive(after: position, removed) == $0 }) ?? false:
                    removed[position] = true
                    changed = true
                case .arithmetic(.mov, .bits64, let dst, .register(let src)) where dst == src:
                    removed[position] = true
                    changed = true
                case .store(.doubleWord, .r10, let offset, let value):
                    changed = forwardStore(at: position, offset: offset, value: value, &ops, &removed, landing) || changed
                case .arithmetic(.mov, .bits64, let target, .register(let source)) where target != source && target != .r10:
                    // The defining instruction must be the previous live one, with no jump landing on the move.
                    guard !landing.contains(position), let previous = previousLive(before: position, removed),
                          let redefined = redefine(ops[previous], from: source, to: target),
                          isDead(source, after: position, ops, removed, landing) else { break }
                    ops[previous] = redefined
                    removed[position] = true
                    changed = true
                default: break
                }
            }
            // Callee-saved registers nobody reads: their writes have no effect (helpers never read
            // r6–r9, and only ALU results and loads, which cannot fault, are dropped).
            for register in [Register.r6, .r7, .r8, .r9] {
                let read = ops.indices.contains { !removed[$0] && reads(ops[$0], register) }
                guard !read else { continue }
                for position in ops.indices where !removed[position] && writesOnly(ops[position], register) {
                    removed[position] = true
                    changed = true
                }
            }
            // Dead stores: private slots that nothing reads any more.
            for position in ops.indices where !removed[position] {
                guard case .store(let size, .r10, let offset, _) = ops[position],
                      slots(offset, size.byteCount).allSatisfy(private_.contains) else { continue }
                let read = ops.indices.contains { other in
                    guard !removed[other], let range = stackRead(ops[other]) else { return false }
                    return range.overlaps(Int(offset)..<Int(offset) + size.byteCount)
                }
                if !read {
                    removed[position] = true
                    changed = true
                }
            }
        }

        // Rebuild and re-resolve jumps: a removed target means the next live instruction.
        var newSlot: [Int] = Array(repeating: 0, count: operations.count + 1)
        var slot = 0
        for position in ops.indices {
            newSlot[position] = slot
            if !removed[position] { slot += ops[position].instructions.count }
        }
        newSlot[ops.count] = slot
        var instructions: [Instruction] = []
        var newIndex: [Int?] = Array(repeating: nil, count: program.count)
        for position in ops.indices where !removed[position] {
            var operation = ops[position]
            if let target = targets[position] {
                let distance = newSlot[target] - newSlot[position] - 1
                guard let offset = Int16(exactly: distance), let retargeted = withJumpOffset(operation, offset) else { return unchanged }
                operation = retargeted
            }
            for (part, instruction) in operation.instructions.enumerated() {
                newIndex[operations[position].slot + part] = instructions.count
                instructions.append(instruction)
            }
        }
        return Result(instructions: instructions, newIndex: newIndex)
    }

    /// Replaces reloads of the slot stored at `position`; true when something changed.
    private static func forwardStore(at position: Int, offset: Int16, value: Operand, _ ops: inout [DecodedInstruction],
                                     _ removed: inout [Bool], _ landing: Set<Int>) -> Bool {
        let stored = Int(offset)..<Int(offset) + 8
        var changed = false
        var next = position + 1
        while next < ops.count {
            defer { next += 1 }
            if removed[next] { continue }
            if landing.contains(next) { break }
            let operation = ops[next]
            if case .load(.doubleWord, let dst, .r10, offset) = operation {
                switch value {
                case .register(let source):
                    if dst == source {
                        removed[next] = true
                    } else {
                        ops[next] = .arithmetic(.mov, .bits64, dst: dst, .register(source))
                    }
                    changed = true
                    if dst == source { continue }
                    // dst now also holds the value; the source register is still intact.
                    continue
                case .immediate(let immediate):
                    // A double-word ST sign-extends its immediate, as a 64-bit MOV does.
                    ops[next] = .arithmetic(.mov, .bits64, dst: dst, .immediate(immediate))
                    changed = true
                    continue
                }
            }
            if stackRead(operation).map({ $0.overlaps(stored) }) ?? false { break }
            if !isStraightLine(operation) { break }
            if let range = stackWrite(operation), range.overlaps(stored) { break }
            if writesMemoryIndirectly(operation) { break }
            if case .register(let source) = value, writes(operation, source) { break }
        }
        return changed
    }

    // MARK: Instruction facts

    private static func jumpOffset(_ operation: DecodedInstruction) -> Int16? {
        switch operation {
        case .jump(let offset), .mayGoto(let offset): offset
        case .conditionalJump(_, _, _, _, let offset): offset
        default: nil
        }
    }

    private static func withJumpOffset(_ operation: DecodedInstruction, _ offset: Int16) -> DecodedInstruction? {
        switch operation {
        case .jump: .jump(offset: offset)
        case .mayGoto: .mayGoto(offset: offset)
        case .conditionalJump(let condition, let width, let dst, let operand, _): .conditionalJump(condition, width, dst: dst, operand, offset: offset)
        default: nil
        }
    }

    private static func previousLive(before position: Int, _ removed: [Bool]) -> Int? {
        var previous = position - 1
        while previous >= 0 && removed[previous] { previous -= 1 }
        return previous >= 0 ? previous : nil
    }

    /// `operation` (a pure definition of `source`: a load, a move or a 64-bit constant) writing
    /// `target` instead; nil for anything else.
    private static func redefine(_ operation: DecodedInstruction, from source: Register, to target: Register) -> DecodedInstruction? {
        switch operation {
        case .load(let size, source, let base, let offset): .load(size, dst: target, src: base, offset: offset)
        case .loadSignExtend(let size, source, let base, let offset): .loadSignExtend(size, dst: target, src: base, offset: offset)
        case .arithmetic(.mov, let width, source, let operand): .arithmetic(.mov, width, dst: target, operand)
        case .loadImmediate64(source, .value(let value)): .loadImmediate64(dst: target, .value(value))
        default: nil
        }
    }

    /// True when `register` is overwritten before any read on the straight-line path after
    /// `position` (a jump, a landing point or the end of that path counts as a read).
    private static func isDead(_ register: Register, after position: Int, _ ops: [DecodedInstruction], _ removed: [Bool], _ landing: Set<Int>) -> Bool {
        var next = position + 1
        while next < ops.count {
            defer { next += 1 }
            if removed[next] { continue }
            if landing.contains(next) || reads(ops[next], register) { return false }
            if case .exit = ops[next] { return true }
            if writes(ops[next], register) { return true }
            if !isStraightLine(ops[next]) { return false }
        }
        return false
    }

    private static func nextLive(after position: Int, _ removed: [Bool]) -> Int {
        var next = position + 1
        while next < removed.count && removed[next] { next += 1 }
        return next
    }

    /// No jump, call or exit: control simply falls through.
    private static func isStraightLine(_ operation: DecodedInstruction) -> Bool {
        switch operation {
        case .jump, .jumpLong, .jumpIndirect, .mayGoto, .conditionalJump, .call, .exit: false
        default: true
        }
    }

    /// The stack bytes (offsets from r10) a direct `r10 + off` load reads.
    private static func stackRead(_ operation: DecodedInstruction) -> Range<Int>? {
        switch operation {
        case .load(let size, _, .r10, let offset), .loadSignExtend(let size, _, .r10, let offset), .loadAcquire(let size, _, .r10, let offset):
            Int(offset)..<Int(offset) + size.byteCount
        case .atomic(_, let size, .r10, let offset, _):
            Int(offset)..<Int(offset) + size.byteCount
        default: nil
        }
    }

    private static func stackWrite(_ operation: DecodedInstruction) -> Range<Int>? {
        switch operation {
        case .store(let size, .r10, let offset, _), .atomic(_, let size, .r10, let offset, _), .storeRelease(let size, .r10, let offset, _):
            Int(offset)..<Int(offset) + size.byteCount
        default: nil
        }
    }

    /// A store through a register other than r10, which might point into the stack.
    private static func writesMemoryIndirectly(_ operation: DecodedInstruction) -> Bool {
        switch operation {
        case .store(_, let dst, _, _), .atomic(_, _, let dst, _, _), .storeRelease(_, let dst, _, _): dst != .r10
        default: false
        }
    }

    private static func writes(_ operation: DecodedInstruction, _ register: Register) -> Bool {
        switch operation {
        case .arithmetic(_, _, let dst, _), .moveSignExtend(_, let dst, _, _), .negate(_, let dst), .byteSwap(_, _, let dst),
             .addressSpaceCast(let dst, _, _, _), .perCPUAddress(let dst, _), .load(_, let dst, _, _), .loadSignExtend(_, let dst, _, _),
             .loadAcquire(_, let dst, _, _), .loadImmediate64(let dst, _):
            return dst == register
        case .atomic(let operation, _, _, _, let src):
            // Fetching forms write src; compare-exchange writes r0.
            return operation == .compareExchange ? register == .r0 : (operation.fetches && src == register)
        case .loadPacketAbsolute, .loadPacketIndirect, .call:
            return register.rawValue <= 5
        default:
            return false
        }
    }

    /// True when the instruction's only effect is setting `register`.
    private static func writesOnly(_ operation: DecodedInstruction, _ register: Register) -> Bool {
        switch operation {
        case .arithmetic(_, _, let dst, _), .moveSignExtend(_, let dst, _, _), .negate(_, let dst), .byteSwap(_, _, let dst),
             .load(_, let dst, _, _), .loadSignExtend(_, let dst, _, _):
            return dst == register
        case .loadImmediate64(let dst, .value):
            return dst == register
        default:
            return false
        }
    }

    /// Conservatively true when the instruction may read `register`.
    private static func reads(_ operation: DecodedInstruction, _ register: Register) -> Bool {
        func operand(_ value: Operand) -> Bool { value == .register(register) }
        switch operation {
        case .arithmetic(let op, _, let dst, let value):
            return (op != .mov && dst == register) || operand(value)
        case .moveSignExtend(_, _, let src, _), .addressSpaceCast(_, let src, _, _), .perCPUAddress(_, let src),
             .load(_, _, let src, _), .loadSignExtend(_, _, let src, _), .loadAcquire(_, _, let src, _):
            return src == register
        case .negate(_, let dst), .byteSwap(_, _, let dst), .jumpIndirect(let dst):
            return dst == register
        case .store(_, let dst, _, let value):
            return dst == register || operand(value)
        case .atomic(_, _, let dst, _, let src), .storeRelease(_, let dst, _, let src):
            return dst == register || src == register || register == .r0
        case .conditionalJump(_, _, let dst, let value, _):
            return dst == register || operand(value)
        // Legacy packet loads read the skb from r6 implicitly.
        case .loadPacketAbsolute, .loadPacketIndirect:
            return true
        case .call:
            // Helpers take their arguments in r1–r5.
            return (1...5).contains(register.rawValue)
        case .exit:
            return register == .r0
        case .loadImmediate64, .jump, .jumpLong, .mayGoto, .speculationBarrier:
            return false
        }
    }

    private static func slots(_ offset: Int16, _ size: Int) -> [Int16] {
        let first = Int(offset) & ~7, last = (Int(offset) + size - 1) & ~7
        return stride(from: first, through: last, by: 8).map { Int16($0) }
    }

    /// Drops claimed-private slots the program does take the address of (`rN = r10; rN += K`);
    /// any other use of r10 as a value voids every claim.
    private static func verifiedPrivateSlots(_ ops: [DecodedInstruction], _ claimed: Set<Int16>) -> Set<Int16> {
        guard !claimed.isEmpty else { return [] }
        var result = claimed
        for (position, operation) in ops.enumerated() {
            switch operation {
            case .arithmetic(.mov, .bits64, let dst, .register(.r10)):
                guard position + 1 < ops.count, case .arithmetic(.add, .bits64, dst, .immediate(let offset)) = ops[position + 1] else { return [] }
                // A buffer's extent is the generator's to vouch for; a pointer that starts in a
                // claimed slot contradicts the claim.
                result.remove(Int16(truncatingIfNeeded: Int(offset) & ~7))
            case .arithmetic(_, _, _, .register(.r10)), .moveSignExtend(_, _, .r10, _), .store(_, _, _, .register(.r10)):
                return []
            default: break
            }
        }
        return result
    }
}
