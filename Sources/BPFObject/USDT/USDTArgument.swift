/// One USDT argument as its spec string (`SIZE@OPERAND`, written by <sys/sdt.h> with the
/// assembler's operand syntax) describes it: its size and signedness and where its value is when
/// the probe fires.
public struct USDTArgument: Hashable, Sendable {
    /// Size in bytes: 1, 2, 4 or 8.
    public var size: Int
    /// A negative size in the spec marks a signed value.
    public var isSigned: Bool
    /// Where the probe site keeps the value.
    public var location: Location

    /// Where a USDT argument lives when the probe fires, as the spec string encodes it.
    public enum Location: Hashable, Sendable {
        /// An immediate (`4@$5` on x86-64, `4@5` on AArch64).
        case constant(Int64)
        /// The value is in a register (`-4@%edi`, `8@x0`).
        case register(USDTRegister)
        /// The value is in memory at register + offset (`8@-8(%rbp)`, `4@[sp, 12]`).
        case memory(base: USDTRegister, offset: Int64)
        /// The value is in memory at base + index × scale + offset (`8@(%rax,%rdx,8)`).
        case indexed(base: USDTRegister, index: USDTRegister, scale: UInt8, offset: Int64)
    }

    public init(size: Int, isSigned: Bool, location: Location) {
        self.size = size
        self.isSigned = isSigned
        self.location = location
    }

    /// Parses a whole argument list (`-4@%edi 8@-8(%rbp) -4@$5`). Arguments are separated by
    /// white space outside brackets (AArch64 writes `[sp, 12]`).
    public static func parseList(_ text: String, architecture: USDTArchitecture) throws -> [USDTArgument] {
        var arguments: [USDTArgument] = []
        var current: [UInt8] = []
        var depth = 0
        func flush() throws {
            guard !current.isEmpty else { return }
            arguments.append(try parse(String(decoding: current, as: UTF8.self), index: arguments.count, in: text, architecture: architecture))
            current.removeAll()
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "["), UInt8(ascii: "("): depth += 1
            case UInt8(ascii: "]"), UInt8(ascii: ")"): depth -= 1
            default: break
            }
            if depth <= 0, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                depth = 0
                try flush()
            } else {
                current.append(byte)
            }
        }
        try flush()
        return arguments
    }

    /// Parses one argument (`-4@%edi`). `index` and `list` only make errors precise.
    public static func parse(_ spec: String, index: Int = 0, in list: String? = nil, architecture: USDTArchitecture) throws -> USDTArgument {
        func fail(_ reason: String) -> USDTError { .badArgument(spec: list ?? spec, index: index, reason: reason) }
        guard let at = spec.firstIndex(of: "@") else { throw fail("'\(spec)' has no '@' between size and location") }
        let sizeText = spec[..<at]
        guard let size = Int(sizeText), [1, 2, 4, 8].contains(abs(size)) else {
            throw fail("size '\(sizeText)' is not ±1, ±2, ±4 or ±8")
        }
        var operand = Substring(spec[spec.index(after: at)...])
        let location: Location
        switch architecture {
        case .x86_64: location = try x86Location(&operand, fail: fail)
        case .arm64: location = try arm64Location(&operand, fail: fail)
        }
        return USDTArgument(size: abs(size), isSigned: size < 0, location: location)
    }

    // MARK: x86-64 (AT&T syntax)

    private static func x86Location(_ operand: inout Substring, fail: (String) -> USDTError) throws -> Location {
        if operand.hasPrefix("$") {
            guard let value = integer(operand.dropFirst()) else { throw fail("constant '\(operand)' is not an integer") }
            return .constant(value)
        }
        if operand.hasPrefix("%") {
            return .register(try x86Register(operand.dropFirst(), fail: fail))
        }
        // [displacement](%base[,%index[,scale]])
        guard let open = operand.firstIndex(of: "("), operand.hasSuffix(")") else {
            throw fail("'\(operand)' is neither $constant, %register nor displacement(%register)")
        }
        let displacementText = operand[..<open]
        var displacement: Int64 = 0
        if !displacementText.isEmpty {
            guard let value = integer(displacementText) else {
                throw fail("displacement '\(displacementText)' is not an integer (symbolic, RIP-relative operands are not supported)")
            }
            displacement = value
        }
        let inside = operand[operand.index(after: open)..<operand.index(before: operand.endIndex)]
        let parts = inside.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
        guard let baseText = parts.first, baseText.hasPrefix("%") else {
            throw fail("memory operand '\(operand)' has no base register")
        }
        let base = try x86Register(baseText.dropFirst(), fail: fail)
        guard base.name != "rip" else {
            throw fail("RIP-relative operands are not supported")
        }
        switch parts.count {
        case 1:
            return .memory(base: base, offset: displacement)
        case 2, 3:
            guard parts[1].hasPrefix("%") else { throw fail("index '\(parts[1])' of '\(operand)' is not a register") }
            let index = try x86Register(parts[1].dropFirst(), fail: fail)
            var scale: UInt8 = 1
            if parts.count == 3 {
                guard let value = UInt8(parts[2]), [1, 2, 4, 8].contains(value) else {
                    throw fail("scale '\(parts[2])' of '\(operand)' is not 1, 2, 4 or 8")
                }
                scale = value
            }
            return .indexed(base: base, index: index, scale: scale, offset: displacement)
        default:
            throw fail("memory operand '\(operand)' has too many parts")
        }
    }

    private static func x86Register(_ name: Substring, fail: (String) -> USDTError) throws -> USDTRegister {
        guard let register = USDTArchitecture.x86_64.register(named: String(name)) else {
            throw fail("'%\(name)' is not an x86-64 general-purpose register")
        }
        return register
    }

    // MARK: AArch64

    private static func arm64Location(_ operand: inout Substring, fail: (String) -> USDTError) throws -> Location {
        if operand.hasPrefix("[") {
            guard operand.hasSuffix("]") else { throw fail("'\(operand)' has no closing ']'") }
            let inside = operand.dropFirst().dropLast()
            let parts = inside.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
            guard let base = USDTArchitecture.arm64.register(named: String(parts[0])) else {
                throw fail("'\(parts[0])' is not an AArch64 register (x0-x30, sp)")
            }
            switch parts.count {
            case 1:
                return .memory(base: base, offset: 0)
            case 2:
                let text = parts[1].hasPrefix("#") ? parts[1].dropFirst() : parts[1]
                guard let offset = integer(text) else {
                    throw fail("offset '\(parts[1])' of '\(operand)' is not an integer (register offsets are not supported)")
                }
                return .memory(base: base, offset: offset)
            default:
                throw fail("memory operand '\(operand)' has too many parts")
            }
        }
        if let value = integer(operand.hasPrefix("#") ? operand.dropFirst() : operand) {
            return .constant(value)
        }
        guard let register = USDTArchitecture.arm64.register(named: String(operand)) else {
            throw fail("'\(operand)' is neither a constant, a register (x0-x30, sp) nor [register, offset]")
        }
        return .register(register)
    }

    /// A decimal or `0x` hexadecimal integer with an optional sign, within Int64.
    static func integer(_ text: Substring) -> Int64? {
        var digits = text
        var negative = false
        if digits.hasPrefix("-") { negative = true; digits = digits.dropFirst() } else if digits.hasPrefix("+") { digits = digits.dropFirst() }
        let magnitude: UInt64?
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
            magnitude = UInt64(digits.dropFirst(2), radix: 16)
        } else {
            magnitude = UInt64(digits, radix: 10)
        }
        guard let magnitude, let first = digits.first, first.isASCII, first.isNumber else { return nil }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        // sdt.h prints unsigned 64-bit immediates too; keep their bits.
        return Int64(bitPattern: magnitude)
    }
}

/// A register as the BPF program finds it: its byte offset in the `struct pt_regs` a uprobe
/// program receives as context.
public struct USDTRegister: Hashable, Sendable {
    /// The 64-bit name (`rdi` for `%edi`, `x3` for `w3`).
    public var name: String
    public var ptRegsOffset: UInt16
    public init(name: String, ptRegsOffset: UInt16) {
        self.name = name
        self.ptRegsOffset = ptRegsOffset
    }
}

/// The machines whose argument specs are understood, each with its `pt_regs` layout.
public enum USDTArchitecture: Sendable, Hashable {
    case x86_64, arm64

    /// The architecture of an ELF `e_machine`, or nil.
    public init?(machine: UInt16) {
        switch machine {
        case ELFHeader.machineX86_64: self = .x86_64
        case ELFHeader.machineAArch64: self = .arm64
        default: return nil
        }
    }

    /// The architecture this code runs on (whose kernel's pt_regs the BPF program sees).
    public static var host: USDTArchitecture? {
        #if arch(x86_64)
        return .x86_64
        #elseif arch(arm64)
        return .arm64
        #else
        return nil
        #endif
    }

    /// `name` (without `%`) as a pt_regs slot, or nil when it is not a general-purpose register.
    public func register(named name: String) -> USDTRegister? {
        switch self {
        case .x86_64:
            for (names, offset) in Self.x86Registers where names.contains(name) {
                return USDTRegister(name: names[0], ptRegsOffset: offset)
            }
            return nil
        case .arm64:
            // struct user_pt_regs (arch/arm64/include/uapi/asm/ptrace.h): regs[31], sp, pc, pstate.
            if name == "sp" { return USDTRegister(name: "sp", ptRegsOffset: 31 * 8) }
            let digits = name.utf8.dropFirst()
            guard name.hasPrefix("x") || name.hasPrefix("w"), (1...2).contains(digits.count),
                  digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  let number = UInt16(name.dropFirst()), number < 31 else { return nil }
            return USDTRegister(name: "x\(number)", ptRegsOffset: number * 8)
        }
    }

    /// x86-64 `struct pt_regs` (arch/x86/include/asm/ptrace.h): r15, r14, r13, r12, bp, bx, r11,
    /// r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss — 8 bytes each. Every
    /// width of a register reads the same slot.
    static let x86Registers: [([String], UInt16)] = [
        (["rip", "eip"], 128),
        (["rax", "eax", "ax", "al"], 80), (["rbx", "ebx", "bx", "bl"], 40),
        (["rcx", "ecx", "cx", "cl"], 88), (["rdx", "edx", "dx", "dl"], 96),
        (["rsi", "esi", "si", "sil"], 104), (["rdi", "edi", "di", "dil"], 112),
        (["rbp", "ebp", "bp", "bpl"], 32), (["rsp", "esp", "sp", "spl"], 152),
        (["r8", "r8d", "r8w", "r8b"], 72), (["r9", "r9d", "r9w", "r9b"], 64),
        (["r10", "r10d", "r10w", "r10b"], 56), (["r11", "r11d", "r11w", "r11b"], 48),
        (["r12", "r12d", "r12w", "r12b"], 24), (["r13", "r13d", "r13w", "r13b"], 16),
        (["r14", "r14d", "r14w", "r14b"], 8), (["r15", "r15d", "r15w", "r15b"], 0),
    ]
}

extension Substring {
    /// Without leading and trailing spaces (Foundation-free, for the pure parsers).
    var trimmingSpaces: Substring {
        var result = self
        while result.first == " " || result.first == "\t" { result = result.dropFirst() }
        while result.last == " " || result.last == "\t" { result = result.dropLast() }
        return result
    }
}
