/// A view of one type record. Cheap to make; decodes fields when they are read.
public struct BTFType: @unchecked Sendable {
    public let id: UInt32
    /// The blob holding the record (a base, for base ids looked up through split BTF).
    let btf: BTF
    /// Byte offset of the record in `btf`'s storage; -1 for void.
    let offset: Int

    @inline(__always) private func word(_ at: Int) -> UInt32 { btf.word(offset + at) }
    private var info: UInt32 { offset < 0 ? 0 : word(4) }

    public var kind: BTFKind { offset < 0 ? .void : BTFKind(rawValue: UInt8((info >> 24) & 0x1f)) ?? .void }
    /// The raw name offset in the string section; 0 for anonymous types.
    public var nameOffset: UInt32 { offset < 0 ? 0 : word(0) }
    /// The name, or "" for anonymous types and void.
    public var name: String { offset < 0 ? "" : btf.validatedString(word(0)) }
    public var isAnonymous: Bool { offset < 0 || btf.stringPointer(word(0)).map { $0[0] == 0 } ?? true }
    public var kindFlag: Bool { info >> 31 == 1 }
    /// Number of members, enumerators, parameters or variables; the linkage for FUNC.
    public var vlen: Int { Int(info & 0xffff) }
    /// `size` for INT, ENUM, STRUCT, UNION, DATASEC, FLOAT; `type` for the others.
    public var sizeOrType: UInt32 { offset < 0 ? 0 : word(8) }

    /// The referenced type of PTR, TYPEDEF, qualifiers, FUNC, VAR, DECL_TAG, TYPE_TAG; the
    /// return type of FUNC_PROTO; the element type of ARRAY. nil for other kinds.
    public var referencedType: UInt32? {
        switch kind {
        case .pointer, .typedef, .volatile, .const, .restrict, .function, .variable, .declTag, .typeTag, .functionProto:
            return sizeOrType
        case .array:
            return word(12)
        default:
            return nil
        }
    }

    /// The byte size stored in the record for kinds that have one.
    public var storedSize: UInt32? {
        switch kind {
        case .int, .enum, .enum64, .struct, .union, .dataSection, .float: sizeOrType
        default: nil
        }
    }

    // MARK: INT

    /// INT: encoding bits (BTF_INT_ENCODING), bit offset (BTF_INT_OFFSET) and width (BTF_INT_BITS).
    public var intEncoding: BTFIntEncoding { kind == .int ? BTFIntEncoding(rawValue: UInt8((word(12) >> 24) & 0x0f)) : [] }
    public var intBitOffset: UInt32 { kind == .int ? (word(12) >> 16) & 0xff : 0 }
    public var intBits: UInt32 { kind == .int ? word(12) & 0xff : 0 }

    // MARK: ARRAY

    /// The `struct btf_array` that follows a BTF_KIND_ARRAY type.
    public struct ArrayInfo: Sendable, Hashable {
        public let elementType: UInt32
        public let indexType: UInt32
        public let count: UInt32
    }
    public var array: ArrayInfo? { kind == .array ? ArrayInfo(elementType: word(12), indexType: word(16), count: word(20)) : nil }

    // MARK: STRUCT / UNION

    /// Members of a STRUCT or UNION, decoding the kind_flag bitfield encoding: with kind_flag the
    /// offset word holds bitfield_size << 24 | bit_offset (BTF_MEMBER_BITFIELD_SIZE/BIT_OFFSET).
    public var members: [BTFMember] {
        guard kind.isComposite else { return [] }
        let flag = kindFlag
        return (0..<vlen).map { index in
            let at = 12 + index * 12
            let raw = word(at + 8)
            return BTFMember(
                nameOffset: word(at), btf: btf, type: word(at + 4), index: index,
                bitOffset: flag ? raw & 0x00ff_ffff : raw, bitfieldSize: flag ? raw >> 24 : 0)
        }
    }

    /// Member `index` without decoding the others.
    public func member(at index: Int) -> BTFMember? {
        guard kind.isComposite, index >= 0, index < vlen else { return nil }
        let at = 12 + index * 12
        let raw = word(at + 8)
        return BTFMember(
            nameOffset: word(at), btf: btf, type: word(at + 4), index: index,
            bitOffset: kindFlag ? raw & 0x00ff_ffff : raw, bitfieldSize: kindFlag ? raw >> 24 : 0)
    }

    // MARK: ENUM / ENUM64

    /// Whether ENUM/ENUM64 values are signed (kind_flag).
    public var isSignedEnum: Bool { (kind == .enum || kind == .enum64) && kindFlag }

    /// Enumerators of ENUM or ENUM64; `value` holds the bit pattern sign- or zero-extended.
    public var enumerators: [BTFEnumerator] {
        switch kind {
        case .enum:
            let signed = kindFlag
            return (0..<vlen).map { index in
                let raw = word(12 + index * 8 + 4)
                let value = signed ? UInt64(bitPattern: Int64(Int32(bitPattern: raw))) : UInt64(raw)
                return BTFEnumerator(name: btf.validatedString(word(12 + index * 8)), value: value, isSigned: signed)
            }
        case .enum64:
            let signed = kindFlag
            return (0..<vlen).map { index in
                let at = 12 + index * 12
                let value = UInt64(word(at + 8)) << 32 | UInt64(word(at + 4))
                return BTFEnumerator(name: btf.validatedString(word(at)), value: value, isSigned: signed)
            }
        default:
            return []
        }
    }

    // MARK: FUNC / FUNC_PROTO / VAR / DATASEC / DECL_TAG / FWD

    /// FUNC linkage (in vlen) or VAR linkage.
    public var linkage: BTFLinkage? {
        switch kind {
        case .function: BTFLinkage(rawValue: UInt32(vlen))
        case .variable: BTFLinkage(rawValue: word(12))
        default: nil
        }
    }
    /// The raw linkage value (for dumping unknown values).
    public var rawLinkage: UInt32 { kind == .variable ? word(12) : UInt32(vlen) }

    /// FUNC_PROTO parameters; a last parameter with type 0 and no name means `...`.
    public var parameters: [BTFParameter] {
        guard kind == .functionProto else { return [] }
        return (0..<vlen).map { index in
            BTFParameter(name: btf.validatedString(word(12 + index * 8)), type: word(12 + index * 8 + 4))
        }
    }
    /// FUNC_PROTO ends with `...`.
    public var isVariadic: Bool {
        guard kind == .functionProto, vlen > 0 else { return false }
        let at = 12 + (vlen - 1) * 8
        return word(at) == 0 && word(at + 4) == 0
    }

    /// DATASEC variables (btf_var_secinfo).
    public var sectionVariables: [BTFSectionVariable] {
        guard kind == .dataSection else { return [] }
        return (0..<vlen).map { index in
            let at = 12 + index * 12
            return BTFSectionVariable(type: word(at), offset: word(at + 4), size: word(at + 8))
        }
    }

    /// DECL_TAG component index: -1 for the type itself, else a member or parameter index.
    public var componentIndex: Int32? { kind == .declTag ? Int32(bitPattern: word(12)) : nil }

    /// FWD of a union (kind_flag) rather than a struct.
    public var isUnionForward: Bool { kind == .forward && kindFlag }
}

/// One STRUCT/UNION member.
public struct BTFMember: @unchecked Sendable {
    let nameOffset: UInt32
    let btf: BTF
    public let type: UInt32
    /// Position among the members.
    public let index: Int
    /// Offset from the start of the struct, in bits.
    public let bitOffset: UInt32
    /// Width for bitfields (kind_flag encoding); 0 for ordinary members. See also
    /// `BTF.bitfield(of:)`, which also reports bitfields expressed as INT bit widths.
    public let bitfieldSize: UInt32
    public var name: String { btf.validatedString(nameOffset) }
    public var isAnonymous: Bool { btf.stringPointer(nameOffset).map { $0[0] == 0 } ?? true }
}

/// One ENUM/ENUM64 enumerator.
public struct BTFEnumerator: Sendable, Hashable {
    public let name: String
    /// The 64-bit pattern; read `signedValue` for signed enums.
    public let value: UInt64
    public let isSigned: Bool
    public var signedValue: Int64 { Int64(bitPattern: value) }
}

/// One FUNC_PROTO parameter (`name` may be empty).
public struct BTFParameter: Sendable, Hashable {
    public let name: String
    public let type: UInt32
}

/// One DATASEC entry: a VAR (or FUNC for .ksyms) at `offset` of `size` bytes.
public struct BTFSectionVariable: Sendable, Hashable {
    public let type: UInt32
    public let offset: UInt32
    public let size: UInt32
    public init(type: UInt32, offset: UInt32, size: UInt32) {
        self.type = type
        self.offset = offset
        self.size = size
    }
}

/// The fixed 12-byte head of a type record (`struct btf_type`), copied out without a reference
/// to its BTF: the cheap way to scan many types (kind, vlen, name offset, size or type).
public struct BTFTypeHead: Sendable, Hashable {
    public let nameOffset: UInt32
    public let info: UInt32
    public let sizeOrType: UInt32
    public var kind: BTFKind { BTFKind(rawValue: UInt8((info >> 24) & 0x1f)) ?? .void }
    public var vlen: Int { Int(info & 0xffff) }
    public var kindFlag: Bool { info >> 31 == 1 }

    @inlinable
    public init(nameOffset: UInt32, info: UInt32, sizeOrType: UInt32) {
        self.nameOffset = nameOffset
        self.info = info
        self.sizeOrType = sizeOrType
    }
}

extension BTF {
    /// The head of type `id` (all zero for void).
    @inlinable
    public func head(of id: UInt32) throws -> BTFTypeHead {
        if id >= firstTypeID {
            let index = Int(id &- firstTypeID)
            guard index < offsets.count else { throw BTFError.invalidTypeID(id) }
            let at = Int(offsets[index])
            return BTFTypeHead(nameOffset: word(at), info: word(at + 4), sizeOrType: word(at + 8))
        }
        guard let (btf, at) = locate(id) else {
            if id == 0 { return BTFTypeHead(nameOffset: 0, info: 0, sizeOrType: 0) }
            throw BTFError.invalidTypeID(id)
        }
        return BTFTypeHead(nameOffset: btf.word(at), info: btf.word(at + 4), sizeOrType: btf.word(at + 8))
    }

    /// Whether the string at `offset` is non-empty (a named type), without building a String.
    @inlinable
    public func hasName(_ nameOffset: UInt32) -> Bool {
        nameOffset != 0 && (stringPointer(nameOffset).map { $0[0] != 0 } ?? false)
    }
}
