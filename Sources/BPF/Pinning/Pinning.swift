import CBPFSys

/// Pinning kernel objects in bpffs so they outlive the process (BPF_OBJ_PIN / BPF_OBJ_GET).
public enum Pinning {
    /// Pins the object behind `fd` at `path` (inside a bpffs mount, normally /sys/fs/bpf).
    ///
    /// If `path` is under /sys/fs/bpf and no bpffs is mounted there, one is mounted first;
    /// missing parent directories inside bpffs are created.
    public static func pin(_ fd: OwnedFileDescriptor, at path: String) throws {
        let normalized = BPFFileSystem.normalize(path)
        if normalized.hasPrefix(BPFFileSystem.defaultMountPoint + "/"), !BPFFileSystem.contains(BPFFileSystem.defaultMountPoint) {
            try BPFFileSystem.mountIfNeeded(at: BPFFileSystem.defaultMountPoint)
        }
        try BPFFileSystem.createParentDirectories(of: normalized)
        var attr = sbpf_obj_attr()
        attr.bpf_fd = UInt32(bitPattern: try fd.value())
        try path.withCString { cPath in
            attr.pathname = kernelPointer(cPath)
            try BPFSyscall.call(.objPin, &attr, subject: "\(fd.label) at \(path)") { errno in
                switch errno {
                case .EPERM: "\(path) is not inside a bpffs mount (mount -t bpf bpf /sys/fs/bpf), or pinning needs root"
                case .ENOENT: "the directory of \(path) does not exist in bpffs"
                default: nil
                }
            }
        }
    }

    /// Opens whatever is pinned at `path` (BPF_OBJ_GET) as a new owned descriptor.
    public static func open(_ path: String, readOnly: Bool = false) throws -> OwnedFileDescriptor {
        var attr = sbpf_obj_attr()
        attr.file_flags = readOnly ? 1 << 3 : 0 // BPF_F_RDONLY
        return try path.withCString { cPath in
            attr.pathname = kernelPointer(cPath)
            let raw = try BPFSyscall.call(.objGet, &attr, subject: path)
            return OwnedFileDescriptor(adopting: raw, label: "pinned object \(path)")
        }
    }
}
