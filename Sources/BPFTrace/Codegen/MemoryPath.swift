import BPFObject
import Foundation

/// One step of a member chain after its pointer: `->name`, `.name` or `[index]`.
enum MemberAccessor {
    case field(String, arrow: Bool)
    case index(Expression)
}

/// How to reach and read a value through a pointer, resolved from C types and kernel BTF:
/// `p->a.b[2]->c`, `p[i]`, `*p`. Starting with the pointer in a stack slot, add offsets and
/// follow pointers, then read the final object.
struct MemoryPath {
    enum Step {
        /// Address += offset.
        case add(Int)
        /// Address += index × stride, the index evaluated at run time.
        case addIndex(Expression, stride: Int)
        /// Address = *(u64 *)address, read from the chain's address space.
        case loadPointer
    }

    /// What the final object is and how it is read.
    enum Result {
        case integer(size: Int, signed: Bool)
        /// `bits` bits starting `shift` bits into `bytes` bytes read from the address (little
        /// endian), sign-extended when the member's type is signed.
        case bitfield(bytes: Int, shift: Int, bits: Int, signed: Bool)
        case pointer(TraceCType)
        /// A `char` array, read as a string.
        case string(size: Int)
        /// An array of unsigned bytes, read whole (printed `[1,2,3]` as bpftrace does).
        case byteArray(count: Int)
        /// A struct or union value: only its members can be read.
        case record(TraceCType)
        /// An array of wider integers, read whole.
        case integerArray(elementSize: Int, signed: Bool, count: Int)
        /// Anything else (other arrays, void): not a value a script can hold.
        case unreadable(TraceCType)
    }

    var steps: [Step]
    var result: Result
    /// The C type of the object reached (for `sizeof`).
    var type: TraceCType

    /// Resolves `accessors` applied to a pointer to `target`. Record layouts come from `btf`,
    /// loaded only when a record is met.
    static func resolve(pointerTo target: TraceCType, accessors: [MemberAccessor], btf: () throws -> BTF) throws -> MemoryPath {
        var steps: [Step] = []
        // Either the slot holds a pointer value of type `current` (`isLocation` false), or the
        // address of an object of type `current`.
        var current = TraceCType.pointer(target)
        var isLocation = false
        var bitfield: (field: BTFField, signed: Bool)?
        for accessor in accessors {
            if let found = bitfield {
                throw TraceError("Can not access a member of the bitfield '\(found.field.path.last?.name ?? "")'")
            }
            switch accessor {
            case .field(let name, let arrow):
                if arrow {
                    if isLocation {
                        if current.isRecord {
                            throw TraceError("Can not dereference struct/union of type '\(current)'. It is not a pointer.")
                        }
                        guard case .pointer = current else {
                            throw TraceError("Can not access field '\(name)' on type '\(current)'. Try dereferencing it first, or using '.'")
                        }
                        steps.append(.loadPointer)
                    }
                    guard case .pointer(let pointee) = current else { throw TraceError("Can not access field '\(name)' on type '\(current)'") }
                    current = pointee
                } else if !isLocation || current.isPointer {
                    throw TraceError("Can not access field '\(name)' on type '\(current)'. Try dereferencing it first, or using '->'")
                }
                guard current.isRecord else {
                    throw TraceError("Can not access field '\(name)' on expression of type '\(current)'")
                }
                let types = try btf()
                let recordID = try current.recordID(in: types)
                let member: BTFField
                do { member = try types.field(name, in: recordID) } catch {
                    throw TraceError("Struct/union of type '\(current)' does not contain a field named '\(name)'")
                }
                let memberType = try TraceCType(btfType: member.type, in: types)
                if member.isBitfield {
                    let signed: Bool = { if case .integer(_, let signed) = memberType { signed } else { false } }()
                    bitfield = (member, signed)
                }
                if member.byteOffset != 0 { steps.append(.add(Int(member.byteOffset))) }
                current = memberType
                isLocation = true
            case .index(let index):
                let element: TraceCType
                var count: Int?
                if isLocation {
                    switch current {
                    case .array(let inner, let size):
                        element = inner
                        count = size
                    case .pointer(let inner):
                        steps.append(.loadPointer)
                        element = inner
                    default:
                        throw TraceError("The array index operator [] can only be used on arrays and pointers, found \(Self.kindName(current)).")
                    }
                } else {
                    guard case .pointer(let inner) = current else {
                        throw TraceError("The array index operator [] can only be used on arrays and pointers, found \(Self.kindName(current)).")
                    }
                    element = inner
                }
                let stride = try element.size(in: btf)
                guard stride <= Int(Int32.max) else { throw TraceError("'\(element)' is too large to index") }
                if case .integer(let constant) = index.kind {
                    if let count, count > 0, constant < 0 || constant >= count {
                        throw TraceError("the index \(constant) is out of bounds for array of size \(count)")
                    }
                    let (offset, overflow) = Int(constant).multipliedReportingOverflow(by: stride)
                    if overflow || Int32(exactly: offset) == nil {
                        // Beyond a 32-bit immediate: multiplied at run time, wrapping as C does.
                        steps.append(.addIndex(index, stride: stride))
                    } else if offset != 0 {
                        steps.append(.add(offset))
                    }
                } else {
                    steps.append(.addIndex(index, stride: stride))
                }
                current = element
                isLocation = true
            }
        }
        guard isLocation else { return MemoryPath(steps: steps, result: .pointer(target), type: current) }
        if let (field, signed) = bitfield {
            let shift = Int(field.bitOffset % 8)
            let bits = Int(field.bitfieldSize)
            return MemoryPath(steps: steps, result: .bitfield(bytes: (shift + bits + 7) / 8, shift: shift, bits: bits, signed: signed), type: current)
        }
        switch current {
        case .integer(let bytes, let signed): return MemoryPath(steps: steps, result: .integer(size: bytes, signed: signed), type: current)
        case .pointer(let inner): return MemoryPath(steps: steps, result: .pointer(inner), type: current)
        case .string(let count): return MemoryPath(steps: steps, result: .string(size: count), type: current)
        case .array(.integer(1, false), let count): return MemoryPath(steps: steps, result: .byteArray(count: count), type: current)
        case .array(.integer(let size, let signed), let count) where count > 0:
            return MemoryPath(steps: steps, result: .integerArray(elementSize: size, signed: signed, count: count), type: current)
        case .record, .anonymousRecord: return MemoryPath(steps: steps, result: .record(current), type: current)
        case .array, .opaque: return MemoryPath(steps: steps, result: .unreadable(current), type: current)
        }
    }

    /// The kind bpftrace names in "found X" errors.
    static func kindName(_ type: TraceCType) -> String {
        switch type {
        case .integer: "integer"
        case .string: "string"
        case .record, .anonymousRecord: "record"
        case .pointer: "pointer"
        case .array: "array"
        case .opaque(let name): name
        }
    }
}
