import BPFObject
import CBPFSys

/// Reads a `BPF_MAP_TYPE_PERF_EVENT_ARRAY` map the way `bpf_perf_event_output` fills it: one
/// `PERF_COUNT_SW_BPF_OUTPUT` perf event per online CPU, each with its own mmap'ed ring, stored
/// in the map at the CPU's index, all watched by one epoll set.
///
/// ```swift
/// let buffer = try PerfBuffer(events, onSample: { cpu, data in ... }, onLost: { cpu, count in ... })
/// while running { try buffer.poll(timeout: .milliseconds(100)) }
/// ```
///
/// Sample bytes are valid only during the handler call. A sample's size is the kernel's raw
/// size, padded so that with its 4-byte size field it fills a multiple of 8 bytes. Samples the
/// kernel could not store because a ring was full are reported to `onLost` per CPU (when the
/// kernel next writes to that ring) and counted in `lostSamples`.
///
/// Polling is for one thread at a time; `wake()` may be called from any thread. The map entries
/// are removed and the rings unmapped when the buffer is released.
public final class PerfBuffer: @unchecked Sendable {
    /// Called with each sample's CPU and bytes; the bytes are valid only during the call.
    public typealias SampleHandler = (_ cpu: Int, _ data: UnsafeRawBufferPointer) throws -> Void
    /// Called when a CPU's ring reports samples lost for lack of room (PERF_RECORD_LOST).
    public typealias LostHandler = (_ cpu: Int, _ count: UInt64) -> Void

    /// Ring sizes and wakeup settings of a perf buffer.
    public struct Options: Sendable {
        /// Data pages per CPU ring: a power of two (libbpf's tools commonly use 8–64).
        public var pagesPerCPU: Int = 8
        /// Wake the reader after this many samples (1: every sample, the lowest latency).
        public var wakeupEvents: UInt32 = 1
        /// Instead of counting samples, wake once this many bytes are waiting.
        public var watermarkBytes: UInt32?
        /// The CPUs to read (default: all online CPUs).
        public var cpus: [Int]?

        public init(pagesPerCPU: Int = 8, wakeupEvents: UInt32 = 1, watermarkBytes: UInt32? = nil, cpus: [Int]? = nil) {
            self.pagesPerCPU = pagesPerCPU
            self.wakeupEvents = wakeupEvents
            self.watermarkBytes = watermarkBytes
            self.cpus = cpus
        }
    }

    public let map: Map
    let rings: [PerfEventRing]
    let poller: EventPoller
    private let onSample: SampleHandler?
    private let onLost: LostHandler?
    private var isClosed = false
    var isClosedForIteration: Bool { isClosed }

    /// Opens one perf event ring per CPU and stores each in `map` (a perf_event_array map).
    public init(_ map: Map, options: Options = Options(), onSample: SampleHandler? = nil, onLost: LostHandler? = nil) throws {
        guard map.type == .perfEventArray else {
            throw BPFError.invalidArgument("\(map.fd.label) is a \(map.type.name) map, not a perf_event_array map")
        }
        guard options.pagesPerCPU > 0, options.pagesPerCPU & (options.pagesPerCPU - 1) == 0 else {
            throw BPFError.invalidArgument("a perf buffer needs a power-of-two number of data pages per CPU, not \(options.pagesPerCPU)")
        }
        let cpus = options.cpus ?? PossibleCPUs.online
        guard !cpus.isEmpty else { throw BPFError.invalidArgument("a perf buffer needs at least one CPU") }
        if let beyond = cpus.first(where: { $0 < 0 || $0 >= map.maxEntries }) {
            throw BPFError.invalidArgument("\(map.fd.label) has \(map.maxEntries) entries, too few for CPU \(beyond); size perf_event_array maps to the number of possible CPUs (\(PossibleCPUs.count))")
        }
        let poller = try EventPoller(subject: "perf buffer on \(map.fd.label)")
        var rings: [PerfEventRing] = []
        do {
            for cpu in cpus {
                let ring = try PerfEventRing(cpu: cpu, dataPages: options.pagesPerCPU, wakeupEvents: options.wakeupEvents,
                                             watermarkBytes: options.watermarkBytes)
                try poller.add(try ring.event.value(), token: UInt64(rings.count), subject: ring.event.label)
                rings.append(ring)
                try map.update(Self.key(cpu), Self.value(try ring.event.value()))
            }
        } catch {
            // A map entry holds its perf event open; take back the ones already stored.
            for ring in rings { _ = try? map.delete(Self.key(ring.cpu)) }
            throw error
        }
        self.map = map
        self.rings = rings
        self.poller = poller
        self.onSample = onSample
        self.onLost = onLost
    }

    deinit {
        // The kernel would drop the entries when the map's last user file goes away; remove
        // them now so programs see "no event" (-ENOENT) instead of writing to a dead ring.
        for ring in rings {
            ring.disable()
            _ = try? map.delete(Self.key(ring.cpu))
        }
    }

    private static func key(_ cpu: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(cpu).littleEndian, Array.init) }
    private static func value(_ fd: Int32) -> [UInt8] { withUnsafeBytes(of: UInt32(bitPattern: fd).littleEndian, Array.init) }

    /// The CPUs read, in ring order.
    public var cpus: [Int] { rings.map(\.cpu) }

    /// Samples lost on each CPU so far (as reported by the kernel's PERF_RECORD_LOST records).
    public var lostSamples: [Int: UInt64] {
        Dictionary(uniqueKeysWithValues: rings.map { ($0.cpu, $0.lostSamples) })
    }

    /// Samples lost on all CPUs so far.
    public var totalLostSamples: UInt64 { rings.reduce(0) { $0 &+ $1.lostSamples } }

    /// Waits up to `timeout` (nil: until woken) for samples, reads every ready CPU's ring, and
    /// returns the number of samples delivered (0 on timeout, wake or signal).
    @discardableResult
    public func poll(timeout: Duration? = nil) throws -> Int {
        guard !isClosed else { throw BPFError.closed("perf buffer") }
        var delivered = 0
        try poller.wait(timeout: timeout) { token in
            delivered += try consume(rings[Int(token)])
        }
        return delivered
    }

    /// Reads every CPU's ring without waiting; returns the number of samples delivered.
    @discardableResult
    public func consumeAvailable() throws -> Int {
        guard !isClosed else { throw BPFError.closed("perf buffer") }
        var delivered = 0
        for ring in rings { delivered += try consume(ring) }
        return delivered
    }

    private func consume(_ ring: PerfEventRing) throws -> Int {
        try ring.consume(sample: { cpu, data in try onSample?(cpu, data) }, lost: { cpu, count in onLost?(cpu, count) })
    }

    /// Makes a `poll` blocked on another thread return. Any thread.
    public func wake() { poller.wake() }

    /// Stops the buffer: later polls throw `BPFError.closed`; resources go with the object.
    public func close() {
        isClosed = true
        poller.wake()
    }
}

/// What a perf buffer delivers to async consumers.
public enum PerfBufferEvent: Sendable, Hashable {
    /// A sample's raw bytes (copied), from `cpu`.
    case sample(cpu: Int, bytes: [UInt8])
    /// The kernel dropped `count` samples on `cpu` because its ring was full.
    case lost(cpu: Int, count: UInt64)
}

extension PerfBuffer {
    /// Samples and loss reports, copied, as an async sequence; pulled only as fast as the loop
    /// asks (a slow consumer makes the kernel count losses). Ends when the task is cancelled or
    /// the buffer is closed. The handlers given to `init` are not called for events read this
    /// way; do not `poll` while iterating.
    public func events() -> PerfBufferEvents { PerfBufferEvents(buffer: self) }
}

/// The samples and loss reports of a perf buffer as an asynchronous sequence.
public struct PerfBufferEvents: AsyncSequence, Sendable {
    /// A sample or a loss report.
    public typealias Element = PerfBufferEvent
    let buffer: PerfBuffer

    public func makeAsyncIterator() -> Iterator { Iterator(buffer: buffer) }

    /// Waits for the buffer to become readable, then yields what it holds.
    public struct Iterator: AsyncIteratorProtocol {
        let buffer: PerfBuffer
        private var iteration: BatchedEventIteration<PerfBufferEvent>

        init(buffer: PerfBuffer) {
            self.buffer = buffer
            iteration = BatchedEventIteration(poller: buffer.poller, label: "swiftbpf.perfbuf.readiness")
        }

        public mutating func next() async throws -> PerfBufferEvent? {
            let buffer = buffer
            return try await iteration.next(isClosed: { buffer.isClosedForIteration }) { pending in
                for ring in buffer.rings {
                    _ = try ring.consume(
                        sample: { cpu, data in pending.append(.sample(cpu: cpu, bytes: Array(data))) },
                        lost: { cpu, count in pending.append(.lost(cpu: cpu, count: count)) })
                }
            }
        }
    }
}
