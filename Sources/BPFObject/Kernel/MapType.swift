/// `enum bpf_map_type` (include/uapi/linux/bpf.h). Names are bpftool's.
public enum MapType: UInt32, CaseIterable, Sendable {
    case unspecified = 0
    case hash = 1
    case array = 2
    case progArray = 3
    case perfEventArray = 4
    case percpuHash = 5
    case percpuArray = 6
    case stackTrace = 7
    case cgroupArray = 8
    case lruHash = 9
    case lruPercpuHash = 10
    case lpmTrie = 11
    case arrayOfMaps = 12
    case hashOfMaps = 13
    case devmap = 14
    case sockmap = 15
    case cpumap = 16
    case xskmap = 17
    case sockhash = 18
    case cgroupStorage = 19
    case reuseportSockarray = 20
    case percpuCgroupStorage = 21
    case queue = 22
    case stack = 23
    case skStorage = 24
    case devmapHash = 25
    case structOps = 26
    case ringbuf = 27
    case inodeStorage = 28
    case taskStorage = 29
    case bloomFilter = 30
    case userRingbuf = 31
    case cgrpStorage = 32
    case arena = 33

    /// The name bpftool prints and accepts (`hash`, `percpu_array`, `ringbuf`, ...).
    public var name: String {
        switch self {
        case .unspecified: "unspec"
        case .hash: "hash"
        case .array: "array"
        case .progArray: "prog_array"
        case .perfEventArray: "perf_event_array"
        case .percpuHash: "percpu_hash"
        case .percpuArray: "percpu_array"
        case .stackTrace: "stack_trace"
        case .cgroupArray: "cgroup_array"
        case .lruHash: "lru_hash"
        case .lruPercpuHash: "lru_percpu_hash"
        case .lpmTrie: "lpm_trie"
        case .arrayOfMaps: "array_of_maps"
        case .hashOfMaps: "hash_of_maps"
        case .devmap: "devmap"
        case .sockmap: "sockmap"
        case .cpumap: "cpumap"
        case .xskmap: "xskmap"
        case .sockhash: "sockhash"
        case .cgroupStorage: "cgroup_storage"
        case .reuseportSockarray: "reuseport_sockarray"
        case .percpuCgroupStorage: "percpu_cgroup_storage"
        case .queue: "queue"
        case .stack: "stack"
        case .skStorage: "sk_storage"
        case .devmapHash: "devmap_hash"
        case .structOps: "struct_ops"
        case .ringbuf: "ringbuf"
        case .inodeStorage: "inode_storage"
        case .taskStorage: "task_storage"
        case .bloomFilter: "bloom_filter"
        case .userRingbuf: "user_ringbuf"
        case .cgrpStorage: "cgrp_storage"
        case .arena: "arena"
        }
    }

    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// Values are stored once per possible CPU, each slot rounded up to 8 bytes.
    public var isPerCPU: Bool {
        switch self {
        case .percpuHash, .percpuArray, .lruPercpuHash, .percpuCgroupStorage: true
        default: false
        }
    }
}
