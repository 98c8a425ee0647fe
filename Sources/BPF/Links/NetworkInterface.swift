#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A network interface of the current thread's network namespace, by name and index.
///
/// XDP, tc and tcx attach by index; users speak names. The index is resolved once, when the
/// value is made: if the interface is deleted and another takes its index, attachments made
/// through this value go to the new one (the kernel knows only indexes).
public struct NetworkInterface: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let index: UInt32

    public init(name: String, index: UInt32) {
        self.name = name
        self.index = index
    }

    /// Looks `name` up with if_nametoindex(3).
    public init(named name: String) throws {
        guard !name.isEmpty, name.utf8.count < Int(IFNAMSIZ), !name.contains("/"), !name.contains(" ") else {
            throw BPFError.invalidArgument("'\(name)' is not a valid interface name (1 to \(IFNAMSIZ - 1) bytes, no '/' or spaces)")
        }
        let index = if_nametoindex(name)
        guard index != 0 else {
            let error = Errno.current
            if error == .ENODEV || error == .ENXIO || error == Errno(0) {
                throw BPFError.notFound(what: "interface", detail: "'\(name)' does not exist in this network namespace (see `ip link`)")
            }
            throw BPFError.syscall(SystemCallFailure(operation: "if_nametoindex", errno: error, subject: "interface '\(name)'",
                                                     meaning: "could not resolve the interface name"))
        }
        self.init(name: name, index: index)
    }

    /// Looks `index` up with if_indextoname(3).
    public init(index: UInt32) throws {
        var buffer = [CChar](repeating: 0, count: Int(IFNAMSIZ))
        guard if_indextoname(index, &buffer) != nil else {
            throw BPFError.notFound(what: "interface", detail: "no interface has index \(index) in this network namespace")
        }
        self.init(name: String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self), index: index)
    }

    /// `lo(1)`, the way bpftool names interfaces.
    public var description: String { "\(name)(\(index))" }
}
