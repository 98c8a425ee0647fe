/// BTF kinds and features that arrived in different kernel releases.
public struct BTFKernelFeatures: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// FUNC and FUNC_PROTO (Linux 5.0).
    public static let functions = BTFKernelFeatures(rawValue: 1 << 0)
    /// FUNC with global linkage (Linux 5.6).
    public static let globalFunctions = BTFKernelFeatures(rawValue: 1 << 1)
    /// VAR and DATASEC (Linux 5.2).
    public static let dataSections = BTFKernelFeatures(rawValue: 1 << 2)
    /// FLOAT (Linux 5.13).
    public static let float = BTFKernelFeatures(rawValue: 1 << 3)
    /// DECL_TAG (Linux 5.16).
    public static let declTag = BTFKernelFeatures(rawValue: 1 << 4)
    /// TYPE_TAG (Linux 5.17).
    public static let typeTag = BTFKernelFeatures(rawValue: 1 << 5)
    /// ENUM64 and signed ENUM via kind_flag (Linux 6.0).
    public static let enum64 = BTFKernelFeatures(rawValue: 1 << 6)

    public static let all: BTFKernelFeatures = [.functions, .globalFunctions, .dataSections, .float, .declTag, .typeTag, .enum64]
}

/// Rewrites program BTF so an older kernel accepts it, replacing each kind the kernel lacks by
/// one it has with the same size (type ids never change, so instructions and maps that refer
/// to ids stay valid):
///
/// | missing | written as |
/// |---|---|
/// | FUNC_PROTO / FUNC | ENUM (one enumerator per parameter) / TYPEDEF |
/// | global FUNC linkage | static linkage |
/// | VAR / DATASEC | 1-byte INT / STRUCT whose members are the variables (`.` in names becomes `_`) |
/// | FLOAT | STRUCT of the same size without members |
/// | DECL_TAG | 1-byte anonymous INT |
/// | TYPE_TAG | anonymous CONST |
/// | ENUM64 | UNION of 64-bit integer members, one per enumerator (and ENUM loses its signedness flag) |
public enum BTFSanitizer {
    /// Whether `btf` uses anything `features` lacks.
    public static func needsSanitizing(_ btf: BTF, for features: BTFKernelFeatures) -> Bool {
        for type in btf.ownTypes {
            switch type.kind {
            case .function, .functionProto:
                if !features.contains(.functions) { return true }
                if type.kind == .function, type.linkage == .global, !features.contains(.globalFunctions) { return true }
            case .variable, .dataSection: if !features.contains(.dataSections) { return true }
            case .float: if !features.contains(.float) { return true }
            case .declTag: if !features.contains(.declTag) { return true }
            case .typeTag: if !features.contains(.typeTag) { return true }
            case .enum64: if !features.contains(.enum64) { return true }
            case .enum: if type.kindFlag, !features.contains(.enum64) { return true }
            default: break
            }
        }
        return false
    }

    /// The rewritten blob (host byte order). Split BTF is not sanitized (kernel module BTF is
    /// never loaded by programs).
    public static func sanitize(_ btf: BTF, for features: BTFKernelFeatures) throws -> [UInt8] {
        guard btf.base == nil else { throw BTFError.badHeader("split BTF cannot be sanitized on its own") }
        var strings = Array(UnsafeRawBufferPointer(start: btf.bytes + btf.stringsStart, count: btf.stringsLength))
        func addString(_ text: String) -> UInt32 {
            let offset = UInt32(strings.count)
            strings.append(contentsOf: text.utf8)
            strings.append(0)
            return offset
        }
        var words: [UInt32] = []
        words.reserveCapacity((btf.typesEnd - btf.typesStart) / 4)
        // An 8-byte integer for ENUM64 replacements, appended after the last type when needed.
        let wideIntegerID = UInt32(btf.typeCount)
        var needsWideInteger = false
        func info(_ kind: BTFKind, vlen: Int = 0, flag: Bool = false) -> UInt32 {
            (flag ? 1 << 31 : 0) | UInt32(kind.rawValue) << 24 | UInt32(vlen & 0xffff)
        }

        for type in btf.ownTypes {
            let start = type.offset
            let recordWords = Int((btf.offsets.count > Int(type.id - btf.firstTypeID) + 1
                ? Int(btf.offsets[Int(type.id - btf.firstTypeID) + 1]) : btf.typesEnd) - start) / 4
            var record = (0..<recordWords).map { btf.word(start + $0 * 4) }
            switch type.kind {
            case .functionProto where !features.contains(.functions):
                record[1] = info(.enum, vlen: type.vlen)
                record[2] = 4
            case .function where !features.contains(.functions):
                record[1] = info(.typedef)
            case .function where type.linkage == .global && !features.contains(.globalFunctions):
                record[1] = info(.function, vlen: Int(BTFLinkage.static.rawValue))
            case .variable where !features.contains(.dataSections):
                record = [record[0], info(.int), 1, 8]
            case .dataSection where !features.contains(.dataSections):
                let name = type.name.map { $0 == "." ? "_" : $0 }
                record[0] = addString(String(name))
                record[1] = info(.struct, vlen: type.vlen)
                for (index, variable) in type.sectionVariables.enumerated() {
                    let variableName = try btf.type(variable.type).nameOffset
                    record[3 + index * 3] = variableName
                    record[3 + index * 3 + 1] = variable.type
                    record[3 + index * 3 + 2] = variable.offset &* 8  // the kernel rejects what wraps
                }
            case .float where !features.contains(.float):
                record[1] = info(.struct)
            case .declTag where !features.contains(.declTag):
                record = [0, info(.int), 1, 8]
            case .typeTag where !features.contains(.typeTag):
                record[0] = 0
                record[1] = info(.const)
            case .enum64 where !features.contains(.enum64):
                needsWideInteger = true
                var union = [record[0], info(.union, vlen: type.vlen), type.sizeOrType]
                for index in 0..<type.vlen {
                    union += [record[3 + index * 3], wideIntegerID, 0]
                }
                record = union
            case .enum where type.kindFlag && !features.contains(.enum64):
                record[1] &= ~(1 << 31)
            default:
                break
            }
            words += record
        }
        if needsWideInteger { words += [0, info(.int), 8, 64] }

        var out: [UInt8] = []
        let typeBytes = words.count * 4
        out.reserveCapacity(24 + typeBytes + strings.count)
        func append(_ value: UInt32) { withUnsafeBytes(of: value) { out.append(contentsOf: $0) } }
        withUnsafeBytes(of: UInt16(0xeB9F)) { out.append(contentsOf: $0) }
        out += [1, 0]
        for value in [24, 0, UInt32(typeBytes), UInt32(typeBytes), UInt32(strings.count)] as [UInt32] { append(value) }
        for word in words { append(word) }
        out += strings
        return out
    }
}
