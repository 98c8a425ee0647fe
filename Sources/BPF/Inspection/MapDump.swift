import BPFObject

/// One element as `map dump` shows it: the key, and one value (or one per possible CPU for
/// per-CPU maps).
public struct MapDumpEntry: Sendable, Hashable {
    public var key: [UInt8]
    /// One element for ordinary maps; one per possible CPU (each `valueSize` bytes) for per-CPU maps.
    public var values: [[UInt8]]

    public init(key: [UInt8], values: [[UInt8]]) {
        self.key = key
        self.values = values
    }
}

extension Map {
    /// Every element in GET_NEXT_KEY order (bpftool's order), per-CPU values split by CPU.
    public func dumpEntries() throws -> [MapDumpEntry] {
        switch type {
        case .queue, .stack, .ringbuf, .userRingbuf, .bloomFilter, .arena, .structOps:
            // These have no keys to walk (BPF_MAP_GET_NEXT_KEY answers EINVAL or ENOTSUPP).
            throw BPFError.unsupported(feature: "listing the elements of a \(type.name) map",
                                       detail: "\(type.name) maps have no keys to iterate")
        default: break
        }
        var iterator = makeEntryIterator(perKey: true)
        var entries: [MapDumpEntry] = []
        while let entry = try iterator.next() {
            entries.append(MapDumpEntry(key: entry.key, values: try dumpValues(entry.value)))
        }
        return entries
    }

    /// A value buffer as `map dump` shows it: split per CPU for per-CPU maps.
    public func dumpValues(_ buffer: [UInt8]) throws -> [[UInt8]] {
        type.isPerCPU ? try perCPUValues(from: buffer) : [buffer]
    }

    /// A value buffer holding `value` for every CPU of a per-CPU map (bpftool's `map update`
    /// writes the one value it is given to each CPU), or `value` itself.
    public func replicatedPerCPU(_ value: [UInt8]) throws -> [UInt8] {
        guard type.isPerCPU else { return value }
        return try perCPUBuffer(from: Array(repeating: value, count: PossibleCPUs.count))
    }
}
