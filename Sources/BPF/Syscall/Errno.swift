#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An errno value with its symbolic name (`EPERM`), so errors read like the man pages.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current errno.
    public static var current: Errno { Errno(errno) }

    public var name: String { Self.names[rawValue] ?? "E\(rawValue)" }
    /// The C library's description ("Operation not permitted").
    public var summary: String { String(cString: strerror(rawValue)) }
    public var description: String { name }

    public static let EPERM = Errno(1), ENOENT = Errno(2), ESRCH = Errno(3), EINTR = Errno(4)
    public static let EIO = Errno(5), ENXIO = Errno(6), E2BIG = Errno(7), EBADF = Errno(9)
    public static let EAGAIN = Errno(11), ENOMEM = Errno(12), EACCES = Errno(13), EFAULT = Errno(14)
    public static let EBUSY = Errno(16), EEXIST = Errno(17), ENODEV = Errno(19), ENOTDIR = Errno(20)
    public static let EINVAL = Errno(22), EMFILE = Errno(24), ENOTTY = Errno(25), EFBIG = Errno(27)
    public static let ENOSPC = Errno(28), ERANGE = Errno(34), ENAMETOOLONG = Errno(36)
    public static let ENOSYS = Errno(38), ELOOP = Errno(40), ENOMSG = Errno(42), ENODATA = Errno(61)
    public static let EOVERFLOW = Errno(75), EOPNOTSUPP = Errno(95), EAFNOSUPPORT = Errno(97)
    public static let EADDRNOTAVAIL = Errno(99), ENOBUFS = Errno(105), ETIMEDOUT = Errno(110)
    /// Kernel-internal "not supported" that leaks out of some bpf() paths.
    public static let ENOTSUPP = Errno(524)

    private static let names: [Int32: String] = [
        1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG",
        8: "ENOEXEC", 9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES",
        14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 18: "EXDEV", 19: "ENODEV", 20: "ENOTDIR",
        21: "EISDIR", 22: "EINVAL", 23: "ENFILE", 24: "EMFILE", 25: "ENOTTY", 27: "EFBIG",
        28: "ENOSPC", 29: "ESPIPE", 30: "EROFS", 31: "EMLINK", 32: "EPIPE", 34: "ERANGE",
        35: "EDEADLK", 36: "ENAMETOOLONG", 38: "ENOSYS", 39: "ENOTEMPTY", 40: "ELOOP",
        42: "ENOMSG", 61: "ENODATA", 71: "EPROTO", 75: "EOVERFLOW", 77: "EBADFD", 88: "ENOTSOCK",
        93: "EPROTONOSUPPORT", 95: "EOPNOTSUPP", 97: "EAFNOSUPPORT", 98: "EADDRINUSE",
        99: "EADDRNOTAVAIL", 100: "ENETDOWN", 105: "ENOBUFS", 107: "ENOTCONN", 110: "ETIMEDOUT",
        125: "ECANCELED", 524: "ENOTSUPP",
    ]
}
