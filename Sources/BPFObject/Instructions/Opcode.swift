/// The fields of an eBPF opcode byte (Documentation/bpf/standardization/instruction-set.rst).
public enum OpcodeClass: UInt8, Sendable {
    case ld = 0x00, ldx = 0x01, st = 0x02, stx = 0x03, alu = 0x04, jmp = 0x05, jmp32 = 0x06, alu64 = 0x07
}

/// eBPF registers. r10 is the read-only frame pointer.
public enum Register: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case r0 = 0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10
    /// BPF_REG_AX (r11): the kernel's auxiliary register, used by verifier rewrites (`may_goto`
    /// counters) and constant blinding. It appears only in kernel-translated programs; the
    /// verifier rejects it in programs being loaded, and `allCases` leaves it out.
    case ax = 11

    /// The registers a program may use: r0 through r10.
    public static var allCases: [Register] { [.r0, .r1, .r2, .r3, .r4, .r5, .r6, .r7, .r8, .r9, .r10] }

    public var description: String { "r\(rawValue)" }
}

/// Memory access sizes (the `size` field of load/store opcodes).
public enum AccessSize: UInt8, Sendable, CaseIterable {
    case word = 0x00, halfWord = 0x08, byte = 0x10, doubleWord = 0x18
    public var byteCount: Int {
        switch self {
        case .byte: 1
        case .halfWord: 2
        case .word: 4
        case .doubleWord: 8
        }
    }
    public init?(byteCount: Int) {
        switch byteCount {
        case 1: self = .byte
        case 2: self = .halfWord
        case 4: self = .word
        case 8: self = .doubleWord
        default: return nil
        }
    }
}

/// Arithmetic operations (the `code` field of ALU/ALU64 opcodes).
public enum ALUOperation: UInt8, Sendable, CaseIterable {
    case add = 0x00, sub = 0x10, mul = 0x20, div = 0x30, or = 0x40, and = 0x50, lsh = 0x60, rsh = 0x70
    case neg = 0x80, mod = 0x90, xor = 0xa0, mov = 0xb0, arsh = 0xc0, end = 0xd0
}

/// Jump conditions (the `code` field of JMP/JMP32 opcodes).
public enum JumpCondition: UInt8, Sendable, CaseIterable {
    case always = 0x00, eq = 0x10, gt = 0x20, ge = 0x30, set = 0x40, ne = 0x50, sgt = 0x60, sge = 0x70
    case lt = 0xa0, le = 0xb0, slt = 0xc0, sle = 0xd0
}

/// Pseudo sources of `lddw` (src register field).
public enum PseudoSource: UInt8, Sendable {
    case immediate = 0
    case mapFD = 1
    case mapValue = 2
    case btfID = 3
    case function = 4
    case mapIndex = 5
    case mapIndexValue = 6
}

/// Pseudo sources of `call` (src register field).
public enum CallKind: UInt8, Sendable {
    case helper = 0
    /// BPF-to-BPF call; `imm` is the relative instruction offset.
    case subprogram = 1
    /// Kernel function; `imm` is its BTF id.
    case kfunc = 2
}

/// Opcode bytes used by more than one place.
public enum OpcodeByte {
    public static let sourceRegister: UInt8 = 0x08
    public static let call: UInt8 = 0x85
    public static let exit: UInt8 = 0x95
    public static let loadImm64: UInt8 = 0x18
}

extension PseudoSource: CaseIterable {}
extension CallKind: CaseIterable {}

/// The `mode` field of load and store opcodes (bits 5–7).
public enum AccessMode: UInt8, Sendable, CaseIterable {
    /// 64-bit immediate (`lddw`, with size `doubleWord` only).
    case immediate = 0x00
    /// Legacy packet access `r0 = *(size *)skb[imm]`.
    case packetAbsolute = 0x20
    /// Legacy packet access `r0 = *(size *)skb[src + imm]`.
    case packetIndirect = 0x40
    case memory = 0x60
    /// Sign-extending load (BPF_MEMSX, LDX only).
    case memorySignExtend = 0x80
    /// Atomic operation; the kind is in `imm` (STX only).
    case atomic = 0xc0
}

/// Atomic read-modify-write operations (`imm` of STX|ATOMIC; BPF_FETCH = 0x01 returns the old value).
public enum AtomicOperation: Int32, Sendable, CaseIterable {
    case add = 0x00, or = 0x40, and = 0x50, xor = 0xa0
    case fetchAdd = 0x01, fetchOr = 0x41, fetchAnd = 0x51, fetchXor = 0xa1
    /// `src = xchg(*(dst + off), src)` (always fetches).
    case exchange = 0xe1
    /// `r0 = cmpxchg(*(dst + off), r0, src)` (always fetches).
    case compareExchange = 0xf1

    /// True for operations that write the old value back into a register.
    public var fetches: Bool { rawValue & 0x01 != 0 }

    /// The plain arithmetic operation of add/or/and/xor (with or without fetch).
    public var arithmetic: ALUOperation? {
        switch self {
        case .add, .fetchAdd: .add
        case .or, .fetchOr: .or
        case .and, .fetchAnd: .and
        case .xor, .fetchXor: .xor
        case .exchange, .compareExchange: nil
        }
    }
}

/// Opcode-byte and field constants from include/uapi/linux/bpf.h and bpf_common.h.
extension OpcodeByte {
    /// `code` of JMP that is a call (BPF_CALL).
    public static let callCode: UInt8 = 0x80
    /// `code` of JMP that is exit (BPF_EXIT).
    public static let exitCode: UInt8 = 0x90
    /// `code` of JMP that is a conditional pseudo-jump (BPF_JCOND, currently only may_goto).
    public static let conditionalPseudoJumpCode: UInt8 = 0xe0
    /// BPF_ATOMIC `imm` of a load-acquire (kernel 6.15+).
    public static let loadAcquire: Int32 = 0x100
    /// BPF_ATOMIC `imm` of a store-release (kernel 6.15+).
    public static let storeRelease: Int32 = 0x110
    /// `off` of ALU64 MOV|X that makes it an arena address-space cast (BPF_ADDR_SPACE_CAST).
    public static let addressSpaceCastOffset: Int16 = 1
    /// `off` of ALU64 MOV|X that the verifier uses for per-CPU address moves (BPF_ADDR_PERCPU,
    /// kernel-internal, seen only in translated programs).
    public static let perCPUAddressOffset: Int16 = -1
    /// ST mode of the verifier's speculation barrier (BPF_NOSPEC, kernel-internal).
    public static let speculationBarrier: UInt8 = 0xc2
}
