import CBPFSys
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The BPF file system (bpffs), where kernel objects are pinned as files.
public enum BPFFileSystem {
    /// Where systemd, iproute2, bpftool and libbpf expect bpffs.
    public static let defaultMountPoint = "/sys/fs/bpf"
    /// `BPF_FS_MAGIC` (include/uapi/linux/magic.h): statfs f_type of bpffs.
    static let magic: Int = 0xcafe4a11

    /// Whether `path` lies on a bpffs (statfs of the path or, if it does not exist yet, of its
    /// nearest existing ancestor).
    public static func contains(_ path: String) -> Bool {
        guard let existing = nearestExistingAncestor(of: path) else { return false }
        return sbpf_filesystem_type(existing) == magic
    }

    /// The mount points of bpffs in this mount namespace, from /proc/self/mountinfo.
    public static func mountPoints() -> [String] {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        return mountPoints(ofType: "bpf", inMountInfo: text)
    }

    /// The mount points of file systems of `type` in a mountinfo text (see `MountInfo`).
    public static func mountPoints(ofType type: String, inMountInfo text: String) -> [String] {
        MountInfo.mountPoints(ofType: type, in: text)
    }

    /// Mounts bpffs at `path` unless one is already mounted there, creating the directory.
    /// Mounting needs CAP_SYS_ADMIN in the mount namespace.
    public static func mountIfNeeded(at path: String = defaultMountPoint) throws {
        let normalized = normalize(path)
        if mountPoints().contains(normalized) { return }
        try mount(at: normalized)
    }

    /// `mount -t bpf bpf PATH` via mount(2) (mode 0700, as systemd mounts it).
    public static func mount(at path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard Glibc.mount("bpf", path, "bpf", 0, "mode=0700") == 0 else {
            let errno = Errno.current
            let meaning: String? = switch errno {
            case .EPERM: "mounting the BPF file system needs root (CAP_SYS_ADMIN); ask an administrator to run: mount -t bpf bpf \(path)"
            case .ENODEV: "this kernel has no BPF file system (CONFIG_BPF_SYSCALL off)"
            default: nil
            }
            throw BPFError.syscall(SystemCallFailure(operation: "mount(bpf)", errno: errno, subject: path, meaning: meaning))
        }
    }

    /// Creates the missing directories of `path`'s parent; they must lie on a bpffs (pins can
    /// only be made there, and directories elsewhere would be left behind uselessly).
    public static func createParentDirectories(of path: String) throws {
        let parent = (normalize(path) as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw BPFError.invalidArgument("\(parent) exists but is not a directory") }
            return
        }
        guard contains(parent) else {
            throw BPFError.invalidArgument("\(path) is not inside a BPF file system (mount one with: mount -t bpf bpf \(defaultMountPoint))")
        }
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw BPFError.invalidArgument("cannot create \(parent) in the BPF file system: \(error.localizedDescription)")
        }
    }

    static func normalize(_ path: String) -> String {
        var result = (path as NSString).standardizingPath
        while result.count > 1 && result.hasSuffix("/") { result.removeLast() }
        return result
    }

    static func nearestExistingAncestor(of path: String) -> String? {
        var current = normalize(path)
        while !current.isEmpty {
            if FileManager.default.fileExists(atPath: current) { return current }
            if current == "/" { return nil }
            current = (current as NSString).deletingLastPathComponent
        }
        return nil
    }
}
