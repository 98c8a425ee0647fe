import BPFObject

// Maps whose values are file descriptors of other kernel objects. User space writes an fd;
// the kernel stores a reference to the object, and a lookup answers the object's *id*
// (programs, maps) or is refused (perf events).

/// Tail-call targets (BPF_MAP_TYPE_PROG_ARRAY): slot `i` holds a program that `bpf_tail_call`
/// with index `i` jumps to.
public struct ProgramArrayMap: @unchecked Sendable {
    public let map: Map

    public init(_ map: Map) throws {
        try map.requireType([.progArray], for: "ProgramArrayMap")
        self.map = map
    }

    public init(name: String, maxEntries: Int) throws {
        try self.init(Map(Map.spec(name: name, type: .progArray, key: UInt32.self, value: UInt32.self, maxEntries: maxEntries, flags: [])))
    }

    /// Puts `program` in `slot`. The kernel requires it to have the same type (and JIT/offload
    /// state) as the programs that already use this array.
    public func set(_ slot: Int, to program: Program) throws {
        try map.updateDescriptorSlot(slot, fd: program.fd, what: "program")
    }

    /// Empties `slot`; false if it was already empty.
    @discardableResult
    public func clear(_ slot: Int) throws -> Bool { try map.delete(map.indexKey(slot)) }

    /// The id of the program in `slot`, or nil when empty.
    public func programID(at slot: Int) throws -> UInt32? {
        try map.lookup(map.indexKey(slot)).map { PlainData.load(UInt32.self, from: $0) }
    }
}

/// Per-CPU perf event slots (BPF_MAP_TYPE_PERF_EVENT_ARRAY): `bpf_perf_event_output` writes to
/// the event in the current CPU's slot; `bpf_perf_event_read` reads a counter.
public struct PerfEventArrayMap: @unchecked Sendable {
    public let map: Map

    public init(_ map: Map) throws {
        try map.requireType([.perfEventArray], for: "PerfEventArrayMap")
        self.map = map
    }

    /// One slot per possible CPU by default, the layout `bpf_perf_event_output` with
    /// BPF_F_CURRENT_CPU expects.
    public init(name: String, maxEntries: Int = PossibleCPUs.count) throws {
        try self.init(Map(Map.spec(name: name, type: .perfEventArray, key: UInt32.self, value: UInt32.self, maxEntries: maxEntries, flags: [])))
    }

    /// Puts the perf event behind `eventFD` (from perf_event_open) in `slot`.
    public func set(_ slot: Int, toPerfEvent eventFD: OwnedFileDescriptor) throws {
        try map.updateDescriptorSlot(slot, fd: eventFD, what: "perf event")
    }

    @discardableResult
    public func clear(_ slot: Int) throws -> Bool { try map.delete(map.indexKey(slot)) }
}

/// An array whose elements are maps (BPF_MAP_TYPE_ARRAY_OF_MAPS). Every inner map must match the
/// inner map spec given at creation (type, key/value size, and max entries unless
/// BPF_F_INNER_MAP).
public struct ArrayOfMapsMap: @unchecked Sendable {
    public let map: Map

    public init(_ map: Map) throws {
        try map.requireType([.arrayOfMaps], for: "ArrayOfMapsMap")
        self.map = map
    }

    public init(name: String, maxEntries: Int, innerMap: MapSpec) throws {
        var spec = try Map.spec(name: name, type: .arrayOfMaps, key: UInt32.self, value: UInt32.self, maxEntries: maxEntries, flags: [])
        spec.innerMap = .spec(innerMap)
        try self.init(Map(spec))
    }

    public func set(_ slot: Int, to inner: Map) throws { try map.updateDescriptorSlot(slot, fd: inner.fd, what: "inner map") }

    @discardableResult
    public func clear(_ slot: Int) throws -> Bool { try map.delete(map.indexKey(slot)) }

    /// The id of the inner map in `slot` (open it with `KernelObjects.open(.map, id:)`), or nil.
    public func innerMapID(at slot: Int) throws -> UInt32? {
        try map.lookup(map.indexKey(slot)).map { PlainData.load(UInt32.self, from: $0) }
    }

    /// The inner map in `slot` as a new `Map` with its own descriptor, or nil.
    public func innerMap(at slot: Int) throws -> Map? {
        try innerMapID(at: slot).map { try Map(adopting: KernelObjects.open(.map, id: $0)) }
    }
}

/// A hash whose values are maps (BPF_MAP_TYPE_HASH_OF_MAPS), keyed by plain data.
public struct HashOfMapsMap<Key: BitwiseCopyable>: @unchecked Sendable {
    public let map: Map

    public init(_ map: Map) throws {
        try map.requireType([.hashOfMaps], for: "HashOfMapsMap")
        try map.requireKey(Key.self)
        self.map = map
    }

    public init(name: String, maxEntries: Int, innerMap: MapSpec) throws {
        var spec = try Map.spec(name: name, type: .hashOfMaps, key: Key.self, value: UInt32.self, maxEntries: maxEntries, flags: [])
        spec.innerMap = .spec(innerMap)
        try self.init(Map(spec))
    }

    public func set(_ key: Key, to inner: Map) throws {
        try map.update(map.keyBytes(key), PlainData.bytes(of: UInt32(bitPattern: inner.fd.value()), count: 4))
    }

    @discardableResult
    public func delete(_ key: Key) throws -> Bool { try map.delete(map.keyBytes(key)) }

    public func innerMapID(for key: Key) throws -> UInt32? {
        try map.lookup(map.keyBytes(key)).map { PlainData.load(UInt32.self, from: $0) }
    }

    public func innerMap(for key: Key) throws -> Map? {
        try innerMapID(for: key).map { try Map(adopting: KernelObjects.open(.map, id: $0)) }
    }

    public func keys() throws -> [Key] { try map.keys().map { PlainData.load(Key.self, from: $0) } }
}

extension Map {
    /// The 4-byte index key of array-like maps, range-checked.
    func indexKey(_ slot: Int) throws -> [UInt8] {
        guard slot >= 0, slot < maxEntries else {
            throw BPFError.invalidArgument("slot \(slot) is outside \(label) (0..<\(maxEntries))")
        }
        return PlainData.bytes(of: UInt32(slot), count: keySize)
    }

    func updateDescriptorSlot(_ slot: Int, fd object: OwnedFileDescriptor, what: String) throws {
        let key = try indexKey(slot)
        let value = PlainData.bytes(of: UInt32(bitPattern: try object.value()), count: 4)
        do {
            try update(key, value)
        } catch let error as BPFError where error.errno == .EINVAL || error.errno == .EBADF {
            throw BPFError.syscall(SystemCallFailure(operation: BPFCommand.mapUpdateElem.description, errno: error.errno ?? .EINVAL, subject: label,
                meaning: "the kernel refused \(object.label) as a \(what) for \(label): wrong kind of object, or (prog arrays) a program type different from the array's, or (maps of maps) an inner map that does not match the inner map spec"))
        }
    }
}
