/// Bounds-checked reads of fixed-width integers and strings from an ELF image in either byte
/// order. Offsets come from untrusted headers, so every access checks `offset + size` without
/// overflowing and throws `ELFError.truncated` instead of trapping.
struct ELFByteReader {
    let bytes: [UInt8]
    let isLittleEndian: Bool

    /// Converts an untrusted 64-bit (offset, size) pair to an in-bounds range of `bytes`.
    func range(offset: UInt64, size: UInt64, what: @autoclosure () -> String) throws -> Range<Int> {
        let (end, overflow) = offset.addingReportingOverflow(size)
        guard !overflow, end <= UInt64(bytes.count) else {
            throw ELFError.truncated(what: what(), offset: offset, size: size, available: UInt64(bytes.count))
        }
        return Int(offset)..<Int(end)
    }

    func slice(offset: UInt64, size: UInt64, what: @autoclosure () -> String) throws -> ArraySlice<UInt8> {
        bytes[try range(offset: offset, size: size, what: what())]
    }

    func u8(_ offset: Int) throws -> UInt8 {
        guard offset >= 0, offset < bytes.count else {
            throw ELFError.truncated(what: "byte", offset: UInt64(max(0, offset)), size: 1, available: UInt64(bytes.count))
        }
        return bytes[offset]
    }

    func unsigned<T: FixedWidthInteger & UnsignedInteger>(_: T.Type, at offset: Int) throws -> T {
        let size = MemoryLayout<T>.size
        guard offset >= 0, offset <= bytes.count - size else {
            throw ELFError.truncated(what: "\(size)-byte field", offset: UInt64(max(0, offset)), size: UInt64(size), available: UInt64(bytes.count))
        }
        let raw = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
        return isLittleEndian ? T(littleEndian: raw) : T(bigEndian: raw)
    }

    func u16(_ offset: Int) throws -> UInt16 { try unsigned(UInt16.self, at: offset) }
    func u32(_ offset: Int) throws -> UInt32 { try unsigned(UInt32.self, at: offset) }
    func u64(_ offset: Int) throws -> UInt64 { try unsigned(UInt64.self, at: offset) }

    /// The NUL-terminated string at `offset` inside `table` (a string-table section's range).
    func string(in table: Range<Int>, at offset: UInt64, what: @autoclosure () -> String) throws -> String {
        guard offset < UInt64(table.count) else {
            throw ELFError.malformed("\(what()) name offset \(offset) is past the end of its \(table.count)-byte string table")
        }
        let start = table.lowerBound + Int(offset)
        guard let end = bytes[start..<table.upperBound].firstIndex(of: 0) else {
            throw ELFError.malformed("\(what()) name at string table offset \(offset) has no terminating NUL")
        }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
