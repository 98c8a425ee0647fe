/// The type comparisons CO-RE relocation relies on, with the semantics libbpf gives them
/// (tools/lib/bpf/relo_core.c): flavor-insensitive names, "compatible" types for candidate
/// and field checks, and the stricter "match" rule behind `bpf_core_type_matches()`.
/// Every walk is bounded so malformed BTF throws instead of looping.
enum CORETypeRules {
    /// libbpf limits type comparisons to 32 nested steps and recursive calls.
    static let maxDepth = 32

    // MARK: Names

    /// Length in bytes of a name without its `___flavor` suffix: the suffix starts at the last
    /// `___` that follows a non-underscore and is followed by a non-underscore
    /// (`task_struct___v1` → `task_struct`; `a____b` keeps its full length).
    static func essentialLength<Bytes: RandomAccessCollection>(_ name: Bytes) -> Int where Bytes.Element == UInt8, Bytes.Index == Int {
        let underscore = UInt8(ascii: "_")
        let count = name.count
        var index = count - 5
        let start = name.startIndex
        while index >= 0 {
            let at = start + index
            if name[at] != underscore, name[at + 1] == underscore, name[at + 2] == underscore,
               name[at + 3] == underscore, name[at + 4] != underscore {
                return index + 1
            }
            index -= 1
        }
        return count
    }

    /// The name without its flavor suffix.
    static func essentialName(_ name: String) -> String {
        let bytes = Array(name.utf8)
        let length = essentialLength(bytes)
        return length == bytes.count ? name : String(decoding: bytes[0..<length], as: UTF8.self)
    }

    /// libbpf's rule for `type_matches`: an anonymous target matches only an anonymous local;
    /// otherwise the essential names must be equal.
    static func namesMatch(local: String, target: String) -> Bool {
        if target.isEmpty { return local.isEmpty }
        return essentialName(local) == essentialName(target)
    }

    // MARK: Kinds

    static func isAnyEnum(_ kind: BTFKind) -> Bool { kind == .enum || kind == .enum64 }

    /// Same kind, or ENUM and ENUM64 (a 32-bit enum may become 64-bit in another kernel).
    static func kindsCompatible(_ local: BTFKind, _ target: BTFKind) -> Bool {
        local == target || (isAnyEnum(local) && isAnyEnum(target))
    }

    /// Follows typedefs and qualifiers; a cycle or dangling id is an invalid-type failure.
    static func resolve(_ btf: BTF, _ id: UInt32) throws -> BTFType {
        do {
            return try btf.type(btf.skipTypedefs(id))
        } catch {
            throw COREFailure(.invalidType, "type [\(id)]: \(error)")
        }
    }

    static func size(_ btf: BTF, _ id: UInt32) throws -> Int {
        do {
            return try btf.size(of: id)
        } catch {
            throw COREFailure(.invalidType, "size of type [\(id)]: \(error)")
        }
    }

    // MARK: Compatibility (candidate roots)

    /// libbpf's "types are compatible" for whole types (type-based relocations):
    /// structs, unions, enums and forwards compare by (already matched) name only; ints
    /// must not be legacy bitfield ints; pointers and arrays compare their targets;
    /// function prototypes compare arity, parameters and return type.
    static func typesAreCompatible(local: BTF, _ localID: UInt32, target: BTF, _ targetID: UInt32, level: Int = maxDepth) throws -> Bool {
        guard try kindsCompatible(local.type(localID).kind, target.type(targetID).kind) else { return false }
        var localID = localID, targetID = targetID
        for _ in 0..<maxDepth {
            let localType = try resolve(local, localID)
            let targetType = try resolve(target, targetID)
            guard kindsCompatible(localType.kind, targetType.kind) else { return false }
            switch localType.kind {
            case .void, .struct, .union, .enum, .enum64, .forward:
                return true
            case .int:
                return localType.intBitOffset == 0 && targetType.intBitOffset == 0
            case .pointer:
                localID = localType.sizeOrType
                targetID = targetType.sizeOrType
            case .array:
                localID = localType.array!.elementType
                targetID = targetType.array!.elementType
            case .functionProto:
                let localParameters = localType.parameters
                let targetParameters = targetType.parameters
                guard localParameters.count == targetParameters.count else { return false }
                for (localParameter, targetParameter) in zip(localParameters, targetParameters) {
                    guard level > 0 else { throw COREFailure(.invalidType, "function prototypes nest deeper than \(maxDepth) levels") }
                    let compatible = try typesAreCompatible(
                        local: local, resolve(local, localParameter.type).id,
                        target: target, resolve(target, targetParameter.type).id, level: level - 1)
                    if !compatible { return false }
                }
                localID = try resolve(local, localType.sizeOrType).id
                targetID = try resolve(target, targetType.sizeOrType).id
            default:
                return false
            }
        }
        throw COREFailure(.invalidType, "type [\(localID)] nests deeper than \(maxDepth) levels")
    }

    /// libbpf's field compatibility (the type of a matched member): any two composites, any two
    /// pointers or floats, enums/forwards with equal essential names (or either anonymous), ints
    /// that are not legacy bitfield ints, arrays by element type.
    static func fieldsAreCompatible(local: BTF, _ localID: UInt32, target: BTF, _ targetID: UInt32) throws -> Bool {
        var localID = localID, targetID = targetID
        for _ in 0..<maxDepth {
            let localType = try resolve(local, localID)
            let targetType = try resolve(target, targetID)
            if localType.kind.isComposite && targetType.kind.isComposite { return true }
            guard kindsCompatible(localType.kind, targetType.kind) else { return false }
            switch localType.kind {
            case .pointer, .float:
                return true
            case .forward, .enum, .enum64:
                let localName = essentialName(localType.name)
                let targetName = essentialName(targetType.name)
                return localName.isEmpty || targetName.isEmpty || localName == targetName
            case .int:
                return localType.intBitOffset == 0 && targetType.intBitOffset == 0
            case .array:
                localID = localType.array!.elementType
                targetID = targetType.array!.elementType
            default:
                return false
            }
        }
        throw COREFailure(.invalidType, "array type [\(localID)] nests deeper than \(maxDepth) levels")
    }

    // MARK: Matching (bpf_core_type_matches)

    /// libbpf's "types match": names match at every level (after typedefs), composites need
    /// every local member to have a same-named matching target member, enums every local
    /// enumerator name and equal size, ints equal size and signedness, arrays equal length,
    /// and behind a pointer a struct/union may match a forward declaration of the same kind.
    static func typesMatch(local: BTF, _ localID: UInt32, target: BTF, _ targetID: UInt32, behindPointer: Bool = false, level: Int = maxDepth) throws -> Bool {
        guard level > 0 else { throw COREFailure(.invalidType, "types nest deeper than \(maxDepth) levels") }
        var localID = localID, targetID = targetID, behindPointer = behindPointer
        for _ in 0..<maxDepth {
            let localType = try resolve(local, localID)
            let targetType = try resolve(target, targetID)
            guard namesMatch(local: localType.name, target: targetType.name) else { return false }
            let localKind = localType.kind, targetKind = targetType.kind
            switch localKind {
            case .void:
                return targetKind == .void
            case .forward:
                if behindPointer {
                    if targetKind == .forward { return localType.kindFlag == targetType.kindFlag }
                    // A forward's kind_flag says union (1) or struct (0).
                    return (targetKind == .struct && !localType.kindFlag) || (targetKind == .union && localType.kindFlag)
                }
                return targetKind == .forward && localType.kindFlag == targetType.kindFlag
            case .enum, .enum64:
                guard isAnyEnum(targetKind), localType.sizeOrType == targetType.sizeOrType else { return false }
                let targetNames = targetType.enumerators.map(\.name)
                guard localType.vlen <= targetNames.count else { return false }
                return localType.enumerators.allSatisfy { enumerator in
                    targetNames.contains { namesMatch(local: enumerator.name, target: $0) }
                }
            case .struct, .union:
                if behindPointer {
                    if localKind == targetKind { return true }
                    return targetKind == .forward && (localKind == .union) == targetType.kindFlag
                }
                guard localKind == targetKind else { return false }
                let targetMembers = targetType.members
                guard localType.vlen <= targetMembers.count else { return false }
                for localMember in localType.members {
                    var matched = false
                    for targetMember in targetMembers where namesMatch(local: localMember.name, target: targetMember.name) {
                        if try typesMatch(local: local, localMember.type, target: target, targetMember.type,
                                          behindPointer: behindPointer, level: level - 1) {
                            matched = true
                            break
                        }
                    }
                    if !matched { return false }
                }
                return true
            case .int:
                guard targetKind == .int else { return false }
                return localType.sizeOrType == targetType.sizeOrType
                    && localType.intEncoding.contains(.signed) == targetType.intEncoding.contains(.signed)
            case .pointer:
                guard targetKind == .pointer else { return false }
                behindPointer = true
                localID = localType.sizeOrType
                targetID = targetType.sizeOrType
            case .array:
                guard targetKind == .array, let localArray = localType.array, let targetArray = targetType.array,
                      localArray.count == targetArray.count else { return false }
                localID = localArray.elementType
                targetID = targetArray.elementType
            case .functionProto:
                guard targetKind == .functionProto else { return false }
                let localParameters = localType.parameters, targetParameters = targetType.parameters
                guard localParameters.count == targetParameters.count else { return false }
                for (localParameter, targetParameter) in zip(localParameters, targetParameters) {
                    guard try typesMatch(local: local, localParameter.type, target: target, targetParameter.type,
                                         behindPointer: behindPointer, level: level - 1) else { return false }
                }
                localID = localType.sizeOrType
                targetID = targetType.sizeOrType
            default:
                return false
            }
        }
        throw COREFailure(.invalidType, "type [\(localID)] nests deeper than \(maxDepth) levels")
    }
}
