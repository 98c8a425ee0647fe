import BPF
import BPFObject
import Foundation
import Testing

/// Batch operations, iteration, freezing and the errors of bad input, on real maps.
@Suite(.kernel, .serialized)
struct MapOperationsTests {
    static func key(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }
    static func value(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    @Test func batchOperationsOnTenThousandEntries() throws {
        let map = try Map(MapSpec(name: "maps_batch", type: .hash, keySize: 4, valueSize: 8, maxEntries: 10_000))
        let keys = (0..<10_000).map { Self.key(UInt32($0)) }
        let values = (0..<10_000).map { Self.value(UInt64($0) * 3) }
        #expect(try map.updateBatch(keys: keys, values: values) == 10_000)
        // Read back in small batches: buckets larger than the buffer make the kernel answer
        // ENOSPC, which must be absorbed by growing the buffer.
        var cursor = MapBatchCursor()
        var seen: [UInt32: UInt64] = [:]
        var calls = 0
        while !cursor.isDone {
            for entry in try map.lookupBatch(&cursor, maxCount: 1) {
                seen[entry.key.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }] = entry.value.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            }
            calls += 1
        }
        #expect(seen.count == 10_000)
        #expect(seen.allSatisfy { $0.value == UInt64($0.key) * 3 })
        #expect(calls < 10_000 + 2)
        #expect(try map.count() == 10_000)
        #expect(try map.entries(batchSize: 1000).count == 10_000)

        #expect(try map.deleteBatch(keys: Array(keys[0..<5000])) == 5000)
        #expect(try map.count() == 5000)
        // Deleting a missing key stops the batch and says how far it got.
        let partial = #expect(throws: BPFError.self) { try map.deleteBatch(keys: [keys[6000], keys[0]]) }
        #expect(partial?.errno == .ENOENT)
        #expect("\(partial!)".contains("1 were deleted"))

        // Lookup-and-delete in batches drains the map.
        var drain = MapBatchCursor()
        var drained = 0
        while !drain.isDone { drained += try map.lookupBatch(&drain, maxCount: 512, delete: true).count }
        #expect(drained == 4999)
        #expect(try map.count() == 0)
    }

    @Test func batchOnPerCPUArrayMarshalsSlots() throws {
        let map = try Map(MapSpec(name: "maps_pcbatch", type: .percpuArray, keySize: 4, valueSize: 4, maxEntries: 100))
        let buffers = try (0..<100).map { index in
            try map.perCPUBuffer(from: (0..<PossibleCPUs.count).map { cpu in Self.key(UInt32(index * 1000 + cpu)) })
        }
        try map.updateBatch(keys: (0..<100).map { Self.key(UInt32($0)) }, values: buffers)
        let entries = try map.entries(batchSize: 7)
        #expect(entries.count == 100)
        for entry in entries {
            let index = entry.key.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            let perCPU = try map.perCPUValues(from: entry.value)
            #expect(perCPU.count == PossibleCPUs.count)
            #expect(perCPU.enumerated().allSatisfy { cpu, bytes in bytes == Self.key(index * 1000 + UInt32(cpu)) })
        }
    }

    @Test func iterationWhileDeletingVisitsEveryKeyOnce() throws {
        // Per-key walk (GET_NEXT_KEY): deleting the current key makes the kernel restart the
        // walk from the first key; the iterator must still return each key exactly once.
        let map = try Map(MapSpec(name: "maps_iterdel", type: .hash, keySize: 4, valueSize: 4, maxEntries: 600))
        for index in UInt32(0)..<500 { try map.update(Self.key(index), Self.key(index)) }
        var iterator = map.makeEntryIterator(perKey: true)
        var visited: [[UInt8]] = []
        var deletedOthers = 0
        while let entry = try iterator.next() {
            visited.append(entry.key)
            try map.delete(entry.key) // delete the key we stand on
            if visited.count % 50 == 0, let other = try map.nextKey(after: nil) { // and sometimes another one
                try map.delete(other)
                deletedOthers += 1
            }
        }
        #expect(Set(visited).count == visited.count, "a key was returned twice")
        #expect(visited.count + deletedOthers == 500)
        #expect(try map.count() == 0)

        // Deleting only some current keys makes the restart land on keys already returned:
        // they must be skipped, and no live key missed.
        for index in UInt32(0)..<500 { try map.update(Self.key(index), Self.key(index)) }
        var restarting = map.makeEntryIterator(perKey: true)
        var returned: [[UInt8]] = []
        while let entry = try restarting.next() {
            returned.append(entry.key)
            if returned.count % 10 == 0 { try map.delete(entry.key) }
        }
        #expect(returned.count == 500)
        #expect(Set(returned).count == 500)
        #expect(try map.count() == 450)

        // Hash maps walked with batches while deleting.
        let hash = try HashMap<UInt32, UInt32>(name: "maps_iterdel2", maxEntries: 2000)
        for index in UInt32(0)..<2000 { try hash.update(index, index) }
        var batchIterator = hash.map.makeEntryIterator(batchSize: 64)
        var batchVisited = Set<[UInt8]>()
        while let entry = try batchIterator.next() {
            #expect(batchVisited.insert(entry.key).inserted)
            try hash.map.delete(entry.key)
        }
        #expect(batchVisited.count == 2000)
        #expect(try hash.count() == 0)
    }

    @Test func clearEmptiesEveryKind() throws {
        let hash = try HashMap<UInt32, UInt32>(name: "maps_clear", maxEntries: 300)
        try hash.update(contentsOf: (0..<300).map { (UInt32($0), UInt32($0)) })
        try hash.clear()
        #expect(try hash.count() == 0)
        let trie = try LPMTrieMap<UInt8>(name: "maps_clear2", addressSize: 4, maxEntries: 10)
        for index in UInt8(0)..<10 { try trie.update(LPMPrefix(address: [index, 0, 0, 0], prefixLength: 8), index) }
        try trie.clear()
        #expect(try trie.count() == 0)
    }

    @Test func frozenMapRefusesUserWrites() throws {
        let map = try Map(MapSpec(name: "maps_frozen", type: .array, keySize: 4, valueSize: 8, maxEntries: 2))
        try map.update(Self.key(0), Self.value(5))
        try map.freeze()
        #expect(map.isFrozen)
        let refused = #expect(throws: BPFError.self) { try map.update(Self.key(0), Self.value(6)) }
        #expect(refused?.errno == .EPERM)
        #expect("\(refused!)".contains("frozen"))
        let batch = #expect(throws: BPFError.self) { try map.updateBatch(keys: [Self.key(1)], values: [Self.value(1)]) }
        #expect("\(batch!)".contains("frozen"))
        // Another descriptor of the same map knows it too (fdinfo), and says why.
        let other = try Map(adopting: map.fd.duplicate())
        let viaOther = #expect(throws: BPFError.self) { try other.update(Self.key(0), Self.value(6)) }
        #expect("\(viaOther!)".contains("frozen"))
        #expect(try map.lookup(Self.key(0)) == Self.value(5))
        let again = #expect(throws: BPFError.self) { try map.freeze() }
        #expect(again?.errno == .EPERM)
        #expect("\(again!)".contains("already frozen"))
    }

    @Test func lookupAndDeleteOnHashAndRefusalOnArray() throws {
        let hash = try Map(MapSpec(name: "maps_lad", type: .hash, keySize: 4, valueSize: 8, maxEntries: 4))
        try hash.update(Self.key(1), Self.value(11))
        #expect(try hash.lookupAndDelete(Self.key(1)) == Self.value(11))
        #expect(try hash.lookupAndDelete(Self.key(1)) == nil)
        let array = try Map(MapSpec(name: "maps_lad2", type: .array, keySize: 4, valueSize: 8, maxEntries: 4))
        let refused = #expect(throws: BPFError.self) { try array.lookupAndDelete(Self.key(1)) }
        #expect(refused?.errno != nil)
        #expect("\(refused!)".contains("array"))
    }

    @Test func lockFlagNeedsASpinLockInTheValue() throws {
        // BPF_F_LOCK is only valid for values whose BTF has a bpf_spin_lock: the kernel says EINVAL.
        let map = try Map(MapSpec(name: "maps_lock", type: .hash, keySize: 4, valueSize: 8, maxEntries: 4))
        try map.update(Self.key(1), Self.value(1))
        let refused = #expect(throws: BPFError.self) { try map.lookup(Self.key(1), flags: .lock) }
        #expect(refused?.errno == .EINVAL)
    }

    // MARK: Bad input

    @Test func wrongSizesAreRejectedBeforeAnySyscall() throws {
        let map = try Map(MapSpec(name: "maps_sizes", type: .hash, keySize: 4, valueSize: 8, maxEntries: 4))
        let key = #expect(throws: BPFError.self) { try map.update([1, 2], Self.value(1)) }
        guard case .invalidArgument(let keyMessage) = key else { Issue.record("expected invalidArgument, got \(String(describing: key))"); return }
        #expect(keyMessage.contains("4-byte keys"))
        let value = #expect(throws: BPFError.self) { try map.update(Self.key(1), [1]) }
        guard case .invalidArgument(let valueMessage) = value else { Issue.record("expected invalidArgument"); return }
        #expect(valueMessage.contains("8-byte values"))
        #expect(throws: BPFError.self) { try map.updateBatch(keys: [Self.key(1)], values: []) }
        #expect(throws: BPFError.self) { try map.lookup([0]) }

        // Typed views check their Swift types against the map.
        let typed = #expect(throws: BPFError.self) { try HashMap<UInt64, UInt64>(map) }
        #expect("\(typed!)".contains("8 bytes"))
        #expect(throws: BPFError.self) { try ArrayMap<UInt64>(map) } // wrong map type
        let perCPU = try Map(MapSpec(name: "maps_sizes2", type: .percpuHash, keySize: 4, valueSize: 4, maxEntries: 4))
        let shape = #expect(throws: BPFError.self) { try PerCPUHashMap<UInt32, UInt32>(perCPU).update(1, [1]) }
        #expect("\(shape!)".contains("one value per possible CPU") || PossibleCPUs.count == 1)
    }

    @Test func fullMapSaysItIsFull() throws {
        let map = try HashMap<UInt32, UInt32>(name: "maps_full", maxEntries: 2)
        try map.update(1, 1)
        try map.update(2, 2)
        let full = #expect(throws: BPFError.self) { try map.update(3, 3) }
        #expect(full?.errno == .E2BIG)
        #expect("\(full!)".contains("is full"))
        try map.update(2, 20) // replacing an existing key still works
    }

    @Test func closedMapsSayClosed() throws {
        let map = try Map(MapSpec(name: "maps_closed", type: .hash, keySize: 4, valueSize: 8, maxEntries: 4))
        try map.close()
        let second = #expect(throws: BPFError.self) { try map.close() }
        guard case .closed = second else { Issue.record("double close should be .closed, got \(String(describing: second))"); return }
        for operation in [
            { _ = try map.lookup(Self.key(1)) },
            { try map.update(Self.key(1), Self.value(1)) },
            { _ = try map.delete(Self.key(1)) },
            { _ = try map.nextKey(after: nil) },
            { _ = try map.lookupAndDelete(Self.key(1)) },
            { try map.freeze() },
            { _ = try map.keys() },
        ] as [() throws -> Void] {
            let error = #expect(throws: BPFError.self) { try operation() }
            guard case .closed = error else { Issue.record("use after close should be .closed, got \(String(describing: error))"); continue }
        }
    }
}
