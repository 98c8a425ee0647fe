import BPFObject
import Foundation

/// A C type as scripts meet it behind pointers and inside kernel structs: what `*p`, `p[i]`,
/// `p + n` and member reads need to know (size, signedness, layout), named as bpftrace names it.
public indirect enum TraceCType: Hashable, Sendable, CustomStringConvertible {
    case integer(bytes: Int, signed: Bool)
    /// A struct or union described by kernel BTF, found by name.
    case record(name: String, isUnion: Bool)
    /// A struct or union without a name (`union rcu_special`'s member `b`), by its BTF id.
    case anonymousRecord(btfID: UInt32, isUnion: Bool)
    case pointer(TraceCType)
    case array(TraceCType, count: Int)
    /// A kernel `char` array (`comm`): bpftrace reads it as a string, not an array.
    case string(count: Int)
    /// `void`, function prototypes and other types without a readable value.
    case opaque(String)

    public var description: String {
        switch self {
        case .integer(let bytes, let signed): (signed ? "int" : "uint") + String(bytes * 8)
        case .record(let name, let isUnion): (isUnion ? "union " : "struct ") + name
        case .anonymousRecord(_, let isUnion): isUnion ? "union (anonymous)" : "struct (anonymous)"
        case .pointer(let target): target.description + " *"
        case .array(let element, let count): "\(element)[\(count)]"
        case .string: "string"
        case .opaque(let name): name
        }
    }

    var isPointer: Bool { if case .pointer = self { true } else { false } }
    /// A struct or union, named or not.
    var isRecord: Bool {
        switch self {
        case .record, .anonymousRecord: true
        default: false
        }
    }

    /// The type a cast names: `int32`, `unsigned char`, `struct task_struct` with `depth` stars.
    init?(castName name: String, pointerDepth depth: Int) {
        var base: TraceCType
        if let width = castWidth(name) {
            base = .integer(bytes: width.bytes, signed: width.signed)
        } else {
            let words = name.split(separator: " ")
            guard words.count == 2, words[0] == "struct" || words[0] == "union" else { return nil }
            base = .record(name: String(words[1]), isUnion: words[0] == "union")
        }
        for _ in 0..<depth { base = .pointer(base) }
        self = base
    }

    /// Bytes one value of this type takes (the stride of pointer arithmetic and indexing).
    func size(in btf: () throws -> BTF) throws -> Int {
        switch self {
        case .integer(let bytes, _): return bytes
        case .pointer: return 8
        case .array(let element, let count):
            let (size, overflow) = try element.size(in: btf).multipliedReportingOverflow(by: count)
            guard !overflow else { throw TraceError("'\(self)' is too large") }
            return size
        case .string(let count): return count
        case .record, .anonymousRecord:
            let types = try btf()
            return try types.size(of: try recordID(in: types))
        case .opaque:
            // GNU C (and bpftrace) step `void *` by one byte.
            return 1
        }
    }

    /// The C type of BTF type `id` (typedefs and qualifiers looked through).
    init(btfType id: UInt32, in btf: BTF) throws {
        let resolved = try btf.skipTypedefs(id)
        let type = try btf.type(resolved)
        switch type.kind {
        case .int:
            self = .integer(bytes: try btf.size(of: resolved), signed: type.intEncoding.contains(.signed))
        case .enum, .enum64:
            self = .integer(bytes: try btf.size(of: resolved), signed: type.isSignedEnum)
        case .pointer:
            guard let target = type.referencedType, target != 0 else { self = .pointer(.opaque("void")); return }
            let pointee = try btf.type(try btf.skipTypedefs(target))
            // Records are referred to by name, so self-referencing structs end the walk here.
            if pointee.kind.isComposite || pointee.kind == .pointer || pointee.kind == .int || pointee.kind == .enum || pointee.kind == .enum64 {
                self = .pointer(try TraceCType(btfType: target, in: btf))
            } else {
                self = .pointer(.opaque(pointee.kind == .functionProto ? "function" : "void"))
            }
        case .array:
            guard let array = type.array else { self = .opaque("array"); return }
            if Self.isCharacter(array.elementType, in: btf) { self = .string(count: Int(array.count)); return }
            self = .array(try TraceCType(btfType: array.elementType, in: btf), count: Int(array.count))
        case .struct, .union:
            self = type.name.isEmpty ? .anonymousRecord(btfID: resolved, isUnion: type.kind == .union)
                : .record(name: type.name, isUnion: type.kind == .union)
        default:
            self = .opaque(type.kind.description)
        }
    }

    /// The BTF id of a struct or union type.
    func recordID(in btf: BTF) throws -> UInt32 {
        switch self {
        case .anonymousRecord(let id, _): return id
        case .record(let name, let isUnion):
            guard let id = btf.typeIDs(named: name, kind: isUnion ? .union : .struct).first else {
                throw TraceError("Unknown struct/union: '\(self)'")
            }
            return id
        default:
            throw TraceError("'\(self)' is not a struct or union")
        }
    }

    /// Kernel `char` arrays (`comm`) are strings in bpftrace, not arrays; `u8`/`__u8` arrays are not.
    static func isCharacter(_ id: UInt32, in btf: BTF) -> Bool {
        guard let resolved = try? btf.skipTypedefs(id), let type = try? btf.type(resolved) else { return false }
        return type.kind == .int && type.name == "char"
    }
}
