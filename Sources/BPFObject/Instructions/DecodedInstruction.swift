/// The decoded meaning of one eBPF instruction (one slot, or two for `lddw`), following
/// Documentation/bpf/standardization/instruction-set.rst plus the few kernel-internal forms that
/// appear in kernel-translated programs (`bpftool prog dump xlated`).
///
/// Every case encodes to exactly the slots it was decoded from: `DecodedInstruction.decode` accepts
/// only encodings whose unused fields are zero (as the verifier demands), so decode → encode is
/// lossless. (Named so, not `Operation`, to stay clear of Foundation's `Operation`.)
public enum DecodedInstruction: Hashable, Sendable {
    /// `dst op= operand` for add, sub, mul, (s)div, or, and, lsh, rsh, (s)mod, xor, mov, arsh.
    case arithmetic(ArithmeticOperation, Width, dst: Register, Operand)
    /// `dst = (s8|s16|s32) src`: sign-extending move (MOV|X with `off` 8, 16 or 32).
    case moveSignExtend(Width, dst: Register, src: Register, fromBits: SignExtension)
    /// `dst = -dst`.
    case negate(Width, dst: Register)
    /// Byte order conversion of the low `bits` of `dst` (`le16`, `be32`, `bswap64`, ...).
    case byteSwap(ByteSwapKind, bits: ByteSwapWidth, dst: Register)
    /// Arena pointer cast between address spaces (ALU64 MOV|X, `off` = 1, `imm` = to << 16 | from).
    case addressSpaceCast(dst: Register, src: Register, toSpace: UInt16, fromSpace: UInt16)
    /// Kernel-internal: `dst = &(void __percpu *)(src)` (translated programs only).
    case perCPUAddress(dst: Register, src: Register)

    /// `dst = *(size *)(src + offset)`.
    case load(AccessSize, dst: Register, src: Register, offset: Int16)
    /// `dst = *(s8|s16|s32 *)(src + offset)` (BPF_MEMSX; not for double words).
    case loadSignExtend(AccessSize, dst: Register, src: Register, offset: Int16)
    /// `*(size *)(dst + offset) = operand` (STX for a register, ST for an immediate).
    case store(AccessSize, dst: Register, offset: Int16, Operand)
    /// Atomic read-modify-write on `*(size *)(dst + offset)` with `src` (word or double word).
    case atomic(AtomicOperation, AccessSize, dst: Register, offset: Int16, src: Register)
    /// `dst = load_acquire((size *)(src + offset))`.
    case loadAcquire(AccessSize, dst: Register, src: Register, offset: Int16)
    /// `store_release((size *)(dst + offset), src)`.
    case storeRelease(AccessSize, dst: Register, offset: Int16, src: Register)
    /// Legacy `r0 = *(size *)skb[imm]` (socket filters).
    case loadPacketAbsolute(AccessSize, immediate: Int32)
    /// Legacy `r0 = *(size *)skb[src + imm]` (socket filters).
    case loadPacketIndirect(AccessSize, src: Register, immediate: Int32)
    /// `lddw dst, ...` — the only two-slot instruction.
    case loadImmediate64(dst: Register, Immediate64)

    /// `goto pc+offset` (JMP|JA).
    case jump(offset: Int16)
    /// `gotol pc+offset` with a 32-bit offset (JMP32|JA).
    case jumpLong(offset: Int32)
    /// `gotox dst`: indirect jump through a register (JMP|JA|X, kernel 6.19+).
    case jumpIndirect(dst: Register)
    /// `may_goto pc+offset`: a loop-bound pseudo-jump the verifier turns into a counter
    /// (JMP|JCOND with src = BPF_MAY_GOTO).
    case mayGoto(offset: Int16)
    /// `if dst cond operand goto pc+offset` (`condition` is never `.always`: that is `.jump`).
    case conditionalJump(JumpCondition, Width, dst: Register, Operand, offset: Int16)
    case call(CallTarget)
    case exit
    /// Kernel-internal speculation barrier (`nospec`, translated programs only).
    case speculationBarrier
}

/// 32-bit (`w` registers, ALU/JMP32 classes) or 64-bit operation.
public enum Width: Hashable, Sendable, CaseIterable {
    case bits32, bits64
}

/// A register or a 32-bit immediate.
public enum Operand: Hashable, Sendable {
    case register(Register)
    case immediate(Int32)
}

/// ALU operations with the signed variants of div/mod (`off` = 1) spelled out.
public enum ArithmeticOperation: Hashable, Sendable, CaseIterable {
    case add, sub, mul, div, signedDiv, or, and, lsh, rsh, mod, signedMod, xor, mov, arsh

    /// The opcode `code` field and the `off` field that encode this operation.
    public var encoding: (code: ALUOperation, offset: Int16) {
        switch self {
        case .add: (.add, 0)
        case .sub: (.sub, 0)
        case .mul: (.mul, 0)
        case .div: (.div, 0)
        case .signedDiv: (.div, 1)
        case .or: (.or, 0)
        case .and: (.and, 0)
        case .lsh: (.lsh, 0)
        case .rsh: (.rsh, 0)
        case .mod: (.mod, 0)
        case .signedMod: (.mod, 1)
        case .xor: (.xor, 0)
        case .mov: (.mov, 0)
        case .arsh: (.arsh, 0)
        }
    }

    public init?(code: ALUOperation, offset: Int16) {
        switch (code, offset) {
        case (.add, 0): self = .add
        case (.sub, 0): self = .sub
        case (.mul, 0): self = .mul
        case (.div, 0): self = .div
        case (.div, 1): self = .signedDiv
        case (.or, 0): self = .or
        case (.and, 0): self = .and
        case (.lsh, 0): self = .lsh
        case (.rsh, 0): self = .rsh
        case (.mod, 0): self = .mod
        case (.mod, 1): self = .signedMod
        case (.xor, 0): self = .xor
        case (.mov, 0): self = .mov
        case (.arsh, 0): self = .arsh
        default: return nil
        }
    }
}

/// Source width of a sign-extending move (the MOV `off` field).
public enum SignExtension: Int16, Hashable, Sendable, CaseIterable {
    case from8 = 8, from16 = 16, from32 = 32
}

/// Byte order conversions (the END opcode). `toLittleEndian`/`toBigEndian` are ALU class;
/// `unconditional` (bswap) is ALU64 class.
public enum ByteSwapKind: Hashable, Sendable, CaseIterable {
    case toLittleEndian, toBigEndian, unconditional
}

/// The width of a byte swap (`BPF_END`), in bits: the instruction's immediate.
public enum ByteSwapWidth: Int32, Hashable, Sendable, CaseIterable {
    case bits16 = 16, bits32 = 32, bits64 = 64
}

/// What a `lddw` loads, by its pseudo source (src register field).
public enum Immediate64: Hashable, Sendable {
    /// A plain 64-bit constant (src 0).
    case value(UInt64)
    /// A map by file descriptor (BPF_PSEUDO_MAP_FD); in translated programs, the map id.
    case mapFD(Int32)
    /// Address of a map's value at `offset` (BPF_PSEUDO_MAP_VALUE); in translated programs the
    /// map is given by id.
    case mapValue(map: Int32, offset: UInt32)
    /// Address of a kernel variable by BTF id; `moduleFD` is the module's BTF fd or 0 for vmlinux
    /// (BPF_PSEUDO_BTF_ID).
    case btfVariable(btfID: Int32, moduleFD: Int32)
    /// Address of a subprogram, `offset` instructions after this one (BPF_PSEUDO_FUNC).
    case function(offset: Int32)
    /// A map by index into the program's fd array (BPF_PSEUDO_MAP_IDX).
    case mapIndex(Int32)
    /// Address of a map's value, the map by fd-array index (BPF_PSEUDO_MAP_IDX_VALUE).
    case mapIndexValue(index: Int32, offset: UInt32)

    public var pseudoSource: PseudoSource {
        switch self {
        case .value: .immediate
        case .mapFD: .mapFD
        case .mapValue: .mapValue
        case .btfVariable: .btfID
        case .function: .function
        case .mapIndex: .mapIndex
        case .mapIndexValue: .mapIndexValue
        }
    }

    /// The `imm` fields of the first and second slot.
    public var immediates: (low: Int32, high: Int32) {
        switch self {
        case .value(let value):
            (Int32(bitPattern: UInt32(truncatingIfNeeded: value)), Int32(bitPattern: UInt32(truncatingIfNeeded: value >> 32)))
        case .mapFD(let fd): (fd, 0)
        case .mapValue(let map, let offset): (map, Int32(bitPattern: offset))
        case .btfVariable(let id, let module): (id, module)
        case .function(let offset): (offset, 0)
        case .mapIndex(let index): (index, 0)
        case .mapIndexValue(let index, let offset): (index, Int32(bitPattern: offset))
        }
    }

    /// The value of the two immediates as one 64-bit number (what the kernel disassembler shows
    /// for plain constants).
    public var combinedValue: UInt64 {
        let (low, high) = immediates
        return UInt64(UInt32(bitPattern: high)) << 32 | UInt64(UInt32(bitPattern: low))
    }
}

/// The target of a `call` instruction (pseudo source in src, `imm` meaning by kind).
public enum CallTarget: Hashable, Sendable {
    /// A helper by id. Any id is representable: translated programs hold rewritten values.
    case helper(Int32)
    /// A BPF-to-BPF call `offset` instructions after the call (BPF_PSEUDO_CALL).
    case subprogram(offset: Int32)
    /// The kernel's translated form of a BPF-to-BPF call: `imm` is the subprogram's index and
    /// `off` the pc-relative offset (set when the program was JIT-compiled).
    case translatedSubprogram(index: Int32, offset: Int16)
    /// A kernel function by BTF id; `moduleIndex` selects a module BTF in the fd array (0: vmlinux)
    /// (BPF_PSEUDO_KFUNC_CALL).
    case kfunc(btfID: Int32, moduleIndex: Int16)

    /// The helper this calls, if it is a known helper id.
    public var helper: HelperFunction? {
        if case .helper(let id) = self { return HelperFunction(id: id) }
        return nil
    }
}

extension DecodedInstruction {
    /// 2 for `lddw`, else 1.
    public var slotCount: Int {
        if case .loadImmediate64 = self { return 2 }
        return 1
    }

    /// The kernel encoding of this operation (one slot, or two for `lddw`).
    public var instructions: [Instruction] {
        switch self {
        case .loadImmediate64(_, let value):
            return [singleSlot, Instruction(opcode: 0, immediate: value.immediates.high)]
        default:
            return [singleSlot]
        }
    }

    /// The first (for all but `lddw`, the only) slot of the encoding.
    var singleSlot: Instruction {
        func aluClass(_ width: Width) -> UInt8 { width == .bits64 ? OpcodeClass.alu64.rawValue : OpcodeClass.alu.rawValue }
        func jumpClass(_ width: Width) -> UInt8 { width == .bits64 ? OpcodeClass.jmp.rawValue : OpcodeClass.jmp32.rawValue }
        let jmp = OpcodeClass.jmp.rawValue
        let x = OpcodeByte.sourceRegister
        switch self {
        case .arithmetic(let operation, let width, let dst, let operand):
            let (code, offset) = operation.encoding
            switch operand {
            case .register(let src):
                return Instruction(opcode: aluClass(width) | code.rawValue | x, dst: dst.rawValue, src: src.rawValue, offset: offset)
            case .immediate(let imm):
                return Instruction(opcode: aluClass(width) | code.rawValue, dst: dst.rawValue, offset: offset, immediate: imm)
            }
        case .moveSignExtend(let width, let dst, let src, let bits):
            return Instruction(opcode: aluClass(width) | ALUOperation.mov.rawValue | x, dst: dst.rawValue, src: src.rawValue, offset: bits.rawValue)
        case .negate(let width, let dst):
            return Instruction(opcode: aluClass(width) | ALUOperation.neg.rawValue, dst: dst.rawValue)
        case .byteSwap(let kind, let bits, let dst):
            let opcode: UInt8
            switch kind {
            case .toLittleEndian: opcode = OpcodeClass.alu.rawValue | ALUOperation.end.rawValue
            case .toBigEndian: opcode = OpcodeClass.alu.rawValue | ALUOperation.end.rawValue | x
            case .unconditional: opcode = OpcodeClass.alu64.rawValue | ALUOperation.end.rawValue
            }
            return Instruction(opcode: opcode, dst: dst.rawValue, immediate: bits.rawValue)
        case .addressSpaceCast(let dst, let src, let to, let from):
            return Instruction(opcode: OpcodeClass.alu64.rawValue | ALUOperation.mov.rawValue | x, dst: dst.rawValue, src: src.rawValue,
                               offset: OpcodeByte.addressSpaceCastOffset,
                               immediate: Int32(bitPattern: UInt32(to) << 16 | UInt32(from)))
        case .perCPUAddress(let dst, let src):
            return Instruction(opcode: OpcodeClass.alu64.rawValue | ALUOperation.mov.rawValue | x, dst: dst.rawValue, src: src.rawValue,
                               offset: OpcodeByte.perCPUAddressOffset)
        case .load(let size, let dst, let src, let offset):
            return Instruction(opcode: OpcodeClass.ldx.rawValue | size.rawValue | AccessMode.memory.rawValue, dst: dst.rawValue, src: src.rawValue, offset: offset)
        case .loadSignExtend(let size, let dst, let src, let offset):
            return Instruction(opcode: OpcodeClass.ldx.rawValue | size.rawValue | AccessMode.memorySignExtend.rawValue, dst: dst.rawValue, src: src.rawValue, offset: offset)
        case .store(let size, let dst, let offset, .register(let src)):
            return Instruction(opcode: OpcodeClass.stx.rawValue | size.rawValue | AccessMode.memory.rawValue, dst: dst.rawValue, src: src.rawValue, offset: offset)
        case .store(let size, let dst, let offset, .immediate(let imm)):
            return Instruction(opcode: OpcodeClass.st.rawValue | size.rawValue | AccessMode.memory.rawValue, dst: dst.rawValue, offset: offset, immediate: imm)
        case .atomic(let operation, let size, let dst, let offset, let src):
            return Instruction(opcode: OpcodeClass.stx.rawValue | size.rawValue | AccessMode.atomic.rawValue, dst: dst.rawValue, src: src.rawValue, offset: offset, immediate: operation.rawValue)
        case .loadAcquire(let size, let dst, let src, let offset):
            return Instruction(opcode: OpcodeClass.stx.rawValue | size.rawValue | AccessMode.atomic.rawValue, dst: dst.rawValue, src: src.rawValue, offset: offset, immediate: OpcodeByte.loadAcquire)
        case .storeRelease(let size, let dst, let offset, let src):
            return Instruction(opcode: OpcodeClass.stx.rawValue | size.rawValue | AccessMode.atomic.rawValue, dst: dst.rawValue, src: src.rawValue, offset: offset, immediate: OpcodeByte.storeRelease)
        case .loadPacketAbsolute(let size, let imm):
            return Instruction(opcode: OpcodeClass.ld.rawValue | size.rawValue | AccessMode.packetAbsolute.rawValue, immediate: imm)
        case .loadPacketIndirect(let size, let src, let imm):
            return Instruction(opcode: OpcodeClass.ld.rawValue | size.rawValue | AccessMode.packetIndirect.rawValue, src: src.rawValue, immediate: imm)
        case .loadImmediate64(let dst, let value):
            return Instruction(opcode: OpcodeByte.loadImm64, dst: dst.rawValue, src: value.pseudoSource.rawValue, immediate: value.immediates.low)
        case .jump(let offset):
            return Instruction(opcode: jmp | JumpCondition.always.rawValue, offset: offset)
        case .jumpLong(let offset):
            return Instruction(opcode: OpcodeClass.jmp32.rawValue | JumpCondition.always.rawValue, immediate: offset)
        case .jumpIndirect(let dst):
            return Instruction(opcode: jmp | JumpCondition.always.rawValue | x, dst: dst.rawValue)
        case .mayGoto(let offset):
            return Instruction(opcode: jmp | OpcodeByte.conditionalPseudoJumpCode, offset: offset)
        case .conditionalJump(let condition, let width, let dst, .register(let src), let offset):
            return Instruction(opcode: jumpClass(width) | condition.rawValue | x, dst: dst.rawValue, src: src.rawValue, offset: offset)
        case .conditionalJump(let condition, let width, let dst, .immediate(let imm), let offset):
            return Instruction(opcode: jumpClass(width) | condition.rawValue, dst: dst.rawValue, offset: offset, immediate: imm)
        case .call(.helper(let id)):
            return Instruction(opcode: OpcodeByte.call, immediate: id)
        case .call(.subprogram(let offset)):
            return Instruction(opcode: OpcodeByte.call, src: CallKind.subprogram.rawValue, immediate: offset)
        case .call(.translatedSubprogram(let index, let offset)):
            return Instruction(opcode: OpcodeByte.call, src: CallKind.subprogram.rawValue, offset: offset, immediate: index)
        case .call(.kfunc(let id, let module)):
            return Instruction(opcode: OpcodeByte.call, src: CallKind.kfunc.rawValue, offset: module, immediate: id)
        case .exit:
            return Instruction(opcode: OpcodeByte.exit)
        case .speculationBarrier:
            return Instruction(opcode: OpcodeByte.speculationBarrier)
        }
    }
}

extension Array where Element == DecodedInstruction {
    /// The kernel encoding of a sequence of operations.
    public var instructions: [Instruction] { flatMap(\.instructions) }
}
