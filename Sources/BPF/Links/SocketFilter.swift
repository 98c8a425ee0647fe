#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import BPFObject

/// A socket_filter program attached to one socket (setsockopt SO_ATTACH_BPF), detached
/// (SO_DETACH_BPF) when closed or released.
///
/// The socket is not owned: the caller keeps and closes it. The filter dies with the socket;
/// to never detach from a different socket that reused the descriptor number, the socket's
/// identity (device and inode of its sockfs file) is recorded at attach time and checked
/// before detaching.
///
/// The program sees each packet as a `struct __sk_buff` and returns how many bytes to keep:
/// 0 drops the packet, a value ≥ its length keeps all of it.
public final class SocketFilterAttachment: Link, @unchecked Sendable {
    public let socket: Int32
    public let description: String
    private var isAttached = true
    private let identity: (device: UInt64, inode: UInt64)

    /// SO_ATTACH_BPF / SO_DETACH_BPF (asm-generic/socket.h; SO_DETACH_BPF = SO_DETACH_FILTER).
    static let attachOption: Int32 = 50
    static let detachOption: Int32 = 27

    public init(_ program: Program, socket: Int32) throws {
        guard program.type == .socketFilter else {
            throw BPFError.invalidArgument("\(program.fd.label) is a \(program.type.name) program; sockets take socket_filter programs")
        }
        guard let identity = Self.identity(of: socket) else {
            throw BPFError.invalidArgument("descriptor \(socket) is not an open socket")
        }
        let name = program.name.isEmpty ? "socket filter" : "socket filter '\(program.name)'"
        description = "\(name) on socket fd \(socket)"
        var programFD = try program.fd.value()
        guard setsockopt(socket, SOL_SOCKET, Self.attachOption, &programFD, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            let error = Errno.current
            let meaning: String? = switch error {
            case .EINVAL: "the kernel refused the program as a socket filter (it must be of type socket_filter)"
            case Errno(88) /* ENOTSOCK */: "descriptor \(socket) is not a socket"
            case .EPERM: "the socket's filter is locked (SO_LOCK_FILTER)"
            default: nil
            }
            throw BPFError.syscall(SystemCallFailure(operation: "setsockopt(SO_ATTACH_BPF)", errno: error, subject: description, meaning: meaning))
        }
        self.socket = socket
        self.identity = identity
    }

    deinit {
        if isAttached { try? detach() }
    }

    /// Detaches now. A second call throws `BPFError.closed`. If the socket was closed in the
    /// meantime, there is nothing left to detach and this succeeds.
    public func close() throws {
        guard isAttached else { throw BPFError.closed(description) }
        try detach()
    }

    private func detach() throws {
        isAttached = false
        guard let current = Self.identity(of: socket), current == identity else { return }
        var unused: Int32 = 0
        guard setsockopt(socket, SOL_SOCKET, Self.detachOption, &unused, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            let error = Errno.current
            // ENOENT: no filter any more (someone detached it already).
            if error == .ENOENT { return }
            throw BPFError.syscall(SystemCallFailure(
                operation: "setsockopt(SO_DETACH_BPF)", errno: error, subject: description,
                meaning: error == .EPERM ? "the socket's filter is locked (SO_LOCK_FILTER)" : nil))
        }
    }

    private static func identity(of socket: Int32) -> (device: UInt64, inode: UInt64)? {
        var status = stat()
        guard fstat(socket, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK else { return nil }
        return (UInt64(status.st_dev), UInt64(status.st_ino))
    }
}
