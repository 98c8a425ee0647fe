/// Turns instructions into the text `bpftool prog dump xlated` and the verifier log print
/// (the conventions of the kernel's kernel/bpf/disasm.c with bpftool's callbacks):
///
/// ```
///    0: (b7) r0 = 0
///    1: (18) r1 = map[id:12]
///    3: (85) call bpf_map_lookup_elem#1
///    4: (15) if r0 == 0x0 goto pc+1
///    5: (95) exit
/// ```
///
/// What is known about the program is configurable: how map references and calls are named.
/// The defaults print what the kernel itself would print without extra knowledge.
public struct Disassembler: Sendable {
    /// Translates the `imm` of a map reference (`lddw` with BPF_PSEUDO_MAP_FD or
    /// BPF_PSEUDO_MAP_VALUE) into the map id shown as `map[id:N]`. Programs read back from the
    /// kernel already hold map ids (the default prints `imm` as it is); for a program built
    /// locally, map its fds to ids here.
    public var mapID: (@Sendable (_ reference: Int32) -> Int32?)?

    /// A name for a call the helper table cannot name: kfuncs, helper ids the kernel rewrote into
    /// addresses (translated programs), and subprogram calls. For subprogram calls the text
    /// follows `call pc` (bpftool prints `+3#bpf_prog_<tag>_<name>`). Return nil for the kernel's
    /// default: `unknown`, `kernel-function`, or the signed offset.
    public var callName: (@Sendable (_ target: CallTarget, _ instruction: Instruction) -> String?)?

    /// Follows each line with the instruction's raw bytes, as `bpftool prog dump xlated ... opcodes`.
    public var showsOpcodes: Bool

    public init(mapID: (@Sendable (Int32) -> Int32?)? = nil,
                callName: (@Sendable (CallTarget, Instruction) -> String?)? = nil,
                showsOpcodes: Bool = false) {
        self.mapID = mapID
        self.callName = callName
        self.showsOpcodes = showsOpcodes
    }

    // MARK: Whole programs

    /// One line per instruction, as `bpftool prog dump xlated` prints them (`%4u: ` then the
    /// instruction; `lddw` takes two indices and one line).
    public func lines(_ program: [Instruction]) -> [String] {
        var lines: [String] = []
        lines.reserveCapacity(program.count)
        var line = TextLine()
        var index = 0
        while index < program.count {
            let decoded = DecodedSlot(index: index, result: DecodedInstruction.decode(program, at: index))
            line.removeAll()
            line.padded(index, width: 4)
            line.put(": ")
            write(decoded, slot: program[index], into: &line)
            lines.append(line.string)
            if showsOpcodes {
                line.removeAll()
                line.put("      ")
                for slot in program[index..<min(program.count, index + decoded.slotCount)] {
                    var bytes: [UInt8] = []
                    slot.encode(into: &bytes)
                    for byte in bytes { line.put(" "); line.hex2(byte) }
                }
                lines.append(line.string)
            }
            index += decoded.slotCount
        }
        return lines
    }

    /// The whole listing, each line ending in a newline.
    public func text(_ program: [Instruction]) -> String {
        lines(program).map { $0 + "\n" }.joined()
    }

    /// One instruction's text without the index: `(b7) r0 = 0`.
    public func text(of decoded: DecodedSlot, in program: [Instruction]) -> String {
        let slot = program.indices.contains(decoded.index) ? program[decoded.index] : Instruction(opcode: 0)
        var line = TextLine()
        write(decoded, slot: slot, into: &line)
        return line.string
    }

    /// One operation's text without the index: `(bf) r1 = r10`.
    public func text(of operation: DecodedInstruction) -> String {
        var line = TextLine()
        write(operation, slot: operation.singleSlot, into: &line)
        return line.string
    }

    // MARK: One instruction

    private func write(_ decoded: DecodedSlot, slot: Instruction, into line: inout TextLine) {
        switch decoded.result {
        case .success(let operation):
            write(operation, slot: slot, into: &line)
        case .failure(let error):
            line.opcode(slot.opcode)
            line.put("invalid: ")
            line.put(error.reason.description)
        }
    }

    /// The formats of kernel/bpf/disasm.c `print_bpf_insn`.
    private func write(_ operation: DecodedInstruction, slot: Instruction, into line: inout TextLine) {
        line.opcode(slot.opcode)
        switch operation {
        case .arithmetic(let op, let width, let dst, let operand):
            line.register(dst, width)
            line.put(" ")
            line.put(Self.symbol(op))
            line.put(" ")
            switch operand {
            case .register(let src): line.register(src, width)
            case .immediate(let imm): line.decimal(Int64(imm))
            }
        case .moveSignExtend(let width, let dst, let src, let bits):
            line.register(dst, width)
            line.put(" = (s")
            line.decimal(Int64(bits.rawValue))
            line.put(")")
            line.register(src, width)
        case .negate(let width, let dst):
            line.register(dst, width)
            line.put(" = -")
            line.register(dst, width)
        case .byteSwap(let kind, let bits, let dst):
            line.register(dst)
            switch kind {
            case .toLittleEndian: line.put(" = le")
            case .toBigEndian: line.put(" = be")
            case .unconditional: line.put(" = bswap")
            }
            line.decimal(Int64(bits.rawValue))
            line.put(" ")
            line.register(dst)
        case .addressSpaceCast(let dst, let src, let to, let from):
            line.register(dst)
            line.put(" = addr_space_cast(")
            line.register(src)
            line.put(", ")
            line.decimal(Int64(to))
            line.put(", ")
            line.decimal(Int64(from))
            line.put(")")
        case .perCPUAddress(let dst, let src):
            line.register(dst)
            line.put(" = &(void __percpu *)(")
            line.register(src)
            line.put(")")
        case .load(let size, let dst, let src, let offset):
            line.register(dst)
            line.put(" = *")
            line.pointer(Self.unsignedType(size), src, offset)
        case .loadSignExtend(let size, let dst, let src, let offset):
            line.register(dst)
            line.put(" = *")
            line.pointer(Self.signedType(size), src, offset)
        case .store(let size, let dst, let offset, let operand):
            line.put("*")
            line.pointer(Self.unsignedType(size), dst, offset)
            line.put(" = ")
            switch operand {
            case .register(let src): line.register(src)
            case .immediate(let imm): line.decimal(Int64(imm))
            }
        case .atomic(let op, let size, let dst, let offset, let src):
            let wide = size == .doubleWord
            switch op {
            case .add, .or, .and, .xor:
                line.put("lock *")
                line.pointer(Self.unsignedType(size), dst, offset)
                line.put(" ")
                line.put(Self.symbol(op.arithmetic ?? .add))
                line.put(" ")
                line.register(src)
            case .fetchAdd, .fetchOr, .fetchAnd, .fetchXor, .exchange:
                line.register(src)
                line.put(wide ? " = atomic64_" : " = atomic_")
                line.put(op == .exchange ? "xchg" : "fetch_")
                if op != .exchange { line.put(Self.atomicName(op)) }
                line.put("(")
                line.pointer(Self.unsignedType(size), dst, offset)
                line.put(", ")
                line.register(src)
                line.put(")")
            case .compareExchange:
                line.put(wide ? "r0 = atomic64_cmpxchg(" : "r0 = atomic_cmpxchg(")
                line.pointer(Self.unsignedType(size), dst, offset)
                line.put(", r0, ")
                line.register(src)
                line.put(")")
            }
        case .loadAcquire(let size, let dst, let src, let offset):
            line.register(dst)
            line.put(" = load_acquire(")
            line.pointer(Self.unsignedType(size), src, offset)
            line.put(")")
        case .storeRelease(let size, let dst, let offset, let src):
            line.put("store_release(")
            line.pointer(Self.unsignedType(size), dst, offset)
            line.put(", ")
            line.register(src)
            line.put(")")
        case .loadPacketAbsolute(let size, let imm):
            line.put("r0 = *(")
            line.put(Self.unsignedType(size))
            line.put(" *)skb[")
            line.decimal(Int64(imm))
            line.put("]")
        case .loadPacketIndirect(let size, let src, let imm):
            line.put("r0 = *(")
            line.put(Self.unsignedType(size))
            line.put(" *)skb[")
            line.register(src)
            line.put(" + ")
            line.decimal(Int64(imm))
            line.put("]")
        case .loadImmediate64(let dst, let value):
            line.register(dst)
            line.put(" = ")
            writeImmediate(value, into: &line)
        case .jump(let offset):
            line.put("goto pc")
            line.signed(Int64(offset))
        case .jumpLong(let offset):
            line.put("gotol pc")
            line.signed(Int64(offset))
        case .jumpIndirect(let dst):
            line.put("gotox ")
            line.register(dst)
        case .mayGoto(let offset):
            line.put("may_goto pc")
            line.signed(Int64(offset))
        case .conditionalJump(let condition, let width, let dst, let operand, let offset):
            line.put("if ")
            line.register(dst, width)
            line.put(" ")
            line.put(Self.symbol(condition))
            line.put(" ")
            switch operand {
            case .register(let src): line.register(src, width)
            case .immediate(let imm):
                line.put("0x")
                line.hex(UInt64(UInt32(bitPattern: imm)))
            }
            line.put(" goto pc")
            line.signed(Int64(offset))
        case .call(let target):
            writeCall(target, slot: slot, into: &line)
        case .exit:
            line.put("exit")
        case .speculationBarrier:
            line.put("nospec")
        }
    }

    private func writeCall(_ target: CallTarget, slot: Instruction, into line: inout TextLine) {
        line.put("call ")
        switch target {
        case .subprogram(let offset):
            line.put("pc")
            if let name = callName?(target, slot) { line.put(name) } else { line.signed(Int64(offset)) }
        case .translatedSubprogram(let index, _):
            // Without a resolver the kernel prints the immediate, here the subprogram index.
            line.put("pc")
            if let name = callName?(target, slot) { line.put(name) } else { line.signed(Int64(index)) }
        case .helper(let id):
            line.put(HelperFunction(id: id)?.kernelName ?? callName?(target, slot) ?? "unknown")
            line.put("#")
            line.decimal(Int64(id))
        case .kfunc(let id, _):
            line.put(callName?(target, slot) ?? "kernel-function")
            line.put("#")
            line.decimal(Int64(id))
        }
    }

    /// bpftool's names for `lddw` immediates.
    private func writeImmediate(_ value: Immediate64, into line: inout TextLine) {
        switch value {
        case .mapFD(let reference):
            line.put("map[id:")
            line.decimal(Int64(mapID?(reference) ?? reference))
            line.put("]")
        case .mapValue(let reference, let offset):
            line.put("map[id:")
            line.decimal(Int64(mapID?(reference) ?? reference))
            line.put("][0]+")
            line.decimal(Int64(Int32(bitPattern: offset)))
        case .mapIndexValue(let index, let offset):
            line.put("map[idx:")
            line.decimal(Int64(index))
            line.put("]+")
            line.decimal(Int64(Int32(bitPattern: offset)))
        case .function(let offset):
            line.put("subprog[")
            line.signed(Int64(offset))
            line.put("]")
        case .value, .btfVariable, .mapIndex:
            line.put("0x")
            line.hex(value.combinedValue)
        }
    }

    // MARK: Spelling


    private static func symbol(_ operation: ArithmeticOperation) -> StaticString {
        switch operation {
        case .add: "+="
        case .sub: "-="
        case .mul: "*="
        case .div: "/="
        case .signedDiv: "s/="
        case .or: "|="
        case .and: "&="
        case .lsh: "<<="
        case .rsh: ">>="
        case .mod: "%="
        case .signedMod: "s%="
        case .xor: "^="
        case .mov: "="
        case .arsh: "s>>="
        }
    }

    private static func symbol(_ operation: ALUOperation) -> StaticString {
        switch operation {
        case .add: "+="
        case .or: "|="
        case .and: "&="
        case .xor: "^="
        default: "?"
        }
    }

    private static func atomicName(_ operation: AtomicOperation) -> StaticString {
        switch operation.arithmetic {
        case .add: "add"
        case .or: "or"
        case .and: "and"
        case .xor: "xor"
        default: "?"
        }
    }

    private static func symbol(_ condition: JumpCondition) -> StaticString {
        switch condition {
        case .always: "jmp"
        case .eq: "=="
        case .gt: ">"
        case .ge: ">="
        case .set: "&"
        case .ne: "!="
        case .sgt: "s>"
        case .sge: "s>="
        case .lt: "<"
        case .le: "<="
        case .slt: "s<"
        case .sle: "s<="
        }
    }

    private static func unsignedType(_ size: AccessSize) -> StaticString {
        switch size {
        case .byte: "u8"
        case .halfWord: "u16"
        case .word: "u32"
        case .doubleWord: "u64"
        }
    }
    private static func signedType(_ size: AccessSize) -> StaticString {
        switch size {
        case .byte: "s8"
        case .halfWord: "s16"
        case .word: "s32"
        case .doubleWord: "s64"
        }
    }
}

/// One line of text built as ASCII bytes: formatting a listing this way avoids the intermediate
/// strings of interpolation (most lines are longer than a small string).
struct TextLine {
    private var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(64) }

    var string: String { String(decoding: bytes, as: UTF8.self) }

    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    mutating func put(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func put(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// `r3`, or `w3` for 32-bit operations.
    mutating func register(_ register: Register, _ width: Width = .bits64) {
        bytes.append(width == .bits32 ? UInt8(ascii: "w") : UInt8(ascii: "r"))
        decimal(Int64(register.rawValue))
    }

    /// `(u32 *)(r10 -4)`.
    mutating func pointer(_ type: StaticString, _ base: Register, _ offset: Int16) {
        put("(")
        put(type)
        put(" *)(")
        register(base)
        put(" ")
        signed(Int64(offset))
        put(")")
    }

    /// `(b7) `.
    mutating func opcode(_ byte: UInt8) {
        put("(")
        hex2(byte)
        put(") ")
    }

    /// `%d`.
    mutating func decimal(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        digits(value.magnitude, radix: 10)
    }

    /// `%+d`.
    mutating func signed(_ value: Int64) {
        if value >= 0 { bytes.append(UInt8(ascii: "+")) }
        decimal(value)
    }

    /// `%x` / `%llx`.
    mutating func hex(_ value: UInt64) { digits(value, radix: 16) }

    /// `%02x`.
    mutating func hex2(_ byte: UInt8) {
        bytes.append(Self.hexDigits[Int(byte >> 4)])
        bytes.append(Self.hexDigits[Int(byte & 0x0f)])
    }

    /// `%*u` right-aligned in `width` columns (bpftool's `%4u: `).
    mutating func padded(_ value: Int, width: Int) {
        var count = 1
        var rest = value.magnitude / 10
        while rest > 0 { count += 1; rest /= 10 }
        if count < width { bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: width - count)) }
        decimal(Int64(value))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func digits(_ value: UInt64, radix: UInt64) {
        var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0) // room for 24 ASCII digits
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &buffer) { scratch in
            repeat {
                scratch[count] = Self.hexDigits[Int(rest % radix)]
                rest /= radix
                count += 1
            } while rest > 0
            for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(scratch[index]) }
        }
    }
}

extension Disassembler {
    /// The call naming `bpftool prog dump xlated` uses for a program read back from the kernel:
    /// helper calls hold `address - __bpf_call_base` and are named by the kernel symbol at that
    /// address; subprogram calls are named by the JIT image of subprogram `imm`
    /// (`jitedFunctionAddresses`, from `bpf_prog_info.jited_ksyms`) as `+off#symbol`.
    ///
    /// - Parameters:
    ///   - callBase: address of `__bpf_call_base` (from /proc/kallsyms).
    ///   - jitedFunctionAddresses: the JIT image address of each subprogram, in order.
    ///   - symbol: the kernel symbol starting exactly at an address.
    public static func translated(
        callBase: UInt64,
        jitedFunctionAddresses: [UInt64],
        symbol: @escaping @Sendable (UInt64) -> String?
    ) -> Disassembler {
        Disassembler(callName: { target, slot in
            let address = callBase &+ UInt64(bitPattern: Int64(slot.immediate))
            switch target {
            case .subprogram, .translatedSubprogram:
                let offset = slot.offset < 0 ? String(slot.offset) : "+" + String(slot.offset)
                // Interpreted programs have no JIT symbols; bpftool then shows only the offset.
                guard !jitedFunctionAddresses.isEmpty else { return offset }
                let index = Int(UInt32(bitPattern: slot.immediate))
                let target = index < jitedFunctionAddresses.count ? jitedFunctionAddresses[index] : address
                return offset + "#" + (symbol(target) ?? "0x" + String(target, radix: 16))
            case .helper, .kfunc:
                return symbol(address) ?? "0x" + String(address, radix: 16)
            }
        })
    }
}

extension DecodedInstruction: CustomStringConvertible {
    /// The instruction as the kernel's disassembler prints it: `(85) call bpf_map_lookup_elem#1`.
    public var description: String { Disassembler().text(of: self) }
}
