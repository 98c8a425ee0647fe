import BPF
import BPFObject
import Foundation

extension BPFModule {
    /// Opens a perf buffer on perf-event-array map `name` (BPF_PERF_OUTPUT): one ring of
    /// `pageCount` pages per online CPU; `callback` gets each record's CPU and bytes during
    /// `perfBufferPoll` (BCC's `open_perf_buffer`). `lost` hears of dropped records.
    public func openPerfBuffer(_ name: String, pageCount: Int = 8,
                               lost: ((_ cpu: Int, _ count: UInt64) -> Void)? = nil,
                               callback: @escaping (_ cpu: Int, _ data: UnsafeRawBufferPointer) -> Void) throws {
        let map = try object.map(named: name)
        let buffer = try PerfBuffer(map, options: PerfBuffer.Options(pagesPerCPU: pageCount),
                                    onSample: { cpu, data in callback(cpu, data) }, onLost: lost)
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { buffer.close(); throw BPFError.closed("BPF module") }
        perfBuffers.append((name, buffer))
    }

    /// Waits up to `timeout` (nil: until records come or `eventsWake()`) for records in the open
    /// perf buffers and hands them to their callbacks; returns how many (BCC's
    /// `perf_buffer_poll`).
    @discardableResult
    public func perfBufferPoll(timeout: Duration? = nil) throws -> Int {
        lock.lock()
        let buffers = perfBuffers.map(\.buffer)
        lock.unlock()
        guard let first = buffers.first else {
            throw BPFError.invalidArgument("no perf buffer is open; call openPerfBuffer first")
        }
        var count = try first.poll(timeout: buffers.count == 1 ? timeout : min(timeout ?? .milliseconds(100), .milliseconds(100)))
        for buffer in buffers.dropFirst() { count += try buffer.consumeAvailable() }
        return count
    }

    /// Watches ring-buffer map `name` (BPF_RINGBUF_OUTPUT); `callback` gets each record during
    /// `ringBufferPoll`/`ringBufferConsume` (BCC's `open_ring_buffer`).
    public func openRingBuffer(_ name: String, callback: @escaping (_ data: UnsafeRawBufferPointer) -> Void) throws {
        let map = try object.map(named: name)
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { throw BPFError.closed("BPF module") }
        let reader = try ringReader ?? RingBufferReader()
        try reader.add(map) { data in callback(data) }
        ringReader = reader
        ringNames.append(name)
    }

    /// Waits up to `timeout` (nil: until records come or `eventsWake()`) and delivers the
    /// records of every open ring buffer; returns how many (BCC's `ring_buffer_poll`).
    @discardableResult
    public func ringBufferPoll(timeout: Duration? = nil) throws -> Int {
        try ringBuffers().poll(timeout: timeout)
    }

    /// Delivers the records available now without waiting (BCC's `ring_buffer_consume`).
    @discardableResult
    public func ringBufferConsume() throws -> Int {
        try ringBuffers().consumeAvailable()
    }

    func ringBuffers() throws -> RingBufferReader {
        lock.lock()
        defer { lock.unlock() }
        guard let ringReader else { throw BPFError.invalidArgument("no ring buffer is open; call openRingBuffer first") }
        return ringReader
    }

    /// Wakes a `perfBufferPoll`/`ringBufferPoll` waiting on another thread.
    public func eventsWake() {
        lock.lock()
        let (buffers, ring) = (perfBuffers.map(\.buffer), ringReader)
        lock.unlock()
        for buffer in buffers { buffer.wake() }
        ring?.wake()
    }
}

extension UnsafeRawBufferPointer {
    /// The NUL-terminated text in `count` bytes at `offset` (a `char comm[16]` field), decoded
    /// as UTF-8; empty when the range is outside the buffer.
    public func cString(at offset: Int, count: Int) -> String {
        guard offset >= 0, count >= 0, offset + count <= self.count else { return "" }
        let field = self[offset..<(offset + count)]
        return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// A plain value at `offset` (unaligned reads allowed); nil when it does not fit.
    public func value<T: BitwiseCopyable>(at offset: Int, as type: T.Type = T.self) -> T? {
        guard offset >= 0, offset + MemoryLayout<T>.size <= count else { return nil }
        return loadUnaligned(fromByteOffset: offset, as: T.self)
    }
}
