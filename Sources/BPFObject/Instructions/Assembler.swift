/// Builds programs from Swift, one instruction per call, with named labels whose jumps are
/// resolved when `assemble()` is called (forward and backward).
///
/// ```swift
/// var asm = Assembler()
/// asm.mov(.r0, 0)
/// asm.jump(.eq, .r1, 0, to: "out")
/// asm.mov(.r0, 1)
/// asm.label("out")
/// asm.exit()
/// let instructions = try asm.assemble()
/// ```
public struct Assembler: Sendable {
    public private(set) var instructions: [Instruction] = []
    private var labels: [String: Int] = [:]
    /// Instruction index → label it jumps to (or calls, for subprogram calls).
    private var pendingJumps: [(index: Int, label: String, isCall: Bool)] = []

    public init() {}

    public struct UndefinedLabel: Error, CustomStringConvertible {
        public let label: String
        public var description: String { "jump to undefined label '\(label)'" }
    }
    public struct JumpOutOfRange: Error, CustomStringConvertible {
        public let label: String
        public let distance: Int
        public var description: String { "jump to '\(label)' spans \(distance) instructions, beyond a 16-bit offset (use gotol)" }
    }

    /// Index of the next instruction slot.
    public var count: Int { instructions.count }

    public mutating func emit(_ instruction: Instruction) { instructions.append(instruction) }

    /// Defines `name` at the next instruction.
    public mutating func label(_ name: String) { labels[name] = instructions.count }

    // MARK: ALU

    /// `dst op= imm` (64-bit unless `is32Bit`).
    public mutating func alu(_ operation: ALUOperation, _ dst: Register, _ imm: Int32, is32Bit: Bool = false) {
        let cls: OpcodeClass = is32Bit ? .alu : .alu64
        emit(Instruction(opcode: cls.rawValue | operation.rawValue, dst: dst.rawValue, immediate: imm))
    }

    /// `dst op= src` (64-bit unless `is32Bit`).
    public mutating func alu(_ operation: ALUOperation, _ dst: Register, _ src: Register, is32Bit: Bool = false) {
        let cls: OpcodeClass = is32Bit ? .alu : .alu64
        emit(Instruction(opcode: cls.rawValue | operation.rawValue | OpcodeByte.sourceRegister, dst: dst.rawValue, src: src.rawValue))
    }

    public mutating func mov(_ dst: Register, _ imm: Int32) { alu(.mov, dst, imm) }
    public mutating func mov(_ dst: Register, _ src: Register) { alu(.mov, dst, src) }
    public mutating func mov32(_ dst: Register, _ imm: Int32) { alu(.mov, dst, imm, is32Bit: true) }
    public mutating func mov32(_ dst: Register, _ src: Register) { alu(.mov, dst, src, is32Bit: true) }
    public mutating func add(_ dst: Register, _ imm: Int32) { alu(.add, dst, imm) }
    public mutating func add(_ dst: Register, _ src: Register) { alu(.add, dst, src) }
    public mutating func sub(_ dst: Register, _ src: Register) { alu(.sub, dst, src) }

    /// `lddw dst, imm64`.
    public mutating func loadImmediate64(_ dst: Register, _ value: UInt64, source: PseudoSource = .immediate) {
        emit(Instruction(opcode: OpcodeByte.loadImm64, dst: dst.rawValue, src: source.rawValue,
                         immediate: Int32(bitPattern: UInt32(truncatingIfNeeded: value))))
        emit(Instruction(opcode: 0, immediate: Int32(bitPattern: UInt32(truncatingIfNeeded: value >> 32))))
    }

    /// `lddw dst, map` — a map reference by file descriptor (BPF_PSEUDO_MAP_FD).
    public mutating func loadMapFD(_ dst: Register, _ fd: Int32) {
        loadImmediate64(dst, UInt64(UInt32(bitPattern: fd)), source: .mapFD)
    }

    /// `lddw dst, &map_value[offset]` — a pointer into an array map's value (BPF_PSEUDO_MAP_VALUE).
    public mutating func loadMapValue(_ dst: Register, fd: Int32, offset: UInt32 = 0) {
        loadImmediate64(dst, UInt64(UInt32(bitPattern: fd)) | UInt64(offset) << 32, source: .mapValue)
    }

    // MARK: Memory

    /// `dst = *(size *)(src + offset)`.
    public mutating func load(_ size: AccessSize, _ dst: Register, _ src: Register, _ offset: Int16) {
        emit(Instruction(opcode: OpcodeClass.ldx.rawValue | size.rawValue | 0x60, dst: dst.rawValue, src: src.rawValue, offset: offset))
    }

    /// `*(size *)(dst + offset) = src`.
    public mutating func store(_ size: AccessSize, _ dst: Register, _ offset: Int16, _ src: Register) {
        emit(Instruction(opcode: OpcodeClass.stx.rawValue | size.rawValue | 0x60, dst: dst.rawValue, src: src.rawValue, offset: offset))
    }

    /// `*(size *)(dst + offset) = imm`.
    public mutating func store(_ size: AccessSize, _ dst: Register, _ offset: Int16, immediate: Int32) {
        emit(Instruction(opcode: OpcodeClass.st.rawValue | size.rawValue | 0x60, dst: dst.rawValue, offset: offset, immediate: immediate))
    }

    /// `lock *(size *)(dst + offset) += src` (atomic add, word or double word).
    public mutating func atomicAdd(_ size: AccessSize, _ dst: Register, _ offset: Int16, _ src: Register) {
        emit(Instruction(opcode: OpcodeClass.stx.rawValue | size.rawValue | 0xc0, dst: dst.rawValue, src: src.rawValue, offset: offset, immediate: 0))
    }

    // MARK: Control flow

    /// `if dst cond imm goto label` (`.always` ignores the operands).
    public mutating func jump(_ condition: JumpCondition, _ dst: Register, _ imm: Int32, to label: String, is32Bit: Bool = false) {
        let cls: OpcodeClass = is32Bit ? .jmp32 : .jmp
        pendingJumps.append((instructions.count, label, false))
        emit(Instruction(opcode: cls.rawValue | condition.rawValue, dst: dst.rawValue, immediate: imm))
    }

    /// `if dst cond src goto label`.
    public mutating func jump(_ condition: JumpCondition, _ dst: Register, _ src: Register, to label: String, is32Bit: Bool = false) {
        let cls: OpcodeClass = is32Bit ? .jmp32 : .jmp
        pendingJumps.append((instructions.count, label, false))
        emit(Instruction(opcode: cls.rawValue | condition.rawValue | OpcodeByte.sourceRegister, dst: dst.rawValue, src: src.rawValue))
    }

    /// `goto label`.
    public mutating func jump(to label: String) {
        pendingJumps.append((instructions.count, label, false))
        emit(Instruction(opcode: OpcodeClass.jmp.rawValue | JumpCondition.always.rawValue))
    }

    /// `call helper#id`.
    public mutating func call(helperID: Int32) {
        emit(Instruction(opcode: OpcodeByte.call, immediate: helperID))
    }

    /// BPF-to-BPF call of the subprogram starting at `label`.
    public mutating func call(subprogram label: String) {
        pendingJumps.append((instructions.count, label, true))
        emit(Instruction(opcode: OpcodeByte.call, src: CallKind.subprogram.rawValue))
    }

    /// `call kfunc` by BTF id.
    public mutating func call(kfuncBTFID: Int32, moduleFDIndex: Int16 = 0) {
        emit(Instruction(opcode: OpcodeByte.call, src: CallKind.kfunc.rawValue, offset: moduleFDIndex, immediate: kfuncBTFID))
    }

    public mutating func exit() { emit(Instruction(opcode: OpcodeByte.exit)) }

    /// Resolves labels and returns the program.
    public func assemble() throws -> [Instruction] {
        var result = instructions
        for jump in pendingJumps {
            guard let target = labels[jump.label] else { throw UndefinedLabel(label: jump.label) }
            let distance = target - jump.index - 1
            if jump.isCall {
                result[jump.index].immediate = Int32(distance)
            } else {
                guard let offset = Int16(exactly: distance) else { throw JumpOutOfRange(label: jump.label, distance: distance) }
                result[jump.index].offset = offset
            }
        }
        return result
    }
}
