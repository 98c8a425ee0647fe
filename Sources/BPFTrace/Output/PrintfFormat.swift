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
            var conversion = Conversion(flags: "", width: nil, precision: nil, length: "", conversion: " ")
            while let flag = characters.first, "-+ #0".contains(flag) { conversion.flags.append(flag); characters.removeFirst() }
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
            guard let letter = characters.popFirst(), "diuxXocsp".contains(letter) else { return nil }
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
            if conversion.conversion == "s" { continue }
            if type.isString { return "printf: %\(conversion.conversion) specifier expects a value of type integer (string supplied) for argument \(index + 1)" }
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
        case ("s", _):
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

/// A decoded value from an event record or map.
public enum TraceValue: Hashable, Sendable {
    case integer(UInt64, signed: Bool)
    case string(String)

    var bits: UInt64 {
        switch self {
        case .integer(let bits, _): bits
        case .string: 0
        }
    }

    /// As bpftrace prints it in map keys and values.
    public var text: String {
        switch self {
        case .integer(let bits, let signed): signed ? String(Int64(bitPattern: bits)) : String(bits)
        case .string(let text): text
        }
    }

    /// Reads a value of `type` from `bytes` at `offset` (little-endian; strings end at the first NUL).
    static func decode(_ type: TraceValueType, _ bytes: UnsafeRawBufferPointer, at offset: Int) -> TraceValue {
        switch type {
        case .integer(let signed):
            guard offset + 8 <= bytes.count else { return .integer(0, signed: signed) }
            return .integer(bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self), signed: signed)
        case .string(let size):
            let end = min(bytes.count, offset + size)
            guard offset < end else { return .string("") }
            let slice = bytes[offset..<end]
            let text = slice.prefix { $0 != 0 }
            return .string(String(decoding: text, as: UTF8.self))
        }
    }
}
