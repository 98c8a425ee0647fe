/// The dynamic linker's cache `/etc/ld.so.cache` (written by ldconfig), which maps library
/// names (`libc.so.6`) to paths: the way to find a library a uprobe names without a path.
///
/// Pure and bounds-checked. Reads glibc's format `glibc-ld.so.cache1.1` (48-byte header, then
/// 24-byte entries `flags, key, value, osversion, hwcap`; string offsets count from the start of
/// the file), also when it follows the legacy `ld.so-1.7.0` table as older glibc wrote it.
public struct DynamicLinkerCache: Sendable {
    /// One library of the cache.
    public struct Entry: Hashable, Sendable {
        /// The soname (`libc.so.6`).
        public var name: String
        /// The file (`/lib/x86_64-linux-gnu/libc.so.6`).
        public var path: String
        /// ldconfig's flags: low byte the kind (3 = ELF libc6), second byte the ABI
        /// (`0x03` x86-64 lib64, `0x0a` AArch64 lib64, ...).
        public var flags: Int32

        /// The ABI byte of `flags` (`FLAG_REQUIRED_MASK` in glibc's ldconfig).
        public var abi: Int32 { (flags >> 8) & 0xff }
    }

    public var entries: [Entry]

    static let newMagic = Array("glibc-ld.so.cache1.1".utf8)
    static let oldMagic = Array("ld.so-1.7.0".utf8)

    public init(entries: [Entry]) { self.entries = entries }

    /// Parses the cache's bytes. Throws `ELFError` on anything that is not a cache or overruns.
    public init(bytes: [UInt8]) throws {
        var start = 0
        if bytes.starts(with: Self.oldMagic) {
            // Legacy header: magic[11] (padded to 12), nlibs; 12-byte entries; the new-format
            // cache, if present, follows at the next 8-byte boundary.
            let reader = ELFByteReader(bytes: bytes, isLittleEndian: true)
            let count = Int(try reader.u32(12))
            let afterOld = 16 + count * 12
            let aligned = (afterOld + 7) & ~7
            guard count < 1 << 24, aligned < bytes.count, bytes[aligned...].starts(with: Self.newMagic) else {
                throw ELFError.unsupported("ld.so.cache in the legacy ld.so-1.7.0 format only (no glibc-ld.so.cache1.1 part)")
            }
            start = aligned
        }
        guard bytes[start...].starts(with: Self.newMagic) else {
            throw ELFError.malformed("not an ld.so.cache (no glibc-ld.so.cache1.1 magic)")
        }
        // Header byte 28: 0 = unknown, 1 = invalid, 2 = little endian, 3 = big endian.
        let orderFlag = start + 28 < bytes.count ? bytes[start + 28] : 0
        let reader = ELFByteReader(bytes: bytes, isLittleEndian: orderFlag != 3)
        let count = Int(try reader.u32(start + 20))
        let table = try reader.range(offset: UInt64(start + 48), size: UInt64(count) * 24, what: "ld.so.cache entries")
        let strings = 0..<bytes.count
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        for index in 0..<count {
            let base = table.lowerBound + index * 24
            let flags = Int32(bitPattern: try reader.u32(base))
            let key = try reader.u32(base + 4)
            let value = try reader.u32(base + 8)
            entries.append(Entry(
                name: try reader.string(in: strings, at: UInt64(key), what: "ld.so.cache entry \(index)"),
                path: try reader.string(in: strings, at: UInt64(value), what: "ld.so.cache entry \(index)"),
                flags: flags))
        }
        self.entries = entries
    }

    /// The paths of the libraries called `name`, for ABI `abi` when given (see `Entry.abi`).
    /// `name` is a soname (`libc.so.6`), a link name (`libc.so`) or a bare name (`libc`, `c`),
    /// matched in that order of preference as `dlopen` and bpftrace users write them.
    public func paths(for name: String, abi: Int32? = nil) -> [String] {
        let candidates = entries.filter { abi == nil || $0.abi == abi }
        let exact = candidates.filter { $0.name == name }
        if !exact.isEmpty { return exact.map(\.path) }
        let stem = name.hasPrefix("lib") ? name : "lib" + name
        let prefix = stem.hasSuffix(".so") ? stem + "." : stem + ".so"
        return candidates.filter { $0.name.hasPrefix(prefix) }.map(\.path)
    }

    /// The ABI byte ldconfig records for libraries of the machine this code was built for.
    public static var nativeABI: Int32? {
        #if arch(x86_64)
        0x03
        #elseif arch(arm64)
        0x0a
        #else
        nil
        #endif
    }
}
