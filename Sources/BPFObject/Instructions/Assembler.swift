/// Builds programs from Swift, one instruction per call, with named labels whose jumps, calls and
/// function addresses are resolved when `assemble()` is called (forward and backward).
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
///
/// 32-bit forms take `is32Bit: true` (the `w` registers of the ALU and JMP32 classes).
public struct Assembler: Sendable {
    public private(set) var instructions: [Instruction] = []
    private var labels: [String: Int] = [:]
    private var duplicateLabels: [String] = []
    private var fixups: [Fixup] = []

    /// A reference to a label to patch once all labels are known.
    private struct Fixup: Sendable {
        enum Field: Sendable {
            /// 16-bit `off` of a jump (pc-relative, counted from the next slot).
            case offset
            /// 32-bit `imm` of `gotol`, a subprogram call or a `lddw` function address.
            case immediate
        }
        let index: Int
        let label: String
        let field: Field
    }

    public init() {}

    /// A jump names a label that was never placed.
    public struct UndefinedLabel: Error, CustomStringConvertible {
        public let label: String
        public var description: String { "jump to undefined label '\(label)'" }
    }
    /// A label was placed twice.
    public struct DuplicateLabel: Error, CustomStringConvertible {
        public let label: String
        public var description: String { "label '\(label)' is defined more than once" }
    }
    /// A jump's distance does not fit its offset field.
    public struct JumpOutOfRange: Error, CustomStringConvertible {
        public let label: String
        public let distance: Int
        public var description: String { "jump to '\(label)' spans \(distance) instructions, beyond a 16-bit offset (use gotol)" }
    }

    /// Index of the next instruction slot.
    public var count: Int { instructions.count }

    public mutating func emit(_ instruction: Instruction) { instructions.append(instruction) }

    /// Appends the encoding of a decoded operation (one slot, two for `lddw`).
    public mutating func emit(_ operation: DecodedInstruction) { instructions += operation.instructions }

    /// Defines `name` at the next instruction. Defining a name twice makes `assemble()` throw
    /// `DuplicateLabel`.
    public mutating func label(_ name: String) {
        if labels[name] != nil { duplicateLabels.append(name) }
        labels[name] = instructions.count
    }

    private static func width(_ is32Bit: Bool) -> Width { is32Bit ? .bits32 : .bits64 }

    // MARK: ALU

    /// `dst op= imm` (64-bit unless `is32Bit`). `.neg` and `.end` have their own methods.
    public mutating func alu(_ operation: ALUOperation, _ dst: Register, _ imm: Int32, is32Bit: Bool = false) {
        let cls: OpcodeClass = is32Bit ? .alu : .alu64
        emit(Instruction(opcode: cls.rawValue | operation.rawValue, dst: dst.rawValue, immediate: imm))
    }

    /// `dst op= src` (64-bit unless `is32Bit`).
    public mutating func alu(_ operation: ALUOperation, _ dst: Register, _ src: Register, is32Bit: Bool = false) {
        let cls: OpcodeClass = is32Bit ? .alu : .alu64
        emit(Instruction(opcode: cls.rawValue | operation.rawValue | OpcodeByte.sourceRegister, dst: dst.rawValue, src: src.rawValue))
    }

    /// `dst s/= imm` — signed division (DIV with `off` = 1, kernel 6.6+).
    public mutating func signedDiv(_ dst: Register, _ imm: Int32, is32Bit: Bool = false) {
        emit(.arithmetic(.signedDiv, Self.width(is32Bit), dst: dst, .immediate(imm)))
    }
    /// `dst s/= src` — signed division (kernel 6.6+).
    public mutating func signedDiv(_ dst: Register, _ src: Register, is32Bit: Bool = false) {
        emit(.arithmetic(.signedDiv, Self.width(is32Bit), dst: dst, .register(src)))
    }
    /// `dst s%= imm` — signed modulo (MOD with `off` = 1, kernel 6.6+).
    public mutating func signedMod(_ dst: Register, _ imm: Int32, is32Bit: Bool = false) {
        emit(.arithmetic(.signedMod, Self.width(is32Bit), dst: dst, .immediate(imm)))
    }
    /// `dst s%= src` — signed modulo (kernel 6.6+).
    public mutating func signedMod(_ dst: Register, _ src: Register, is32Bit: Bool = false) {
        emit(.arithmetic(.signedMod, Self.width(is32Bit), dst: dst, .register(src)))
    }

    public mutating func mov(_ dst: Register, _ imm: Int32) { alu(.mov, dst, imm) }
    public mutating func mov(_ dst: Register, _ src: Register) { alu(.mov, dst, src) }
    public mutating func mov32(_ dst: Register, _ imm: Int32) { alu(.mov, dst, imm, is32Bit: true) }
    public mutating func mov32(_ dst: Register, _ src: Register) { alu(.mov, dst, src, is32Bit: true) }
    public mutating func add(_ dst: Register, _ imm: Int32) { alu(.add, dst, imm) }
    public mutating func add(_ dst: Register, _ src: Register) { alu(.add, dst, src) }
    public mutating func sub(_ dst: Register, _ imm: Int32) { alu(.sub, dst, imm) }
    public mutating func sub(_ dst: Register, _ src: Register) { alu(.sub, dst, src) }

    /// `dst = (s8|s16|s32) src` — sign-extending move (ALU32 allows 8 and 16 bits only).
    public mutating func movSignExtend(_ dst: Register, _ src: Register, from bits: SignExtension, is32Bit: Bool = false) {
        emit(.moveSignExtend(Self.width(is32Bit), dst: dst, src: src, fromBits: bits))
    }

    /// `dst = -dst`.
    public mutating func neg(_ dst: Register, is32Bit: Bool = false) { emit(.negate(Self.width(is32Bit), dst: dst)) }

    /// `dst = le16/le32/le64 dst` — convert to little-endian (zero-extends the rest).
    public mutating func toLittleEndian(_ dst: Register, bits: ByteSwapWidth) { emit(.byteSwap(.toLittleEndian, bits: bits, dst: dst)) }

    /// `dst = be16/be32/be64 dst` — convert to big-endian (network order).
    public mutating func toBigEndian(_ dst: Register, bits: ByteSwapWidth) { emit(.byteSwap(.toBigEndian, bits: bits, dst: dst)) }

    /// `dst = bswap16/32/64 dst` — unconditional byte swap (ALU64 END, kernel 6.6+).
    public mutating func byteSwap(_ dst: Register, bits: ByteSwapWidth) { emit(.byteSwap(.unconditional, bits: bits, dst: dst)) }

    // MARK: 64-bit immediates

    /// `lddw dst, imm64`.
    public mutating func loadImmediate64(_ dst: Register, _ value: UInt64, source: PseudoSource = .immediate) {
        emit(Instruction(opcode: OpcodeByte.loadImm64, dst: dst.rawValue, src: source.rawValue,
                         immediate: Int32(bitPattern: UInt32(truncatingIfNeeded: value))))
        emit(Instruction(opcode: 0, immediate: Int32(bitPattern: UInt32(truncatingIfNeeded: value >> 32))))
    }

    /// `lddw dst, map` — a map reference by file descriptor (BPF_PSEUDO_MAP_FD).
    public mutating func loadMapFD(_ dst: Register, _ fd: Int32) {
        emit(.loadImmediate64(dst: dst, .mapFD(fd)))
    }

    /// `lddw dst, &map_value[offset]` — a pointer into an array map's value (BPF_PSEUDO_MAP_VALUE).
    public mutating func loadMapValue(_ dst: Register, fd: Int32, offset: UInt32 = 0) {
        emit(.loadImmediate64(dst: dst, .mapValue(map: fd, offset: offset)))
    }

    /// `lddw dst, map` by index into the fd array given at load time (BPF_PSEUDO_MAP_IDX).
    public mutating func loadMapIndex(_ dst: Register, _ index: Int32) {
        emit(.loadImmediate64(dst: dst, .mapIndex(index)))
    }

    /// `lddw dst, &map_value[offset]`, the map by fd-array index (BPF_PSEUDO_MAP_IDX_VALUE).
    public mutating func loadMapIndexValue(_ dst: Register, index: Int32, offset: UInt32 = 0) {
        emit(.loadImmediate64(dst: dst, .mapIndexValue(index: index, offset: offset)))
    }

    /// `lddw dst, &kernel_variable` by BTF id (BPF_PSEUDO_BTF_ID); `moduleFD` 0 means vmlinux.
    public mutating func loadKernelVariable(_ dst: Register, btfID: Int32, moduleFD: Int32 = 0) {
        emit(.loadImmediate64(dst: dst, .btfVariable(btfID: btfID, moduleFD: moduleFD)))
    }

    /// `lddw dst, &subprogram` — address of the subprogram at `label` (BPF_PSEUDO_FUNC), for
    /// callbacks such as `bpf_loop` or `bpf_for_each_map_elem`.
    public mutating func loadFunctionAddress(_ dst: Register, _ label: String) {
        fixups.append(Fixup(index: count, label: label, field: .immediate))
        emit(.loadImmediate64(dst: dst, .function(offset: 0)))
    }

    // MARK: Memory

    /// `dst = *(size *)(src + offset)`.
    public mutating func load(_ size: AccessSize, _ dst: Register, _ src: Register, _ offset: Int16) {
        emit(.load(size, dst: dst, src: src, offset: offset))
    }

    /// `dst = *(s8|s16|s32 *)(src + offset)` — sign-extending load (BPF_MEMSX, kernel 6.6+).
    /// `size` must not be `.doubleWord`.
    public mutating func loadSignExtend(_ size: AccessSize, _ dst: Register, _ src: Register, _ offset: Int16) {
        emit(.loadSignExtend(size, dst: dst, src: src, offset: offset))
    }

    /// `*(size *)(dst + offset) = src`.
    public mutating func store(_ size: AccessSize, _ dst: Register, _ offset: Int16, _ src: Register) {
        emit(.store(size, dst: dst, offset: offset, .register(src)))
    }

    /// `*(size *)(dst + offset) = imm`.
    public mutating func store(_ size: AccessSize, _ dst: Register, _ offset: Int16, immediate: Int32) {
        emit(.store(size, dst: dst, offset: offset, .immediate(immediate)))
    }

    /// `r0 = *(size *)skb[imm]` — legacy packet load (socket filters; not double words).
    public mutating func loadPacket(_ size: AccessSize, absolute offset: Int32) {
        emit(.loadPacketAbsolute(size, immediate: offset))
    }

    /// `r0 = *(size *)skb[src + imm]` — legacy packet load (socket filters; not double words).
    public mutating func loadPacket(_ size: AccessSize, _ src: Register, indirect offset: Int32) {
        emit(.loadPacketIndirect(size, src: src, immediate: offset))
    }

    // MARK: Atomics

    /// `lock *(size *)(dst + offset) += src` (atomic add, word or double word).
    public mutating func atomicAdd(_ size: AccessSize, _ dst: Register, _ offset: Int16, _ src: Register) {
        atomic(.add, size, dst, offset, src)
    }

    /// An atomic operation on `*(size *)(dst + offset)` with `src` (word or double word):
    /// add/or/and/xor, their fetching forms (`src` receives the old value), `exchange`
    /// (`src = xchg(...)`) and `compareExchange` (`r0 = cmpxchg(ptr, r0, src)`).
    public mutating func atomic(_ operation: AtomicOperation, _ size: AccessSize, _ dst: Register, _ offset: Int16, _ src: Register) {
        emit(.atomic(operation, size, dst: dst, offset: offset, src: src))
    }

    /// `dst = load_acquire((size *)(src + offset))` (kernel 6.15+).
    public mutating func loadAcquire(_ size: AccessSize, _ dst: Register, _ src: Register, _ offset: Int16) {
        emit(.loadAcquire(size, dst: dst, src: src, offset: offset))
    }

    /// `store_release((size *)(dst + offset), src)` (kernel 6.15+).
    public mutating func storeRelease(_ size: AccessSize, _ dst: Register, _ offset: Int16, _ src: Register) {
        emit(.storeRelease(size, dst: dst, offset: offset, src: src))
    }

    // MARK: Control flow

    /// `if dst cond imm goto label` (`.always` ignores the operands).
    public mutating func jump(_ condition: JumpCondition, _ dst: Register, _ imm: Int32, to label: String, is32Bit: Bool = false) {
        if condition == .always { return jump(to: label) }
        let cls: OpcodeClass = is32Bit ? .jmp32 : .jmp
        fixups.append(Fixup(index: count, label: label, field: .offset))
        emit(Instruction(opcode: cls.rawValue | condition.rawValue, dst: dst.rawValue, immediate: imm))
    }

    /// `if dst cond src goto label` (`.always` ignores the operands).
    public mutating func jump(_ condition: JumpCondition, _ dst: Register, _ src: Register, to label: String, is32Bit: Bool = false) {
        if condition == .always { return jump(to: label) }
        let cls: OpcodeClass = is32Bit ? .jmp32 : .jmp
        fixups.append(Fixup(index: count, label: label, field: .offset))
        emit(Instruction(opcode: cls.rawValue | condition.rawValue | OpcodeByte.sourceRegister, dst: dst.rawValue, src: src.rawValue))
    }

    /// `goto label` (16-bit offset).
    public mutating func jump(to label: String) {
        fixups.append(Fixup(index: count, label: label, field: .offset))
        emit(.jump(offset: 0))
    }

    /// `gotol label` — unconditional jump with a 32-bit offset (JMP32|JA, kernel 6.6+).
    public mutating func jumpLong(to label: String) {
        fixups.append(Fixup(index: count, label: label, field: .immediate))
        emit(.jumpLong(offset: 0))
    }

    /// `may_goto label` — jumps to `label` once the verifier's per-loop iteration budget is spent
    /// (kernel 6.9+), bounding otherwise unbounded loops.
    public mutating func mayGoto(_ label: String) {
        fixups.append(Fixup(index: count, label: label, field: .offset))
        emit(.mayGoto(offset: 0))
    }

    /// `call helper#id`.
    public mutating func call(helperID: Int32) {
        emit(.call(.helper(helperID)))
    }

    /// BPF-to-BPF call of the subprogram starting at `label`.
    public mutating func call(subprogram label: String) {
        fixups.append(Fixup(index: count, label: label, field: .immediate))
        emit(.call(.subprogram(offset: 0)))
    }

    /// `call kfunc` by BTF id; `moduleFDIndex` selects a module BTF in the fd array (0: vmlinux).
    public mutating func call(kfuncBTFID: Int32, moduleFDIndex: Int16 = 0) {
        emit(.call(.kfunc(btfID: kfuncBTFID, moduleIndex: moduleFDIndex)))
    }

    public mutating func exit() { emit(.exit) }

    /// Resolves labels and returns the program.
    ///
    /// Throws `DuplicateLabel`, `UndefinedLabel`, or `JumpOutOfRange` (a 16-bit jump offset that
    /// does not fit; `jumpLong(to:)` reaches further).
    public func assemble() throws -> [Instruction] {
        if let duplicate = duplicateLabels.first { throw DuplicateLabel(label: duplicate) }
        var result = instructions
        for fixup in fixups {
            guard let target = labels[fixup.label] else { throw UndefinedLabel(label: fixup.label) }
            // Offsets count from the slot after the instruction (for lddw, after its first slot,
            // as the kernel computes BPF_PSEUDO_FUNC targets: insn index + imm + 1).
            let distance = target - fixup.index - 1
            switch fixup.field {
            case .offset:
                guard let offset = Int16(exactly: distance) else { throw JumpOutOfRange(label: fixup.label, distance: distance) }
                result[fixup.index].offset = offset
            case .immediate:
                guard let immediate = Int32(exactly: distance) else { throw JumpOutOfRange(label: fixup.label, distance: distance) }
                result[fixup.index].immediate = immediate
            }
        }
        return result
    }
}
