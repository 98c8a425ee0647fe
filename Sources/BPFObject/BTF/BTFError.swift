/// Why a BTF or BTF.ext blob could not be read or a type question could not be answered.
/// Every malformed input ends here with a message naming the offset or type id involved.
public enum BTFError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The blob ends before a structure it declares (`what`, at byte `offset`, needing `needed` bytes).
    case truncated(what: String, offset: Int, needed: Int, available: Int)
    /// The first two bytes are not 0xeB9F in either byte order.
    case badMagic(UInt16)
    /// Only version 1 exists (include/uapi/linux/btf.h, BTF_VERSION).
    case unsupportedVersion(UInt8)
    /// The header's lengths or offsets are inconsistent.
    case badHeader(String)
    /// A type record is malformed (unknown kind, bad vlen, dangling reference, ...).
    case malformedType(id: UInt32, reason: String)
    /// A name offset points outside the string section or at an unterminated string.
    case badString(offset: UInt32, context: String)
    /// A type id that does not exist in this BTF (or its base).
    case invalidTypeID(UInt32)
    /// A resolution walk looped or went deeper than the kernel allows (MAX_RESOLVE_DEPTH is 32).
    case resolutionLoop(id: UInt32, walk: String)
    /// A question that makes no sense for this type (size of a function, members of an int).
    case wrongKind(id: UInt32, kind: BTFKind, expected: String)
    /// A named thing was not found.
    case notFound(String)
    /// A BTF.ext section is malformed.
    case malformedExt(String)

    public var description: String {
        switch self {
        case .truncated(let what, let offset, let needed, let available):
            "BTF is truncated: \(what) at byte \(offset) needs \(needed) bytes but only \(available) remain"
        case .badMagic(let magic):
            "not BTF: magic is 0x\(String(magic, radix: 16)), expected 0xeb9f"
        case .unsupportedVersion(let version):
            "unsupported BTF version \(version) (only version 1 exists)"
        case .badHeader(let reason):
            "bad BTF header: \(reason)"
        case .malformedType(let id, let reason):
            "malformed BTF type [\(id)]: \(reason)"
        case .badString(let offset, let context):
            "bad BTF string offset \(offset) in \(context): outside the string section or not NUL-terminated"
        case .invalidTypeID(let id):
            "BTF type id \(id) does not exist"
        case .resolutionLoop(let id, let walk):
            "BTF type [\(id)]: \(walk) loops or is deeper than 32 levels (malformed type graph)"
        case .wrongKind(let id, let kind, let expected):
            "BTF type [\(id)] is \(kind.rawName), expected \(expected)"
        case .notFound(let what):
            "\(what) not found in BTF"
        case .malformedExt(let reason):
            "malformed BTF.ext: \(reason)"
        }
    }
}
