#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// A parsed BTF blob (include/uapi/linux/btf.h, Documentation/bpf/btf.rst).
///
/// Parsing is one pass over the type section that records where each type starts and checks
/// that every record, name offset and referenced type id is in bounds; nothing else is decoded
/// until asked (names, members and the name table are built on demand). After `init` succeeds
/// every accessor reads only validated bytes, so no accessor can read out of bounds.
///
/// Split BTF (kernel module BTF under /sys/kernel/btf/<module>) is parsed against its `base`:
/// its type ids continue after the base's and its string offsets after the base's strings.
public final class BTF: @unchecked Sendable {
    /// The blob in host byte order (swapped at parse time if it was foreign-endian).
    let storage: UnsafeMutableRawBufferPointer
    @usableFromInline
    let bytes: UnsafeRawPointer
    let typesStart: Int
    let typesEnd: Int
    @usableFromInline
    let stringsStart: Int
    /// Length of this blob's own string section.
    @usableFromInline
    let stringsLength: Int
    /// Byte offset (into `storage`) of each own type record; index 0 is `firstTypeID`.
    @usableFromInline
    let offsets: [UInt32]
    /// The BTF this one extends (split BTF), or nil.
    public let base: BTF?
    /// The first id defined by this blob: 1 for base BTF, `base.typeCount` for split BTF.
    public let firstTypeID: UInt32
    /// Offset added to this blob's own string offsets: the total string length of the base chain.
    @usableFromInline
    let stringOffsetBase: UInt32
    /// Whether the blob was stored big-endian.
    public let isBigEndian: Bool

    private let indexLock = NSLock()
    private var nameTableStorage: BTFNameTable?
    /// Lookups answered by scanning, before the name table was built (see `typeIDs(named:kind:)`).
    private var scannedLookups = 0

    /// Releases memory this BTF borrowed instead of owning (see `init(borrowing:base:release:)`).
    private let releaseBorrowed: (() -> Void)?

    deinit {
        if let releaseBorrowed { releaseBorrowed() } else { storage.deallocate() }
    }

    /// All type ids including void (0) and the base's: valid ids are `0..<typeCount`.
    public var typeCount: Int { Int(firstTypeID) + offsets.count }

    /// Total string length of this blob and its bases (the next string offset a split BTF would use).
    public var totalStringLength: Int { Int(stringOffsetBase) + stringsLength }

    /// The blob's size in bytes.
    public var byteCount: Int { storage.count }

    /// Parses `bytes` (copied), optionally as split BTF on top of `base`.
    public convenience init(_ bytes: [UInt8], base: BTF? = nil) throws {
        try self.init(copying: bytes.withUnsafeBytes { UnsafeRawBufferPointer($0) }, base: base, keepAlive: bytes)
    }

    /// Parses the bytes at `buffer` (copied), optionally as split BTF on top of `base`.
    public convenience init(copying buffer: UnsafeRawBufferPointer, base: BTF? = nil) throws {
        try self.init(copying: buffer, base: base, keepAlive: ())
    }

    private convenience init(copying source: UnsafeRawBufferPointer, base: BTF?, keepAlive: some Any) throws {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(source.count, 1), alignment: 8)
        if let address = source.baseAddress, source.count > 0 {
            storage.baseAddress!.copyMemory(from: address, byteCount: source.count)
        }
        withExtendedLifetime(keepAlive) {}
        try self.init(adopting: storage, count: source.count, base: base)
    }

    /// Parses BTF held in memory someone else owns, e.g. a read-only mapping of
    /// /sys/kernel/btf/vmlinux: no copy is made, and `release` runs when this BTF goes away (or
    /// at once if parsing fails). The blob must be in host byte order (parsing swaps foreign
    /// blobs in place, which read-only memory cannot take); others throw `badMagic`.
    public convenience init(borrowing bytes: UnsafeRawBufferPointer, base: BTF? = nil, release: @escaping () -> Void) throws {
        guard let address = bytes.baseAddress, bytes.count >= 2, address.loadUnaligned(as: UInt16.self) == BTFParser.magic else {
            release()
            throw BTFError.badMagic(bytes.count >= 2 ? bytes.loadUnaligned(as: UInt16.self) : 0)
        }
        try self.init(adopting: UnsafeMutableRawBufferPointer(mutating: bytes), count: bytes.count, base: base, release: release)
    }

    /// Takes ownership of `storage` (deallocated on failure too, or handed to `release` when
    /// borrowed) holding `count` bytes of BTF.
    private init(adopting storage: UnsafeMutableRawBufferPointer, count: Int, base: BTF?, release: (() -> Void)? = nil) throws {
        let owned = UnsafeMutableRawBufferPointer(rebasing: storage[0..<count])
        do {
            let layout = try BTFParser.parse(owned, base: base)
            self.storage = owned
            self.bytes = UnsafeRawPointer(storage.baseAddress!)
            self.typesStart = layout.typesStart
            self.typesEnd = layout.typesEnd
            self.stringsStart = layout.stringsStart
            self.stringsLength = layout.stringsLength
            self.offsets = layout.offsets
            self.base = base
            self.firstTypeID = base.map { UInt32($0.typeCount) } ?? 1
            self.stringOffsetBase = UInt32(clamping: base?.totalStringLength ?? 0)
            self.isBigEndian = layout.isBigEndian
            self.releaseBorrowed = release
        } catch {
            if let release { release() } else { storage.deallocate() }
            throw error
        }
    }

    /// Reads and parses a BTF file (e.g. /sys/kernel/btf/vmlinux), reading straight into the
    /// storage the parsed BTF keeps (no intermediate copy). (Mapping /sys/kernel/btf files,
    /// possible since Linux 6.16, measured no faster here than reading them.)
    public convenience init(contentsOfFile path: String, base: BTF? = nil) throws {
        let (storage, count) = try BTF.readFile(path)
        try self.init(adopting: storage, count: count, base: base)
    }

    /// Reads a whole file with read(2); sysfs files may report a size of 0 or change, so it
    /// reads until end of file. The caller owns the returned buffer.
    static func readFile(_ path: String) throws -> (UnsafeMutableRawBufferPointer, Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BTFError.notFound("file \(path) (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var info = stat()
        var capacity = 1 << 16
        if fstat(fd, &info) == 0, info.st_size > 0 { capacity = Int(info.st_size) + 1 }
        var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
        var filled = 0
        while true {
            if filled == buffer.count {
                let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count * 2, alignment: 8)
                larger.baseAddress!.copyMemory(from: buffer.baseAddress!, byteCount: filled)
                buffer.deallocate()
                buffer = larger
            }
            let got = read(fd, buffer.baseAddress! + filled, buffer.count - filled)
            if got < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                buffer.deallocate()
                throw BTFError.notFound("readable file \(path) (\(reason))")
            }
            if got == 0 { break }
            filled += got
        }
        return (buffer, filled)
    }

    // MARK: - Raw record access (all bounds were checked by the parser)

    /// The BTF (this or a base) that holds `id` and the record's byte offset there.
    @usableFromInline
    func locate(_ id: UInt32) -> (btf: BTF, offset: Int)? {
        if id >= firstTypeID {
            let index = Int(id - firstTypeID)
            guard index < offsets.count else { return nil }
            return (self, Int(offsets[index]))
        }
        if id == 0 { return nil }
        return base?.locate(id)
    }

    @inlinable @inline(__always)
    func word(_ offset: Int) -> UInt32 { bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }

    /// Whether `id` names a type (0, void, counts as valid).
    public func isValid(_ id: UInt32) -> Bool { Int(id) < typeCount }

    /// The kind of `id`; `.void` for 0. Throws for ids past the end.
    public func kind(of id: UInt32) throws -> BTFKind {
        if id == 0 { return .void }
        guard let (btf, offset) = locate(id) else { throw BTFError.invalidTypeID(id) }
        return BTFKind(rawValue: UInt8((btf.word(offset + 4) >> 24) & 0x1f)) ?? .void
    }

    /// A view of type `id`.
    public func type(_ id: UInt32) throws -> BTFType {
        if id == 0 { return BTFType(id: 0, btf: self, offset: -1) }
        guard let (btf, offset) = locate(id) else { throw BTFError.invalidTypeID(id) }
        return BTFType(id: id, btf: btf, offset: offset)
    }

    /// Views of all types this blob defines itself (for split BTF: not the base's), in id order.
    public var ownTypes: [BTFType] {
        offsets.indices.map { BTFType(id: firstTypeID + UInt32($0), btf: self, offset: Int(offsets[$0])) }
    }

    /// All type ids, from 1 (through the base for split BTF) to the last.
    public var allTypeIDs: Range<UInt32> { 1..<UInt32(typeCount) }

    // MARK: - Strings

    /// Where the NUL-terminated string at `offset` lives, or nil if the offset is out of range.
    @inline(__always)
    @inlinable
    func stringPointer(_ offset: UInt32) -> UnsafePointer<UInt8>? {
        if offset < stringOffsetBase { return base?.stringPointer(offset) }
        let local = Int(offset - stringOffsetBase)
        guard local < stringsLength else { return nil }
        return (bytes + stringsStart + local).assumingMemoryBound(to: UInt8.self)
    }

    /// The string at `offset` of the string section (through the base for split BTF).
    public func string(at offset: UInt32) throws -> String {
        guard let pointer = stringPointer(offset) else { throw BTFError.badString(offset: offset, context: "a lookup") }
        return String(cString: pointer)
    }

    /// The string at an offset the parser already validated.
    @inline(__always)
    func validatedString(_ offset: UInt32) -> String {
        guard let pointer = stringPointer(offset) else { return "" }
        return String(cString: pointer)
    }

    /// Compares the string at `offset` with `name` without building a Swift string.
    func string(at offset: UInt32, equals name: String) -> Bool {
        guard let pointer = stringPointer(offset) else { return false }
        var index = 0
        for byte in name.utf8 {
            if pointer[index] != byte || byte == 0 { return false }
            index += 1
        }
        return pointer[index] == 0
    }

    // MARK: - Name index

    /// This blob's own named types by name (see `BTFNameTable`), built on first use and kept for
    /// the life of the BTF — for vmlinux, the life of the process.
    var nameTable: BTFNameTable {
        indexLock.lock()
        defer { indexLock.unlock() }
        if let table = nameTableStorage { return table }
        let table = BTFNameTable(self)
        nameTableStorage = table
        return table
    }

    /// Ids of all types named `name`, in id order (the base's first for split BTF).
    public func typeIDs(named name: String) -> [UInt32] {
        let own = nameTable.ids(named: name, in: self)
        guard let base else { return own }
        return base.typeIDs(named: name) + own
    }

    /// Ids of types named `essentialName___flavor` (any flavor), in id order: CO-RE candidates
    /// for a local type named `essentialName`.
    func flavoredTypeIDs(essentialName: String) -> [UInt32] {
        let own = nameTable.flavoredIDs(essentialName: essentialName, in: self)
        guard let base else { return own }
        return base.flavoredTypeIDs(essentialName: essentialName) + own
    }

    /// Ids of all types named `name` of `kind`.
    ///
    /// The first few lookups scan the type records and compare names in place instead of
    /// building the name table: for vmlinux (~127k types) a scan costs well under a millisecond
    /// and no memory, the table a few milliseconds and megabytes (every name hashed), which a
    /// caller needing one type (`swiftbpf trace` resolving `curtask->...`) never earns back.
    public func typeIDs(named name: String, kind: BTFKind) -> [UInt32] {
        indexLock.lock()
        let scan = nameTableStorage == nil && scannedLookups < BTF.lookupsBeforeIndexing
        if scan { scannedLookups += 1 }
        indexLock.unlock()
        if scan { return name.isEmpty ? [] : scanTypeIDs(named: name, kind: kind) }
        return typeIDs(named: name).filter { (try? self.kind(of: $0)) == kind }
    }

    /// Past this many lookups, building the name table is cheaper than scanning on.
    static let lookupsBeforeIndexing = 16

    /// Ids of the types named `name` of `kind`, by a pass over the records (the base's first).
    func scanTypeIDs(named name: String, kind: BTFKind) -> [UInt32] {
        var result = base?.scanTypeIDs(named: name, kind: kind) ?? []
        for (position, offset) in offsets.enumerated()
        where UInt8((word(Int(offset) + 4) >> 24) & 0x1f) == kind.rawValue && string(at: word(Int(offset)), equals: name) {
            result.append(firstTypeID + UInt32(position))
        }
        return result
    }

    /// The first type named `name` of `kind` (e.g. `struct task_struct`).
    public func typeID(named name: String, kind: BTFKind) throws -> UInt32 {
        guard let id = typeIDs(named: name, kind: kind).first else {
            throw BTFError.notFound("\(kind.rawName.lowercased()) '\(name)'")
        }
        return id
    }

    /// The first type named `name`, whatever its kind.
    public func typeID(named name: String) throws -> UInt32 {
        guard let id = typeIDs(named: name).first else { throw BTFError.notFound("type '\(name)'") }
        return id
    }

    /// Ids of all types of `kind`, in id order (including the base's for split BTF).
    public func typeIDs(of kind: BTFKind) -> [UInt32] {
        var result = base?.typeIDs(of: kind) ?? []
        for (position, offset) in offsets.enumerated() where UInt8((word(Int(offset) + 4) >> 24) & 0x1f) == kind.rawValue {
            result.append(firstTypeID + UInt32(position))
        }
        return result
    }

    /// The raw bytes of this blob (host byte order), e.g. for loading into the kernel.
    public var rawBytes: [UInt8] { Array(UnsafeRawBufferPointer(storage)) }
}
