import BPF
import BPFObject
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where `bpf_trace_printk` lines are read from.
public enum TraceSource: Sendable {
    /// A tracefs instance of our own (`instances/swiftbpf_bcc_<pid>_<n>`) with only the
    /// `bpf_trace:bpf_trace_printk` event enabled. It gets every bpf_trace_printk line in the
    /// system, as the global pipe does, without taking lines from other readers of the
    /// global trace_pipe (each line of a trace pipe goes to one reader only). Removed on close.
    case privateInstance
    /// The global /sys/kernel/tracing/trace_pipe, as BCC reads it.
    case globalPipe
}

/// A trace pipe reader for bpf_trace_printk output, on a private tracefs instance or the
/// global pipe.
final class TraceReader: @unchecked Sendable {
    private let instance: PrintkTraceInstance?
    private let lock = NSLock()
    private var globalPipe: TracePipe?

    init(source: TraceSource) throws {
        switch source {
        case .globalPipe:
            globalPipe = try TracePipe()
            instance = nil
        case .privateInstance:
            instance = try PrintkTraceInstance(namePrefix: "swiftbpf_bcc_")
        }
    }

    /// The pipe, or `BPFError.closed` after `close()`.
    var pipe: TracePipe {
        get throws {
            if let instance { return try instance.pipe() }
            return try lock.withLock {
                guard let globalPipe else { throw BPFError.closed("trace reader") }
                return globalPipe
            }
        }
    }

    func close() {
        instance?.close()
        let pipe = lock.withLock { () -> TracePipe? in
            defer { globalPipe = nil }
            return globalPipe
        }
        pipe?.close()
    }

    deinit { close() }
}

extension BPFModule {
    /// Chooses where trace lines come from (before the first read; default: a private
    /// instance). Returns false if reading already started.
    @discardableResult
    public func useTraceSource(_ source: TraceSource) throws -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard traceReader == nil else { return false }
        traceReader = try TraceReader(source: source)
        return true
    }

    func tracer() throws -> TraceReader {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { throw BPFError.closed("BPF module") }
        if let traceReader { return traceReader }
        let reader = try TraceReader(source: .privateInstance)
        traceReader = reader
        return reader
    }

    /// Starts the trace reader now, so lines printed from here on are kept (a private
    /// instance only buffers events from its creation).
    public func openTrace() throws { _ = try tracer() }

    /// The next bpf_trace_printk line as the kernel formats it (`comm-pid [cpu] flags ts:
    /// bpf_trace_printk: message`), waiting up to `timeout` (nil: until one comes or
    /// `traceWake()`); nil on timeout (BCC's `trace_readline`).
    public func traceReadline(timeout: Duration? = nil) throws -> String? {
        let pipe = try tracer().pipe
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            let remaining = deadline.map { max(.zero, $0 - ContinuousClock.now) }
            guard let line = try pipe.readLine(timeout: remaining) else { return nil }
            // The instance's pipe also carries the `# tracer` header lines of nothing else;
            // keep what the kernel printed, minus empty lines.
            if !line.isEmpty { return line }
        }
    }

    /// The next line split into BCC's `trace_fields()` (task, pid, cpu, flags, timestamp,
    /// message); lines that are not events are skipped. Nil on timeout.
    public func traceFields(timeout: Duration? = nil) throws -> TracePipeLine? {
        try tracer().pipe.readEvent(timeout: timeout)
    }

    /// Prints trace lines to standard output until `traceWake()` or the module closes (BCC's
    /// `trace_print`); `format` turns a parsed line into the printed text (nil: the raw line).
    public func tracePrint(format: ((TracePipeLine) -> String)? = nil) throws {
        while true {
            guard let line = try traceReadline() else { return }
            if let format, let parsed = TracePipeLine(parsing: line) {
                print(format(parsed))
            } else {
                print(line)
            }
            fflush(stdout)
        }
    }

    /// Wakes a `tracePrint`/`traceReadline` waiting on another thread (it returns).
    public func traceWake() {
        lock.lock()
        let reader = traceReader
        lock.unlock()
        (try? reader?.pipe)?.wake()
    }
}
