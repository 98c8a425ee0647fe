/// Everything needed to create one map, before it exists in the kernel.
/// The ELF loader, the tracing compiler and hand-written Swift all produce these.
public struct MapSpec: Hashable, Sendable {
    public var name: String
    public var type: MapType
    public var keySize: UInt32
    public var valueSize: UInt32
    public var maxEntries: UInt32
    /// `BPF_F_*` map flags (e.g. `BPF_F_NO_PREALLOC` = 1, `BPF_F_MMAPABLE` = 1 << 10).
    public var flags: UInt32
    /// Extra type-specific value (bloom filter hash count, arena address).
    public var mapExtra: UInt64
    public var numaNode: UInt32?
    /// For array-of-maps / hash-of-maps: the shape of the inner maps.
    public indirect enum Inner: Hashable, Sendable { case spec(MapSpec) }
    public var innerMap: Inner?

    public init(
        name: String = "",
        type: MapType,
        keySize: UInt32,
        valueSize: UInt32,
        maxEntries: UInt32,
        flags: UInt32 = 0,
        mapExtra: UInt64 = 0,
        numaNode: UInt32? = nil,
        innerMap: MapSpec? = nil
    ) {
        self.name = name
        self.type = type
        self.keySize = keySize
        self.valueSize = valueSize
        self.maxEntries = maxEntries
        self.flags = flags
        self.mapExtra = mapExtra
        self.numaNode = numaNode
        self.innerMap = innerMap.map { .spec($0) }
    }

    public var innerMapSpec: MapSpec? {
        guard case .spec(let spec) = innerMap else { return nil }
        return spec
    }
}

/// `BPF_F_*` flags for map creation (include/uapi/linux/bpf.h).
public struct MapFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let noPrealloc = MapFlags(rawValue: 1 << 0)
    public static let noCommonLRU = MapFlags(rawValue: 1 << 1)
    public static let numaNode = MapFlags(rawValue: 1 << 2)
    public static let readOnly = MapFlags(rawValue: 1 << 3)
    public static let writeOnly = MapFlags(rawValue: 1 << 4)
    public static let stackBuildID = MapFlags(rawValue: 1 << 5)
    public static let zeroSeed = MapFlags(rawValue: 1 << 6)
    public static let readOnlyProgram = MapFlags(rawValue: 1 << 7)
    public static let writeOnlyProgram = MapFlags(rawValue: 1 << 8)
    public static let clone = MapFlags(rawValue: 1 << 9)
    public static let mmapable = MapFlags(rawValue: 1 << 10)
    public static let preserveElems = MapFlags(rawValue: 1 << 11)
    public static let innerMap = MapFlags(rawValue: 1 << 12)
    public static let link = MapFlags(rawValue: 1 << 13)
    public static let pathFD = MapFlags(rawValue: 1 << 14)
    public static let vtypeBTFObjFD = MapFlags(rawValue: 1 << 15)
    public static let tokenFD = MapFlags(rawValue: 1 << 16)
    public static let segv0nFault = MapFlags(rawValue: 1 << 17)
    public static let noUserConv = MapFlags(rawValue: 1 << 18)
}
