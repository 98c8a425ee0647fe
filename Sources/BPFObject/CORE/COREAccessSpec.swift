/// One step of a CO-RE access: a named member (`name` set), an array index, or — first —
/// pointer arithmetic on the root type (or the enumerator for enum-value relocations).
struct COREAccessor: Hashable {
    /// The composite holding the member, the array's element type, or the resolved root.
    var typeID: UInt32
    var index: Int
    var name: String?
}

/// An access string resolved against one BTF (libbpf's `struct bpf_core_spec`): the named
/// high-level accessors, the raw indices (including anonymous members crossed on the way)
/// and the resulting bit offset from the root pointer.
struct COREAccessSpec {
    /// libbpf's BPF_CORE_SPEC_MAX_LEN: deeper struct/union/array nesting is refused.
    static let maxLength = 64

    let btf: BTF
    let kind: CORERelocationKind
    var rootTypeID: UInt32
    var accessors: [COREAccessor] = []
    var raw: [Int] = []
    var bitOffset = 0

    init(btf: BTF, kind: CORERelocationKind, rootTypeID: UInt32) {
        self.btf = btf
        self.kind = kind
        self.rootTypeID = rootTypeID
    }

    // MARK: Parsing the local access string

    /// Splits `"0:1:2"` into non-negative indices. Empty strings, empty components, signs,
    /// non-digits and values above Int32.max are malformed.
    static func parseIndices(_ access: String) throws -> [Int] {
        guard !access.isEmpty else { throw COREFailure(.malformedAccessString, "empty access string") }
        var indices: [Int] = []
        for component in access.split(separator: ":", omittingEmptySubsequences: false) {
            guard !component.isEmpty, component.utf8.count <= 10, component.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let value = Int(component), value <= Int(Int32.max) else {
                throw COREFailure(.malformedAccessString, "access string '\(access)' is not a list of indices like 0:1:2")
            }
            guard indices.count < maxLength else {
                throw COREFailure(.malformedAccessString, "access string '\(access)' is longer than \(maxLength) indices")
            }
            indices.append(value)
        }
        return indices
    }

    /// Resolves the access string of a record against the local BTF (libbpf's
    /// bpf_core_parse_spec). Type-based relocations must use the access string "0".
    static func parse(btf: BTF, rootTypeID: UInt32, kind: CORERelocationKind, access: String) throws -> COREAccessSpec {
        var spec = COREAccessSpec(btf: btf, kind: kind, rootTypeID: rootTypeID)
        if kind.isTypeBased {
            guard access == "0" else {
                throw COREFailure(.malformedAccessString, "type-based relocation needs access string '0', found '\(access)'")
            }
            return spec
        }
        spec.raw = try parseIndices(access)
        let root = try CORETypeRules.resolve(btf, rootTypeID)
        let first = spec.raw[0]
        spec.accessors.append(COREAccessor(typeID: root.id, index: first, name: nil))

        if kind.isEnumValueBased {
            guard CORETypeRules.isAnyEnum(root.kind), spec.raw.count == 1, first < root.vlen else {
                throw COREFailure(.malformedAccessString, "access '\(access)' does not name an enumerator of type [\(rootTypeID)]")
            }
            spec.accessors[0].name = root.enumerators[first].name
            return spec
        }

        spec.bitOffset = try scaled(first, size: CORETypeRules.size(btf, root.id))
        var current = root.id
        for position in 1..<spec.raw.count {
            let index = spec.raw[position]
            let type = try CORETypeRules.resolve(btf, current)
            if type.kind.isComposite {
                guard let member = type.member(at: index) else {
                    throw COREFailure(.malformedAccessString, "access '\(access)': member \(index) of [\(type.id)] \(type.name) does not exist (it has \(type.vlen))")
                }
                spec.bitOffset += Int(member.bitOffset)
                if member.nameOffset != 0 {
                    let name = member.name
                    guard !name.isEmpty else {
                        throw COREFailure(.malformedAccessString, "access '\(access)': member \(index) of [\(type.id)] has an empty name")
                    }
                    spec.accessors.append(COREAccessor(typeID: type.id, index: index, name: name))
                }
                current = member.type
            } else if let array = type.array {
                let element = try CORETypeRules.resolve(btf, array.elementType)
                guard spec.isFlexibleArray(array, after: spec.accessors.last) || index < array.count else {
                    throw COREFailure(.malformedAccessString, "access '\(access)': index \(index) is past the end of array [\(type.id)] of \(array.count)")
                }
                spec.accessors.append(COREAccessor(typeID: element.id, index: index, name: nil))
                spec.bitOffset += try scaled(index, size: CORETypeRules.size(btf, element.id))
                current = element.id
            } else {
                throw COREFailure(.malformedAccessString, "access '\(access)' (at position \(position)) indexes into [\(type.id)], a \(type.kind.rawName), not a struct, union or array")
            }
        }
        return spec
    }

    /// `index * size * 8` bits, refusing values a 32-bit offset cannot hold.
    static func scaled(_ index: Int, size: Int) throws -> Int {
        let (bytes, overflow) = index.multipliedReportingOverflow(by: size)
        guard !overflow, bytes <= Int(UInt32.max) / 8 else {
            throw COREFailure(.malformedAccessString, "access index \(index) of a \(size)-byte type overflows the offset")
        }
        return bytes * 8
    }

    /// A zero-length array that is the last member of the struct accessed just before it: any
    /// index is allowed (C flexible array member).
    func isFlexibleArray(_ array: BTFType.ArrayInfo, after accessor: COREAccessor?) -> Bool {
        guard let accessor, accessor.name != nil, array.count == 0,
              let holder = try? btf.type(accessor.typeID) else { return false }
        return accessor.index == holder.vlen - 1
    }

    // MARK: Matching against a target candidate

    /// Walks the local spec through the target type `targetID` (libbpf's bpf_core_spec_match).
    /// nil when the candidate does not fit; throws on malformed BTF or too deep nesting.
    static func match(_ local: COREAccessSpec, target: BTF, targetID: UInt32) throws -> COREAccessSpec? {
        var spec = COREAccessSpec(btf: target, kind: local.kind, rootTypeID: targetID)
        if local.kind.isTypeBased {
            let matches = local.kind == .typeMatches
                ? try CORETypeRules.typesMatch(local: local.btf, local.rootTypeID, target: target, targetID)
                : try CORETypeRules.typesAreCompatible(local: local.btf, local.rootTypeID, target: target, targetID)
            return matches ? spec : nil
        }
        if local.kind.isEnumValueBased {
            let enumType = try CORETypeRules.resolve(target, targetID)
            guard CORETypeRules.isAnyEnum(enumType.kind), let wanted = local.accessors.first?.name else { return nil }
            let wantedName = CORETypeRules.essentialName(wanted)
            for (position, enumerator) in enumType.enumerators.enumerated()
            where CORETypeRules.essentialName(enumerator.name) == wantedName {
                spec.accessors.append(COREAccessor(typeID: enumType.id, index: position, name: enumerator.name))
                spec.raw.append(position)
                return spec
            }
            return nil
        }

        var current = targetID
        for (position, localAccessor) in local.accessors.enumerated() {
            let type = try CORETypeRules.resolve(target, current)
            current = type.id
            if localAccessor.name != nil {
                guard let next = try spec.matchMember(localAccessor, localBTF: local.btf, in: current) else { return nil }
                current = next
                continue
            }
            if position > 0 {
                guard let array = type.array else { return nil }
                guard spec.isFlexibleArray(array, after: spec.accessors.last) || localAccessor.index < array.count else { return nil }
                current = try CORETypeRules.resolve(target, array.elementType).id
            }
            guard spec.raw.count < maxLength else {
                throw COREFailure(.malformedAccessString, "target access nests deeper than \(maxLength) levels")
            }
            spec.accessors.append(COREAccessor(typeID: current, index: localAccessor.index, name: nil))
            spec.raw.append(localAccessor.index)
            spec.bitOffset += try scaled(localAccessor.index, size: CORETypeRules.size(target, current))
        }
        return spec
    }

    /// Finds the member the local accessor names in target composite `typeID`, descending into
    /// anonymous structs and unions (their indices go into `raw` but not into `accessors`).
    /// Returns the member's type id, or nil when absent or of an incompatible type.
    mutating func matchMember(_ localAccessor: COREAccessor, localBTF: BTF, in typeID: UInt32) throws -> UInt32? {
        let type = try CORETypeRules.resolve(btf, typeID)
        guard type.kind.isComposite else { return nil }
        let localHolder = try CORETypeRules.resolve(localBTF, localAccessor.typeID)
        guard let localMember = localHolder.member(at: localAccessor.index) else {
            throw COREFailure(.invalidType, "local member \(localAccessor.index) of [\(localAccessor.typeID)] does not exist")
        }
        let wanted = localAccessor.name ?? ""
        for member in type.members {
            guard raw.count < COREAccessSpec.maxLength else {
                throw COREFailure(.malformedAccessString, "target access nests deeper than \(COREAccessSpec.maxLength) levels")
            }
            // Speculate this member is the one; undone below if not.
            bitOffset += Int(member.bitOffset)
            raw.append(member.index)
            if member.isAnonymous {
                if let found = try matchMember(localAccessor, localBTF: localBTF, in: member.type) { return found }
            } else if member.btf.string(at: member.nameOffset, equals: wanted) {
                guard try CORETypeRules.fieldsAreCompatible(local: localBTF, localMember.type, target: btf, member.type) else { return nil }
                accessors.append(COREAccessor(typeID: type.id, index: member.index, name: wanted))
                return member.type
            }
            bitOffset -= Int(member.bitOffset)
            raw.removeLast()
        }
        return nil
    }

    // MARK: Description (libbpf's log format)

    /// `[7] struct task_struct.pid (0:50 @ offset 2344)`, as libbpf prints a spec.
    var description: String {
        let root = try? btf.type(rootTypeID)
        let name = root?.name ?? ""
        var text = "[\(rootTypeID)] \((root?.kind ?? .void).rawName.lowercased()) \(name.isEmpty ? "<anon>" : name)"
        if kind.isTypeBased { return text }
        if kind.isEnumValueBased {
            if let accessor = accessors.first, let enumType = try? CORETypeRules.resolve(btf, rootTypeID),
               accessor.index < enumType.vlen {
                let enumerator = enumType.enumerators[accessor.index]
                let value = switch (enumType.kind == .enum, enumType.kindFlag) {
                case (true, true): String(Int32(truncatingIfNeeded: enumerator.value))
                case (true, false): String(UInt32(truncatingIfNeeded: enumerator.value))
                case (false, true): String(Int64(bitPattern: enumerator.value))
                case (false, false): String(enumerator.value)
                }
                text += "::\(enumerator.name) = \(value)"
            }
            return text
        }
        for (position, accessor) in accessors.enumerated() {
            if let name = accessor.name {
                text += ".\(name)"
            } else if position > 0 || accessor.index > 0 {
                text += "[\(accessor.index)]"
            }
        }
        text += " (" + raw.map(String.init).joined(separator: ":")
        text += bitOffset % 8 == 0 ? " @ offset \(bitOffset / 8))" : " @ offset \(bitOffset / 8).\(bitOffset % 8))"
        return text
    }
}

extension CORERelocationKind {
    var isFieldBased: Bool { rawValue <= CORERelocationKind.fieldRShiftU64.rawValue }
    var isTypeBased: Bool {
        switch self {
        case .typeIDLocal, .typeIDTarget, .typeExists, .typeMatches, .typeSize: true
        default: false
        }
    }
    var isEnumValueBased: Bool { self == .enumValueExists || self == .enumValueValue }
}
