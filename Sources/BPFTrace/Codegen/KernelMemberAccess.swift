import BPFObject
import Foundation

/// How to read `curtask->a.b->c` from kernel memory, resolved from BTF: starting with the task
/// pointer in a register, add offsets and follow pointers, then read the final member.
public struct KernelMemberAccess: Hashable, Sendable {
    public enum Step: Hashable, Sendable {
        /// Address += offset.
        case add(Int)
        /// Address = *(u64 *)address (read with bpf_probe_read_kernel).
        case loadPointer
    }

    public enum Result: Hashable, Sendable {
        case integer(size: Int, signed: Bool)
        /// A char array, read as a string.
        case string(size: Int)
        /// A pointer to a struct or union (members can be read through it in turn).
        case structPointer(name: String, isUnion: Bool)
    }

    public var steps: [Step]
    public var result: Result

    /// Resolves `fields` (name, reached with `->`) starting from a `struct <root> *` value.
    public static func resolve(root: String, isUnion: Bool = false, fields: [(name: String, arrow: Bool)], in btf: BTF) throws -> KernelMemberAccess {
        guard let rootID = btf.typeIDs(named: root, kind: isUnion ? .union : .struct).first else {
            throw TraceError("Unknown struct/union: '\(isUnion ? "union" : "struct") \(root)'")
        }
        // The walk keeps either a pointer value (`isAddressOfValue` false: the register holds a
        // pointer to `type`) or the address of a member of `type`.
        var steps: [Step] = []
        var pointee = rootID
        var holdsPointerValue = true
        var memberType: UInt32 = 0
        for (index, field) in fields.enumerated() {
            if field.arrow {
                if !holdsPointerValue {
                    // The member at the current address is itself a pointer: read it.
                    let resolved = try btf.skipTypedefs(memberType)
                    let type = try btf.type(resolved)
                    guard type.kind == .pointer, let target = type.referencedType else {
                        throw TraceError("Can not access field '\(field.name)' on type '\(try describe(memberType, btf))'. Try dereferencing it first, or using '.'")
                    }
                    steps.append(.loadPointer)
                    pointee = target
                }
            } else if holdsPointerValue && index == 0 {
                throw TraceError("Can not access field '\(field.name)' on a pointer. Try using '->'")
            } else if !holdsPointerValue {
                pointee = memberType
            }
            let container = try btf.skipTypedefs(pointee)
            guard try btf.type(container).kind.isComposite else {
                throw TraceError("'\(try describe(container, btf))' is not a struct or union")
            }
            let member: BTFField
            do {
                member = try btf.field(field.name, in: container)
            } catch {
                throw TraceError("Struct/union of type '\(try describe(container, btf))' does not contain a field named '\(field.name)'")
            }
            guard !member.isBitfield else { throw TraceError("bitfield '\(field.name)' is not supported by swiftbpf trace yet") }
            if member.byteOffset != 0 { steps.append(.add(Int(member.byteOffset))) }
            memberType = member.type
            holdsPointerValue = false
        }
        let final = try btf.skipTypedefs(memberType)
        let type = try btf.type(final)
        switch type.kind {
        case .int:
            return KernelMemberAccess(steps: steps, result: .integer(size: try btf.size(of: final), signed: type.intEncoding.contains(.signed)))
        case .enum, .enum64:
            return KernelMemberAccess(steps: steps, result: .integer(size: try btf.size(of: final), signed: type.isSignedEnum))
        case .pointer:
            if let target = type.referencedType, let pointee = try? btf.type(try btf.skipTypedefs(target)),
               pointee.kind.isComposite, !pointee.name.isEmpty {
                return KernelMemberAccess(steps: steps, result: .structPointer(name: pointee.name, isUnion: pointee.kind == .union))
            }
            return KernelMemberAccess(steps: steps, result: .integer(size: 8, signed: false))
        case .array:
            guard let array = type.array else { break }
            let element = try btf.type(try btf.skipTypedefs(array.elementType))
            if element.kind == .int && element.intBits == 8 {
                return KernelMemberAccess(steps: steps, result: .string(size: Int(array.count)))
            }
        default:
            break
        }
        throw TraceError("swiftbpf trace reads integer, pointer and char-array members only, not '\(try describe(memberType, btf))'")
    }

    static func describe(_ id: UInt32, _ btf: BTF) throws -> String {
        let type = try btf.type(id)
        switch type.kind {
        case .struct: return "struct " + type.name
        case .union: return "union " + type.name
        case .pointer: return (try type.referencedType.map { try describe($0, btf) } ?? "void") + " *"
        default: return type.name.isEmpty ? type.kind.description : type.name
        }
    }
}
