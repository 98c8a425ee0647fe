/// The one pass over a BTF blob: header checks, optional byte swapping, type offsets, and the
/// bounds checks that let every later accessor read without checking again.
enum BTFParser {
    struct Layout {
        var typesStart = 0, typesEnd = 0, stringsStart = 0, stringsLength = 0
        var offsets: [UInt32] = []
        var isBigEndian = false
    }

    /// sizeof(struct btf_header) for version 1.
    static let headerSize = 24
    static let magic: UInt16 = 0xeB9F
    /// BTF_MAX_TYPE: type ids are at most 20 bits wide... the kernel allows 0x000fffff.
    static let maxTypeID = 0x000f_ffff

    static func parse(_ blob: UnsafeMutableRawBufferPointer, base: BTF?) throws -> Layout {
        let count = blob.count
        guard count >= headerSize, let start = blob.baseAddress else {
            throw BTFError.truncated(what: "header", offset: 0, needed: headerSize, available: count)
        }
        var layout = Layout()
        let rawMagic = start.loadUnaligned(as: UInt16.self)
        let swapped: Bool
        if rawMagic == magic { swapped = false } else if rawMagic == magic.byteSwapped { swapped = true } else {
            throw BTFError.badMagic(UInt16(littleEndian: rawMagic))
        }
        // The stored order: host order if not swapped. Hosts here are little-endian.
        layout.isBigEndian = swapped == (UInt16(1).littleEndian == 1)
        if swapped {
            start.storeBytes(of: rawMagic.byteSwapped, as: UInt16.self)
            for field in stride(from: 4, to: headerSize, by: 4) { swapWord(start, field) }
        }
        let version = start.load(fromByteOffset: 2, as: UInt8.self)
        guard version == 1 else { throw BTFError.unsupportedVersion(version) }
        let headerLength = Int(start.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        guard headerLength >= headerSize else { throw BTFError.badHeader("hdr_len \(headerLength) is smaller than \(headerSize)") }
        guard headerLength <= count else {
            throw BTFError.truncated(what: "header (hdr_len \(headerLength))", offset: 0, needed: headerLength, available: count)
        }
        let typeOffset = Int(start.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        let typeLength = Int(start.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        let stringOffset = Int(start.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        let stringLength = Int(start.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
        layout.typesStart = headerLength + typeOffset
        layout.typesEnd = layout.typesStart + typeLength
        layout.stringsStart = headerLength + stringOffset
        layout.stringsLength = stringLength
        guard layout.typesEnd <= count else {
            throw BTFError.truncated(what: "type section", offset: layout.typesStart, needed: typeLength, available: max(0, count - layout.typesStart))
        }
        guard layout.stringsStart + stringLength <= count else {
            throw BTFError.truncated(what: "string section", offset: layout.stringsStart, needed: stringLength, available: max(0, count - layout.stringsStart))
        }
        if stringLength == 0 {
            if base == nil { throw BTFError.badHeader("empty string section (it must hold at least the empty name)") }
        } else {
            guard start.load(fromByteOffset: layout.stringsStart + stringLength - 1, as: UInt8.self) == 0 else {
                throw BTFError.badHeader("string section does not end with a NUL byte")
            }
            if base == nil, start.load(fromByteOffset: layout.stringsStart, as: UInt8.self) != 0 {
                throw BTFError.badHeader("string section must start with the empty string")
            }
        }
        guard layout.typesStart >= layout.stringsStart + stringLength || layout.typesEnd <= layout.stringsStart else {
            throw BTFError.badHeader("type and string sections overlap")
        }

        // One pass: find every record (swapping words if the blob is foreign-endian) and note
        // the largest name offset and type id referenced, so the range checks cost two
        // comparisons at the end; only a failure walks again to name the culprit.
        let firstID = base.map { $0.typeCount } ?? 1
        var position = layout.typesStart
        let end = layout.typesEnd
        var largestName: UInt32 = 0
        var largestType: UInt32 = 0
        let raw = UnsafeRawPointer(start)
        @inline(__always) func load(_ at: Int) -> UInt32 { raw.loadUnaligned(fromByteOffset: at, as: UInt32.self) }
        // Every record is at least 12 bytes, which bounds the count; writing into
        // uninitialized storage avoids a capacity check per type.
        let offsets = try [UInt32](unsafeUninitializedCapacity: typeLength / 12 + 1) { buffer, count in
            while position < end {
                guard end - position >= 12 else {
                    let id = firstID + count
                    throw BTFError.truncated(what: "type [\(id)]", offset: position, needed: 12, available: end - position)
                }
                if swapped { for field in 0..<3 { swapWord(start, position + field * 4) } }
                let info = load(position + 4)
                let rawKind = (info >> 24) & 0x1f
                let vlen = Int(info & 0xffff)
                guard let trailing = BTFKind.trailingBytes(rawKind: rawKind, vlen: vlen) else {
                    throw BTFError.malformedType(id: UInt32(firstID + count), reason: "unknown kind \(rawKind)")
                }
                let recordSize = 12 + trailing
                guard end - position >= recordSize else {
                    let id = firstID + count
                    throw BTFError.truncated(what: "type [\(id)] (kind \(BTFKind(rawValue: UInt8(rawKind))!.rawName), vlen \(vlen))", offset: position, needed: recordSize, available: end - position)
                }
                if swapped { for field in stride(from: 12, to: recordSize, by: 4) { swapWord(start, position + field) } }
                largestName = max(largestName, load(position))
                switch rawKind {
                case 2, 8, 9, 10, 11, 12, 14, 17, 18:
                    largestType = max(largestType, load(position + 8))
                case 3:
                    largestType = max(largestType, load(position + 12), load(position + 16))
                case 4, 5, 15:
                    var entry = position + 12
                    let stop = position + recordSize
                    if rawKind == 15 {
                        while entry < stop { largestType = max(largestType, load(entry)); entry += 12 }
                    } else {
                        while entry < stop {
                            largestName = max(largestName, load(entry))
                            largestType = max(largestType, load(entry + 4))
                            entry += 12
                        }
                    }
                case 6, 13:
                    if rawKind == 13 { largestType = max(largestType, load(position + 8)) }
                    var entry = position + 12
                    let stop = position + recordSize
                    while entry < stop {
                        largestName = max(largestName, load(entry))
                        if rawKind == 13 { largestType = max(largestType, load(entry + 4)) }
                        entry += 8
                    }
                case 19:
                    var entry = position + 12
                    let stop = position + recordSize
                    while entry < stop { largestName = max(largestName, load(entry)); entry += 12 }
                default:
                    break
                }
                buffer[count] = UInt32(truncatingIfNeeded: position)
                count += 1
                position += recordSize
            }
        }
        guard firstID + offsets.count - 1 <= maxTypeID else {
            throw BTFError.badHeader("\(firstID + offsets.count - 1) types exceed the kernel's limit of \(maxTypeID)")
        }
        layout.offsets = offsets
        let typeCount = UInt32(firstID + offsets.count)
        let totalStrings = UInt32(clamping: (base?.totalStringLength ?? 0) + stringLength)
        if largestName >= totalStrings || largestType >= typeCount {
            try findOutOfRange(raw, offsets: offsets, firstID: firstID, typeCount: typeCount, totalStrings: totalStrings)
        }
        return layout
    }

    /// The slow path after a range check failed: finds the first bad name or type reference.
    static func findOutOfRange(_ raw: UnsafeRawPointer, offsets: [UInt32], firstID: Int, typeCount: UInt32, totalStrings: UInt32) throws {
        @inline(__always) func load(_ at: Int) -> UInt32 { raw.loadUnaligned(fromByteOffset: at, as: UInt32.self) }
        for (index, offset) in offsets.enumerated() {
            let at = Int(offset)
            let id = UInt32(firstID + index)
            let nameOffset = load(at)
            let info = load(at + 4)
            let rawKind = (info >> 24) & 0x1f
            let vlen = Int(info & 0xffff)
            let sizeOrType = load(at + 8)
            guard nameOffset < totalStrings else { throw BTFError.badString(offset: nameOffset, context: "the name of type [\(id)]") }
            func checkType(_ target: UInt32, _ role: @autoclosure () -> String) throws {
                guard target < typeCount else {
                    throw BTFError.malformedType(id: id, reason: "\(role()) refers to type [\(target)] but the last type is [\(typeCount - 1)]")
                }
            }
            func checkName(_ name: UInt32, _ role: @autoclosure () -> String) throws {
                guard name < totalStrings else { throw BTFError.badString(offset: name, context: "\(role()) of type [\(id)]") }
            }
            switch rawKind {
            case 2, 8, 9, 10, 11, 12, 14, 17, 18:
                try checkType(sizeOrType, "its type")
            case 3:
                try checkType(load(at + 12), "the element type")
                try checkType(load(at + 16), "the index type")
            case 4, 5:
                for member in 0..<vlen {
                    let m = at + 12 + member * 12
                    try checkName(load(m), "member \(member)'s name")
                    try checkType(load(m + 4), "member \(member)")
                }
            case 6:
                for value in 0..<vlen { try checkName(load(at + 12 + value * 8), "enumerator \(value)'s name") }
            case 19:
                for value in 0..<vlen { try checkName(load(at + 12 + value * 12), "enumerator \(value)'s name") }
            case 13:
                try checkType(sizeOrType, "the return type")
                for parameter in 0..<vlen {
                    let p = at + 12 + parameter * 8
                    try checkName(load(p), "parameter \(parameter)'s name")
                    try checkType(load(p + 4), "parameter \(parameter)")
                }
            case 15:
                for variable in 0..<vlen { try checkType(load(at + 12 + variable * 12), "variable \(variable)") }
            default:
                break
            }
        }
        throw BTFError.badHeader("a name or type reference is out of range")
    }

    @inline(__always)
    static func swapWord(_ start: UnsafeMutableRawPointer, _ at: Int) {
        let value = start.loadUnaligned(fromByteOffset: at, as: UInt32.self)
        start.storeBytes(of: value.byteSwapped, toByteOffset: at, as: UInt32.self)
    }
}
