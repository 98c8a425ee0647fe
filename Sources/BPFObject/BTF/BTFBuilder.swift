/// Encodes BTF from scratch: for feature probes (tiny blobs the kernel accepts or not), for the
/// sanitizer's rewritten output, and for tests. Ids are handed out in the order types are added,
/// starting at 1.
public struct BTFBuilder: Sendable {
    /// The type section as 32-bit words in host order.
    public private(set) var words: [UInt32] = []
    private var strings: [UInt8] = [0]
    private var stringOffsets: [String: UInt32] = ["": 0]
    /// Number of types added so far; the next id is `typeCount + 1`.
    public private(set) var typeCount = 0

    public init() {}

    /// Adds `string` to the string section (once) and returns its offset.
    public mutating func addString(_ string: String) -> UInt32 {
        if let offset = stringOffsets[string] { return offset }
        let offset = UInt32(strings.count)
        strings.append(contentsOf: string.utf8)
        strings.append(0)
        stringOffsets[string] = offset
        return offset
    }

    /// Appends raw bytes to the string section, returning their offset (for malformed tests).
    public mutating func appendRawStringBytes(_ bytes: [UInt8]) -> UInt32 {
        let offset = UInt32(strings.count)
        strings.append(contentsOf: bytes)
        return offset
    }

    /// Adds one record made of raw words (the 12-byte btf_type then its trailing data).
    @discardableResult
    public mutating func addRaw(_ record: [UInt32]) -> UInt32 {
        words.append(contentsOf: record)
        typeCount += 1
        return UInt32(typeCount)
    }

    static func info(_ kind: BTFKind, vlen: Int = 0, kindFlag: Bool = false) -> UInt32 {
        (kindFlag ? 1 << 31 : 0) | UInt32(kind.rawValue) << 24 | UInt32(vlen & 0xffff)
    }

    @discardableResult
    public mutating func addInt(_ name: String, size: UInt32, encoding: BTFIntEncoding = [], bits: UInt32? = nil, bitOffset: UInt32 = 0) -> UInt32 {
        let word = UInt32(encoding.rawValue) << 24 | (bitOffset & 0xff) << 16 | ((bits ?? size &* 8) & 0xff)
        return addRaw([addString(name), Self.info(.int), size, word])
    }

    /// PTR, TYPEDEF, CONST, VOLATILE, RESTRICT, TYPE_TAG: a record that just references a type.
    @discardableResult
    public mutating func addReference(_ kind: BTFKind, to target: UInt32, name: String = "") -> UInt32 {
        addRaw([addString(name), Self.info(kind), target])
    }

    @discardableResult
    public mutating func addPointer(to target: UInt32) -> UInt32 { addReference(.pointer, to: target) }

    @discardableResult
    public mutating func addTypedef(_ name: String, to target: UInt32) -> UInt32 { addReference(.typedef, to: target, name: name) }

    @discardableResult
    public mutating func addArray(of element: UInt32, index: UInt32, count: UInt32) -> UInt32 {
        addRaw([0, Self.info(.array), 0, element, index, count])
    }

    /// A member of a struct or union being built.
    public struct Member: Sendable {
        public var name: String
        public var type: UInt32
        public var bitOffset: UInt32
        public var bitfieldSize: UInt32
        public init(_ name: String, _ type: UInt32, bitOffset: UInt32, bitfieldSize: UInt32 = 0) {
            self.name = name
            self.type = type
            self.bitOffset = bitOffset
            self.bitfieldSize = bitfieldSize
        }
    }

    /// STRUCT or UNION; uses the kind_flag member encoding when any member is a bitfield.
    @discardableResult
    public mutating func addComposite(_ kind: BTFKind, name: String, size: UInt32, members: [Member]) -> UInt32 {
        let flag = members.contains { $0.bitfieldSize != 0 }
        var record = [addString(name), Self.info(kind, vlen: members.count, kindFlag: flag), size]
        for member in members {
            record += [addString(member.name), member.type, flag ? member.bitfieldSize << 24 | member.bitOffset : member.bitOffset]
        }
        return addRaw(record)
    }

    @discardableResult
    public mutating func addStruct(_ name: String, size: UInt32, members: [Member]) -> UInt32 {
        addComposite(.struct, name: name, size: size, members: members)
    }

    /// ENUM (32-bit values) when all fit, else ENUM64.
    @discardableResult
    public mutating func addEnum(_ name: String, size: UInt32 = 4, signed: Bool = false, values: [(String, Int64)], forceEnum64: Bool = false) -> UInt32 {
        let wide = forceEnum64 || values.contains { $0.1 < Int64(Int32.min) || $0.1 > Int64(UInt32.max) }
        var record = [addString(name), Self.info(wide ? .enum64 : .enum, vlen: values.count, kindFlag: signed), size]
        for (valueName, value) in values {
            let bits = UInt64(bitPattern: value)
            record.append(addString(valueName))
            if wide { record += [UInt32(truncatingIfNeeded: bits), UInt32(truncatingIfNeeded: bits >> 32)] } else {
                record.append(UInt32(truncatingIfNeeded: bits))
            }
        }
        return addRaw(record)
    }

    @discardableResult
    public mutating func addForward(_ name: String, isUnion: Bool = false) -> UInt32 {
        addRaw([addString(name), Self.info(.forward, kindFlag: isUnion), 0])
    }

    @discardableResult
    public mutating func addFunctionProto(returning result: UInt32, parameters: [(String, UInt32)], variadic: Bool = false) -> UInt32 {
        let all = parameters + (variadic ? [("", 0)] : [])
        var record = [0, Self.info(.functionProto, vlen: all.count), result]
        for (name, type) in all { record += [addString(name), type] }
        return addRaw(record)
    }

    @discardableResult
    public mutating func addFunction(_ name: String, prototype: UInt32, linkage: BTFLinkage = .static) -> UInt32 {
        addRaw([addString(name), Self.info(.function, vlen: Int(linkage.rawValue)), prototype])
    }

    @discardableResult
    public mutating func addVariable(_ name: String, type: UInt32, linkage: BTFLinkage = .static) -> UInt32 {
        addRaw([addString(name), Self.info(.variable), type, linkage.rawValue])
    }

    @discardableResult
    public mutating func addDataSection(_ name: String, size: UInt32, variables: [BTFSectionVariable]) -> UInt32 {
        var record = [addString(name), Self.info(.dataSection, vlen: variables.count), size]
        for variable in variables { record += [variable.type, variable.offset, variable.size] }
        return addRaw(record)
    }

    @discardableResult
    public mutating func addFloat(_ name: String, size: UInt32) -> UInt32 {
        addRaw([addString(name), Self.info(.float), size])
    }

    @discardableResult
    public mutating func addDeclTag(_ name: String, to target: UInt32, componentIndex: Int32 = -1) -> UInt32 {
        addRaw([addString(name), Self.info(.declTag), target, UInt32(bitPattern: componentIndex)])
    }

    @discardableResult
    public mutating func addTypeTag(_ name: String, to target: UInt32) -> UInt32 {
        addReference(.typeTag, to: target, name: name)
    }

    /// The encoded blob: header, types, strings.
    public func encode(bigEndian: Bool = false) -> [UInt8] {
        let typeBytes = words.count * 4
        var header: [UInt32] = [24, 0, UInt32(typeBytes), UInt32(typeBytes), UInt32(strings.count)]
        var out: [UInt8] = []
        out.reserveCapacity(24 + typeBytes + strings.count)
        func append(_ value: UInt32) {
            let ordered = bigEndian ? value.bigEndian : value.littleEndian
            withUnsafeBytes(of: ordered) { out.append(contentsOf: $0) }
        }
        let magic: UInt16 = bigEndian ? UInt16(0xeB9F).bigEndian : UInt16(0xeB9F).littleEndian
        withUnsafeBytes(of: magic) { out.append(contentsOf: $0) }
        out += [1, 0]
        for index in header.indices { append(header[index]) }
        header.removeAll()
        for word in words { append(word) }
        out += strings
        return out
    }
}
