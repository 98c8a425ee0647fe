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

    public init(mapID: (@Sendable (Int32) -> Int32?)? = nil,
                callName: (@Sendable (CallTarget, Instruction) -> String?)? = nil) {
        self.mapID = mapID
        self.callName = callName
    }

    // MARK: Whole programs

    /// One line per instruction, as `bpftool prog dump xlated` prints them (`%4u: ` then the
    /// instruction; `lddw` takes two indices and one line).
    public func lines(_ program: [Instruction]) -> [String] {
        program.decodedOperations().map { decoded in
            let index = String(decoded.index)
            let padded = String(repeating: " ", count: max(0, 4 - index.count)) + index
            return "\(padded): " + text(of: decoded, in: program)
        }
    }

    /// The whole listing, each line ending in a newline.
    public func text(_ program: [Instruction]) -> String {
        lines(program).map { $0 + "\n" }.joined()
    }

    /// One instruction's text without the index: `(b7) r0 = 0`.
    public func text(of decoded: DecodedInstruction, in program: [Instruction]) -> String {
        let slot = program.indices.contains(decoded.index) ? program[decoded.index] : Instruction(opcode: 0)
        switch decoded.result {
        case .success(let operation): return text(of: operation, opcode: slot.opcode, slot: slot)
        case .failure(let error): return "(\(hex2(slot.opcode))) invalid: \(Self.reasonText(error.reason))"
        }
    }

    /// One operation's text without the index: `(bf) r1 = r10`.
    public func text(of operation: Operation) -> String {
        let slot = operation.instructions[0]
        return text(of: operation, opcode: slot.opcode, slot: slot)
    }

    // MARK: One instruction

    private func text(of operation: Operation, opcode: UInt8, slot: Instruction) -> String {
        "(\(hex2(opcode))) " + body(of: operation, slot: slot)
    }

    private func body(of operation: Operation, slot: Instruction) -> String {
        switch operation {
        case .arithmetic(let op, let width, let dst, let operand):
            let r = Self.prefix(width)
            switch operand {
            case .register(let src): return "\(r)\(dst.rawValue) \(Self.symbol(op)) \(r)\(src.rawValue)"
            case .immediate(let imm): return "\(r)\(dst.rawValue) \(Self.symbol(op)) \(imm)"
            }
        case .moveSignExtend(let width, let dst, let src, let bits):
            let r = Self.prefix(width)
            return "\(r)\(dst.rawValue) = (s\(bits.rawValue))\(r)\(src.rawValue)"
        case .negate(let width, let dst):
            let r = Self.prefix(width)
            return "\(r)\(dst.rawValue) = -\(r)\(dst.rawValue)"
        case .byteSwap(let kind, let bits, let dst):
            let name = switch kind {
            case .toLittleEndian: "le"
            case .toBigEndian: "be"
            case .unconditional: "bswap"
            }
            return "r\(dst.rawValue) = \(name)\(bits.rawValue) r\(dst.rawValue)"
        case .addressSpaceCast(let dst, let src, let to, let from):
            return "r\(dst.rawValue) = addr_space_cast(r\(src.rawValue), \(to), \(from))"
        case .perCPUAddress(let dst, let src):
            return "r\(dst.rawValue) = &(void __percpu *)(r\(src.rawValue))"
        case .load(let size, let dst, let src, let offset):
            return "r\(dst.rawValue) = *(\(Self.unsignedType(size)) *)(r\(src.rawValue) \(signed(offset)))"
        case .loadSignExtend(let size, let dst, let src, let offset):
            return "r\(dst.rawValue) = *(\(Self.signedType(size)) *)(r\(src.rawValue) \(signed(offset)))"
        case .store(let size, let dst, let offset, let operand):
            let value = switch operand {
            case .register(let src): "r\(src.rawValue)"
            case .immediate(let imm): "\(imm)"
            }
            return "*(\(Self.unsignedType(size)) *)(r\(dst.rawValue) \(signed(offset))) = \(value)"
        case .atomic(let op, let size, let dst, let offset, let src):
            let pointer = "(\(Self.unsignedType(size)) *)(r\(dst.rawValue) \(signed(offset)))"
            let bits = size == .doubleWord ? "64" : ""
            switch op {
            case .add, .or, .and, .xor:
                return "lock *\(pointer) \(Self.symbol(op.arithmetic!)) r\(src.rawValue)"
            case .fetchAdd, .fetchOr, .fetchAnd, .fetchXor:
                return "r\(src.rawValue) = atomic\(bits)_fetch_\(Self.atomicName(op))(\(pointer), r\(src.rawValue))"
            case .exchange:
                return "r\(src.rawValue) = atomic\(bits)_xchg(\(pointer), r\(src.rawValue))"
            case .compareExchange:
                return "r0 = atomic\(bits)_cmpxchg(\(pointer), r0, r\(src.rawValue))"
            }
        case .loadAcquire(let size, let dst, let src, let offset):
            return "r\(dst.rawValue) = load_acquire((\(Self.unsignedType(size)) *)(r\(src.rawValue) \(signed(offset))))"
        case .storeRelease(let size, let dst, let offset, let src):
            return "store_release((\(Self.unsignedType(size)) *)(r\(dst.rawValue) \(signed(offset))), r\(src.rawValue))"
        case .loadPacketAbsolute(let size, let imm):
            return "r0 = *(\(Self.unsignedType(size)) *)skb[\(imm)]"
        case .loadPacketIndirect(let size, let src, let imm):
            return "r0 = *(\(Self.unsignedType(size)) *)skb[r\(src.rawValue) + \(imm)]"
        case .loadImmediate64(let dst, let value):
            return "r\(dst.rawValue) = \(immediateText(value))"
        case .jump(let offset):
            return "goto pc\(signed(offset))"
        case .jumpLong(let offset):
            return "gotol pc\(signed(offset))"
        case .jumpIndirect(let dst):
            return "gotox r\(dst.rawValue)"
        case .mayGoto(let offset):
            return "may_goto pc\(signed(offset))"
        case .conditionalJump(let condition, let width, let dst, let operand, let offset):
            let r = width == .bits32 ? "w" : "r"
            let right = switch operand {
            case .register(let src): "\(r)\(src.rawValue)"
            case .immediate(let imm): "0x" + String(UInt32(bitPattern: imm), radix: 16)
            }
            return "if \(r)\(dst.rawValue) \(Self.symbol(condition)) \(right) goto pc\(signed(offset))"
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

    private static func prefix(_ width: Width) -> String { width == .bits32 ? "w" : "r" }

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

    private static func unsignedType(_ size: AccessSize) -> String { "u\(size.byteCount * 8)" }
    private static func signedType(_ size: AccessSize) -> String { "s\(size.byteCount * 8)" }

    private static func reasonText(_ reason: InstructionDecodingError.Reason) -> String {
        InstructionDecodingError(index: 0, instruction: Instruction(opcode: 0), reason: reason)
            .description.split(separator: ":", maxSplits: 1).last.map { String($0.dropFirst()) } ?? ""
    }
}

/// `%+d`.
private func signed<T: BinaryInteger>(_ value: T) -> String { value < 0 ? "\(value)" : "+\(value)" }

/// `%02x`.
private func hex2(_ byte: UInt8) -> String {
    let digits = String(byte, radix: 16)
    return digits.count < 2 ? "0" + digits : digits
}

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
