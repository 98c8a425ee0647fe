import BPFObject
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads the kernel's trace pipe (`/sys/kernel/tracing/trace_pipe`), where `bpf_trace_printk`
/// output goes, line by line: raw lines exactly as the kernel writes them (what
/// `bpftool prog tracelog` prints) or parsed into `TracePipeLine` fields (BCC's
/// `trace_fields`).
///
/// Reading the trace pipe consumes what it returns: two readers in the system split the lines
/// between them. Reads wait with epoll, so a `timeout` bounds them and `wake()` (any thread)
/// interrupts them. Lines are read for one thread at a time.
public final class TracePipe: @unchecked Sendable {
    public let path: String
    private let file: OwnedFileDescriptor
    let poller: EventPoller
    /// Bytes read but not yet returned as lines.
    private var buffer: [UInt8] = []
    /// Where the next line starts in `buffer`, and where the search for its end resumes.
    private var lineStart = 0
    private var scanFrom = 0
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    private var isClosed = false
    var isClosedForIteration: Bool { isClosed }

    /// Opens the trace pipe (mounting tracefs if needed), or the file at `path`.
    public init(path: String? = nil) throws {
        let path = try path ?? (Tracefs.root() + "/trace_pipe")
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let errno = Errno.current
            let meaning: String? = switch errno {
            case .EACCES, .EPERM: "reading the trace pipe needs root"
            case .ENOENT: "no trace pipe here; is tracefs mounted?"
            case .EBUSY: "the kernel allows one reader of the trace pipe at a time, and "
                + (Self.readers(of: path).first.map { "process \($0.pid) (\($0.command)) is reading it" } ?? "another process is reading it")
            default: nil
            }
            throw BPFError.syscall(SystemCallFailure(operation: "open", errno: errno, subject: path, meaning: meaning))
        }
        file = OwnedFileDescriptor(adopting: fd, label: path)
        poller = try EventPoller(subject: path)
        try poller.add(fd, token: 0, subject: path)
        self.path = path
    }

    /// The processes holding `path` open (from /proc/PID/fd), to name who keeps the pipe busy.
    public static func readers(of path: String) -> [(pid: Int32, command: String)] {
        let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return processes.compactMap { entry -> (Int32, String)? in
            guard let pid = Int32(entry), pid != getpid() else { return nil }
            let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(entry)/fd")) ?? []
            guard descriptors.contains(where: { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/fd/\($0)")) == path })
            else { return nil }
            let command = (try? String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            return (pid, command)
        }
    }

    /// The next line without its newline, waiting up to `timeout` (nil: until a line comes or
    /// `wake()` is called). Returns nil on timeout or wake.
    public func readLine(timeout: Duration? = nil) throws -> String? {
        guard !isClosed else { throw BPFError.closed(path) }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            if let line = takeLine() { return line }
            let remaining = deadline.map { $0 - ContinuousClock.now }
            if let remaining, remaining <= .zero {
                // One last non-blocking look before giving up.
                guard try fill() else { return nil }
                continue
            }
            var ready = false
            try poller.wait(timeout: remaining) { _ in ready = true }
            if isClosed { return nil }
            if !ready {
                if timeout == nil { return nil } // woken
                continue
            }
            _ = try fill()
        }
    }

    /// The next event line, parsed; lines that are not events are skipped. Nil on timeout/wake.
    public func readEvent(timeout: Duration? = nil) throws -> TracePipeLine? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            let remaining = deadline.map { max(.zero, $0 - ContinuousClock.now) }
            guard let line = try readLine(timeout: remaining) else { return nil }
            if let event = TracePipeLine(parsing: line) { return event }
        }
    }

    /// Every complete line available now, without waiting.
    public func availableLines() throws -> [String] {
        guard !isClosed else { throw BPFError.closed(path) }
        _ = try fill()
        var lines: [String] = []
        while let line = takeLine() { lines.append(line) }
        return lines
    }

    /// Interrupts a read waiting on another thread. Any thread.
    public func wake() { poller.wake() }

    /// Ends reading: later reads throw `BPFError.closed`; the descriptor goes with the object.
    public func close() {
        isClosed = true
        poller.wake()
    }

    /// Reads what the kernel has now; false if nothing was there.
    private func fill() throws -> Bool {
        var readAny = false
        while true {
            let count = chunk.withUnsafeMutableBytes { read(file.rawValue, $0.baseAddress, $0.count) }
            if count > 0 {
                buffer.append(contentsOf: chunk[0..<count])
                readAny = true
                continue
            }
            if count == 0 { return readAny }
            let errno = Errno.current
            if errno == .EAGAIN || errno == .EINTR { return readAny }
            throw BPFError.syscall(SystemCallFailure(operation: "read", errno: errno, subject: path))
        }
    }

    private func takeLine() -> String? {
        guard let newline = buffer[max(scanFrom, lineStart)...].firstIndex(of: UInt8(ascii: "\n")) else {
            scanFrom = buffer.count
            // Drop returned lines only now and then, so a burst of lines costs O(n), not O(n²).
            if lineStart > 0, lineStart >= buffer.count / 2 {
                buffer.removeSubrange(0..<lineStart)
                scanFrom -= lineStart
                lineStart = 0
            }
            return nil
        }
        let line = String(decoding: buffer[lineStart..<newline], as: UTF8.self)
        lineStart = newline + 1
        scanFrom = lineStart
        return line
    }
}

extension TracePipe {
    /// Raw lines as an async sequence (bpftool `prog tracelog` style). Ends when the task is
    /// cancelled or the pipe closed; do not read the pipe otherwise while iterating.
    public func lines() -> TracePipeLines { TracePipeLines(pipe: self) }
}

/// The lines of the trace pipe as an asynchronous sequence.
public struct TracePipeLines: AsyncSequence, Sendable {
    /// One line, without its newline.
    public typealias Element = String
    let pipe: TracePipe

    public func makeAsyncIterator() -> Iterator { Iterator(pipe: pipe) }

    /// Waits for the pipe to become readable, then yields its lines.
    public struct Iterator: AsyncIteratorProtocol {
        let pipe: TracePipe
        private var iteration: BatchedEventIteration<String>

        init(pipe: TracePipe) {
            self.pipe = pipe
            iteration = BatchedEventIteration(poller: pipe.poller, label: "swiftbpf.tracepipe.readiness")
        }

        public mutating func next() async throws -> String? {
            let pipe = pipe
            return try await iteration.next(isClosed: { pipe.isClosedForIteration }) { pending in
                while let line = try pipe.readLine(timeout: .zero) { pending.append(line) }
            }
        }
    }
}
