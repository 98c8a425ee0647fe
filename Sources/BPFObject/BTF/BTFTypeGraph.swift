/// Questions about the type graph: resolving typedefs and qualifiers, sizes, alignment, member
/// layout and lookups through anonymous members. Every walk is bounded: like the kernel
/// (kernel/bpf/btf.c, MAX_RESOLVE_DEPTH = 32) a chain deeper than 32 steps is an error, so a
/// malformed graph (PTR→PTR→itself, typedef cycles) throws instead of hanging.
extension BTF {
    public static let maxResolveDepth = 32

    /// Follows const, volatile, restrict and type tags to the first other type.
    public func skipModifiers(_ id: UInt32) throws -> UInt32 {
        var current = id
        for _ in 0...BTF.maxResolveDepth {
            let kind = try kind(of: current)
            guard kind.isQualifier else { return current }
            current = try type(current).sizeOrType
        }
        throw BTFError.resolutionLoop(id: id, walk: "skipping qualifiers")
    }

    /// Follows typedefs and qualifiers to the concrete type (a struct, int, pointer, ...).
    public func skipTypedefs(_ id: UInt32) throws -> UInt32 {
        var current = id
        for _ in 0...BTF.maxResolveDepth {
            let kind = try kind(of: current)
            guard kind.isQualifier || kind == .typedef else { return current }
            current = try type(current).sizeOrType
        }
        throw BTFError.resolutionLoop(id: id, walk: "skipping typedefs and qualifiers")
    }

    /// Size in bytes of a value of type `id`. Pointers are 8 bytes (BPF is a 64-bit target).
    public func size(of id: UInt32) throws -> Int {
        var current = id
        var multiplier = 1
        for _ in 0...BTF.maxResolveDepth {
            let type = try type(current)
            switch type.kind {
            case .int, .enum, .enum64, .struct, .union, .float, .dataSection:
                let (total, overflow) = multiplier.multipliedReportingOverflow(by: Int(type.sizeOrType))
                guard !overflow, total <= Int(UInt32.max) else {
                    throw BTFError.malformedType(id: id, reason: "size overflows 32 bits")
                }
                return total
            case .pointer:
                return multiplier * 8
            case .typedef, .volatile, .const, .restrict, .typeTag, .variable:
                current = type.sizeOrType
            case .array:
                let array = type.array!
                let (product, overflow) = multiplier.multipliedReportingOverflow(by: Int(array.count))
                guard !overflow, product <= Int(UInt32.max) else {
                    throw BTFError.malformedType(id: id, reason: "array size overflows 32 bits")
                }
                multiplier = product
                current = array.elementType
            default:
                throw BTFError.wrongKind(id: current, kind: type.kind, expected: "a type with a size")
            }
        }
        throw BTFError.resolutionLoop(id: id, walk: "computing the size")
    }

    /// Natural alignment in bytes of type `id` as the BPF target lays it out: scalars align to
    /// their size (up to 16), pointers to 8, arrays like their elements, structs and unions to
    /// their most aligned member, or 1 when packed.
    public func alignment(of id: UInt32) throws -> Int {
        try alignment(of: id, depth: 0)
    }

    func alignment(of id: UInt32, depth: Int) throws -> Int {
        guard depth <= BTF.maxResolveDepth else { throw BTFError.resolutionLoop(id: id, walk: "computing the alignment") }
        let type = try type(id)
        switch type.kind {
        case .int, .float, .enum, .enum64:
            return max(1, min(Int(type.sizeOrType), 16))
        case .pointer:
            return 8
        case .typedef, .volatile, .const, .restrict, .typeTag, .variable:
            return try alignment(of: type.sizeOrType, depth: depth + 1)
        case .array:
            return try alignment(of: type.array!.elementType, depth: depth + 1)
        case .struct, .union:
            let natural = try naturalAlignment(of: type, depth: depth)
            return try isPacked(type, naturalAlignment: natural, depth: depth) ? 1 : natural
        default:
            throw BTFError.wrongKind(id: id, kind: type.kind, expected: "a type with an alignment")
        }
    }

    /// The largest member alignment of a struct or union, ignoring packing.
    func naturalAlignment(of type: BTFType, depth: Int) throws -> Int {
        var result = 1
        for member in type.members {
            result = max(result, try alignment(of: member.type, depth: depth + 1))
        }
        return result
    }

    /// Whether a struct or union can only have its layout with `__attribute__((packed))`: its
    /// size is not a multiple of its natural alignment, or an ordinary member sits at an offset
    /// its alignment would not allow.
    public func isPacked(_ id: UInt32) throws -> Bool {
        let type = try type(id)
        guard type.kind.isComposite else { return false }
        return try isPacked(type, naturalAlignment: naturalAlignment(of: type, depth: 0), depth: 0)
    }

    func isPacked(_ type: BTFType, naturalAlignment: Int, depth: Int) throws -> Bool {
        if Int(type.sizeOrType) % naturalAlignment != 0 { return true }
        for member in type.members where try bitfieldLayout(member).bitSize == 0 {
            let alignment = try alignment(of: member.type, depth: depth + 1)
            if Int(member.bitOffset) % (alignment * 8) != 0 { return true }
        }
        return false
    }

    /// Where a member's bits are: with kind_flag the member says so; without it an INT member
    /// whose `nr_bits` is narrower than its size is a bitfield (the older encoding, where the
    /// INT's own bit offset adds to the member's).
    public func bitfieldLayout(_ member: BTFMember) throws -> (bitOffset: UInt32, bitSize: UInt32) {
        if member.bitfieldSize != 0 { return (member.bitOffset, member.bitfieldSize) }
        let concrete = try type(skipTypedefs(member.type))
        if concrete.kind == .int, UInt64(concrete.intBits) != UInt64(concrete.sizeOrType) * 8 || concrete.intBitOffset != 0 {
            let (offset, overflow) = member.bitOffset.addingReportingOverflow(concrete.intBitOffset)
            guard !overflow else { throw BTFError.malformedType(id: member.type, reason: "bitfield offset overflows") }
            return (offset, concrete.intBits)
        }
        return (member.bitOffset, 0)
    }

    /// The location of a field reached by a dotted path (`"a.b.c"`) from a struct or union,
    /// looking through anonymous struct and union members the way C does.
    public func field(_ path: String, in id: UInt32) throws -> BTFField {
        var current = id
        var bitOffset: UInt32 = 0
        var chain: [BTFMember] = []
        var last: BTFMember?
        for component in path.split(separator: ".", omittingEmptySubsequences: false) {
            let container = try skipTypedefs(current)
            let type = try type(container)
            guard type.kind.isComposite else {
                throw BTFError.wrongKind(id: container, kind: type.kind, expected: "a struct or union holding '\(component)'")
            }
            guard let found = try findMember(String(component), in: type, depth: 0) else {
                throw BTFError.notFound("member '\(component)' of \(try describe(id: container))")
            }
            for member in found {
                let (sum, overflow) = bitOffset.addingReportingOverflow(member.bitOffset)
                guard !overflow else { throw BTFError.malformedType(id: container, reason: "member offsets overflow 32 bits") }
                bitOffset = sum
            }
            chain += found
            last = found.last
            current = found.last!.type
        }
        guard let member = last else { throw BTFError.notFound("an empty member path") }
        let layout = try bitfieldLayout(member)
        // Replace the last member's own offset by its bitfield-adjusted one (never below it).
        let start = bitOffset &- member.bitOffset &+ layout.bitOffset
        return BTFField(path: chain, type: member.type, bitOffset: start, bitfieldSize: layout.bitSize)
    }

    /// The chain of members (anonymous ones first) leading to the member named `name`.
    func findMember(_ name: String, in type: BTFType, depth: Int) throws -> [BTFMember]? {
        guard depth <= BTF.maxResolveDepth else { throw BTFError.resolutionLoop(id: type.id, walk: "searching anonymous members") }
        for member in type.members {
            if member.isAnonymous {
                let inner = try self.type(skipTypedefs(member.type))
                if inner.kind.isComposite, let path = try findMember(name, in: inner, depth: depth + 1) {
                    return [member] + path
                }
            } else if string(at: member.nameOffset, equals: name) {
                return [member]
            }
        }
        return nil
    }

    /// FUNC or FUNC_PROTO as a prototype: return type and parameters.
    public func prototype(of id: UInt32) throws -> BTFPrototype {
        var proto = try type(id)
        if proto.kind == .function { proto = try type(proto.sizeOrType) }
        guard proto.kind == .functionProto else {
            throw BTFError.wrongKind(id: id, kind: proto.kind, expected: "FUNC or FUNC_PROTO")
        }
        var parameters = proto.parameters
        let variadic = proto.isVariadic
        if variadic { parameters.removeLast() }
        return BTFPrototype(returnType: proto.sizeOrType, parameters: parameters, isVariadic: variadic)
    }

    /// The variables of the DATASEC named `section` (e.g. ".data..percpu") with their names.
    public func sectionVariables(_ section: String) throws -> [(name: String, variable: BTFSectionVariable)] {
        let id = try typeID(named: section, kind: .dataSection)
        return try type(id).sectionVariables.map { (try type($0.type).name, $0) }
    }
}

/// A field found by `BTF.field(_:in:)`.
public struct BTFField: @unchecked Sendable {
    /// The members walked, including anonymous struct/union members.
    public let path: [BTFMember]
    public let type: UInt32
    /// Offset from the start of the outer type, in bits.
    public let bitOffset: UInt32
    /// Width for bitfields, else 0.
    public let bitfieldSize: UInt32
    public var isBitfield: Bool { bitfieldSize != 0 }
    public var byteOffset: UInt32 { bitOffset / 8 }
}

/// A function prototype.
public struct BTFPrototype: Sendable, Hashable {
    public let returnType: UInt32
    /// Parameters without the trailing `...` marker.
    public let parameters: [BTFParameter]
    public let isVariadic: Bool
}
