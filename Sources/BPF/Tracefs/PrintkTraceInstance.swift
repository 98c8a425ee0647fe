import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A tracefs instance of our own (`instances/<prefix><pid>_<n>`) with only the
/// `bpf_trace:bpf_trace_printk` event enabled: its `pipe` gets every bpf_trace_printk line in
/// the system, as the global trace_pipe does, but without competing with other readers. The
/// kernel lets one process at a time read the global pipe (EBUSY), and each line read there goes
/// to that reader only; every instance gets its own copy. Removed on `close()` or deinit;
/// instances left by processes that died are removed when the next one is made.
public final class PrintkTraceInstance: @unchecked Sendable {
    public let directory: String
    private let lock = NSLock()
    private var openPipe: TracePipe?

    public init(namePrefix: String = "swiftbpf_") throws {
        let root = try Tracefs.root()
        Self.removeStaleInstances(root: root, prefix: namePrefix)
        let directory = root + "/instances/\(namePrefix)\(getpid())_\(Self.counter.next())"
        guard mkdir(directory, 0o755) == 0 || errno == EEXIST else {
            throw BPFError.syscall(SystemCallFailure(operation: "mkdir", errno: Errno.current, subject: directory,
                                                     meaning: "cannot create a tracefs instance (needs root)"))
        }
        do {
            // bpf_trace_printk also emits the bpf_trace:bpf_trace_printk trace event
            // (kernel/trace/bpf_trace.h); enabling it here copies every line into this instance.
            try Tracefs.write("1", to: directory + "/events/bpf_trace/bpf_trace_printk/enable")
            openPipe = try TracePipe(path: directory + "/trace_pipe")
        } catch {
            rmdir(directory)
            throw error
        }
        self.directory = directory
    }

    deinit { close() }

    /// The instance's pipe. Lines come as the kernel formats them: `comm-pid [cpu] flags
    /// timestamp: bpf_trace_printk: message`. `BPFError.closed` after `close()`.
    public func pipe() throws -> TracePipe {
        try lock.withLock {
            guard let openPipe else { throw BPFError.closed("tracefs instance \(directory)") }
            return openPipe
        }
    }

    /// Stops the event, closes the pipe and removes the instance.
    public func close() {
        guard closePipe() else { return }
        try? Tracefs.write("0", to: directory + "/events/bpf_trace/bpf_trace_printk/enable")
        removeDirectory()
    }

    /// Closes the pipe and drops this instance's reference to it (by the time it returns);
    /// false if it was already closed.
    private func closePipe() -> Bool {
        let pipe = lock.withLock { () -> TracePipe? in
            defer { openPipe = nil }
            return openPipe
        }
        pipe?.close()
        return pipe != nil
    }

    /// Runs once the pipe is closed and this instance no longer holds it: the kernel refuses to
    /// remove an instance while a file in it is open (EBUSY), and a read on another thread may
    /// hold the pipe's descriptor until it sees the close (within one poll).
    private func removeDirectory() {
        for _ in 0..<40 {
            if rmdir(directory) == 0 || errno == ENOENT { return }
            guard errno == EBUSY else { return }
            usleep(25_000)
        }
    }

    /// Instances of processes that died without closing theirs (named with their pid).
    static func removeStaleInstances(root: String, prefix: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root + "/instances") else { return }
        for name in names where name.hasPrefix(prefix) {
            let pidText = name.dropFirst(prefix.count).prefix { $0.isNumber }
            guard let pid = Int32(pidText), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            rmdir(root + "/instances/" + name)
        }
    }

    private static let counter = InstanceCounter()
}

private final class InstanceCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.withLock { value += 1; return value } }
}
