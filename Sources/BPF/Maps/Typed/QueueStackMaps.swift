import BPFObject
import CBPFSys

/// How a full queue or stack takes a push (`BPF_EXIST` makes the kernel drop the oldest value).
public enum PushPolicy: Sendable {
    /// Fail with `E2BIG` when full.
    case failWhenFull
    /// Drop the oldest value to make room.
    case replaceOldest

    var flags: MapUpdateFlags { self == .replaceOldest ? .exist : .any }
}

/// A first-in first-out queue of values (BPF_MAP_TYPE_QUEUE, Linux 4.20): push, pop, peek.
public struct QueueMap<Value: BitwiseCopyable>: @unchecked Sendable {
    public let map: Map

    public init(_ map: Map) throws {
        try map.requireType([.queue], for: "QueueMap")
        try map.requireValue(Value.self)
        self.map = map
    }

    public init(name: String, maxEntries: Int, flags: MapFlags = []) throws {
        try self.init(Map(Map.spec(name: name, type: .queue, key: NoKey.self, value: Value.self, maxEntries: maxEntries, flags: flags)))
    }

    public func push(_ value: Value, policy: PushPolicy = .failWhenFull) throws {
        try map.pushValue(map.valueBytes(value), policy: policy)
    }

    /// Removes and returns the oldest value, or nil when empty.
    public func pop() throws -> Value? { try map.lookupAndDelete().map { PlainData.load(Value.self, from: $0) } }

    /// The oldest value without removing it, or nil when empty.
    public func peek() throws -> Value? { try map.lookup([]).map { PlainData.load(Value.self, from: $0) } }
}

/// A last-in first-out stack of values (BPF_MAP_TYPE_STACK, Linux 4.20): push, pop, peek.
public struct StackMap<Value: BitwiseCopyable>: @unchecked Sendable {
    public let map: Map

    public init(_ map: Map) throws {
        try map.requireType([.stack], for: "StackMap")
        try map.requireValue(Value.self)
        self.map = map
    }

    public init(name: String, maxEntries: Int, flags: MapFlags = []) throws {
        try self.init(Map(Map.spec(name: name, type: .stack, key: NoKey.self, value: Value.self, maxEntries: maxEntries, flags: flags)))
    }

    public func push(_ value: Value, policy: PushPolicy = .failWhenFull) throws {
        try map.pushValue(map.valueBytes(value), policy: policy)
    }

    /// Removes and returns the newest value, or nil when empty.
    public func pop() throws -> Value? { try map.lookupAndDelete().map { PlainData.load(Value.self, from: $0) } }

    /// The newest value without removing it, or nil when empty.
    public func peek() throws -> Value? { try map.lookup([]).map { PlainData.load(Value.self, from: $0) } }
}

/// A bloom filter (BPF_MAP_TYPE_BLOOM_FILTER, Linux 5.16): values can be added and tested, never
/// removed; `contains` may answer true for a value never added (false positives), never false
/// for one that was.
public struct BloomFilterMap<Value: BitwiseCopyable>: @unchecked Sendable {
    public let map: Map

    public init(_ map: Map) throws {
        try map.requireType([.bloomFilter], for: "BloomFilterMap")
        try map.requireValue(Value.self)
        self.map = map
    }

    /// `hashCount` (1...15, `map_extra`; the kernel picks 5 for 0) trades size for accuracy.
    public init(name: String, maxEntries: Int, hashCount: Int = 0, flags: MapFlags = []) throws {
        guard (0...15).contains(hashCount) else { throw BPFError.invalidArgument("a bloom filter uses 1 to 15 hash functions (0 for the kernel's default of 5), got \(hashCount)") }
        try self.init(Map(Map.spec(name: name, type: .bloomFilter, key: NoKey.self, value: Value.self, maxEntries: maxEntries, flags: flags, mapExtra: UInt64(hashCount))))
    }

    /// Adds `value` (BPF_MAP_UPDATE_ELEM with no key).
    public func insert(_ value: Value) throws { try map.pushValue(map.valueBytes(value), policy: .failWhenFull) }

    /// Whether `value` may be in the set (BPF_MAP_LOOKUP_ELEM peeks: 0 maybe, ENOENT surely not).
    public func contains(_ value: Value) throws -> Bool {
        var bytes = map.valueBytes(value)
        return try map.peekValue(&bytes)
    }
}

extension Map {
    /// Push for keyless maps (queue, stack, bloom filter): BPF_MAP_UPDATE_ELEM with a null key.
    func pushValue(_ value: [UInt8], policy: PushPolicy) throws {
        do {
            try update([], value, flags: policy.flags)
        } catch let error as BPFError where error.errno == .E2BIG {
            throw BPFError.syscall(SystemCallFailure(operation: BPFCommand.mapUpdateElem.description, errno: .E2BIG, subject: label,
                meaning: "\(label) is full (\(maxEntries) values); pop some, or push with .replaceOldest to drop the oldest"))
        }
    }

    /// Bloom filter membership: the kernel compares the *value* buffer we pass to lookup.
    func peekValue(_ value: inout [UInt8]) throws -> Bool {
        let result = value.withUnsafeMutableBytes { valueBuffer in
            elementCall(.mapLookupElem, key: nil, value: valueBuffer.baseAddress)
        }
        switch result {
        case .success: return true
        case .failure(.ENOENT): return false
        case .failure(let errno): throw failure(.mapLookupElem, errno)
        }
    }
}
