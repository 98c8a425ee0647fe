import BPFObject

/// A typed view of an array map: `maxEntries` values indexed 0..<maxEntries, all present from
/// creation (zeroed); elements cannot be deleted.
public struct ArrayMap<Value: BitwiseCopyable>: @unchecked Sendable {
    public let map: Map

    public init(_ map: Map) throws {
        try map.requireType([.array], for: "ArrayMap")
        try map.requireKey(UInt32.self)
        try map.requireValue(Value.self)
        self.map = map
    }

    /// Creates an array map; with `mmapable` (BPF_F_MMAPABLE) it can be memory-mapped
    /// (`memoryMap()`).
    public init(name: String, maxEntries: Int, flags: MapFlags = []) throws {
        try self.init(Map(Map.spec(name: name, type: .array, key: UInt32.self, value: Value.self, maxEntries: maxEntries, flags: flags)))
    }

    public var count: Int { map.maxEntries }

    func checkIndex(_ index: Int) throws -> [UInt8] {
        guard index >= 0, index < map.maxEntries else {
            throw BPFError.invalidArgument("index \(index) is outside \(map.label) (0..<\(map.maxEntries))")
        }
        return map.keyBytes(UInt32(index))
    }

    public func lookup(_ index: Int, flags: MapLookupFlags = []) throws -> Value {
        guard let bytes = try map.lookup(checkIndex(index), flags: flags) else {
            throw BPFError.notFound(what: "index \(index)", detail: "\(map.label) has no element \(index)")
        }
        return PlainData.load(Value.self, from: bytes)
    }

    public func update(_ index: Int, _ value: Value, flags: MapUpdateFlags = .any) throws {
        try map.update(checkIndex(index), map.valueBytes(value), flags: flags)
    }

    /// Every element in index order (one batch call per 256 elements where supported).
    public func values() throws -> [Value] {
        var result = [Value?](repeating: nil, count: map.maxEntries)
        for entry in try map.entries() {
            let index = Int(PlainData.load(UInt32.self, from: entry.key))
            if index < result.count { result[index] = PlainData.load(Value.self, from: entry.value) }
        }
        return try result.enumerated().map { index, value in try value ?? lookup(index) }
    }

    /// Sets elements 0..<values.count with BPF_MAP_UPDATE_BATCH.
    public func update(contentsOf values: [Value]) throws {
        guard values.count <= map.maxEntries else {
            throw BPFError.invalidArgument("\(map.label) holds \(map.maxEntries) elements, got \(values.count) values")
        }
        try map.updateBatch(keys: values.indices.map { map.keyBytes(UInt32($0)) }, values: values.map { map.valueBytes($0) })
    }

    /// Zeroes every element.
    public func clear() throws { try map.clear() }
}

/// A typed view of a per-CPU array: each index holds one value per possible CPU.
public struct PerCPUArrayMap<Value: BitwiseCopyable>: @unchecked Sendable {
    public let map: Map

    public init(_ map: Map) throws {
        try map.requireType([.percpuArray], for: "PerCPUArrayMap")
        try map.requireKey(UInt32.self)
        try map.requireValue(Value.self)
        self.map = map
    }

    public init(name: String, maxEntries: Int, flags: MapFlags = []) throws {
        try self.init(Map(Map.spec(name: name, type: .percpuArray, key: UInt32.self, value: Value.self, maxEntries: maxEntries, flags: flags)))
    }

    public var count: Int { map.maxEntries }

    func checkIndex(_ index: Int) throws -> [UInt8] {
        guard index >= 0, index < map.maxEntries else {
            throw BPFError.invalidArgument("index \(index) is outside \(map.label) (0..<\(map.maxEntries))")
        }
        return map.keyBytes(UInt32(index))
    }

    /// The values of every possible CPU at `index`, in CPU order.
    public func lookup(_ index: Int) throws -> [Value] {
        guard let bytes = try map.lookup(checkIndex(index)) else {
            throw BPFError.notFound(what: "index \(index)", detail: "\(map.label) has no element \(index)")
        }
        return map.perCPUValues(Value.self, from: bytes)
    }

    public func update(_ index: Int, _ values: [Value], flags: MapUpdateFlags = .any) throws {
        try map.update(checkIndex(index), map.perCPUValueBytes(values), flags: flags)
    }

    public func update(_ index: Int, everyCPU value: Value) throws {
        try update(index, Array(repeating: value, count: PossibleCPUs.count))
    }

    public func clear() throws { try map.clear() }
}
