import Foundation

/// A field's layout under one spec: what FIELD_* relocations read.
struct COREFieldLayout {
    /// False when the last accessor is an array index rather than a named member.
    var named: Bool
    var byteOffset: UInt32
    var byteSize: UInt32
    var bitOffset: UInt32
    var bitSize: UInt32
    var isBitfield: Bool
    var isSigned: Bool
    /// The field's type (typedefs skipped), for deciding whether a load may change size.
    var typeID: UInt32
    /// Size of a load of this field (for arrays: one innermost element).
    var memorySize: UInt32

    var field: CORETargetField {
        CORETargetField(byteOffset: byteOffset, byteSize: byteSize, isSigned: isSigned, bitOffset: bitOffset, bitSize: isBitfield ? bitSize : 0)
    }
}

/// The local (compiled-in) and target values of one relocation and how to patch them
/// (libbpf's bpf_core_calc_relo).
struct CORECalculation {
    var localValue: UInt64 = 0
    var targetValue: UInt64 = 0
    var poison = false
    var validate = true
    var failsMemorySizeAdjustment = false
    var localMemorySize: UInt32 = 0
    var targetMemorySize: UInt32 = 0

    init(kind: CORERelocationKind, local: COREAccessSpec, target: COREAccessSpec?) throws {
        if kind.isFieldBased {
            let localField = try Self.fieldValue(kind, local)
            localValue = localField.value
            localMemorySize = localField.memorySize
            validate = localField.validate
            guard let target else {
                // FIELD_EXISTS answers 0; any other field relocation has nothing to read.
                if kind == .fieldExists { targetValue = 0 } else { poison = true }
                return
            }
            let targetField = try Self.fieldValue(kind, target)
            targetValue = targetField.value
            targetMemorySize = targetField.memorySize
            if localMemorySize != targetMemorySize {
                // A load may change size only for pointers (32-bit kernels) and unsigned ints,
                // where zero extension keeps the value right.
                let localType = try local.btf.type(localField.typeID)
                let targetType = try target.btf.type(targetField.typeID)
                let bothPointers = localType.kind == .pointer && targetType.kind == .pointer
                let bothUnsigned = localType.kind == .int && targetType.kind == .int
                    && localType.intEncoding != .signed && targetType.intEncoding != .signed
                failsMemorySizeAdjustment = !(bothPointers || bothUnsigned)
            }
        } else if kind.isTypeBased {
            localValue = try Self.typeValue(kind, local)
            if kind == .typeIDTarget { validate = false }  // ids shift when objects are linked
            targetValue = try target.map { try Self.typeValue(kind, $0) } ?? 0
        } else {
            localValue = try Self.enumValue(kind, local)
            if let target {
                targetValue = try Self.enumValue(kind, target)
            } else if kind == .enumValueExists {
                targetValue = 0
            } else {
                poison = true
            }
        }
    }

    static func typeValue(_ kind: CORERelocationKind, _ spec: COREAccessSpec) throws -> UInt64 {
        switch kind {
        case .typeIDLocal, .typeIDTarget: UInt64(spec.rootTypeID)
        case .typeExists, .typeMatches: 1
        case .typeSize: UInt64(try CORETypeRules.size(spec.btf, spec.rootTypeID))
        default: throw COREFailure(.unsupportedKind, "relocation <\(kind.name)> is not type-based")
        }
    }

    static func enumValue(_ kind: CORERelocationKind, _ spec: COREAccessSpec) throws -> UInt64 {
        if kind == .enumValueExists { return 1 }
        guard let accessor = spec.accessors.first else { throw COREFailure(.invalidType, "enum value relocation without enumerator") }
        let enumType = try spec.btf.type(accessor.typeID)
        let enumerators = enumType.enumerators
        guard accessor.index < enumerators.count else { throw COREFailure(.invalidType, "enumerator \(accessor.index) of [\(accessor.typeID)] does not exist") }
        let value = enumerators[accessor.index].value
        // libbpf reads a 32-bit enumerator as `__s32` and widens it, so it is sign-extended
        // whatever the enum's signedness; ENUM64 values are taken as the 64-bit pattern.
        return enumType.kind == .enum ? UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: value))) : value
    }

    struct FieldValue {
        var value: UInt64
        var memorySize: UInt32 = 0
        var typeID: UInt32 = 0
        var validate = true
    }

    static func fieldValue(_ kind: CORERelocationKind, _ spec: COREAccessSpec) throws -> FieldValue {
        if kind == .fieldExists { return FieldValue(value: 1) }
        let layout = try fieldLayout(spec)
        if !layout.named {
            switch kind {
            case .fieldByteOffset:
                return FieldValue(value: UInt64(layout.byteOffset), memorySize: layout.memorySize, typeID: layout.typeID)
            case .fieldByteSize:
                return FieldValue(value: UInt64(layout.byteSize))
            default:
                throw COREFailure(.malformedAccessString, "relocation <\(kind.name)> can't be applied to array access")
            }
        }
        // Bitfield offsets and sizes may legitimately differ from what the compiler chose.
        var result = FieldValue(value: 0, validate: !layout.isBitfield)
        // libbpf computes shifts in 32-bit unsigned arithmetic; keep its wraparound.
        let endBit = layout.bitOffset &+ layout.bitSize &- layout.byteOffset &* 8
        switch kind {
        case .fieldByteOffset:
            result.value = UInt64(layout.byteOffset)
            if !layout.isBitfield {
                result.memorySize = layout.byteSize
                result.typeID = layout.typeID
            }
        case .fieldByteSize:
            result.value = UInt64(layout.byteSize)
        case .fieldSigned:
            result.value = layout.isSigned ? 1 : 0
            result.validate = true
        case .fieldLShiftU64:
            // Little-endian: shift the field's top bit up to bit 63.
            result.value = UInt64(UInt32(64) &- endBit)
        case .fieldRShiftU64:
            result.value = UInt64(UInt32(64) &- layout.bitSize)
            result.validate = true
        default:
            throw COREFailure(.unsupportedKind, "relocation <\(kind.name)> is not field-based")
        }
        return result
    }

    /// Where the field the spec ends at lies: for bitfields, the smallest naturally aligned
    /// load (the member type's size, doubled up to 8 bytes) that covers all its bits.
    static func fieldLayout(_ spec: COREAccessSpec) throws -> COREFieldLayout {
        guard let accessor = spec.accessors.last else { throw COREFailure(.invalidType, "field relocation without accessors") }
        let btf = spec.btf
        let bitOffset = UInt32(truncatingIfNeeded: spec.bitOffset)
        guard accessor.name != nil else {
            // a[n]: the element itself; loads use the innermost non-array element's size.
            var element = try CORETypeRules.resolve(btf, accessor.typeID)
            for _ in 0..<CORETypeRules.maxDepth {
                guard let array = element.array else { break }
                element = try CORETypeRules.resolve(btf, array.elementType)
            }
            let size = UInt32(try CORETypeRules.size(btf, accessor.typeID))
            return COREFieldLayout(named: false, byteOffset: bitOffset / 8, byteSize: size, bitOffset: bitOffset, bitSize: size &* 8,
                                   isBitfield: false, isSigned: false, typeID: accessor.typeID,
                                   memorySize: UInt32(try CORETypeRules.size(btf, element.id)))
        }
        let holder = try btf.type(accessor.typeID)
        guard let member = holder.member(at: accessor.index) else {
            throw COREFailure(.invalidType, "member \(accessor.index) of [\(accessor.typeID)] does not exist")
        }
        let memberType = try CORETypeRules.resolve(btf, member.type)
        let isSigned = (CORETypeRules.isAnyEnum(memberType.kind) && memberType.kindFlag)
            || (memberType.kind == .int && memberType.intEncoding.contains(.signed))
        var bitSize = member.bitfieldSize
        let byteOffset: UInt32
        var byteSize: UInt32
        if bitSize > 0 {
            byteSize = memberType.sizeOrType
            guard byteSize > 0 else {
                throw COREFailure(.invalidType, "bitfield \(member.name) of [\(holder.id)] has a type of size 0")
            }
            var offset = bitOffset / 8 / byteSize * byteSize
            while UInt64(bitOffset) + UInt64(bitSize) - UInt64(offset) * 8 > UInt64(byteSize) * 8 {
                guard byteSize < 8 else {
                    throw COREFailure(.unsatisfiableBitfield, "bitfield \(member.name) (\(bitSize) bits at bit \(bitOffset)) can't be read with one 64-bit load")
                }
                byteSize *= 2
                offset = bitOffset / 8 / byteSize * byteSize
            }
            byteOffset = offset
        } else {
            byteSize = UInt32(truncatingIfNeeded: try CORETypeRules.size(btf, memberType.id))
            byteOffset = bitOffset / 8
            bitSize = byteSize &* 8
        }
        return COREFieldLayout(named: true, byteOffset: byteOffset, byteSize: byteSize, bitOffset: bitOffset, bitSize: bitSize,
                               isBitfield: member.bitfieldSize > 0, isSigned: isSigned, typeID: memberType.id, memorySize: byteSize)
    }
}

/// One target type a relocation may resolve against.
struct CORECandidate: Hashable {
    var btfIndex: Int
    var typeID: UInt32
}

/// Finds target types with the local type's essential name and a compatible kind (libbpf's
/// bpf_core_find_cands): vmlinux first; module BTFs (their own types only) only when vmlinux
/// has none. Results are cached per local type for the records of one call; the name lookups
/// go through each target's `BTFNameTable`, built once per BTF.
struct CORECandidateFinder {
    let targets: [BTF]
    private var cache: [UInt32: [CORECandidate]] = [:]

    init(targets: [BTF]) {
        self.targets = targets
    }

    mutating func candidates(for localType: BTFType, in localBTF: BTF) throws -> [CORECandidate] {
        if let cached = cache[localType.id] { return cached }
        let essential = CORETypeRules.essentialName(localType.name)
        var found: [CORECandidate] = []
        for (index, target) in targets.enumerated() {
            if index > 0 && !found.isEmpty { break }
            let firstOwnID: UInt32 = index == 0 ? 1 : target.firstTypeID
            var ids = target.typeIDs(named: essential) + target.flavoredTypeIDs(essentialName: essential)
            ids = ids.filter { $0 >= firstOwnID }
            ids.sort()
            var previous: UInt32 = 0
            for id in ids where id != previous {
                previous = id
                guard let kind = try? target.kind(of: id), CORETypeRules.kindsCompatible(kind, localType.kind) else { continue }
                found.append(CORECandidate(btfIndex: index, typeID: id))
            }
        }
        cache[localType.id] = found
        return found
    }
}
