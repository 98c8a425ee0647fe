import BPF
import BPFObject
import Foundation
import Testing
import CBPFSys

/// Every typed map view against the real kernel: values written are read back, shapes match.
@Suite(.kernel, .serialized)
struct MapTypesTests {
    @Test func hashMapTypedRoundTrip() throws {
        let counts = try HashMap<UInt32, UInt64>(name: "maps_hash", maxEntries: 64)
        try counts.update(7, 700)
        try counts.update(8, 800)
        #expect(try counts.lookup(7) == 700)
        #expect(try counts.lookup(9) == nil)
        #expect(try counts.count() == 2)
        #expect(try Set(counts.keys()) == [7, 8])
        #expect(try counts.lookupAndDelete(7) == 700)
        #expect(try counts.lookup(7) == nil)
        #expect(try counts.delete(8))
        #expect(try !counts.delete(8))
        #expect(try counts.count() == 0)
    }

    @Test func hashMapNoExistAndExistFlags() throws {
        let map = try HashMap<UInt32, UInt32>(name: "maps_hflags", maxEntries: 4)
        try map.update(1, 1, flags: .noExist)
        let duplicate = #expect(throws: BPFError.self) { try map.update(1, 2, flags: .noExist) }
        #expect(duplicate?.errno == .EEXIST)
        let missing = #expect(throws: BPFError.self) { try map.update(2, 2, flags: .exist) }
        #expect(missing?.errno == .ENOENT)
    }

    @Test func lruHashEvictsInsteadOfFailing() throws {
        // Flag BPF_F_NO_COMMON_LRU gives each CPU its own LRU list; the common list is what a
        // small exact test wants.
        let lru = try HashMap<UInt32, UInt32>(name: "maps_lru", maxEntries: 128, lru: true)
        #expect(lru.map.type == .lruHash)
        for key in UInt32(0)..<1000 { try lru.update(key, key * 2) }
        let count = try lru.count()
        #expect(count > 0 && count <= 128)
        #expect(try lru.lookup(999) == 1998) // the newest survives
    }

    @Test func perCPUHashHoldsOneValuePerPossibleCPU() throws {
        let map = try PerCPUHashMap<UInt32, UInt32>(name: "maps_pchash", maxEntries: 8)
        let values = (0..<PossibleCPUs.count).map { UInt32($0 * 10 + 1) }
        try map.update(3, values)
        let read = try #require(try map.lookup(3))
        #expect(read.count == PossibleCPUs.count)
        #expect(read == values)
        // 4-byte values travel in 8-byte slots: the raw buffer is 8 × CPUs.
        #expect(map.map.valueBufferSize == 8 * PossibleCPUs.count)
        let raw = try #require(try map.map.lookup([3, 0, 0, 0]))
        #expect(Array(raw[0..<8]) == [1, 0, 0, 0, 0, 0, 0, 0])
        if PossibleCPUs.count > 1 { #expect(Array(raw[8..<16]) == [11, 0, 0, 0, 0, 0, 0, 0]) }
        let lruPerCPU = try PerCPUHashMap<UInt64, UInt64>(name: "maps_lrupc", maxEntries: 8, lru: true)
        try lruPerCPU.update(1, everyCPU: 5)
        #expect(try lruPerCPU.lookup(1) == Array(repeating: 5, count: PossibleCPUs.count))
        #expect(try lruPerCPU.entries().map(\.key) == [1])
    }

    @Test func arrayAndPerCPUArray() throws {
        let array = try ArrayMap<UInt64>(name: "maps_array", maxEntries: 10)
        #expect(try array.lookup(4) == 0) // arrays are zero-filled from creation
        try array.update(4, 44)
        try array.update(contentsOf: [1, 2, 3])
        #expect(try array.values() == [1, 2, 3, 0, 44, 0, 0, 0, 0, 0])
        #expect(try array.map.count() == 10)
        try array.clear()
        #expect(try array.values() == Array(repeating: 0, count: 10))
        let outOfRange = #expect(throws: BPFError.self) { try array.update(10, 1) }
        #expect("\(outOfRange!)".contains("outside"))

        let perCPU = try PerCPUArrayMap<UInt16>(name: "maps_pcarray", maxEntries: 2)
        try perCPU.update(1, (0..<PossibleCPUs.count).map { UInt16($0 + 100) })
        #expect(try perCPU.lookup(1) == (0..<PossibleCPUs.count).map { UInt16($0 + 100) })
        #expect(try perCPU.lookup(0) == Array(repeating: 0, count: PossibleCPUs.count))
    }

    @Test func lpmTrieReturnsTheLongestPrefix() throws {
        let trie = try LPMTrieMap<UInt32>(name: "maps_lpm", addressSize: 4, maxEntries: 16)
        try trie.update(#require(LPMPrefix(ipv4: "10.0.0.0", prefixLength: 8)), 8)
        try trie.update(#require(LPMPrefix(ipv4: "10.1.0.0", prefixLength: 16)), 16)
        try trie.update(#require(LPMPrefix(ipv4: "10.1.2.0", prefixLength: 24)), 24)
        #expect(try trie.longestMatch(for: [10, 1, 2, 3]) == 24)
        #expect(try trie.longestMatch(for: [10, 1, 9, 9]) == 16)
        #expect(try trie.longestMatch(for: [10, 200, 0, 1]) == 8)
        #expect(try trie.longestMatch(for: [11, 0, 0, 1]) == nil)
        #expect(try trie.delete(#require(LPMPrefix(ipv4: "10.1.2.0", prefixLength: 24))))
        #expect(try trie.longestMatch(for: [10, 1, 2, 3]) == 16)
        let prefixes = try trie.entries().map { $0.prefix.description }
        #expect(Set(prefixes) == ["10.0.0.0/8", "10.1.0.0/16"])
        #expect(LPMPrefix(ipv6: "2001:db8::", prefixLength: 32)?.description == "2001:db8::/32")
        let wrongSize = #expect(throws: BPFError.self) { try trie.update(#require(LPMPrefix(ipv6: "::1")), 1) }
        #expect("\(wrongSize!)".contains("4-byte addresses"))
        #expect(throws: BPFError.self) { try trie.update(LPMPrefix(address: [1, 2, 3, 4], prefixLength: 33), 1) }
    }

    @Test func queueIsFIFOAndStackIsLIFO() throws {
        let queue = try QueueMap<UInt32>(name: "maps_queue", maxEntries: 3)
        for value: UInt32 in [1, 2, 3] { try queue.push(value) }
        let full = #expect(throws: BPFError.self) { try queue.push(4) }
        #expect(full?.errno == .E2BIG)
        #expect("\(full!)".contains("full"))
        try queue.push(4, policy: .replaceOldest) // drops 1
        #expect(try queue.peek() == 2)
        #expect(try queue.pop() == 2)
        #expect(try queue.pop() == 3)
        #expect(try queue.pop() == 4)
        #expect(try queue.pop() == nil)

        let stack = try StackMap<UInt64>(name: "maps_stack", maxEntries: 4)
        for value: UInt64 in [10, 20, 30] { try stack.push(value) }
        #expect(try stack.peek() == 30)
        #expect(try stack.pop() == 30)
        #expect(try stack.pop() == 20)
        try stack.push(40)
        try stack.map.clear()
        #expect(try stack.pop() == nil)
    }

    @Test func bloomFilterMembership() throws {
        let bloom = try BloomFilterMap<UInt64>(name: "maps_bloom", maxEntries: 1000, hashCount: 3)
        for value in UInt64(0)..<100 { try bloom.insert(value * 7919) }
        for value in UInt64(0)..<100 { #expect(try bloom.contains(value * 7919)) }
        // No false negatives above; false positives are possible but rare at this load.
        let falsePositives = try (UInt64(1_000_000)..<1_000_200).filter { try bloom.contains($0) }.count
        #expect(falsePositives < 20)
        #expect(throws: BPFError.self) { try BloomFilterMap<UInt32>(name: "maps_bloom2", maxEntries: 10, hashCount: 16) }
    }

    @Test func ringBufferSizeRules() throws {
        let ring = try RingBufferMap.create(name: "maps_ring", size: 64 * 1024)
        #expect(ring.type == .ringbuf)
        #expect(try ring.info().maxEntries == 64 * 1024)
        let notPowerOfTwo = #expect(throws: BPFError.self) { try RingBufferMap.create(name: "maps_ring2", size: 3 * 4096) }
        #expect("\(notPowerOfTwo!)".contains("power of two"))
        #expect(throws: BPFError.self) { try RingBufferMap.create(name: "maps_ring3", size: 1024) }
    }

    @Test func perfEventArrayTakesAPerfEventDescriptor() throws {
        let array = try PerfEventArrayMap(name: "maps_perfarr")
        #expect(array.map.maxEntries == PossibleCPUs.count)
        let event = try openSoftwareBPFOutputEvent(cpu: 0)
        try array.set(0, toPerfEvent: event)
        #expect(try array.clear(0))
        #expect(try !array.clear(0))
        // A descriptor that is not a perf event is refused with a specific message.
        let notAnEvent = try Map(MapSpec(name: "maps_notevent", type: .array, keySize: 4, valueSize: 4, maxEntries: 1))
        let refused = #expect(throws: BPFError.self) { try array.set(0, toPerfEvent: notAnEvent.fd) }
        #expect("\(refused!)".contains("perf event"))
    }

    @Test func stackTraceMapShape() throws {
        let stacks = try StackTraceMap(name: "maps_stacks", maxEntries: 16, maxDepth: 32)
        #expect(stacks.map.valueSize == 256)
        #expect(try stacks.addresses(ofStack: 3) == nil)
        #expect(try stacks.stackIDs().isEmpty)
        #expect(throws: BPFError.self) { try StackTraceMap(name: "maps_stacks2", maxEntries: 16, maxDepth: 500) }
    }

    @Test func arrayOfMapsAndHashOfMapsHoldRealInnerMaps() throws {
        let innerSpec = MapSpec(name: "maps_inner", type: .array, keySize: 4, valueSize: 8, maxEntries: 4)
        let outer = try ArrayOfMapsMap(name: "maps_aom", maxEntries: 2, innerMap: innerSpec)
        let inner = try ArrayMap<UInt64>(Map(innerSpec))
        try inner.update(2, 1234)
        try outer.set(1, to: inner.map)
        #expect(try outer.innerMapID(at: 1) == inner.map.info().id)
        #expect(try outer.innerMapID(at: 0) == nil)
        let reopened = try ArrayMap<UInt64>(#require(try outer.innerMap(at: 1)))
        #expect(try reopened.lookup(2) == 1234)
        // An inner map of another shape is refused.
        let mismatched = try Map(MapSpec(name: "maps_badinner", type: .hash, keySize: 4, valueSize: 8, maxEntries: 4))
        #expect(throws: BPFError.self) { try outer.set(0, to: mismatched) }

        let hashOuter = try HashOfMapsMap<UInt64>(name: "maps_hom", maxEntries: 8, innerMap: innerSpec)
        try hashOuter.set(0xdead_beef, to: inner.map)
        #expect(try hashOuter.innerMapID(for: 0xdead_beef) == inner.map.info().id)
        #expect(try hashOuter.keys() == [0xdead_beef])
        #expect(try hashOuter.delete(0xdead_beef))
    }

    @Test func taskStorageKeyedByPidfd() throws {
        let storage = try LocalStorageMap<UInt64>(kind: .task, name: "maps_task")
        let me = try ProcessDescriptor.open()
        #expect(try storage.lookup(me) == nil)
        try storage.update(me, 0x5157_4254)
        #expect(try storage.lookup(me) == 0x5157_4254)
        #expect(try storage.delete(me))
        #expect(try storage.lookup(me) == nil)
        #expect(storage.map.type == .taskStorage)
    }

    @Test func socketStorageKeyedBySocket() throws {
        let storage = try LocalStorageMap<UInt64>(kind: .socket, name: "maps_sk")
        let raw = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(raw >= 0)
        let udp = OwnedFileDescriptor(adopting: raw, label: "UDP socket")
        try storage.update(udp, 99)
        #expect(try storage.lookup(udp) == 99)
        // A descriptor of the wrong kind is refused, saying what the map keys on.
        let notASocket = try ProcessDescriptor.open()
        let refused = #expect(throws: BPFError.self) { try storage.update(notASocket, 1) }
        #expect("\(refused!)".contains("not the kind of object"))
    }

    @Test func inodeStorageNeedsBPFLSM() throws {
        do {
            let storage = try LocalStorageMap<UInt32>(kind: .inode, name: "maps_inode")
            let raw = open("/proc/self/exe", O_RDONLY)
            try #require(raw >= 0)
            let file = OwnedFileDescriptor(adopting: raw, label: "/proc/self/exe")
            try storage.update(file, 5)
            #expect(try storage.lookup(file) == 5)
        } catch let error as BPFError {
            print("inode storage: \(error)")
            // Kernels without CONFIG_BPF_LSM have no inode storage map type.
            #expect(error.errno == .EINVAL || error.errno == .ENOTSUPP || error.errno == .EOPNOTSUPP)
        }
    }

    @Test func cgroupStorageKeyedByCgroupDirectory() throws {
        let storage = try LocalStorageMap<UInt32>(kind: .cgroup, name: "maps_cgrp")
        let root = open("/sys/fs/cgroup/unified", O_RDONLY | O_DIRECTORY)
        try #require(root >= 0, "cgroup v2 is expected at /sys/fs/cgroup/unified")
        let cgroup = OwnedFileDescriptor(adopting: root, label: "cgroup v2 root")
        try storage.update(cgroup, 77)
        #expect(try storage.lookup(cgroup) == 77)
        #expect(try storage.delete(cgroup))
    }
}

/// perf_event_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_BPF_OUTPUT) on one CPU, the event type the
/// perf buffer uses.
func openSoftwareBPFOutputEvent(cpu: Int32) throws -> OwnedFileDescriptor {
    var attr = sbpf_perf_event_attr()
    attr.type = 1 // PERF_TYPE_SOFTWARE
    attr.size = UInt32(MemoryLayout<sbpf_perf_event_attr>.size)
    attr.config = 10 // PERF_COUNT_SW_BPF_OUTPUT
    attr.sample_type = 1 << 10 // PERF_SAMPLE_RAW
    attr.sample_period = 1
    attr.wakeup_events = 1
    let fd = sbpf_perf_event_open(&attr, -1, cpu, -1, 8 /* PERF_FLAG_FD_CLOEXEC */)
    guard fd >= 0 else {
        throw BPFError.syscall(SystemCallFailure(operation: "perf_event_open", errno: .current, subject: "bpf-output on CPU \(cpu)"))
    }
    return OwnedFileDescriptor(adopting: fd, label: "perf event bpf-output cpu \(cpu)")
}
