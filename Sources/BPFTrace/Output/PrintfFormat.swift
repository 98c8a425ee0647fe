import Foundation

/// printf formats as bpftrace accepts them, formatted in user space from packed event records.
/// Integer conversions follow C varargs on x86-64: without `l`/`ll` the value is truncated to
/// 32 bits (`%d` signed, `%u %x %o` unsigned); `h`/`hh` truncate further.
public enum PrintfFormat {
    struct Conversion {
        var flags: String
        var width: Int?
        var precision: Int?
        var length: String
        var conversion: Character
    }

    enum Piece {
        case literal(String)
        case conversion(Conversion)
    }

    static func parse(_ format: String) -> [Piece]? {
        var pieces: [Piece] = []
        var literal = ""
        var characters = Array(format)[...]
        while let character = characters.popFirst() {
            guard character == "%" else { literal.append(character); continue }
            if characters.first == "%" { characters.removeFirst(); literal.append("%"); continue }
            // bpftrace 0.17 recognises `%[-][0][width][.precision][length]conversion` only; any
            // other `%` (`%+d`, `%#x`, `%y`) is printed as it stands and takes no argument.
            let start = characters
            var conversion = Conversion(flags: "", width: nil, precision: nil, length: "", conversion: " ")
            if characters.first == "-" { conversion.flags.append("-"); characters.removeFirst() }
            if characters.first == "0" { conversion.flags.append("0") }
            var digits = ""
            while let digit = characters.first, digit.isASCII, digit.isNumber { digits.append(digit); characters.removeFirst() }
            conversion.width = Int(digits)
            if characters.first == "." {
                characters.removeFirst()
                digits = ""
                while let digit = characters.first, digit.isASCII, digit.isNumber { digits.append(digit); characters.removeFirst() }
                conversion.precision = Int(digits) ?? 0
            }
            while let length = characters.first, "hlzjt".contains(length) { conversion.length.append(length); characters.removeFirst() }
            guard let letter = characters.popFirst(), "diuxXocspr".contains(letter) else {
                literal.append("%")
                characters = start
                continue
            }
            conversion.conversion = letter
            if !literal.isEmpty { pieces.append(.literal(literal)); literal = "" }
            pieces.append(.conversion(conversion))
        }
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        return pieces
    }

    /// A bpftrace-style complaint when the arguments do not fit the format, else nil.
    public static func check(_ format: String, argumentTypes: [TraceValueType]) -> String? {
        guard let pieces = parse(format) else { return "printf: Invalid format string" }
        let conversions = pieces.compactMap { if case .conversion(let c) = $0 { c } else { nil } }
        if conversions.count > argumentTypes.count { return "printf: Not enough arguments for format string (\(argumentTypes.count) supplied, \(conversions.count) expected)" }
        if conversions.count < argumentTypes.count { return "printf: Too many arguments for format string (\(argumentTypes.count) supplied, \(conversions.count) expected)" }
        for (index, (conversion, type)) in zip(conversions, argumentTypes).enumerated() {
            _ = index
            if case .tuple = type { return "printf: %\(conversion.conversion) specifier expects a value of type \(conversion.conversion == "s" ? "string" : "integer") (tuple supplied)" }
            if conversion.conversion == "r" {
                if case .buffer = type { continue }
                return "printf: %r specifier expects a value of type buffer (\(type.bpftraceName) supplied)"
            }
            if case .buffer = type { return "printf: %\(conversion.conversion) specifier expects a value of type \(conversion.conversion == "s" ? "string" : "integer") (buffer supplied)" }
            if case .integerArray = type { return "printf: %\(conversion.conversion) specifier expects a value of type \(conversion.conversion == "s" ? "string" : "integer") (array supplied)" }
            if conversion.conversion == "s" {
                if case .integer = type { return "printf: %s specifier expects a value of type string (integer supplied)" }
                continue
            }
            // bpftrace formats stacks and symbols as text, so it names them "string" here too.
            if !type.isInteger { return "printf: %\(conversion.conversion) specifier expects a value of type integer (string supplied)" }
        }
        return nil
    }

    /// Formats one record's arguments (already decoded) with `format`.
    public static func render(_ format: String, _ arguments: [TraceValue]) -> String {
        guard let pieces = parsedOnce(format) else { return format }
        return render(pieces, arguments)
    }

    private static let parsedLock = NSLock()
    nonisolated(unsafe) private static var parsed: [String: [Piece]?] = [:]

    /// `parse`, remembered per format: a script has a handful of formats and prints them per
    /// event, and parsing (a walk over Characters) costs more than the formatting itself.
    static func parsedOnce(_ format: String) -> [Piece]? {
        parsedLock.lock()
        defer { parsedLock.unlock() }
        if let pieces = parsed[format] { return pieces }
        let pieces = parse(format)
        if parsed.count < 1024 { parsed[format] = pieces }
        return pieces
    }

    /// Formats arguments with an already parsed format.
    static func render(_ pieces: [Piece], _ arguments: [TraceValue]) -> String {
        var out = ""
        var remaining = arguments[...]
        for piece in pieces {
            switch piece {
            case .literal(let text): out += text
            case .conversion(let conversion):
                out += render(conversion, remaining.popFirst() ?? .integer(0, signed: false))
            }
        }
        return out
    }

    static func render(_ conversion: Conversion, _ value: TraceValue) -> String {
        var body: String
        var sign = ""
        switch (conversion.conversion, value) {
        case ("s", _), ("r", _):
            body = value.text
            if let precision = conversion.precision { body = String(body.prefix(precision)) }
        case ("c", _):
            body = String(UnicodeScalar(UInt8(truncatingIfNeeded: value.bits)))
        case (_, _):
            let bits = truncate(value.bits, conversion.length)
            switch conversion.conversion {
            case "d", "i":
                let signedValue = signExtend(bits, conversion.length)
                if signedValue < 0 { sign = "-" } else if conversion.flags.contains("+") { sign = "+" } else if conversion.flags.contains(" ") { sign = " " }
                body = String(signedValue.magnitude)
            case "u": body = String(bits)
            case "x": body = (conversion.flags.contains("#") && bits != 0 ? "0x" : "") + String(bits, radix: 16)
            case "X": body = (conversion.flags.contains("#") && bits != 0 ? "0X" : "") + String(bits, radix: 16).uppercased()
            case "o": body = (conversion.flags.contains("#") ? "0" : "") + String(bits, radix: 8)
            case "p": body = "0x" + String(value.bits, radix: 16)
            default: body = String(bits)
            }
            if let precision = conversion.precision, body.count < precision { body = String(repeating: "0", count: precision - body.count) + body }
        }
        let total = sign.count + body.count
        guard let width = conversion.width, width > total else { return sign + body }
        let padding = width - total
        if conversion.flags.contains("-") { return sign + body + String(repeating: " ", count: padding) }
        if conversion.flags.contains("0") && conversion.conversion != "s" && conversion.precision == nil {
            return sign + String(repeating: "0", count: padding) + body
        }
        return String(repeating: " ", count: padding) + sign + body
    }

    static func truncate(_ bits: UInt64, _ length: String) -> UInt64 {
        switch length {
        case "hh": bits & 0xFF
        case "h": bits & 0xFFFF
        case "": bits & 0xFFFF_FFFF
        default: bits
        }
    }

    static func signExtend(_ bits: UInt64, _ length: String) -> Int64 {
        switch length {
        case "hh": Int64(Int8(truncatingIfNeeded: bits))
        case "h": Int64(Int16(truncatingIfNeeded: bits))
        case "": Int64(Int32(truncatingIfNeeded: bits))
        default: Int64(bitPattern: bits)
        }
    }
}

/// strftime(): nanoseconds since boot as wall-clock time, the way bpftrace 0.17 does it (its
/// boot-time offset, CLOCK_REALTIME - CLOCK_BOOTTIME, taken once) with its `%f` extension
/// (microseconds, six digits).
enum WallClock {
    static let bootOffset: Int64 = {
        var real = timespec(), boot = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        clock_gettime(CLOCK_BOOTTIME, &boot)
        return (Int64(real.tv_sec) - Int64(boot.tv_sec)) * 1_000_000_000 + Int64(real.tv_nsec) - Int64(boot.tv_nsec)
    }()

    static func format(bootNanoseconds: UInt64, _ format: String) -> String {
        let wall = bootOffset &+ Int64(bitPattern: bootNanoseconds)
        var seconds = time_t(wall / 1_000_000_000)
        let microseconds = (wall % 1_000_000_000) / 1000
        let expanded = format.replacingOccurrences(of: "%f", with: String(format: "%06lld", microseconds))
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [Int8](repeating: 0, count: 512)
        let count = strftime(&buffer, buffer.count, expanded, &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A decoded value from an event record or map.
public enum TraceValue: Hashable, Sendable {
    case integer(UInt64, signed: Bool)
    case string(String)
    /// A symbolised stack: one line per frame, unindented (perf-mode lines carry their tab).
    case stack([String], perf: Bool)

    var bits: UInt64 {
        switch self {
        case .integer(let bits, _): bits
        case .string, .stack: 0
        }
    }

    /// As bpftrace prints it in printf and map values (stacks: frames indented by 8).
    public var text: String { text(indent: 8) }

    /// As bpftrace prints it inside a map key (stacks: frames indented by 4).
    public var keyText: String { text(indent: 4) }

    func text(indent: Int) -> String {
        switch self {
        case .integer(let bits, let signed): return signed ? String(Int64(bitPattern: bits)) : String(bits)
        case .string(let text): return text
        case .stack(let frames, let perf):
            let padding = perf ? "" : String(repeating: " ", count: indent)
            return "\n" + frames.map { padding + $0 + "\n" }.joined()
        }
    }

    /// `username`: the passwd entry's name for `uid`, or the number when there is none.
    static func userName(uid: UInt64) -> String {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 1024)
        guard getpwuid_r(uid_t(truncatingIfNeeded: uid), &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name else {
            return String(uid)
        }
        return String(cString: name)
    }

    /// bpftrace's `%r`: printable ASCII as is, every other byte as `\xNN`.
    static func hexEscaped(_ bytes: UnsafeRawBufferPointer.SubSequence) -> String {
        var out = ""
        for byte in bytes {
            if byte >= 0x20 && byte < 0x7f { out.append(Character(UnicodeScalar(byte))) } else { out += String(format: "\\x%02x", byte) }
        }
        return out
    }

    /// An inet value's text: inet_ntop(3) of the 4 (AF_INET) or 16 (AF_INET6) bytes at `offset`;
    /// empty for other families, as bpftrace prints them.
    static func inetText(family: UInt64, _ bytes: UnsafeRawBufferPointer, at offset: Int) -> String {
        let count: Int
        switch Int32(truncatingIfNeeded: family) {
        case AF_INET: count = 4
        case AF_INET6: count = 16
        default: return ""
        }
        guard offset >= 0, offset + count <= bytes.count else { return "" }
        var address = [UInt8](bytes[offset..<(offset + count)])
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(Int32(truncatingIfNeeded: family), &address, &text, socklen_t(text.count)) != nil else { return "" }
        return String(cString: text)
    }

    /// Reads a value of `type` from `bytes` at `offset` (little-endian; strings end at the first
    /// NUL). Stacks and symbols are named through `symbols`; without it they print as numbers.
    static func decode(_ type: TraceValueType, _ bytes: UnsafeRawBufferPointer, at offset: Int, symbols: TraceSymbolizer? = nil) -> TraceValue {
        func u64(_ at: Int) -> UInt64 {
            guard at + 8 <= bytes.count, at >= 0 else { return 0 }
            return bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)
        }
        switch type {
        case .integer(let signed):
            return .integer(u64(offset), signed: signed)
        case .pointer:
            // bpftrace prints a stored pointer as a signed 64-bit number.
            return .integer(u64(offset), signed: true)
        case .timestamp(let format):
            return .string(WallClock.format(bootNanoseconds: u64(offset), format))
        case .buffer(let capacity):
            let length = min(Int(min(u64(offset), UInt64(capacity))), max(0, bytes.count - offset - 8))
            return .string(hexEscaped(bytes[(offset + 8)..<(offset + 8 + length)]))
        case .inet:
            return .string(inetText(family: u64(offset), bytes, at: offset + 8))
        case .integerArray(let size, let signed, let count):
            let values = (0..<count).map { index -> String in
                let at = offset + index * size
                guard at >= 0, at + size <= bytes.count else { return "0" }
                var bits: UInt64 = 0
                for byte in (0..<size).reversed() { bits = bits << 8 | UInt64(bytes[at + byte]) }
                guard signed, size < 8 else { return signed ? String(Int64(bitPattern: bits)) : String(bits) }
                let shift = UInt64(64 - size * 8)
                return String(Int64(bitPattern: bits << shift) >> shift)
            }
            return .string("[" + values.joined(separator: ",") + "]")
        case .byteArray(let count):
            let end = min(bytes.count, offset + count)
            let values = offset < end ? bytes[offset..<end].map { String($0) } : []
            return .string("[" + values.joined(separator: ",") + "]")
        case .probeName:
            let index = Int(truncatingIfNeeded: u64(offset))
            guard let names = symbols?.probeNames, names.indices.contains(index) else { return .string("") }
            return .string(names[index])
        case .macAddress:
            let end = min(bytes.count, offset + 6)
            let octets: [UInt8] = offset < end ? Array(bytes[offset..<end]) : []
            return .string(octets.map { String(format: "%02X", $0) }.joined(separator: ":"))
        case .tuple(let elements):
            var parts: [String] = []
            var at = offset
            for element in elements {
                parts.append(decode(element, bytes, at: at, symbols: symbols).text)
                at += element.storageSize
            }
            return .string("(" + parts.joined(separator: ", ") + ")")
        case .string(let size):
            let end = min(bytes.count, offset + size)
            guard offset < end else { return .string("") }
            let slice = bytes[offset..<end]
            let text = slice.prefix { $0 != 0 }
            return .string(String(decoding: text, as: UTF8.self))
        case .userName:
            return .string(userName(uid: u64(offset)))
        case .errorText:
            return .string(String(cString: strerror(Int32(truncatingIfNeeded: u64(offset)))))
        case .cgroupPath(let filter):
            return .string(CgroupPaths.text(id: u64(offset), filter: filter))
        case .kernelStack(let stack):
            guard let symbols else { return .integer(u64(offset), signed: false) }
            return .stack(symbols.kernelStack(u64(offset), stack), perf: stack.mode == .perf)
        case .userStack(let stack):
            guard let symbols else { return .integer(u64(offset), signed: false) }
            return .stack(symbols.userStack(u64(offset), stack), perf: stack.mode == .perf)
        case .kernelSymbol:
            guard let symbols else { return .string(TraceSymbolizer.hex(u64(offset))) }
            return .string(symbols.kernelSymbol(u64(offset), offset: false))
        case .userSymbol:
            guard let symbols else { return .string(TraceSymbolizer.hex(u64(offset))) }
            return .string(symbols.userSymbol(u64(offset), processID: Int32(truncatingIfNeeded: u64(offset + 8)), offset: false, module: false))
        }
    }
}
