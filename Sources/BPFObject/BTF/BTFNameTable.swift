/// Type ids by name, for one BTF blob's own types, built in a single pass over the raw name
/// bytes: no Swift `String` is made and nothing is hashed twice.
///
/// vmlinux has ~130 000 named types; a `[String: [UInt32]]` of them cost a cold object load
/// ~15 ms (a String and an array per name), and the table of `___flavor` names another ~8 ms
/// (a second scan). Here each name is hashed once, 8 bytes at a time; the same pass notices
/// names that may carry a flavor separator (three underscores in a row), and for those the
/// hash of the essential name (the one CO-RE matches) is recorded too. Both go into flat
/// bucket arrays (a counting sort by hash), so a lookup hashes the query and compares the few
/// names in its bucket in place.
final class BTFNameTable: @unchecked Sendable {
    /// Ids by hash of the full name, and the names' full hashes (to skip most compares).
    private let index: Buckets
    /// Ids of `x___flavor` names by hash of `x`.
    private let flavored: Buckets

    /// A counting-sorted multimap from a 32-bit hash to type ids: the ids of bucket `b` are
    /// `ids[starts[b]..<starts[b + 1]]`, in increasing id order.
    struct Buckets {
        var mask: UInt32
        var starts: [UInt32]
        var ids: [UInt32]
        var hashes: [UInt32]

        init(entries: [(hash: UInt32, id: UInt32)]) {
            var size = 16
            while size < entries.count { size <<= 1 }
            mask = UInt32(size - 1)
            var counts = [UInt32](repeating: 0, count: size + 1)
            for entry in entries { counts[Int(entry.hash & mask) + 1] += 1 }
            for bucket in 0..<size { counts[bucket + 1] += counts[bucket] }
            starts = counts
            var next = counts
            var ids = [UInt32](repeating: 0, count: entries.count)
            var hashes = [UInt32](repeating: 0, count: entries.count)
            // Entries arrive in id order and are placed in order: each bucket stays sorted.
            for entry in entries {
                let bucket = Int(entry.hash & mask)
                let at = Int(next[bucket])
                ids[at] = entry.id
                hashes[at] = entry.hash
                next[bucket] += 1
            }
            self.ids = ids
            self.hashes = hashes
        }

        func forEach(hash: UInt32, _ body: (UInt32) -> Void) {
            let bucket = Int(hash & mask)
            for at in Int(starts[bucket])..<Int(starts[bucket + 1]) where hashes[at] == hash { body(ids[at]) }
        }
    }

    // The hash: the name in 8-byte little-endian chunks (the last one zero-padded), each mixed
    // in with one multiply, then the length and a final avalanche. Reading whole words makes
    // indexing vmlinux's ~2 MB of names cheap; queries hash their bytes the same way.
    static let seed: UInt64 = 0x243f_6a88_85a3_08d3
    static let lowBits: UInt64 = 0x0101_0101_0101_0101
    static let highBits: UInt64 = 0x8080_8080_8080_8080
    static let sevenBits: UInt64 = 0x7f7f_7f7f_7f7f_7f7f
    static let underscores: UInt64 = 0x5f5f_5f5f_5f5f_5f5f

    @inline(__always)
    static func mix(_ hash: UInt64, _ word: UInt64) -> UInt64 { (hash ^ word) &* 0x9e37_79b9_7f4a_7c15 }

    @inline(__always)
    static func finish(_ hash: UInt64, length: Int) -> UInt32 {
        var value = hash ^ UInt64(length)
        value ^= value >> 32
        value &*= 0xd6e8_feb8_6659_fd93
        value ^= value >> 32
        return UInt32(truncatingIfNeeded: value)
    }

    /// The hash of `count` bytes at `bytes`.
    static func hash(_ bytes: UnsafePointer<UInt8>, count: Int) -> UInt32 {
        var hash = seed
        var at = 0
        while at < count {
            var word: UInt64 = 0
            for index in 0..<min(8, count - at) { word |= UInt64(bytes[at + index]) << (8 * UInt64(index)) }
            hash = mix(hash, word)
            at += 8
        }
        return finish(hash, length: count)
    }

    static func hash(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return finish(seed, length: 0) }
            return hash(base, count: buffer.count)
        }
    }

    /// Hashes the NUL-terminated name at `name`, reading whole words while at least 8 bytes
    /// remain before `end`. Also says whether the name may carry a flavor (three underscores in
    /// a row somewhere), which the caller then checks exactly.
    @inline(__always)
    static func hashName(_ name: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>) -> (hash: UInt32, length: Int, mayHaveFlavor: Bool) {
        var hash = seed
        var length = 0
        var mayHaveFlavor = false
        var trailingUnderscores = 0
        while end - (name + length) >= 8 {
            var word = UInt64(littleEndian: UnsafeRawPointer(name + length).loadUnaligned(as: UInt64.self))
            // The lowest flagged byte of this is the first NUL (exact for the lowest one).
            let zeros = (word &- lowBits) & ~word & highBits
            let count = zeros == 0 ? 8 : zeros.trailingZeroBitCount / 8
            if count < 8 { word &= count == 0 ? 0 : ~UInt64(0) >> UInt64(64 - 8 * count) }
            if count > 0 {
                // 0x80 in each byte that is '_' (exact; masked-off bytes are 0, not '_').
                let difference = word ^ underscores
                let isUnderscore = ~(((difference & sevenBits) &+ sevenBits) | difference) & highBits
                if isUnderscore == 0 {
                    trailingUnderscores = 0
                } else {
                    let others = ~isUnderscore & highBits
                    let leading = others == 0 ? 8 : others.trailingZeroBitCount / 8
                    if isUnderscore & (isUnderscore >> 8) & (isUnderscore >> 16) != 0 || trailingUnderscores + leading >= 3 {
                        mayHaveFlavor = true
                    }
                    trailingUnderscores = others == 0 ? trailingUnderscores + 8 : others.leadingZeroBitCount / 8
                }
                hash = mix(hash, word)
                length += count
            }
            if count < 8 { return (finish(hash, length: length), length, mayHaveFlavor) }
        }
        // Near the end of the string section: finish byte by byte.
        var count = length
        while name[count] != 0 { count += 1 }
        return (Self.hash(name, count: count), count, true)
    }

    /// Indexes the own types of `btf` (whose names the parser validated: each is NUL-terminated
    /// inside its string section).
    init(_ btf: BTF) {
        var entries: [(hash: UInt32, id: UInt32)] = []
        entries.reserveCapacity(btf.offsets.count)
        var flavoredEntries: [(hash: UInt32, id: UInt32)] = []
        let ownStringsEnd = (btf.bytes + btf.stringsStart + btf.stringsLength).assumingMemoryBound(to: UInt8.self)
        for (position, offset) in btf.offsets.enumerated() {
            let nameOffset = btf.word(Int(offset))
            guard nameOffset != 0, let name = btf.stringPointer(nameOffset), name[0] != 0 else { continue }
            // Names from a base's strings (split BTF) take the byte path: their end is elsewhere.
            let end = nameOffset >= btf.stringOffsetBase ? ownStringsEnd : name
            let (hash, length, mayHaveFlavor) = Self.hashName(name, end: end)
            let id = btf.firstTypeID + UInt32(position)
            entries.append((hash, id))
            if mayHaveFlavor {
                let essential = CORETypeRules.essentialLength(UnsafeBufferPointer(start: name, count: length))
                if essential < length { flavoredEntries.append((Self.hash(name, count: essential), id)) }
            }
        }
        index = Buckets(entries: entries)
        flavored = Buckets(entries: flavoredEntries)
    }

    /// Own type ids named exactly `name`, in id order.
    func ids(named name: String, in btf: BTF) -> [UInt32] {
        var result: [UInt32] = []
        index.forEach(hash: Self.hash(Array(name.utf8))) { id in
            if let offset = btf.locate(id)?.offset, btf.string(at: btf.word(offset), equals: name) { result.append(id) }
        }
        return result
    }

    /// Own type ids whose names are `essentialName___flavor`, in id order.
    func flavoredIDs(essentialName: String, in btf: BTF) -> [UInt32] {
        var result: [UInt32] = []
        let wanted = Array(essentialName.utf8)
        flavored.forEach(hash: Self.hash(wanted)) { id in
            guard let offset = btf.locate(id)?.offset, let name = btf.stringPointer(btf.word(offset)) else { return }
            var length = 0
            while name[length] != 0 { length += 1 }
            let bytes = UnsafeBufferPointer(start: name, count: length)
            if CORETypeRules.essentialLength(bytes) == wanted.count, bytes.prefix(wanted.count).elementsEqual(wanted) {
                result.append(id)
            }
        }
        return result
    }
}
