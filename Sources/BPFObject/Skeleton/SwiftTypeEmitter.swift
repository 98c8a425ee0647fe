/// Turns BTF types into Swift declarations whose memory layout is the C layout: every stored
/// field sits at its BTF offset (explicit padding fills the gaps, including the tail), so
/// `MemoryLayout<T>.size` equals the BTF size and values can be copied to and from map bytes.
/// Members that cannot be stored fields (bitfields, union members, members of packed structs)
/// are computed properties over the value's own bytes.
struct SwiftTypeEmitter {
    let btf: BTF
    /// Prefix of the generated helper namespace (`<Name>Skeleton.Layout`).
    let helper: String
    private(set) var declarations: [String] = []
    /// Swift name and BTF size of every emitted struct, for the layout assertions.
    private(set) var emitted: [(name: String, size: Int)] = []
    private var names: [UInt32: String] = [:]
    private var usedNames: Set<String> = []

    init(btf: BTF, helper: String) {
        self.btf = btf
        self.helper = helper
    }

    /// The Swift spelling of type `id`, emitting declarations for the structs, unions and enums
    /// it needs. nil for a zero-sized type (a flexible array member), which has no storage.
    mutating func swiftType(_ id: UInt32, depth: Int = 0) throws -> String? {
        guard depth < BTF.maxResolveDepth else { throw SkeletonError.typeTooDeep(id) }
        let concreteID = try btf.skipTypedefs(id)
        let type = try btf.type(concreteID)
        switch type.kind {
        case .int:
            let size = Int(type.sizeOrType)
            if type.intEncoding.contains(.bool) && size == 1 { return "Bool" }
            let signed = type.intEncoding.contains(.signed)
            switch size {
            case 1, 2, 4, 8: return (signed ? "Int" : "UInt") + String(size * 8)
            default: return byteTuple(size)
            }
        case .pointer:
            // BPF is a 64-bit target; a pointer in a map or global is an opaque 8-byte value here.
            return "UInt64"
        case .float:
            switch type.sizeOrType {
            case 4: return "Float"
            case 8: return "Double"
            default: return byteTuple(Int(type.sizeOrType))
            }
        case .enum, .enum64:
            return try declareEnum(concreteID, type)
        case .struct, .union:
            return try declareComposite(concreteID, type, depth: depth)
        case .array:
            guard let info = type.array else { throw SkeletonError.unsupportedType(id, "array without info") }
            guard info.count > 0 else { return nil }
            guard let element = try swiftType(info.elementType, depth: depth + 1) else { return nil }
            if info.count == 1 { return element }
            guard info.count <= 4096 else { return byteTuple(try btf.size(of: concreteID)) }
            return "(" + Array(repeating: element, count: Int(info.count)).joined(separator: ", ") + ")"
        default:
            let size = (try? btf.size(of: concreteID)) ?? 0
            guard size > 0 else { throw SkeletonError.unsupportedType(id, "\(type.kind) has no storable layout") }
            return byteTuple(size)
        }
    }

    /// `n` bytes of storage with alignment 1.
    func byteTuple(_ count: Int) -> String? {
        switch count {
        case ..<1: return nil
        case 1: return "UInt8"
        default: return "(" + Array(repeating: "UInt8", count: count).joined(separator: ", ") + ")"
        }
    }

    private mutating func reserveName(_ id: UInt32, _ type: BTFType) -> (String, isNew: Bool) {
        if let name = names[id] { return (name, false) }
        var name = type.isAnonymous ? "Anon\(id)" : SwiftIdentifier.typeName(type.name)
        if usedNames.contains(name) { name += "_\(id)" }
        usedNames.insert(name)
        names[id] = name
        return (name, true)
    }

    private mutating func declareEnum(_ id: UInt32, _ type: BTFType) throws -> String {
        let (name, isNew) = reserveName(id, type)
        guard isNew else { return name }
        let size = Int(type.sizeOrType)
        guard [1, 2, 4, 8].contains(size) else { throw SkeletonError.unsupportedType(id, "enum of \(size) bytes") }
        let signed = type.isSignedEnum
        let raw = (signed ? "Int" : "UInt") + String(size * 8)
        var lines = [
            "/// C `enum \(type.isAnonymous ? "(anonymous)" : type.name)` (\(size) bytes).",
            "struct \(name): RawRepresentable, Hashable, Sendable, BitwiseCopyable {",
            "    var rawValue: \(raw)",
            "    init(rawValue: \(raw)) { self.rawValue = rawValue }",
        ]
        var seen: Set<String> = ["rawValue", "init"]
        for enumerator in type.enumerators {
            let member = SwiftIdentifier.member(enumerator.name)
            guard seen.insert(member).inserted else { continue }
            lines.append("    static let \(member) = \(name)(rawValue: \(Self.literal(enumerator.value, size: size, signed: signed)))")
        }
        lines.append("}")
        declarations.append(lines.joined(separator: "\n"))
        emitted.append((name, size))
        return name
    }

    /// The decimal literal for an enumerator's bit pattern truncated to `size` bytes.
    static func literal(_ value: UInt64, size: Int, signed: Bool) -> String {
        let bits = size * 8
        let mask: UInt64 = bits >= 64 ? .max : (1 << UInt64(bits)) - 1
        let truncated = value & mask
        guard signed else { return String(truncated) }
        let shift = UInt64(64 - bits)
        return String(Int64(bitPattern: truncated << shift) >> Int64(shift))
    }

    private mutating func declareComposite(_ id: UInt32, _ type: BTFType, depth: Int) throws -> String {
        let (name, isNew) = reserveName(id, type)
        guard isNew else { return name }
        let size = Int(type.sizeOrType)
        let isUnion = type.kind == .union
        let packed = try btf.isPacked(id)
        var stored: [String] = []
        var computed: [String] = []
        var cursor = 0
        var padIndex = 0
        var memberNames: Set<String> = []

        func pad(to offset: Int) {
            guard offset > cursor else { return }
            stored.append("    private var _pad\(padIndex): \(byteTuple(offset - cursor)!)")
            padIndex += 1
            cursor = offset
        }
        func uniqueName(_ raw: String, index: Int) -> String {
            var candidate = raw.isEmpty ? "anon\(index)" : SwiftIdentifier.member(raw)
            if candidate.hasPrefix("_pad") || candidate.hasPrefix("_storage") || memberNames.contains(candidate) { candidate = "m\(index)_" + raw }
            memberNames.insert(candidate)
            return candidate
        }

        // Unions and packed structs: one raw storage block, every member computed.
        let rawStorage = isUnion || packed
        if rawStorage, size > 0 {
            let alignment = packed ? 1 : min(8, max(1, (try? btf.alignment(of: id)) ?? 1))
            let unit = alignment >= 8 && size % 8 == 0 ? "UInt64" : alignment >= 4 && size % 4 == 0 ? "UInt32" : alignment >= 2 && size % 2 == 0 ? "UInt16" : "UInt8"
            let unitSize = unit == "UInt64" ? 8 : unit == "UInt32" ? 4 : unit == "UInt16" ? 2 : 1
            let count = size / unitSize
            stored.append("    private var _storage: \(count == 1 ? unit : "(" + Array(repeating: unit, count: count).joined(separator: ", ") + ")")")
            cursor = size
        }

        var bitfieldRun: (start: Int, end: Int)?
        func flushRun() {
            guard let run = bitfieldRun else { return }
            pad(to: run.start)
            if run.end > cursor {
                stored.append("    private var _pad\(padIndex): \(byteTuple(run.end - cursor)!)")
                padIndex += 1
                cursor = run.end
            }
            bitfieldRun = nil
        }

        let members = type.members.sorted { $0.bitOffset < $1.bitOffset }
        for member in members {
            let layout = try btf.bitfieldLayout(member)
            let memberName = uniqueName(member.name, index: member.index)
            if layout.bitSize > 0 {
                let concrete = try btf.type(btf.skipTypedefs(member.type))
                let swift = try swiftType(member.type, depth: depth + 1) ?? "UInt8"
                let signed = concrete.kind == .int ? concrete.intEncoding.contains(.signed) : concrete.isSignedEnum
                let start = Int(layout.bitOffset / 8), end = Int((layout.bitOffset + layout.bitSize + 7) / 8)
                if !rawStorage {
                    if let run = bitfieldRun, start < run.end { bitfieldRun = (run.start, max(run.end, end)) }
                    else { flushRun(); bitfieldRun = (max(start, cursor), end) }
                }
                computed.append(bitfieldAccessor(memberName, swift: swift, concrete: concrete, bitOffset: Int(layout.bitOffset), bits: Int(layout.bitSize), signed: signed))
                continue
            }
            let offset = Int(member.bitOffset / 8)
            guard let swift = try swiftType(member.type, depth: depth + 1) else { continue }
            let memberSize = try btf.size(of: member.type)
            if !rawStorage { flushRun() }
            let alignment = try btf.alignment(of: member.type)
            if rawStorage || offset < cursor || offset % max(1, alignment) != 0 {
                computed.append(unalignedAccessor(memberName, swift: swift, offset: offset))
                if !rawStorage && offset + memberSize > cursor { pad(to: offset + memberSize) }
            } else {
                pad(to: offset)
                stored.append("    var \(memberName): \(swift)")
                cursor = offset + memberSize
            }
            if let text = try charArrayAccessor(memberName, member.type) { computed.append(text) }
        }
        if !rawStorage { flushRun() }
        pad(to: size)

        var lines = ["/// C `\(isUnion ? "union" : "struct") \(type.isAnonymous ? "(anonymous)" : type.name)` (\(size) bytes\(packed ? ", packed" : "")).",
                     "struct \(name): Sendable, BitwiseCopyable {"]
        lines += stored
        lines.append("    /// All bytes zero, as a BPF program's zero-initialized memory.")
        lines.append("    init() { self = \(helper).zeroed(Self.self) }")
        lines += computed
        lines.append("}")
        declarations.append(lines.joined(separator: "\n"))
        emitted.append((name, size))
        return name
    }

    private func unalignedAccessor(_ name: String, swift: String, offset: Int) -> String {
        """
            var \(name): \(swift) {
                get { withUnsafeBytes(of: self) { $0.loadUnaligned(fromByteOffset: \(offset), as: \(swift).self) } }
                set { withUnsafeMutableBytes(of: &self) { $0.storeBytes(of: newValue, toByteOffset: \(offset), as: \(swift).self) } }
            }
        """
    }

    private func bitfieldAccessor(_ name: String, swift: String, concrete: BTFType, bitOffset: Int, bits: Int, signed: Bool) -> String {
        let load = "withUnsafeBytes(of: self) { \(helper).loadBits($0, bitOffset: \(bitOffset), bits: \(bits), signed: \(signed)) }"
        let getter: String, setterValue: String
        switch swift {
        case "Bool":
            getter = "\(load) != 0"; setterValue = "newValue ? 1 : 0"
        case _ where concrete.kind == .enum || concrete.kind == .enum64:
            getter = "\(swift)(rawValue: .init(truncatingIfNeeded: \(load)))"; setterValue = "UInt64(truncatingIfNeeded: newValue.rawValue)"
        default:
            getter = "\(swift)(truncatingIfNeeded: \(load))"; setterValue = "UInt64(truncatingIfNeeded: newValue)"
        }
        return """
            /// Bitfield: \(bits) bits at bit \(bitOffset).
            var \(name): \(swift) {
                get { \(getter) }
                set { withUnsafeMutableBytes(of: &self) { \(helper).storeBits($0, \(setterValue), bitOffset: \(bitOffset), bits: \(bits)) } }
            }
        """
    }

    /// A `String` view of a `char name[N]` member (NUL-terminated or full).
    private func charArrayAccessor(_ name: String, _ id: UInt32) throws -> String? {
        let type = try btf.type(btf.skipTypedefs(id))
        guard let info = type.array, info.count > 1 else { return nil }
        let element = try btf.type(btf.skipTypedefs(info.elementType))
        guard element.kind == .int, element.sizeOrType == 1, element.intEncoding.contains(.char) || element.name.contains("char") else { return nil }
        let plain = name.hasPrefix("`") ? String(name.dropFirst().dropLast()) : name
        return """
            /// `\(plain)` as text, up to its first NUL byte.
            /// Setting stores the UTF-8 bytes, truncated to leave room for a NUL terminator.
            var \(plain)String: String {
                get { withUnsafeBytes(of: \(name)) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
                set {
                    withUnsafeMutableBytes(of: &\(name)) { bytes in
                        bytes.initializeMemory(as: UInt8.self, repeating: 0)
                        for (index, byte) in newValue.utf8.prefix(bytes.count - 1).enumerated() { bytes[index] = byte }
                    }
                }
            }
        """
    }
}

/// Swift spellings of C names.
enum SwiftIdentifier {
    static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init",
        "inout", "internal", "let", "open", "operator", "private", "precedencegroup", "protocol", "public",
        "rethrows", "static", "struct", "subscript", "typealias", "var", "break", "case", "catch", "continue",
        "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return",
        "throw", "switch", "where", "while", "Any", "as", "await", "false", "is", "nil", "self", "Self",
        "super", "throws", "true", "try", "Type", "Protocol", "some", "any",
    ]

    /// A C identifier as a Swift member name (keywords in backticks).
    static func member(_ name: String) -> String {
        keywords.contains(name) ? "`\(name)`" : name
    }

    /// A C tag as a Swift type name; names that would shadow the standard library's get a suffix.
    static func typeName(_ name: String) -> String {
        let shadowed: Set<String> = ["String", "Int", "UInt", "Bool", "Array", "Dictionary", "Set", "Optional", "Result", "Error", "Never", "Void", "Float", "Double", "Character", "Layout", "Opened", "Loaded", "Attached", "Sendable"]
        if keywords.contains(name) || shadowed.contains(name) || name.hasPrefix("UInt") || name.hasPrefix("Int") { return name + "_" }
        return name
    }

    /// Whether `name` can be used as-is (C symbols like `func.____fmt` cannot).
    static func isPlain(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.properties.isAlphabetic && first.isASCII) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }
}
