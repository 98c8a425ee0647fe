#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A file descriptor with exactly one owner, closed when the owner lets go.
///
/// Every kernel object (map, program, link, BTF, perf event) holds one of these; `close()` is
/// explicit and reports a second close as an error, and deinit closes whatever is still open.
public final class OwnedFileDescriptor: @unchecked Sendable, CustomStringConvertible {
    private var raw: Int32
    /// What this descriptor refers to, for error messages ("map 'counts'").
    public let label: String

    /// Takes ownership of `raw`, which must be an open descriptor nobody else will close.
    public init(adopting raw: Int32, label: String) {
        precondition(raw >= 0, "adopting an invalid file descriptor")
        self.raw = raw
        self.label = label
    }

    deinit {
        if raw >= 0 { Glibc.close(raw) }
    }

    public var isOpen: Bool { raw >= 0 }

    /// The descriptor number; throws if it has been closed.
    public func value() throws -> Int32 {
        guard raw >= 0 else { throw BPFError.closed(label) }
        return raw
    }

    /// The descriptor number, or -1 after close (the kernel then answers EBADF).
    public var rawValue: Int32 { raw }

    /// Closes now. A second call throws `BPFError.closed`.
    public func close() throws {
        guard raw >= 0 else { throw BPFError.closed(label) }
        let fd = raw
        raw = -1
        Glibc.close(fd)
    }

    /// A second descriptor for the same kernel object, owned separately.
    public func duplicate() throws -> OwnedFileDescriptor {
        let copy = fcntl(try value(), F_DUPFD_CLOEXEC, 3)
        guard copy >= 0 else {
            throw BPFError.syscall(SystemCallFailure(operation: "fcntl(F_DUPFD_CLOEXEC)", errno: .current, subject: label))
        }
        return OwnedFileDescriptor(adopting: copy, label: label)
    }

    public var description: String { raw >= 0 ? "fd \(raw) (\(label))" : "closed fd (\(label))" }
}
