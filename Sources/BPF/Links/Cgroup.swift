#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import BPFObject
import CBPFSys

/// A cgroup v2 directory, opened for attaching programs (O_RDONLY | O_DIRECTORY).
public final class Cgroup: @unchecked Sendable {
    public let path: String
    public let fd: OwnedFileDescriptor

    /// CGROUP2_SUPER_MAGIC (include/uapi/linux/magic.h): BPF programs attach to cgroup v2 only.
    static let cgroup2Magic = 0x6367_7270

    /// Opens the cgroup directory at `path` (absolute, or relative to the cgroup v2 mount).
    public init(path: String) throws {
        let resolved = path.hasPrefix("/") ? path : try Cgroup.unifiedMountPoint() + "/" + path
        let raw = open(resolved, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard raw >= 0 else {
            let error = Errno.current
            switch error {
            case .ENOENT: throw BPFError.notFound(what: "cgroup", detail: "\(resolved) does not exist")
            case .ENOTDIR: throw BPFError.invalidArgument("\(resolved) is not a directory, so not a cgroup")
            default:
                throw BPFError.syscall(SystemCallFailure(operation: "open", errno: error, subject: "cgroup \(resolved)", meaning: "could not open the cgroup directory"))
            }
        }
        let fd = OwnedFileDescriptor(adopting: raw, label: "cgroup \(resolved)")
        if sbpf_filesystem_type(resolved) != Self.cgroup2Magic {
            throw BPFError.invalidArgument("\(resolved) is not in a cgroup v2 hierarchy (BPF programs attach to cgroup v2 only; mount one with `mount -t cgroup2 none /sys/fs/cgroup/unified`)")
        }
        self.path = resolved
        self.fd = fd
    }

    /// Where cgroup v2 is mounted: the first cgroup2 entry of /proc/self/mountinfo
    /// (`/sys/fs/cgroup` on unified systems, `/sys/fs/cgroup/unified` on hybrid ones).
    public static func unifiedMountPoint() throws -> String {
        guard let text = readProcFile("/proc/self/mountinfo") else {
            throw BPFError.notFound(what: "file", detail: "/proc/self/mountinfo could not be read (is /proc mounted?)")
        }
        guard let mountPoint = cgroup2MountPoints(inMountInfo: text).first else {
            throw BPFError.notFound(what: "cgroup v2 mount", detail: "no cgroup2 file system is mounted (mount -t cgroup2 none /sys/fs/cgroup/unified)")
        }
        return mountPoint
    }

    /// The mount points of cgroup2 file systems in a mountinfo text (proc(5)): field 5 is the
    /// mount point with octal escapes, the first field after " - " the file-system type.
    /// Malformed lines are skipped.
    public static func cgroup2MountPoints(inMountInfo text: String) -> [String] {
        MountInfo.mountPoints(ofType: "cgroup2", in: text)
    }

    /// The programs attached to this cgroup for `attachType` (BPF_PROG_QUERY). With `effective`,
    /// the programs that run for it, inherited ones included.
    public func attachedPrograms(_ attachType: AttachType, effective: Bool = false) throws -> CgroupPrograms {
        var capacity = 64
        while true {
            var ids = [UInt32](repeating: 0, count: capacity)
            var flags = [UInt32](repeating: 0, count: capacity)
            var attr = sbpf_prog_query_attr()
            let result: Result<Int32, Errno> = ids.withUnsafeMutableBufferPointer { idBuffer in
                flags.withUnsafeMutableBufferPointer { flagBuffer in
                    attr.target_fd = UInt32(bitPattern: fd.rawValue)
                    attr.attach_type = attachType.rawValue
                    attr.query_flags = effective ? 1 : 0 // BPF_F_QUERY_EFFECTIVE
                    attr.prog_ids = kernelPointer(idBuffer.baseAddress)
                    // The kernel refuses per-program flags together with an effective query.
                    if !effective { attr.prog_attach_flags = kernelPointer(flagBuffer.baseAddress) }
                    attr.prog_cnt = UInt32(capacity)
                    return BPFSyscall.invoke(.progQuery, &attr)
                }
            }
            switch result {
            case .success:
                let count = min(Int(attr.prog_cnt), capacity)
                return CgroupPrograms(attachFlags: CgroupAttachFlags(rawValue: attr.attach_flags), programs: (0..<count).map {
                    CgroupPrograms.Entry(programID: ids[$0], flags: CgroupAttachFlags(rawValue: effective ? 0 : flags[$0]))
                })
            case .failure(.ENOSPC) where Int(attr.prog_cnt) > capacity:
                capacity = Int(attr.prog_cnt)
            case .failure(let errno):
                if errno == .EBADF, !fd.isOpen { throw BPFError.closed(fd.label) }
                throw BPFError.syscall(SystemCallFailure(
                    operation: BPFCommand.progQuery.description, errno: errno, subject: "\(fd.label), \(attachType.name)",
                    meaning: errno == .EINVAL ? "\(attachType.name) is not a cgroup attach type this kernel knows" : nil))
            }
        }
    }
}

/// `BPF_F_ALLOW_OVERRIDE`, `BPF_F_ALLOW_MULTI`, `BPF_F_REPLACE` for BPF_PROG_ATTACH to cgroups.
public struct CgroupAttachFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// A program in a descendant cgroup may replace this one.
    public static let allowOverride = CgroupAttachFlags(rawValue: 1 << 0)
    /// Several programs run, this one's and its descendants'; the default here, as in libbpf.
    public static let allowMulti = CgroupAttachFlags(rawValue: 1 << 1)
    public static let replace = CgroupAttachFlags(rawValue: 1 << 2)
}

/// The answer of BPF_PROG_QUERY on a cgroup.
public struct CgroupPrograms: Sendable, Hashable {
    /// One program attached to the hook.
    public struct Entry: Sendable, Hashable {
        public var programID: UInt32
        /// The flags this program was attached with (not reported for effective queries).
        public var flags: CgroupAttachFlags
    }
    /// The attach flags of the hook (cgroup v2 semantics: override/multi).
    public var attachFlags: CgroupAttachFlags
    /// In run order.
    public var programs: [Entry]
    public var programIDs: [UInt32] { programs.map(\.programID) }
}

/// A program attached to a cgroup, detached when closed or released.
///
/// Uses a BPF link (BPF_LINK_CREATE, kernel 5.7+) when the kernel has them, otherwise
/// BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI, undone with BPF_PROG_DETACH naming this program.
public final class CgroupAttachment: Link, @unchecked Sendable {
    /// How the program is attached: a BPF link or the older BPF_PROG_ATTACH.
    public enum Method: Sendable, Hashable {
        /// A link when the kernel has cgroup links, otherwise `.programAttach(.allowMulti)`.
        case automatic
        case link
        case programAttach(CgroupAttachFlags)
    }

    public let attachType: AttachType
    /// The method used (`.automatic` resolved).
    public let method: Method
    public let kernelLink: KernelLink?
    public let description: String
    /// For `.programAttach`: our own descriptors of the cgroup and the program, so the detach
    /// names exactly this attachment even after the caller closed theirs.
    private var attached: (cgroup: OwnedFileDescriptor, program: OwnedFileDescriptor)?

    /// Attaches `program` to `cgroup` at `attachType` (default: the program's expected attach type).
    public static func attach(_ program: Program, to cgroup: Cgroup, attachType: AttachType? = nil,
                              method: Method = .automatic) throws -> CgroupAttachment {
        guard let attachType = attachType ?? program.expectedAttachType else {
            throw BPFError.invalidArgument("\(program.fd.label) has no expected attach type; say which cgroup hook to attach to (e.g. .cgroupInetEgress)")
        }
        let name = program.name.isEmpty ? "\(program.type.name) program" : "program '\(program.name)'"
        let description = "\(name) on \(cgroup.path) (\(attachType.name))"
        let meaning: (Errno) -> String? = { errno in
            switch errno {
            case .EINVAL: "the kernel refused \(attachType.name) for a \(program.type.name) program (program type or expected attach type does not match the hook)"
            case .EPERM: "a program attached without BPF_F_ALLOW_MULTI (or with override) blocks more attachments on \(cgroup.path) or an ancestor, or the caller lacks CAP_NET_ADMIN/CAP_SYS_ADMIN"
            case .EEXIST: "this program is already attached to \(cgroup.path) at \(attachType.name)"
            case .E2BIG: "too many programs attached to \(cgroup.path) at \(attachType.name) (the kernel allows 64)"
            default: nil
            }
        }
        switch method {
        case .automatic:
            return try attach(program, to: cgroup, attachType: attachType, method: CgroupLinks.isSupported ? .link : .programAttach(.allowMulti))
        case .link:
            let link = try KernelLink.create(program: program, targetFD: try cgroup.fd.value(), attachType: attachType,
                                             description: description, meaning: meaning)
            return CgroupAttachment(attachType: attachType, method: .link, kernelLink: link, attached: nil, description: description)
        case .programAttach(let flags):
            let cgroupFD = try cgroup.fd.duplicate()
            let programFD = try program.fd.duplicate()
            var attr = sbpf_prog_attach_attr()
            attr.target_fd = UInt32(bitPattern: try cgroupFD.value())
            attr.attach_bpf_fd = UInt32(bitPattern: try programFD.value())
            attr.attach_type = attachType.rawValue
            attr.attach_flags = flags.rawValue
            try BPFSyscall.call(.progAttach, &attr, subject: description, meaning: meaning)
            return CgroupAttachment(attachType: attachType, method: method, kernelLink: nil, attached: (cgroupFD, programFD), description: description)
        }
    }

    private init(attachType: AttachType, method: Method, kernelLink: KernelLink?,
                 attached: (cgroup: OwnedFileDescriptor, program: OwnedFileDescriptor)?, description: String) {
        self.attachType = attachType
        self.method = method
        self.kernelLink = kernelLink
        self.attached = attached
        self.description = description
    }

    deinit {
        if attached != nil { try? detachProgram() }
    }

    /// Detaches now. A second call throws `BPFError.closed`.
    public func close() throws {
        if let kernelLink {
            try kernelLink.close()
            return
        }
        guard attached != nil else { throw BPFError.closed(description) }
        try detachProgram()
    }

    private func detachProgram() throws {
        guard let (cgroup, program) = attached else { return }
        attached = nil
        defer {
            try? cgroup.close()
            try? program.close()
        }
        var attr = sbpf_prog_attach_attr()
        attr.target_fd = UInt32(bitPattern: try cgroup.value())
        attr.attach_bpf_fd = UInt32(bitPattern: try program.value())
        attr.attach_type = attachType.rawValue
        switch BPFSyscall.invoke(.progDetach, &attr) {
        case .success, .failure(.ENOENT): return // ENOENT: detached by someone else already
        case .failure(let errno):
            throw BPFError.syscall(SystemCallFailure(operation: BPFCommand.progDetach.description, errno: errno, subject: description))
        }
    }
}

/// Whether the kernel has cgroup BPF links.
public enum CgroupLinks {
    /// Probed once per process: BPF_LINK_CREATE (5.7+, where cgroups were its first user) with
    /// an invalid program descriptor fails with EBADF when the command exists, EINVAL otherwise.
    public static var isSupported: Bool { probe }

    private static let probe: Bool = {
        var attr = sbpf_link_create_attr()
        attr.prog_fd = UInt32.max
        attr.target_fd = UInt32.max
        attr.attach_type = AttachType.cgroupInetIngress.rawValue
        if case .failure(.EBADF) = BPFSyscall.invoke(.linkCreate, &attr) { return true }
        return false
    }()
}

/// Reads a small text file (procfs, sysfs) whole; nil if it cannot be opened.
private func readProcFile(_ path: String) -> String? {
    let raw = open(path, O_RDONLY | O_CLOEXEC)
    guard raw >= 0 else { return nil }
    defer { Glibc.close(raw) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16 * 1024)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(raw, $0.baseAddress, $0.count) }
        if count < 0 {
            if Errno.current == .EINTR { continue }
            return nil
        }
        if count == 0 { break }
        bytes += chunk.prefix(count)
    }
    return String(decoding: bytes, as: UTF8.self)
}
