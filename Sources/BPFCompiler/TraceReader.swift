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
    private let lock = NSLock()
    private var openPipe: TracePipe?
    let instanceDirectory: String?

    private static let counter = InstanceCounter()
    static let instancePrefix = "swiftbpf_bcc_"

    init(source: TraceSource) throws {
        switch source {
        case .globalPipe:
            openPipe = try TracePipe()
            instanceDirectory = nil
        case .privateInstance:
            let root = try Tracefs.root()
            Self.removeStaleInstances(root: root)
            let directory = root + "/instances/\(Self.instancePrefix)\(getpid())_\(Self.counter.next())"
            guard mkdir(directory, 0o755) == 0 || errno == EEXIST else {
                let error = Errno.current
                throw BPFError.syscall(SystemCallFailure(operation: "mkdir", errno: error, subject: directory,
                                                         meaning: "cannot create a tracefs instance (needs root); pass TraceSource.globalPipe to read the global trace_pipe"))
            }
            do {
                // bpf_trace_printk emits the bpf_trace:bpf_trace_printk trace event
                // (kernel/trace/bpf_trace.h); enabling it here copies every line into this
                // instance's buffer.
                try Self.write("1", to: directory + "/events/bpf_trace/bpf_trace_printk/enable")
                openPipe = try TracePipe(path: directory + "/trace_pipe")
            } catch {
                rmdir(directory)
                throw error
            }
            instanceDirectory = directory
        }
    }

    /// The pipe, or `BPFError.closed` after `close()`.
    var pipe: TracePipe {
        get throws {
            lock.lock()
            defer { lock.unlock() }
            guard let openPipe else { throw BPFError.closed("trace reader") }
            return openPipe
        }
    }

    func close() {
        guard closePipe() else { return }
        guard let instanceDirectory else { return }
        try? Self.write("0", to: instanceDirectory + "/events/bpf_trace/bpf_trace_printk/enable")
        // The kernel refuses to remove an instance while a file in it is open (EBUSY): the
        // pipe's descriptor goes with its last reference, which a read on another thread may
        // hold until it sees the close (within one poll).
        for _ in 0..<40 {
            if rmdir(instanceDirectory) == 0 || errno == ENOENT { return }
            guard errno == EBUSY else { return }
            usleep(25_000)
        }
    }

    /// Closes the pipe and drops this reader's reference to it (on return); false if it was
    /// already closed.
    private func closePipe() -> Bool {
        lock.lock()
        let pipe = openPipe
        openPipe = nil
        lock.unlock()
        pipe?.close()
        return pipe != nil
    }

    deinit { close() }

    static func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw BPFError.syscall(SystemCallFailure(operation: "open", errno: Errno.current, subject: path))
        }
        defer { Glibc.close(fd) }
        let written = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        guard written >= 0 else {
            throw BPFError.syscall(SystemCallFailure(operation: "write", errno: Errno.current, subject: path))
        }
    }

    /// Instances of processes that died without closing (named with their pid).
    static func removeStaleInstances(root: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root + "/instances") else { return }
        for name in names where name.hasPrefix(instancePrefix) {
            let pidText = name.dropFirst(instancePrefix.count).prefix { $0.isNumber }
            guard let pid = Int32(pidText), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            rmdir(root + "/instances/" + name)
        }
    }
}

private final class InstanceCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
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
