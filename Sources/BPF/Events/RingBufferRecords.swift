/// One record copied out of a ring buffer, for async consumers.
public struct RingBufferRecord: Sendable, Hashable {
    /// The index of the ring buffer map in its reader (the order maps were added).
    public var ring: Int
    public var bytes: [UInt8]
}

extension RingBufferReader {
    /// The records of every map, copied, as an async sequence. Iterating pulls records only as
    /// fast as the loop asks, so a slow consumer makes the kernel drop (and count) new records
    /// rather than this process buffering without bound. Iteration ends when the task is
    /// cancelled or the reader is closed. Handlers given to `add` are not called for records
    /// read this way; do not `poll` the reader while iterating.
    public func records(batchSize: Int = 1024) -> RingBufferRecords {
        RingBufferRecords(reader: self, batchSize: max(1, batchSize))
    }
}

/// The records of a ring buffer reader as an asynchronous sequence.
public struct RingBufferRecords: AsyncSequence, Sendable {
    /// One record, copied out of the ring.
    public typealias Element = RingBufferRecord
    let reader: RingBufferReader
    let batchSize: Int

    public func makeAsyncIterator() -> Iterator {
        Iterator(reader: reader, batchSize: batchSize)
    }

    /// Waits for the rings to become readable, then yields up to a batch of records at a time.
    public struct Iterator: AsyncIteratorProtocol {
        let reader: RingBufferReader
        let batchSize: Int
        private var pending: [RingBufferRecord] = []
        private var nextIndex = 0
        private var readiness: EventReadiness?
        private var nextRing = 0

        init(reader: RingBufferReader, batchSize: Int) {
            self.reader = reader
            self.batchSize = batchSize
        }

        public mutating func next() async throws -> RingBufferRecord? {
            while true {
                if nextIndex < pending.count {
                    defer { nextIndex += 1 }
                    return pending[nextIndex]
                }
                pending.removeAll(keepingCapacity: true)
                nextIndex = 0
                if Task.isCancelled || reader.isClosedForIteration { return nil }
                fillBatch()
                if !pending.isEmpty { continue }
                if readiness == nil {
                    readiness = EventReadiness(fileDescriptor: reader.poller.epoll.rawValue, label: "swiftbpf.ringbuf.readiness")
                }
                guard await readiness!.wait() else { return nil }
                // Readable means data or a wake; clear a pending wake so it does not spin.
                _ = try? reader.poller.wait(timeout: .zero) { _ in }
            }
        }

        /// Copies up to `batchSize` records, taking the rings in turn so none starves.
        private mutating func fillBatch() {
            let rings = reader.count
            guard rings > 0 else { return }
            for offset in 0..<rings {
                let index = (nextRing + offset) % rings
                let room = batchSize - pending.count
                if room <= 0 { break }
                reader.ring(at: index).consume(limit: room) { bytes in
                    pending.append(RingBufferRecord(ring: index, bytes: Array(bytes)))
                }
            }
            nextRing = (nextRing + 1) % rings
        }
    }
}
