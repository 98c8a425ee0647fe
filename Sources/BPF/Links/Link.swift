import BPFObject
import CBPFSys

/// An attachment of a program to a hook. It detaches when closed or when its owner releases it,
/// unless it was pinned.
public protocol Link: AnyObject, CustomStringConvertible {
    /// Detaches now. A second call throws `BPFError.closed`.
    func close() throws
}

/// A kernel `bpf_link` (BPF_LINK_CREATE, BPF_RAW_TRACEPOINT_OPEN): the kernel keeps the
/// attachment exactly as long as a descriptor or a pin refers to it.
public final class KernelLink: Link, @unchecked Sendable {
    public let fd: OwnedFileDescriptor
    public let description: String

    public init(fd: OwnedFileDescriptor, description: String) {
        self.fd = fd
        self.description = description
    }

    /// BPF_LINK_CREATE. `configure` fills the attach-kind specific tail of the record.
    static func create(
        program: Program,
        targetFD: Int32 = 0,
        attachType: AttachType,
        flags: UInt32 = 0,
        description: String,
        meaning: ((Errno) -> String?)? = nil,
        configure: (inout sbpf_link_create_attr) -> Void = { _ in }
    ) throws -> KernelLink {
        var attr = sbpf_link_create_attr()
        attr.prog_fd = UInt32(bitPattern: try program.fd.value())
        attr.target_fd = UInt32(bitPattern: targetFD)
        attr.attach_type = attachType.rawValue
        attr.flags = flags
        configure(&attr)
        let fd = try BPFSyscall.callReturningFD(.linkCreate, &attr, label: description, meaning: meaning)
        return KernelLink(fd: fd, description: description)
    }

    /// Atomically replaces the attached program (BPF_LINK_UPDATE).
    public func update(to program: Program, expecting old: Program? = nil) throws {
        var attr = sbpf_link_update_attr()
        attr.link_fd = UInt32(bitPattern: try fd.value())
        attr.new_prog_fd = UInt32(bitPattern: try program.fd.value())
        if let old {
            attr.old_prog_fd = UInt32(bitPattern: try old.fd.value())
            attr.flags = 1 << 2 // BPF_F_REPLACE
        }
        try BPFSyscall.call(.linkUpdate, &attr, subject: description)
    }

    /// Detaches the program while keeping the link object (BPF_LINK_DETACH); pinned links too.
    public func detach() throws {
        var attr = sbpf_link_fd_attr()
        attr.link_fd = UInt32(bitPattern: try fd.value())
        try BPFSyscall.call(.linkDetach, &attr, subject: description)
    }

    /// Pins the link so it outlives this process.
    public func pin(at path: String) throws { try Pinning.pin(fd, at: path) }

    public func close() throws { try fd.close() }
}
