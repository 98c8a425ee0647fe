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
        private var iteration: BatchedEventIteration<RingBufferRecord>
        private var nextRing = 0

        init(reader: RingBufferReader, batchSize: Int) {
            self.reader = reader
            self.batchSize = batchSize
            iteration = BatchedEventIteration(poller: reader.poller, label: "swiftbpf.ringbuf.readiness")
        }

        public mutating func next() async throws -> RingBufferRecord? {
            let reader = reader, batchSize = batchSize
            var nextRing = nextRing
            defer { self.nextRing = nextRing }
            return try await iteration.next(isClosed: { reader.isClosedForIteration }) { pending in
                Self.fillBatch(&pending, from: reader, limit: batchSize, startingAt: &nextRing)
            }
        }

        /// Copies up to `limit` records, taking the rings in turn so none starves.
        private static func fillBatch(_ pending: inout [RingBufferRecord], from reader: RingBufferReader, limit: Int, startingAt nextRing: inout Int) {
            let rings = reader.count
            guard rings > 0 else { return }
            for offset in 0..<rings {
                let index = (nextRing + offset) % rings
                let room = limit - pending.count
                if room <= 0 { break }
                reader.ring(at: index).consume(limit: room) { bytes in
                    pending.append(RingBufferRecord(ring: index, bytes: Array(bytes)))
                }
            }
            nextRing = (nextRing + 1) % rings
        }
    }
}
