/// The kinds of BTF type record (include/uapi/linux/btf.h, BTF_KIND_*).
public enum BTFKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case void = 0
    case int = 1
    case pointer = 2
    case array = 3
    case `struct` = 4
    case union = 5
    case `enum` = 6
    case forward = 7
    case typedef = 8
    case volatile = 9
    case const = 10
    case restrict = 11
    case function = 12
    case functionProto = 13
    case variable = 14
    case dataSection = 15
    case float = 16
    case declTag = 17
    case typeTag = 18
    case enum64 = 19

    /// The name bpftool prints in raw dumps (`STRUCT`, `FUNC_PROTO`, ...).
    public var rawName: String {
        switch self {
        case .void: "UNKN"
        case .int: "INT"
        case .pointer: "PTR"
        case .array: "ARRAY"
        case .struct: "STRUCT"
        case .union: "UNION"
        case .enum: "ENUM"
        case .forward: "FWD"
        case .typedef: "TYPEDEF"
        case .volatile: "VOLATILE"
        case .const: "CONST"
        case .restrict: "RESTRICT"
        case .function: "FUNC"
        case .functionProto: "FUNC_PROTO"
        case .variable: "VAR"
        case .dataSection: "DATASEC"
        case .float: "FLOAT"
        case .declTag: "DECL_TAG"
        case .typeTag: "TYPE_TAG"
        case .enum64: "ENUM64"
        }
    }

    public var description: String { rawName }

    /// Parses a bpftool kind name (`struct`, `STRUCT`, `func_proto`).
    public init?(rawName: String) {
        guard let kind = BTFKind.allCases.first(where: { $0.rawName == rawName.uppercased() }) else { return nil }
        self = kind
    }

    /// Bytes that follow the 12-byte `struct btf_type` for a record of this kind with `vlen` entries.
    @inline(__always)
    static func trailingBytes(rawKind: UInt32, vlen: Int) -> Int? {
        switch rawKind {
        case 1: 4  // INT: u32 encoding/offset/bits
        case 2, 7, 8, 9, 10, 11, 12, 16, 18: 0
        case 3: 12  // struct btf_array
        case 4, 5: 12 &* vlen  // struct btf_member
        case 6: 8 &* vlen  // struct btf_enum
        case 13: 8 &* vlen  // struct btf_param
        case 14: 4  // struct btf_var
        case 15: 12 &* vlen  // struct btf_var_secinfo
        case 17: 4  // struct btf_decl_tag
        case 19: 12 &* vlen  // struct btf_enum64
        default: nil
        }
    }

    /// Struct, union: records with members.
    public var isComposite: Bool { self == .struct || self == .union }
    /// Const, volatile, restrict, type tag: qualifiers that do not change layout.
    public var isQualifier: Bool { self == .const || self == .volatile || self == .restrict || self == .typeTag }
}

/// Linkage of a FUNC (in vlen) or VAR (in btf_var.linkage): enum btf_func_linkage / BTF_VAR_*.
public enum BTFLinkage: UInt32, Sendable {
    case `static` = 0
    /// BTF_FUNC_GLOBAL / BTF_VAR_GLOBAL_ALLOCATED
    case global = 1
    /// BTF_FUNC_EXTERN / BTF_VAR_GLOBAL_EXTERN
    case external = 2

    public var rawName: String {
        switch self {
        case .static: "static"
        case .global: "global"
        case .external: "extern"
        }
    }
}

/// BTF_INT_* encoding bits of an INT.
public struct BTFIntEncoding: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let signed = BTFIntEncoding(rawValue: 1 << 0)
    public static let char = BTFIntEncoding(rawValue: 1 << 1)
    public static let bool = BTFIntEncoding(rawValue: 1 << 2)
}
