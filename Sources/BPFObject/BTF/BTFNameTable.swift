/// Type ids by name, for one BTF blob's own types, built in a single pass over the raw name
/// bytes: no Swift `String` is made and nothing is hashed twice.
///
/// vmlinux has ~130 000 named types; a `[String: [UInt32]]` of them cost a cold object load
/// ~15 ms (a String and an array per name), and the table of `___flavor` names another ~8 ms
/// (a second scan). Here each name is hashed once (FNV-1a over its bytes); while hashing, the
/// last flavor separator is noticed and the hash of the name up to it (its essential name, the
/// one CO-RE matches) is recorded too. Both go into flat bucket arrays (a counting sort by
/// hash), so a lookup hashes the query and compares the few names in its bucket in place.
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

    static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    static let prime: UInt64 = 0x0000_0100_0000_01b3

    @inline(__always)
    static func fold(_ hash: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: hash ^ (hash >> 32)) }

    static func hash<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var hash = offsetBasis
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* prime }
        return fold(hash)
    }

    /// Indexes the own types of `btf` (whose names the parser validated).
    init(_ btf: BTF) {
        var entries: [(hash: UInt32, id: UInt32)] = []
        entries.reserveCapacity(btf.offsets.count)
        var flavoredEntries: [(hash: UInt32, id: UInt32)] = []
        let underscore = UInt8(ascii: "_")
        for (position, offset) in btf.offsets.enumerated() {
            let nameOffset = btf.word(Int(offset))
            guard nameOffset != 0, let name = btf.stringPointer(nameOffset), name[0] != 0 else { continue }
            // hashes[k] is the hash after k + 1 bytes, kept for the last five bytes: a separator
            // `c___d` ending at byte j makes the essential name the first j - 3 bytes.
            var hash = Self.offsetBasis
            var recent: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
            var essential: UInt64?
            var length = 0
            var tail: UInt32 = 0 // the last four bytes seen, oldest in the high byte
            while true {
                let byte = name[length]
                if byte == 0 { break }
                if length >= 4, byte != underscore, tail & 0x00ff_ffff == 0x005f_5f5f, (tail >> 24) != UInt32(underscore) {
                    essential = recent.0 // the hash after byte length - 4, the last essential one
                }
                hash = (hash ^ UInt64(byte)) &* Self.prime
                recent = (recent.1, recent.2, recent.3, hash)
                tail = tail << 8 | UInt32(byte)
                length += 1
            }
            let id = btf.firstTypeID + UInt32(position)
            entries.append((Self.fold(hash), id))
            if let essential { flavoredEntries.append((Self.fold(essential), id)) }
        }
        index = Buckets(entries: entries)
        flavored = Buckets(entries: flavoredEntries)
    }

    /// Own type ids named exactly `name`, in id order.
    func ids(named name: String, in btf: BTF) -> [UInt32] {
        var result: [UInt32] = []
        index.forEach(hash: Self.hash(name.utf8)) { id in
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
