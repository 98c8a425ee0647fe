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
        var index = 0
        while index < program.count {
            let decoded = DecodedSlot(index: index, result: DecodedInstruction.decode(program, at: index))
            var line = ""
            line.reserveCapacity(64)
            let number = String(index)
            if number.utf8.count < 4 { line.append(String(repeating: " ", count: 4 - number.utf8.count)) }
            line.append(number)
            line.append(": ")
            line.append(text(of: decoded, in: program))
            lines.append(line)
            if showsOpcodes {
                let slots = program[index..<min(program.count, index + decoded.slotCount)]
                lines.append("       " + slots.map { slot in
                    var bytes: [UInt8] = []
                    slot.encode(into: &bytes)
                    return bytes.map(hex2).joined(separator: " ")
                }.joined(separator: " "))
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
        switch decoded.result {
        case .success(let operation): return text(of: operation, opcode: slot.opcode, slot: slot)
        case .failure(let error): return "(\(hex2(slot.opcode))) invalid: \(error.reason)"
        }
    }

    /// One operation's text without the index: `(bf) r1 = r10`.
    public func text(of operation: DecodedInstruction) -> String {
        let slot = operation.singleSlot
        return text(of: operation, opcode: slot.opcode, slot: slot)
    }

    // MARK: One instruction

    private func text(of operation: DecodedInstruction, opcode: UInt8, slot: Instruction) -> String {
        var text = "("
        text.reserveCapacity(56)
        text.append(hex2(opcode))
        text.append(") ")
        text.append(body(of: operation, slot: slot))
        return text
    }

    private func body(of operation: DecodedInstruction, slot: Instruction) -> String {
        switch operation {
        case .arithmetic(let op, let width, let dst, let operand):
            switch operand {
            case .register(let src): return "\(dst.name(width)) \(Self.symbol(op)) \(src.name(width))"
            case .immediate(let imm): return "\(dst.name(width)) \(Self.symbol(op)) \(imm)"
            }
        case .moveSignExtend(let width, let dst, let src, let bits):
            return "\(dst.name(width)) = (s\(bits.rawValue))\(src.name(width))"
        case .negate(let width, let dst):
            return "\(dst.name(width)) = -\(dst.name(width))"
        case .byteSwap(let kind, let bits, let dst):
            let name = switch kind {
            case .toLittleEndian: "le"
            case .toBigEndian: "be"
            case .unconditional: "bswap"
            }
            return "\(dst.name) = \(name)\(bits.rawValue) \(dst.name)"
        case .addressSpaceCast(let dst, let src, let to, let from):
            return "\(dst.name) = addr_space_cast(\(src.name), \(to), \(from))"
        case .perCPUAddress(let dst, let src):
            return "\(dst.name) = &(void __percpu *)(\(src.name))"
        case .load(let size, let dst, let src, let offset):
            return "\(dst.name) = *(\(Self.unsignedType(size)) *)(\(src.name) \(signed(offset)))"
        case .loadSignExtend(let size, let dst, let src, let offset):
            return "\(dst.name) = *(\(Self.signedType(size)) *)(\(src.name) \(signed(offset)))"
        case .store(let size, let dst, let offset, let operand):
            let value = switch operand {
            case .register(let src): "\(src.name)"
            case .immediate(let imm): "\(imm)"
            }
            return "*(\(Self.unsignedType(size)) *)(\(dst.name) \(signed(offset))) = \(value)"
        case .atomic(let op, let size, let dst, let offset, let src):
            let pointer = "(\(Self.unsignedType(size)) *)(\(dst.name) \(signed(offset)))"
            let bits = size == .doubleWord ? "64" : ""
            switch op {
            case .add, .or, .and, .xor:
                return "lock *\(pointer) \(Self.symbol(op.arithmetic ?? .add)) \(src.name)"
            case .fetchAdd, .fetchOr, .fetchAnd, .fetchXor:
                return "\(src.name) = atomic\(bits)_fetch_\(Self.atomicName(op))(\(pointer), \(src.name))"
            case .exchange:
                return "\(src.name) = atomic\(bits)_xchg(\(pointer), \(src.name))"
            case .compareExchange:
                return "r0 = atomic\(bits)_cmpxchg(\(pointer), r0, \(src.name))"
            }
        case .loadAcquire(let size, let dst, let src, let offset):
            return "\(dst.name) = load_acquire((\(Self.unsignedType(size)) *)(\(src.name) \(signed(offset))))"
        case .storeRelease(let size, let dst, let offset, let src):
            return "store_release((\(Self.unsignedType(size)) *)(\(dst.name) \(signed(offset))), \(src.name))"
        case .loadPacketAbsolute(let size, let imm):
            return "r0 = *(\(Self.unsignedType(size)) *)skb[\(imm)]"
        case .loadPacketIndirect(let size, let src, let imm):
            return "r0 = *(\(Self.unsignedType(size)) *)skb[\(src.name) + \(imm)]"
        case .loadImmediate64(let dst, let value):
            return "\(dst.name) = \(immediateText(value))"
        case .jump(let offset):
            return "goto pc\(signed(offset))"
        case .jumpLong(let offset):
            return "gotol pc\(signed(offset))"
        case .jumpIndirect(let dst):
            return "gotox \(dst.name)"
        case .mayGoto(let offset):
            return "may_goto pc\(signed(offset))"
        case .conditionalJump(let condition, let width, let dst, let operand, let offset):
            let right = switch operand {
            case .register(let src): "\(src.name(width))"
            case .immediate(let imm): "0x" + String(UInt32(bitPattern: imm), radix: 16)
            }
            return "if \(dst.name(width)) \(Self.symbol(condition)) \(right) goto pc\(signed(offset))"
        case .call(let target):
            return callText(target, slot: slot)
        case .exit:
            return "exit"
        case .speculationBarrier:
            return "nospec"
        }
    }

    private func callText(_ target: CallTarget, slot: Instruction) -> String {
        switch target {
        case .subprogram(let offset):
            return "call pc" + (callName?(target, slot) ?? signed(offset))
        case .translatedSubprogram(let index, _):
            // Without a resolver the kernel prints the immediate, here the subprogram index.
            return "call pc" + (callName?(target, slot) ?? signed(index))
        case .helper(let id):
            if let helper = HelperFunction(id: id) { return "call \(helper.kernelName)#\(id)" }
            return "call \(callName?(target, slot) ?? "unknown")#\(id)"
        case .kfunc(let id, _):
            return "call \(callName?(target, slot) ?? "kernel-function")#\(id)"
        }
    }

    /// bpftool's names for `lddw` immediates.
    private func immediateText(_ value: Immediate64) -> String {
        switch value {
        case .mapFD(let reference):
            return "map[id:\(mapID?(reference) ?? reference)]"
        case .mapValue(let reference, let offset):
            return "map[id:\(mapID?(reference) ?? reference)][0]+\(Int32(bitPattern: offset))"
        case .mapIndexValue(let index, let offset):
            return "map[idx:\(index)]+\(Int32(bitPattern: offset))"
        case .function(let offset):
            return "subprog[\(signed(offset))]"
        case .value, .btfVariable, .mapIndex:
            return "0x" + String(value.combinedValue, radix: 16)
        }
    }

    // MARK: Spelling


    private static func symbol(_ operation: ArithmeticOperation) -> String {
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

    private static func symbol(_ operation: ALUOperation) -> String {
        switch operation {
        case .add: "+="
        case .or: "|="
        case .and: "&="
        case .xor: "^="
        default: "?"
        }
    }

    private static func atomicName(_ operation: AtomicOperation) -> String {
        switch operation.arithmetic {
        case .add: "add"
        case .or: "or"
        case .and: "and"
        case .xor: "xor"
        default: "?"
        }
    }

    private static func symbol(_ condition: JumpCondition) -> String {
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

    private static func unsignedType(_ size: AccessSize) -> String {
        switch size {
        case .byte: "u8"
        case .halfWord: "u16"
        case .word: "u32"
        case .doubleWord: "u64"
        }
    }
    private static func signedType(_ size: AccessSize) -> String {
        switch size {
        case .byte: "s8"
        case .halfWord: "s16"
        case .word: "s32"
        case .doubleWord: "s64"
        }
    }
}

/// "r0"…"r11" and "w0"…"w11", built once: register names are much of a listing.
private let registerNames: [String] = (0...11).map { "r\($0)" }
private let wordRegisterNames: [String] = (0...11).map { "w\($0)" }

extension Register {
    /// `r3`.
    fileprivate var name: String { registerNames[Int(rawValue)] }
    /// `w3` for 32-bit operations, else `r3`.
    fileprivate func name(_ width: Width) -> String { width == .bits32 ? wordRegisterNames[Int(rawValue)] : name }
}

/// `%+d`.
private func signed(_ value: Int16) -> String { value < 0 ? String(value) : "+" + String(value) }
private func signed(_ value: Int32) -> String { value < 0 ? String(value) : "+" + String(value) }

/// `%02x`, from a table built once.
private let hexBytes: [String] = (0...255).map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
private func hex2(_ byte: UInt8) -> String { hexBytes[Int(byte)] }

extension Disassembler {
    /// The call naming `bpftool prog dump xlated` uses for a program read back from the kernel:
    /// helper calls hold `address - __bpf_call_base` and are named by the kernel symbol at that
    /// address; subprogram calls are named by the JIT image of subprogram `imm`
    /// (`jitedFunctionAddresses`, from `bpf_prog_info.jited_ksyms`) as `+off#symbol`.
    ///
    /// - Parameters:
    ///   - callBase: address of `__bpf_call_base` (from /proc/kallsyms).
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
                let offset = signed(slot.offset)
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
