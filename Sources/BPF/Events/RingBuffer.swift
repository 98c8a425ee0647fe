import BPFObject
import CBPFSys

/// One BPF ring buffer map (`BPF_MAP_TYPE_RINGBUF`) mapped into this process, read in place.
///
/// The kernel lays the map out in pages (kernel/bpf/ringbuf.c): the consumer position page
/// (the only page user space may write), the producer position page, then the data area, which
/// the kernel maps twice in a row so a record that wraps past the end reads as contiguous
/// memory. Each record starts with an 8-byte header: a `u32` length whose top bits say the
/// record is still being written (`BPF_RINGBUF_BUSY_BIT`) or was discarded
/// (`BPF_RINGBUF_DISCARD_BIT`), and a `u32` page offset; the record then pads to 8 bytes.
///
/// `consume` hands out each record's bytes without copying; they are valid only during the
/// call, because the kernel reuses the space once the consumer position moves past them.
/// A `RingBuffer` is not for concurrent consumers: consume from one thread at a time.
public final class RingBuffer: @unchecked Sendable {
    /// The ring buffer map; kept open as long as the mapping.
    public let map: Map
    /// Bytes in the data area (the map's max_entries).
    public let capacity: Int

    private let consumerPage: MappedRegion
    private let producerArea: MappedRegion
    @usableFromInline let consumerPosition: UnsafeMutableRawPointer
    @usableFromInline let producerPosition: UnsafeRawPointer
    @usableFromInline let data: UnsafeRawPointer
    @usableFromInline let mask: UInt64
    /// How far the consumer position may run ahead of what the kernel has been told.
    @usableFromInline let publishInterval: UInt64

    /// Maps `map`, which must be a ring buffer map.
    public init(_ map: Map) throws {
        guard map.type == .ringbuf else {
            throw BPFError.invalidArgument("\(map.fd.label) is a \(map.type.name) map, not a ringbuf map")
        }
        let capacity = map.maxEntries
        // The kernel requires a power-of-two multiple of the page size (ringbuf_map_alloc).
        guard capacity > 0, capacity & (capacity - 1) == 0, capacity % systemPageSize == 0 else {
            throw BPFError.invalidArgument("\(map.fd.label) has max_entries \(capacity); a ring buffer's size must be a power of two and a multiple of the page size (\(systemPageSize))")
        }
        let fd = try map.fd.value()
        consumerPage = try MappedRegion(fd: fd, length: systemPageSize, offset: 0, writable: true, subject: map.fd.label)
        // The producer page and the data area twice (only readable by user space).
        producerArea = try MappedRegion(fd: fd, length: systemPageSize + 2 * capacity, offset: systemPageSize,
                                        writable: false, subject: map.fd.label)
        self.map = map
        self.capacity = capacity
        consumerPosition = consumerPage.base
        producerPosition = UnsafeRawPointer(producerArea.base)
        data = UnsafeRawPointer(producerArea.base + systemPageSize)
        mask = UInt64(capacity - 1)
        publishInterval = UInt64(max(capacity / 4, 8))
    }

    /// Bytes written by producers (including records still being written) and not yet consumed.
    public var pendingBytes: Int {
        Int(sbpf_load_acquire_u64(producerPosition) &- sbpf_load_acquire_u64(consumerPosition))
    }

    /// Calls `body` with every committed record available now, in order, without copying, and
    /// returns how many records it saw. Discarded records are skipped (and not counted).
    /// Stops early at a record a producer is still writing, or after `limit` records.
    ///
    /// If `body` throws, the record it was given counts as consumed and the error propagates.
    @inlinable
    @discardableResult
    public func consume(limit: Int = .max, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows -> Int {
        var consumer = sbpf_load_acquire_u64(consumerPosition)
        var published = consumer
        var count = 0
        defer {
            // Release: we are done reading the records before the kernel may reuse their space.
            if consumer != published { sbpf_store_release_u64(consumerPosition, consumer) }
        }
        while count < limit {
            let producer = sbpf_load_acquire_u64(producerPosition)
            if consumer >= producer { break }
            var reachedBusyRecord = false
            while consumer < producer, count < limit {
                let header = data + Int(truncatingIfNeeded: consumer & mask)
                // Acquire: the record bytes are complete once the busy bit is seen cleared.
                let word = sbpf_load_acquire_u32(header)
                if word & SBPF_RINGBUF_BUSY_BIT != 0 {
                    reachedBusyRecord = true
                    break
                }
                let length = Int(word & ~(SBPF_RINGBUF_BUSY_BIT | SBPF_RINGBUF_DISCARD_BIT))
                consumer &+= UInt64((length + Int(SBPF_RINGBUF_HDR_SZ) + 7) & ~7)
                if word & SBPF_RINGBUF_DISCARD_BIT == 0 {
                    count += 1
                    try body(UnsafeRawBufferPointer(start: header + Int(SBPF_RINGBUF_HDR_SZ), count: length))
                }
                // Producers read the consumer position on every reservation; publishing it
                // per record would move its cache line back and forth for each one. Publish
                // each quarter of the ring instead (and when the batch ends), which frees
                // space soon enough for producers of a small, busy ring. No wakeup is lost by
                // publishing late: the kernel wakes readers only when a commit finds the
                // consumer caught up (bpf_ringbuf_commit), we re-read the producer position
                // after each publish, and epoll's poll (ringbuf_map_poll) reports any data left.
                if consumer &- published >= publishInterval {
                    sbpf_store_release_u64(consumerPosition, consumer)
                    published = consumer
                }
            }
            if consumer != published {
                sbpf_store_release_u64(consumerPosition, consumer)
                published = consumer
            }
            if reachedBusyRecord { break }
        }
        return count
    }

    /// Copies out every committed record available now.
    public func copyAvailable(limit: Int = .max) -> [[UInt8]] {
        var records: [[UInt8]] = []
        consume(limit: limit) { records.append(Array($0)) }
        return records
    }
}
