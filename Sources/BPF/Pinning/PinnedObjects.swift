import BPFObject
import CBPFSys
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What kind of BPF object a descriptor refers to, read from its /proc/self/fd link
/// (`anon_inode:bpf-map`, `anon_inode:bpf-prog`, `anon_inode:bpf_link`, `anon_inode:btf`).
enum BPFObjectKindProbe {
    static func kind(of fd: Int32) -> String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)") else { return nil }
        switch target {
        case "anon_inode:bpf-map": return "map"
        case "anon_inode:bpf-prog": return "program"
        case "anon_inode:bpf_link": return "link"
        case "anon_inode:btf": return "BTF object"
        default: return target
        }
    }
}

extension Pinning {
    /// Removes the pin at `path` (unlink(2)); the object lives on while descriptors or other
    /// pins hold it. Removing an empty directory in bpffs works too.
    public static func unpin(_ path: String) throws {
        if unlink(path) == 0 { return }
        var errno = Errno.current
        if errno == Errno(21) { // EISDIR: a directory of pins
            if rmdir(path) == 0 { return }
            errno = Errno.current
        }
        if errno == .ENOENT { throw BPFError.notFound(what: "pin", detail: "nothing is pinned at \(path)") }
        throw BPFError.syscall(SystemCallFailure(operation: "unlink", errno: errno, subject: path, meaning: errno == .EACCES || errno == .EPERM
            ? "removing pins needs write permission on the bpffs directory (root by default)" : nil))
    }

    /// Opens the object pinned at `path`, checking it is a `kind` ("map", "program", "link").
    static func open(_ path: String, expecting kind: String, readOnly: Bool) throws -> OwnedFileDescriptor {
        var attr = sbpf_obj_attr()
        attr.file_flags = readOnly ? 1 << 3 : 0 // BPF_F_RDONLY
        let raw: Int32 = try path.withCString { cPath in
            attr.pathname = kernelPointer(cPath)
            switch BPFSyscall.invoke(.objGet, &attr) {
            case .success(let fd): return fd
            case .failure(.ENOENT): throw BPFError.notFound(what: "pinned \(kind)", detail: "nothing is pinned at \(path)")
            case .failure(let errno):
                let meaning: String? = switch errno {
                case .EPERM where !BPFFileSystem.contains(path): "\(path) is not in a BPF file system"
                case .EPERM, .EACCES: "opening pinned objects needs root or read permission on the pin (\(path))"
                default: nil
                }
                throw BPFError.syscall(SystemCallFailure(operation: BPFCommand.objGet.description, errno: errno, subject: path, meaning: meaning))
            }
        }
        let fd = OwnedFileDescriptor(adopting: raw, label: "\(kind) pinned at \(path)")
        let actual = BPFObjectKindProbe.kind(of: raw)
        guard actual == kind else {
            throw BPFError.invalidArgument("\(path) holds a \(actual ?? "different object"), not a \(kind)")
        }
        return fd
    }
}

extension Map {
    /// Opens the map pinned at `path` (BPF_OBJ_GET), reading its shape from the kernel.
    public convenience init(pinnedAt path: String, readOnly: Bool = false) throws {
        try self.init(adopting: Pinning.open(path, expecting: "map", readOnly: readOnly))
    }

    /// Pins the map at `path` in bpffs, creating missing directories there (and mounting bpffs
    /// at /sys/fs/bpf if the path is under it and nothing is mounted).
    public func pin(at path: String) throws { try Pinning.pin(fd, at: path) }
}

extension Program {
    /// Opens the program pinned at `path`.
    public convenience init(pinnedAt path: String) throws {
        try self.init(adopting: Pinning.open(path, expecting: "program", readOnly: false))
    }

    /// Pins the program at `path` in bpffs, creating missing directories there.
    public func pin(at path: String) throws { try Pinning.pin(fd, at: path) }
}
