import BPFObject

/// Walks a map's entries lazily, a chunk at a time.
///
/// Where the kernel implements BPF_MAP_LOOKUP_BATCH for the map type (hash and array kinds since
/// Linux 5.6) it reads `batchSize` entries per call; otherwise it steps key by key with
/// BPF_MAP_GET_NEXT_KEY and looks each one up.
///
/// In batch mode a chunk is a snapshot: an entry deleted after its chunk was read is still
/// returned. Pass `perKey: true` to `makeEntryIterator` to read each entry at the moment it is
/// returned instead.
///
/// Concurrent deletion: a hash map answers GET_NEXT_KEY for a key that was deleted meanwhile with
/// its *first* key, restarting the walk. Like cilium/ebpf we remember the keys already returned
/// and skip them after such a restart, so every live key is still returned once; a key deleted
/// between its GET_NEXT_KEY and its lookup is skipped. If the map keeps changing so fast that
/// the walk makes no progress, it stops with `EAGAIN` rather than loop forever.
public struct MapEntryIterator {
    public let map: Map
    public let batchSize: Int
    private var cursor = MapBatchCursor()
    private var buffered: [MapEntry] = []
    private var bufferedIndex = 0
    private var useBatch: Bool
    private var previousKey: [UInt8]?
    private var seen: Set<[UInt8]> = []
    private var restarts = 0
    private var lastWasFresh = true
    private var finished = false
    private let keysOnly: Bool

    init(map: Map, batchSize: Int, keysOnly: Bool, perKey: Bool = false) {
        self.map = map
        self.batchSize = max(1, batchSize)
        self.keysOnly = keysOnly
        self.useBatch = !perKey && map.supportsBatchLookup && Self.typeMayBatch(map.type)
    }

    /// Map types whose kernel implementation has `map_lookup_batch` (others are not even tried).
    static func typeMayBatch(_ type: MapType) -> Bool {
        switch type {
        case .hash, .percpuHash, .lruHash, .lruPercpuHash, .array, .percpuArray, .hashOfMaps, .lpmTrie: true
        default: false
        }
    }

    /// The next entry, or nil at the end. With `keys()` iteration the value is empty.
    public mutating func next() throws -> MapEntry? {
        while true {
            if bufferedIndex < buffered.count {
                bufferedIndex += 1
                return buffered[bufferedIndex - 1]
            }
            if finished { return nil }
            if useBatch {
                do {
                    buffered = try map.lookupBatch(&cursor, maxCount: batchSize)
                    bufferedIndex = 0
                    if cursor.isDone { finished = true }
                    continue
                } catch let error as BPFError where error.errno == .ENOTSUPP || error.errno == .EOPNOTSUPP {
                    useBatch = false // the type has no batch operation here: walk key by key
                }
            }
            guard let entry = try nextByKey() else {
                finished = true
                return nil
            }
            return entry
        }
    }

    private mutating func nextByKey() throws -> MapEntry? {
        let restartLimit = max(64, 2 * max(map.maxEntries, 1))
        while true {
            guard let key = try map.nextKey(after: previousKey) else { return nil }
            previousKey = key
            if seen.contains(key) {
                // The walk restarted (our previous key was deleted): skip what we returned.
                if lastWasFresh { restarts += 1 }
                lastWasFresh = false
                if restarts > restartLimit {
                    throw BPFError.syscall(SystemCallFailure(
                        operation: BPFCommand.mapGetNextKey.description, errno: .EAGAIN, subject: map.label,
                        meaning: "iteration aborted: the map changed under the walk so often (\(restarts) restarts) that it made no progress; try again or use a batch-capable map type"))
                }
                continue
            }
            lastWasFresh = true
            seen.insert(key)
            if keysOnly { return MapEntry(key: key, value: []) }
            // Deleted between GET_NEXT_KEY and the lookup: skip it, it is gone.
            guard let value = try map.lookup(key) else { continue }
            return MapEntry(key: key, value: value)
        }
    }
}

extension Map {
    /// A lazy walk over the entries (see `MapEntryIterator` for how concurrent deletion is
    /// handled). `perKey` forces the key-by-key walk even where batches are available.
    public func makeEntryIterator(batchSize: Int = 256, perKey: Bool = false) -> MapEntryIterator {
        MapEntryIterator(map: self, batchSize: batchSize, keysOnly: false, perKey: perKey)
    }

    /// All entries now in the map.
    public func entries(batchSize: Int = 256) throws -> [MapEntry] {
        var iterator = makeEntryIterator(batchSize: batchSize)
        var result: [MapEntry] = []
        while let entry = try iterator.next() { result.append(entry) }
        return result
    }

    /// All keys now in the map. Uses batch lookups where available (one call per chunk),
    /// GET_NEXT_KEY without value lookups otherwise.
    public func keys(batchSize: Int = 256) throws -> [[UInt8]] {
        var iterator = MapEntryIterator(map: self, batchSize: batchSize, keysOnly: true)
        var result: [[UInt8]] = []
        while let entry = try iterator.next() { result.append(entry.key) }
        return result
    }

    /// The number of entries now in the map. Arrays always hold `maxEntries`.
    public func count() throws -> Int {
        switch type {
        case .array, .percpuArray: return maxEntries
        case .queue, .stack, .bloomFilter, .ringbuf, .userRingbuf, .perfEventArray:
            throw BPFError.unsupported(feature: "counting the entries of a \(type.name) map", detail: "the kernel offers no way to list its elements")
        default: return try keys().count
        }
    }

    /// Empties the map: hash kinds lose every entry (batch lookup-and-delete where available),
    /// arrays get zeroed values (their elements cannot be deleted), fd arrays (programs, maps,
    /// perf events) get every slot cleared, queues and stacks are popped until empty.
    public func clear() throws {
        switch type {
        case .array, .percpuArray:
            let zero = [UInt8](repeating: 0, count: valueBufferSize)
            let keys = (0..<maxEntries).map { index in PlainData.bytes(of: UInt32(index), count: keySize) }
            do {
                for start in stride(from: 0, to: keys.count, by: 4096) {
                    let chunk = Array(keys[start..<min(start + 4096, keys.count)])
                    try updateBatch(keys: chunk, values: Array(repeating: zero, count: chunk.count))
                }
            } catch let error as BPFError where error.errno == .ENOTSUPP || error.errno == .EOPNOTSUPP {
                for key in keys { try update(key, zero) }
            }
        case .progArray, .perfEventArray, .arrayOfMaps, .cgroupArray:
            for index in 0..<maxEntries { try delete(PlainData.bytes(of: UInt32(index), count: keySize)) }
        case .queue, .stack:
            while try lookupAndDelete() != nil {}
        case .bloomFilter, .ringbuf, .userRingbuf:
            throw BPFError.unsupported(feature: "clearing a \(type.name) map", detail: "its elements cannot be deleted from user space")
        default:
            if supportsBatchLookup && MapEntryIterator.typeMayBatch(type) {
                var cursor = MapBatchCursor()
                do {
                    while !cursor.isDone { _ = try lookupBatch(&cursor, maxCount: 1024, delete: true) }
                    return
                } catch let error as BPFError where error.errno == .ENOTSUPP || error.errno == .EOPNOTSUPP {
                    // fall back to deleting key by key
                }
            }
            // Deleting the key we stand on restarts GET_NEXT_KEY at the first key, so always
            // ask for the first key until there is none.
            var budget = max(maxEntries, 1) * 4 + 1024
            while let key = try nextKey(after: nil), budget > 0 {
                try delete(key)
                budget -= 1
            }
        }
    }
}
