import BPFObject
import CBPFSys

/// Reads one or more ring buffer maps through one epoll set, like libbpf's `ring_buffer__new`
/// and `ring_buffer__add`: each map has its own handler, called with each record's bytes in
/// place (valid only during the call).
///
/// ```swift
/// let reader = try RingBufferReader()
/// try reader.add(events) { record in total += record.load(as: UInt64.self) }
/// while running { try reader.poll(timeout: .milliseconds(100)) }
/// ```
///
/// Polling is for one thread at a time; `wake()` may be called from any thread to make a
/// blocked `poll` return, which is how a reader is shut down cleanly. The maps are unmapped
/// when the reader is released.
public final class RingBufferReader: @unchecked Sendable {
    /// Called with each record's bytes, which are valid only during the call (zero-copy).
    public typealias Handler = (UnsafeRawBufferPointer) throws -> Void

    @usableFromInline final class Source {
        @usableFromInline let ring: RingBuffer
        @usableFromInline let handler: Handler?
        init(ring: RingBuffer, handler: Handler?) {
            self.ring = ring
            self.handler = handler
        }
    }

    @usableFromInline var sources: [Source] = []
    let poller: EventPoller
    private var isClosed = false
    var isClosedForIteration: Bool { isClosed }

    /// An empty reader; add maps with `add(_:handler:)`.
    public init() throws {
        poller = try EventPoller(subject: "ring buffer reader")
    }

    /// A reader of one map.
    public convenience init(_ map: Map, handler: Handler? = nil) throws {
        try self.init()
        try add(map, handler: handler)
    }

    /// Maps another ring buffer map and watches it; returns its index (the order of adding).
    /// `handler` receives its records in `poll` and `consumeAvailable`; without one, its
    /// records are only available through `records()` or `ring(at:)`.
    @discardableResult
    public func add(_ map: Map, handler: Handler? = nil) throws -> Int {
        guard !isClosed else { throw BPFError.closed("ring buffer reader") }
        let ring = try RingBuffer(map)
        let index = sources.count
        try poller.add(try map.fd.value(), token: UInt64(index), subject: map.fd.label)
        sources.append(Source(ring: ring, handler: handler))
        return index
    }

    /// How many maps the reader watches.
    public var count: Int { sources.count }

    /// The mapped ring at `index` (in the order added).
    public func ring(at index: Int) -> RingBuffer { sources[index].ring }

    /// Waits up to `timeout` (nil: until woken) for records, consumes every available record of
    /// the ready maps, and returns how many it delivered. Returns 0 on timeout, on `wake()`, or
    /// when a signal interrupts the wait. A throwing handler stops the poll and its error
    /// propagates (the record it was given counts as consumed).
    @discardableResult
    public func poll(timeout: Duration? = nil) throws -> Int {
        guard !isClosed else { throw BPFError.closed("ring buffer reader") }
        var delivered = 0
        try poller.wait(timeout: timeout) { token in
            delivered += try consume(sources[Int(token)])
        }
        return delivered
    }

    /// Consumes every record available now in every map, without waiting.
    @discardableResult
    public func consumeAvailable() throws -> Int {
        guard !isClosed else { throw BPFError.closed("ring buffer reader") }
        var delivered = 0
        for source in sources { delivered += try consume(source) }
        return delivered
    }

    @inlinable
    func consume(_ source: Source) throws -> Int {
        guard let handler = source.handler else { return 0 }
        return try source.ring.consume(handler)
    }

    /// Makes a `poll` blocked on another thread return (or the next one). Any thread.
    public func wake() { poller.wake() }

    /// Stops the reader: later polls throw `BPFError.closed`. The maps are unmapped when the
    /// reader is released; close from the polling thread, or `wake()` it first.
    public func close() {
        isClosed = true
        poller.wake()
    }
}

extension RingBufferReader {
    /// Adds `map` with a handler that receives each record as a `Record` value, loaded from the
    /// record's first `MemoryLayout<Record>.size` bytes (any alignment), for records laid out
    /// like a C struct the program submits. A record shorter than `Record` is a
    /// `BPFError.invalidArgument` thrown from `poll`, naming both sizes.
    @discardableResult
    public func add<Record: BitwiseCopyable>(_ map: Map, as type: Record.Type, handler: @escaping (Record) throws -> Void) throws -> Int {
        let label = map.fd.label
        return try add(map) { bytes in
            guard bytes.count >= MemoryLayout<Record>.size else {
                throw BPFError.invalidArgument("a record of \(bytes.count) bytes from \(label) is shorter than \(Record.self) (\(MemoryLayout<Record>.size) bytes)")
            }
            try handler(bytes.loadUnaligned(as: Record.self))
        }
    }
}
