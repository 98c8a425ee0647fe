import BPFObject

/// A value decoded through BTF, shaped like bpftool's `formatted` JSON: numbers, booleans,
/// enumerator names, objects for structs and unions, arrays.
public indirect enum FormattedValue: Sendable, Hashable {
    case signed(Int64)
    case unsigned(UInt64)
    case bool(Bool)
    case string(String)
    case object([(String, FormattedValue)])
    case array([FormattedValue])

    public static func == (lhs: FormattedValue, rhs: FormattedValue) -> Bool {
        switch (lhs, rhs) {
        case (.signed(let a), .signed(let b)): a == b
        case (.unsigned(let a), .unsigned(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(String(describing: self)) }
}

/// Decodes raw map keys and values through the map's BTF types, for `map dump` the way bpftool
/// shows maps created with BTF. Only what it can render faithfully is formatted: integers,
/// booleans, enums, structs and unions without bitfields, arrays of those, char arrays holding C
/// strings, through typedefs and qualifiers. Anything else (bitfields, pointers, floats, other
/// char data) makes it return nil, and the caller falls back to raw bytes.
public struct BTFValueFormatter: Sendable {
    public let btf: BTF

    public init(btf: BTF) { self.btf = btf }

    /// The BTF of a map (its `btf_id`), or nil when the map was created without BTF.
    public static func forMap(_ info: MapInfo) -> BTFValueFormatter? {
        guard info.btfID != 0, info.btfKeyTypeID != 0 || info.btfValueTypeID != 0,
              let fd = try? KernelObjects.open(.btf, id: info.btfID),
              let bytes = try? BTFObjectInfo.bytes(of: fd),
              let btf = try? BTF(bytes) else { return nil }
        return BTFValueFormatter(btf: btf)
    }

    /// `bytes` read as type `id`, or nil if this formatter cannot render it exactly.
    public func format(_ bytes: ArraySlice<UInt8>, as id: UInt32, depth: Int = 0) -> FormattedValue? {
        guard depth < 64, id != 0, let type = try? btf.type(id) else { return nil }
        switch type.kind {
        case .typedef, .const, .volatile, .restrict, .typeTag:
            return format(bytes, as: type.sizeOrType, depth: depth + 1)
        case .int:
            guard type.intBitOffset == 0, let size = type.storedSize, Int(size) <= 8, bytes.count >= Int(size),
                  type.intBits == size * 8 else { return nil }
            let raw = bytes.prefix(Int(size)).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            if type.intEncoding.contains(.bool) { return .bool(raw != 0) }
            if type.intEncoding.contains(.signed) {
                let shift = UInt64(64 - size * 8)
                return .signed(Int64(bitPattern: raw << shift) >> Int64(shift))
            }
            if type.intEncoding.contains(.char) { return nil }
            return .unsigned(raw)
        case .enum:
            guard let size = type.storedSize, Int(size) <= 8, bytes.count >= Int(size) else { return nil }
            let raw = bytes.prefix(Int(size)).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let match = type.enumerators.first { $0.value & (size == 8 ? ~0 : (1 << (UInt64(size) * 8)) - 1) == raw }
            return match.map { .string($0.name) } ?? .unsigned(raw)
        case .struct, .union:
            guard let size = type.storedSize, bytes.count >= Int(size) else { return nil }
            var fields: [(String, FormattedValue)] = []
            for member in type.members {
                guard member.bitfieldSize == 0, member.bitOffset % 8 == 0, !member.isAnonymous else { return nil }
                let start = bytes.startIndex + Int(member.bitOffset / 8)
                guard start <= bytes.endIndex, let value = format(bytes[start...], as: member.type, depth: depth + 1) else { return nil }
                fields.append((member.name, value))
            }
            return .object(fields)
        case .array:
            if let array = type.array, let text = string(bytes, elementType: array.elementType, count: Int(array.count)) {
                return .string(text)
            }
            guard let array = type.array, let element = try? btf.type(array.elementType),
                  let elementSize = try? btf.size(of: element.id), elementSize > 0,
                  bytes.count >= elementSize * Int(array.count) else { return nil }
            var values: [FormattedValue] = []
            for index in 0..<Int(array.count) {
                let start = bytes.startIndex + index * elementSize
                guard let value = format(bytes[start...], as: array.elementType, depth: depth + 1) else { return nil }
                values.append(value)
            }
            return .array(values)
        default:
            return nil
        }
    }
}

extension BTFValueFormatter {
    /// A char array holding a C string (printable characters up to a NUL; bytes after it are ignored) as
    /// bpftool shows it; nil when the array is not of `char` or does not hold such a string.
    func string(_ bytes: ArraySlice<UInt8>, elementType: UInt32, count: Int) -> String? {
        var id = elementType
        // Qualifiers are looked through, typedefs are not (a typedef to char is no string).
        while let type = try? btf.type(id), [.const, .volatile, .restrict, .typeTag].contains(type.kind) { id = type.sizeOrType }
        guard let element = try? btf.type(id), element.kind == .int, element.storedSize == 1,
              element.intEncoding.contains(.char) || element.name == "char", bytes.count >= count else { return nil }
        let characters = bytes.prefix(count)
        guard let end = characters.firstIndex(of: 0), characters[..<end].allSatisfy({ (0x20...0x7e).contains($0) }) else { return nil }
        return String(decoding: characters[..<end], as: UTF8.self)
    }

    /// One map element formatted through the map's key and value types; nil if either cannot be.
    public func format(_ entry: MapDumpEntry, keyType: UInt32, valueType: UInt32) -> (key: FormattedValue, values: [FormattedValue])? {
        guard let key = format(entry.key[...], as: keyType) else { return nil }
        var values: [FormattedValue] = []
        for value in entry.values {
            guard let formatted = format(value[...], as: valueType) else { return nil }
            values.append(formatted)
        }
        return (key, values)
    }
}
