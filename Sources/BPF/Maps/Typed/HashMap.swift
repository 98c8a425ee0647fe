import BPFObject

/// A typed view of a hash or LRU hash map with plain-old-data keys and values.
///
/// ```swift
/// let counts = try HashMap<UInt32, UInt64>(name: "counts", maxEntries: 1024)
/// try counts.update(7, 1)
/// let value = try counts.lookup(7)   // 1
/// ```
public struct HashMap<Key: BitwiseCopyable, Value: BitwiseCopyable>: @unchecked Sendable {
    public let map: Map
    static var types: Set<MapType> { [.hash, .lruHash] }

    /// Views an existing map; checks its type and that `Key`/`Value` have its sizes.
    public init(_ map: Map) throws {
        try map.requireType(Self.types, for: "HashMap")
        try map.requireKey(Key.self)
        try map.requireValue(Value.self)
        self.map = map
    }

    /// Creates a new hash map (an LRU hash map with `lru`, which evicts the least recently used
    /// entry instead of failing when full).
    public init(name: String, maxEntries: Int, lru: Bool = false, flags: MapFlags = []) throws {
        try self.init(Map(Map.spec(name: name, type: lru ? .lruHash : .hash, key: Key.self, value: Value.self, maxEntries: maxEntries, flags: flags)))
    }

    public func lookup(_ key: Key, flags: MapLookupFlags = []) throws -> Value? {
        try map.lookup(map.keyBytes(key), flags: flags).map { PlainData.load(Value.self, from: $0) }
    }

    public func update(_ key: Key, _ value: Value, flags: MapUpdateFlags = .any) throws {
        try map.update(map.keyBytes(key), map.valueBytes(value), flags: flags)
    }

    @discardableResult
    public func delete(_ key: Key) throws -> Bool { try map.delete(map.keyBytes(key)) }

    /// Removes `key` and returns its value (Linux 5.14+).
    public func lookupAndDelete(_ key: Key) throws -> Value? {
        try map.lookupAndDelete(map.keyBytes(key)).map { PlainData.load(Value.self, from: $0) }
    }

    public func keys() throws -> [Key] { try map.keys().map { PlainData.load(Key.self, from: $0) } }

    public func entries() throws -> [(key: Key, value: Value)] {
        try map.entries().map { (PlainData.load(Key.self, from: $0.key), PlainData.load(Value.self, from: $0.value)) }
    }

    /// Stores all `entries` with BPF_MAP_UPDATE_BATCH.
    @discardableResult
    public func update(contentsOf entries: [(key: Key, value: Value)], flags: MapUpdateFlags = .any) throws -> Int {
        var keys = [UInt8](repeating: 0, count: entries.count * map.keySize)
        var values = [UInt8](repeating: 0, count: entries.count * map.valueSize)
        for (index, entry) in entries.enumerated() {
            PlainData.store(entry.key, into: &keys, at: index * map.keySize)
            PlainData.store(entry.value, into: &values, at: index * map.valueSize)
        }
        if entries.isEmpty { return 0 }
        return try map.updateBatch(flatKeys: keys, flatValues: values, count: entries.count, flags: flags)
    }

    /// Deletes all `keys` with BPF_MAP_DELETE_BATCH.
    @discardableResult
    public func delete(contentsOf keys: [Key]) throws -> Int {
        try map.deleteBatch(keys: keys.map { map.keyBytes($0) })
    }

    public func count() throws -> Int { try map.count() }
    public func clear() throws { try map.clear() }
}

/// A typed view of a per-CPU hash or LRU per-CPU hash map: each key holds one value per possible
/// CPU (`PossibleCPUs.count`), read and written as `[Value]`.
public struct PerCPUHashMap<Key: BitwiseCopyable, Value: BitwiseCopyable>: @unchecked Sendable {
    public let map: Map
    static var types: Set<MapType> { [.percpuHash, .lruPercpuHash] }

    public init(_ map: Map) throws {
        try map.requireType(Self.types, for: "PerCPUHashMap")
        try map.requireKey(Key.self)
        try map.requireValue(Value.self)
        self.map = map
    }

    public init(name: String, maxEntries: Int, lru: Bool = false, flags: MapFlags = []) throws {
        try self.init(Map(Map.spec(name: name, type: lru ? .lruPercpuHash : .percpuHash, key: Key.self, value: Value.self, maxEntries: maxEntries, flags: flags)))
    }

    /// The values of every possible CPU, in CPU order.
    public func lookup(_ key: Key) throws -> [Value]? {
        try map.lookup(map.keyBytes(key)).map { map.perCPUValues(Value.self, from: $0) }
    }

    /// Stores one value per possible CPU.
    public func update(_ key: Key, _ values: [Value], flags: MapUpdateFlags = .any) throws {
        try map.update(map.keyBytes(key), map.perCPUValueBytes(values), flags: flags)
    }

    /// Stores the same value for every CPU.
    public func update(_ key: Key, everyCPU value: Value, flags: MapUpdateFlags = .any) throws {
        try update(key, Array(repeating: value, count: PossibleCPUs.count), flags: flags)
    }

    @discardableResult
    public func delete(_ key: Key) throws -> Bool { try map.delete(map.keyBytes(key)) }

    public func lookupAndDelete(_ key: Key) throws -> [Value]? {
        try map.lookupAndDelete(map.keyBytes(key)).map { map.perCPUValues(Value.self, from: $0) }
    }

    public func keys() throws -> [Key] { try map.keys().map { PlainData.load(Key.self, from: $0) } }

    public func entries() throws -> [(key: Key, values: [Value])] {
        try map.entries().map { (PlainData.load(Key.self, from: $0.key), map.perCPUValues(Value.self, from: $0.value)) }
    }

    public func count() throws -> Int { try map.count() }
    public func clear() throws { try map.clear() }
}
