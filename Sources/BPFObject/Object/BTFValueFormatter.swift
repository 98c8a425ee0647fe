/// Renders bytes as a value of a BTF type, in bpftool's map-dump style (`{"pid": 42, "comm": "bash"}`):
/// integers in decimal, `char` arrays as strings, pointers in hex, enums by name. Bounds-checked:
/// bytes shorter than the type print what is there and `…`.
public struct BTFValueFormatter {
    public let btf: BTF
    public init(btf: BTF) { self.btf = btf }

    public func format(_ bytes: [UInt8], type id: UInt32) -> String {
        format(bytes[...], id: id, depth: 0)
    }

    func integer(_ bytes: ArraySlice<UInt8>, size: Int) -> UInt64? {
        guard size > 0, size <= 8, bytes.count >= size else { return nil }
        var value: UInt64 = 0
        for (index, byte) in bytes.prefix(size).enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
        return value
    }

    func format(_ bytes: ArraySlice<UInt8>, id: UInt32, depth: Int) -> String {
        guard depth < 16, let resolved = try? btf.skipTypedefs(try btf.skipModifiers(id)), let type = try? btf.type(resolved) else { return hex(bytes) }
        let size = (try? btf.size(of: resolved)) ?? bytes.count
        switch type.kind {
        case .int:
            if type.intBitOffset != 0 || Int(type.intBits) != size * 8 { return hex(bytes.prefix(size)) }
            guard let raw = integer(bytes, size: size) else { return size > 8 ? hex(bytes.prefix(size)) : "…" }
            if type.intEncoding.contains(.bool) { return raw != 0 ? "true" : "false" }
            if type.intEncoding.contains(.signed) {
                let shift = UInt64(64 - size * 8)
                return String(Int64(bitPattern: raw << shift) >> Int64(shift))
            }
            return String(raw)
        case .enum, .enum64:
            guard let raw = integer(bytes, size: size) else { return "…" }
            return type.enumerators.first { $0.value == raw || Int64(bitPattern: $0.value) == Int64(truncatingIfNeeded: raw) }?.name ?? String(raw)
        case .pointer:
            guard let raw = integer(bytes, size: 8) else { return "…" }
            return "0x" + String(raw, radix: 16)
        case .array:
            guard let info = type.array, let element = try? btf.skipTypedefs(try btf.skipModifiers(info.elementType)),
                  let elementSize = try? btf.size(of: element), elementSize > 0 else { return hex(bytes) }
            if let elementType = try? btf.type(element), elementType.kind == .int, elementSize == 1,
               elementType.intEncoding.contains(.char) || elementType.name == "char" {
                let text = bytes.prefix(Int(info.count)).prefix { $0 != 0 }
                return "\"" + String(decoding: text, as: UTF8.self) + "\""
            }
            let count = min(Int(info.count), 1024)
            var items: [String] = []
            for index in 0..<count {
                let start = bytes.startIndex + index * elementSize
                guard start + elementSize <= bytes.endIndex else { items.append("…"); break }
                items.append(format(bytes[start..<(start + elementSize)], id: info.elementType, depth: depth + 1))
            }
            return "[" + items.joined(separator: ", ") + "]"
        case .struct, .union, .dataSection:
            var items: [String] = []
            if type.kind == .dataSection {
                for variable in type.sectionVariables {
                    let start = bytes.startIndex + Int(variable.offset)
                    guard let varType = try? btf.type(variable.type), start + Int(variable.size) <= bytes.endIndex else { continue }
                    items.append("\"\(varType.name)\": " + format(bytes[start..<(start + Int(variable.size))], id: varType.sizeOrType, depth: depth + 1))
                }
                return "{" + items.joined(separator: ", ") + "}"
            }
            for member in type.members {
                let name = member.isAnonymous ? "" : "\"\(member.name)\": "
                let start = bytes.startIndex + Int(member.bitOffset / 8)
                guard member.bitfieldSize == 0, member.bitOffset % 8 == 0, let memberSize = try? btf.size(of: member.type),
                      start + memberSize <= bytes.endIndex else {
                    items.append(name + "…")
                    continue
                }
                items.append(name + format(bytes[start..<(start + memberSize)], id: member.type, depth: depth + 1))
            }
            return "{" + items.joined(separator: ", ") + "}"
        default:
            return hex(bytes)
        }
    }

    func hex(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
    }
}
