/// Why a slot does not decode to a `DecodedInstruction`. Decoding never traps: every malformed input,
/// including a truncated `lddw`, becomes one of these.
public struct InstructionDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong with the slot.
    public enum Reason: Hashable, Sendable, CustomStringConvertible {
        /// No instruction has this opcode byte (or this opcode with these selector fields).
        case unknownOpcode
        /// A field the instruction does not use holds a non-zero value (the verifier rejects these
        /// as "uses reserved fields").
        case reservedField(String)
        /// A register field names r12–r15 (r11 is the kernel-internal `Register.ax`).
        case invalidRegister(UInt8)
        /// A field has a value outside what the instruction allows (e.g. an END width of 24).
        case invalidField(String)
        /// `lddw` is the last slot: its second half is missing.
        case truncatedLoadImmediate64
        /// The index is outside the program.
        case missingInstruction
        /// The second slot of `lddw` is not opcode 0 with zero registers and offset.
        case malformedLoadImmediate64SecondSlot

        public var description: String {
            switch self {
            case .unknownOpcode: "unknown opcode"
            case .reservedField(let field): "reserved field '\(field)' is not zero"
            case .invalidRegister(let number): "invalid register r\(number)"
            case .invalidField(let field): "invalid \(field)"
            case .truncatedLoadImmediate64: "lddw is missing its second slot"
            case .missingInstruction: "no instruction at this index"
            case .malformedLoadImmediate64SecondSlot: "second slot of lddw must have opcode 0 and zero registers and offset"
            }
        }
    }

    /// Index of the offending slot in the program.
    public let index: Int
    public let instruction: Instruction
    public let reason: Reason

    public init(index: Int, instruction: Instruction, reason: Reason) {
        self.index = index
        self.instruction = instruction
        self.reason = reason
    }

    public var description: String {
        "instruction \(index) (opcode 0x\(String(instruction.opcode, radix: 16))): \(reason)"
    }
}

/// One decoded position of a program: the slot index where it starts and its operation or the
/// reason it is invalid.
public struct DecodedSlot: Hashable, Sendable {
    public let index: Int
    public let result: Result<DecodedInstruction, InstructionDecodingError>

    /// Slots covered: 2 for a valid `lddw`, else 1 (an invalid slot is skipped on its own).
    public var slotCount: Int { (try? result.get())?.slotCount ?? 1 }
}

extension DecodedInstruction {
    /// Decodes the instruction starting at `index` of `program` (using the next slot for `lddw`).
    public static func decode(_ program: [Instruction], at index: Int) -> Result<DecodedInstruction, InstructionDecodingError> {
        guard program.indices.contains(index) else {
            return .failure(InstructionDecodingError(index: index, instruction: Instruction(opcode: 0), reason: .missingInstruction))
        }
        let next = program.indices.contains(index + 1) ? program[index + 1] : nil
        return decode(program[index], next: next, index: index)
    }

    /// Decodes one instruction; `next` is the following slot, needed only by `lddw`.
    public static func decode(_ insn: Instruction, next: Instruction?, index: Int = 0) -> Result<DecodedInstruction, InstructionDecodingError> {
        let decoder = SlotDecoder(insn: insn, next: next, index: index)
        return Result { () throws(InstructionDecodingError) in try decoder.decode() }
    }
}

extension Array where Element == Instruction {
    /// Decodes a whole program. A valid `lddw` covers two slots; an invalid slot is reported and
    /// decoding continues with the next slot.
    public func decodedSlots() -> [DecodedSlot] {
        var result: [DecodedSlot] = []
        result.reserveCapacity(count)
        var index = 0
        while index < count {
            let decoded = DecodedSlot(index: index, result: DecodedInstruction.decode(self, at: index))
            result.append(decoded)
            index += decoded.slotCount
        }
        return result
    }

    /// The name `decodedSlots()` had when the decoded form was called `Operation` (renamed, as
    /// that clashes with Foundation's `Operation`).
    @available(*, deprecated, renamed: "decodedSlots()")
    public func decodedOperations() -> [DecodedSlot] { decodedSlots() }

    /// Decodes a whole program, throwing the first decoding error.
    public func decodedInstructions() throws(InstructionDecodingError) -> [DecodedInstruction] {
        var instructions: [DecodedInstruction] = []
        for slot in decodedSlots() {
            switch slot.result {
            case .success(let instruction): instructions.append(instruction)
            case .failure(let error): throw error
            }
        }
        return instructions
    }
}

/// Field checks for one slot; throws `InstructionDecodingError`.
private struct SlotDecoder {
    let insn: Instruction
    let next: Instruction?
    let index: Int

    func fail(_ reason: InstructionDecodingError.Reason) -> InstructionDecodingError {
        InstructionDecodingError(index: index, instruction: insn, reason: reason)
    }

    func register(_ number: UInt8) throws(InstructionDecodingError) -> Register {
        guard let register = Register(rawValue: number) else { throw fail(.invalidRegister(number)) }
        return register
    }
    var dst: Register { get throws(InstructionDecodingError) { try register(insn.dst) } }
    var src: Register { get throws(InstructionDecodingError) { try register(insn.src) } }

    func zeroDst() throws(InstructionDecodingError) { if insn.dst != 0 { throw fail(.reservedField("dst_reg")) } }
    func zeroSrc() throws(InstructionDecodingError) { if insn.src != 0 { throw fail(.reservedField("src_reg")) } }
    func zeroOffset() throws(InstructionDecodingError) { if insn.offset != 0 { throw fail(.reservedField("off")) } }
    func zeroImmediate() throws(InstructionDecodingError) { if insn.immediate != 0 { throw fail(.reservedField("imm")) } }

    var size: AccessSize { AccessSize(rawValue: insn.opcode & 0x18)! }
    var mode: UInt8 { insn.opcode & 0xe0 }
    var usesRegisterSource: Bool { insn.opcode & OpcodeByte.sourceRegister != 0 }

    func decode() throws(InstructionDecodingError) -> DecodedInstruction {
        switch OpcodeClass(rawValue: insn.opcode & 0x07)! {
        case .alu: return try decodeALU(.bits32)
        case .alu64: return try decodeALU(.bits64)
        case .jmp: return try decodeJump(.bits64)
        case .jmp32: return try decodeJump(.bits32)
        case .ldx: return try decodeLoadX()
        case .st: return try decodeStoreImmediate()
        case .stx: return try decodeStoreX()
        case .ld: return try decodeLoad()
        }
    }

    func decodeALU(_ width: Width) throws(InstructionDecodingError) -> DecodedInstruction {
        guard let code = ALUOperation(rawValue: insn.opcode & 0xf0) else { throw fail(.unknownOpcode) }
        switch code {
        case .neg:
            guard !usesRegisterSource else { throw fail(.unknownOpcode) }
            try zeroSrc(); try zeroOffset(); try zeroImmediate()
            return .negate(width, dst: try dst)
        case .end:
            try zeroSrc(); try zeroOffset()
            guard let bits = ByteSwapWidth(rawValue: insn.immediate) else { throw fail(.invalidField("byte swap width \(insn.immediate)")) }
            let kind: ByteSwapKind
            switch (width, usesRegisterSource) {
            case (.bits32, false): kind = .toLittleEndian
            case (.bits32, true): kind = .toBigEndian
            case (.bits64, false): kind = .unconditional
            case (.bits64, true): throw fail(.unknownOpcode)
            }
            return .byteSwap(kind, bits: bits, dst: try dst)
        case .mov where usesRegisterSource && insn.offset != 0:
            if width == .bits64, insn.offset == OpcodeByte.addressSpaceCastOffset {
                let imm = UInt32(bitPattern: insn.immediate)
                return .addressSpaceCast(dst: try dst, src: try src, toSpace: UInt16(imm >> 16), fromSpace: UInt16(truncatingIfNeeded: imm))
            }
            if width == .bits64, insn.offset == OpcodeByte.perCPUAddressOffset {
                try zeroImmediate()
                return .perCPUAddress(dst: try dst, src: try src)
            }
            // ALU32 sign-extends from 8 or 16 bits only (verifier: "invalid mov").
            guard let bits = SignExtension(rawValue: insn.offset), width == .bits64 || bits != .from32 else {
                throw fail(.invalidField("mov offset \(insn.offset)"))
            }
            try zeroImmediate()
            return .moveSignExtend(width, dst: try dst, src: try src, fromBits: bits)
        default:
            guard let operation = ArithmeticOperation(code: code, offset: insn.offset) else {
                throw fail(code == .div || code == .mod ? .invalidField("div/mod offset \(insn.offset)") : .reservedField("off"))
            }
            if usesRegisterSource {
                try zeroImmediate()
                return .arithmetic(operation, width, dst: try dst, .register(try src))
            }
            try zeroSrc()
            return .arithmetic(operation, width, dst: try dst, .immediate(insn.immediate))
        }
    }

    func decodeJump(_ width: Width) throws(InstructionDecodingError) -> DecodedInstruction {
        let code = insn.opcode & 0xf0
        switch code {
        case OpcodeByte.callCode:
            guard width == .bits64, !usesRegisterSource else { throw fail(.unknownOpcode) }
            try zeroDst()
            switch CallKind(rawValue: insn.src) {
            case .helper:
                try zeroOffset()
                return .call(.helper(insn.immediate))
            case .subprogram:
                if insn.offset != 0 { return .call(.translatedSubprogram(index: insn.immediate, offset: insn.offset)) }
                return .call(.subprogram(offset: insn.immediate))
            case .kfunc:
                return .call(.kfunc(btfID: insn.immediate, moduleIndex: insn.offset))
            case nil:
                throw fail(.invalidField("call kind \(insn.src)"))
            }
        case OpcodeByte.exitCode:
            guard width == .bits64, !usesRegisterSource else { throw fail(.unknownOpcode) }
            try zeroDst(); try zeroSrc(); try zeroOffset(); try zeroImmediate()
            return .exit
        case OpcodeByte.conditionalPseudoJumpCode:
            guard width == .bits64, !usesRegisterSource else { throw fail(.unknownOpcode) }
            // src selects the kind of conditional pseudo-jump; BPF_MAY_GOTO (0) is the only one.
            try zeroDst(); try zeroSrc(); try zeroImmediate()
            return .mayGoto(offset: insn.offset)
        case JumpCondition.always.rawValue:
            switch (width, usesRegisterSource) {
            case (.bits64, false):
                try zeroDst(); try zeroSrc(); try zeroImmediate()
                return .jump(offset: insn.offset)
            case (.bits32, false):
                try zeroDst(); try zeroSrc(); try zeroOffset()
                return .jumpLong(offset: insn.immediate)
            case (.bits64, true):
                try zeroSrc(); try zeroOffset(); try zeroImmediate()
                return .jumpIndirect(dst: try dst)
            case (.bits32, true):
                throw fail(.unknownOpcode)
            }
        default:
            guard let condition = JumpCondition(rawValue: code) else { throw fail(.unknownOpcode) }
            if usesRegisterSource {
                try zeroImmediate()
                return .conditionalJump(condition, width, dst: try dst, .register(try src), offset: insn.offset)
            }
            try zeroSrc()
            return .conditionalJump(condition, width, dst: try dst, .immediate(insn.immediate), offset: insn.offset)
        }
    }

    func decodeLoadX() throws(InstructionDecodingError) -> DecodedInstruction {
        try zeroImmediate()
        switch mode {
        case AccessMode.memory.rawValue:
            return .load(size, dst: try dst, src: try src, offset: insn.offset)
        case AccessMode.memorySignExtend.rawValue where size != .doubleWord:
            return .loadSignExtend(size, dst: try dst, src: try src, offset: insn.offset)
        default:
            throw fail(.unknownOpcode)
        }
    }

    func decodeStoreImmediate() throws(InstructionDecodingError) -> DecodedInstruction {
        if insn.opcode == OpcodeByte.speculationBarrier {
            try zeroDst(); try zeroSrc(); try zeroOffset(); try zeroImmediate()
            return .speculationBarrier
        }
        guard mode == AccessMode.memory.rawValue else { throw fail(.unknownOpcode) }
        try zeroSrc()
        return .store(size, dst: try dst, offset: insn.offset, .immediate(insn.immediate))
    }

    func decodeStoreX() throws(InstructionDecodingError) -> DecodedInstruction {
        switch mode {
        case AccessMode.memory.rawValue:
            try zeroImmediate()
            return .store(size, dst: try dst, offset: insn.offset, .register(try src))
        case AccessMode.atomic.rawValue:
            switch insn.immediate {
            case OpcodeByte.loadAcquire:
                return .loadAcquire(size, dst: try dst, src: try src, offset: insn.offset)
            case OpcodeByte.storeRelease:
                return .storeRelease(size, dst: try dst, offset: insn.offset, src: try src)
            default:
                guard let operation = AtomicOperation(rawValue: insn.immediate) else {
                    throw fail(.invalidField("atomic operation 0x\(String(UInt32(bitPattern: insn.immediate), radix: 16))"))
                }
                // Read-modify-write atomics exist for words and double words only.
                guard size == .word || size == .doubleWord else { throw fail(.invalidField("atomic size")) }
                return .atomic(operation, size, dst: try dst, offset: insn.offset, src: try src)
            }
        default:
            throw fail(.unknownOpcode)
        }
    }

    func decodeLoad() throws(InstructionDecodingError) -> DecodedInstruction {
        switch mode {
        case AccessMode.immediate.rawValue where size == .doubleWord:
            try zeroOffset()
            guard let next else { throw fail(.truncatedLoadImmediate64) }
            guard next.opcode == 0, next.dst == 0, next.src == 0, next.offset == 0 else {
                throw fail(.malformedLoadImmediate64SecondSlot)
            }
            guard let source = PseudoSource(rawValue: insn.src) else { throw fail(.invalidField("lddw pseudo source \(insn.src)")) }
            let low = insn.immediate, high = next.immediate
            // Only constants, map values and BTF variables use the second immediate.
            func highMustBeZero() throws(InstructionDecodingError) { if high != 0 { throw fail(.malformedLoadImmediate64SecondSlot) } }
            let value: Immediate64
            switch source {
            case .immediate: value = .value(UInt64(UInt32(bitPattern: high)) << 32 | UInt64(UInt32(bitPattern: low)))
            case .mapFD: try highMustBeZero(); value = .mapFD(low)
            case .mapValue: value = .mapValue(map: low, offset: UInt32(bitPattern: high))
            case .btfID: value = .btfVariable(btfID: low, moduleFD: high)
            case .function: try highMustBeZero(); value = .function(offset: low)
            case .mapIndex: try highMustBeZero(); value = .mapIndex(low)
            case .mapIndexValue: value = .mapIndexValue(index: low, offset: UInt32(bitPattern: high))
            }
            return .loadImmediate64(dst: try dst, value)
        case AccessMode.packetAbsolute.rawValue where size != .doubleWord:
            try zeroDst(); try zeroSrc(); try zeroOffset()
            return .loadPacketAbsolute(size, immediate: insn.immediate)
        case AccessMode.packetIndirect.rawValue where size != .doubleWord:
            try zeroDst(); try zeroOffset()
            return .loadPacketIndirect(size, src: try src, immediate: insn.immediate)
        default:
            throw fail(.unknownOpcode)
        }
    }
}
