import BPFObject
import CBPFSys
import Foundation

/// The kernel's own BTF (/sys/kernel/btf/vmlinux and one file per module, split on top of
/// vmlinux) and the BTF objects loaded into it.
public enum KernelBTF {
    public static let sysfsDirectory = "/sys/kernel/btf"

    private static let cacheLock = NSLock()
    nonisolated(unsafe) private static var cachedVmlinux: BTF?

    /// The running kernel's BTF, parsed once per process.
    public static func vmlinux() throws -> BTF {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let cached = cachedVmlinux { return cached }
        let path = sysfsDirectory + "/vmlinux"
        guard FileManager.default.fileExists(atPath: path) else {
            throw BPFError.unsupported(feature: "kernel BTF", detail: "\(path) is missing: the kernel was built without CONFIG_DEBUG_INFO_BTF")
        }
        let btf = try parse { try mapped(path) ?? BTF(contentsOfFile: path) }
        cachedVmlinux = btf
        return btf
    }

    /// The BTF of a loaded module (split BTF on top of vmlinux).
    public static func module(_ name: String) throws -> BTF {
        let path = sysfsDirectory + "/" + name
        guard name != "vmlinux", !name.contains("/"), FileManager.default.fileExists(atPath: path) else {
            throw BPFError.notFound(what: "module BTF '\(name)'", detail: "no \(path) (the module is not loaded or has no BTF)")
        }
        let base = try vmlinux()
        return try parse { try mapped(path, base: base) ?? BTF(contentsOfFile: path, base: base) }
    }

    /// The BTF file mapped read-only instead of read: sysfs BTF can be mapped since Linux 6.16,
    /// and copying vmlinux's ~5 MB out of kernfs (one page per read) into fresh anonymous memory
    /// cost ~6.5 ms of CPU here, mapping and touching it ~0.3 ms. Nil when the file cannot be
    /// mapped (older kernels) or is not host-endian BTF; the caller then reads it.
    public static func mapped(_ path: String, base: BTF? = nil) -> BTF? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_size > 0 else { return nil }
        let length = Int(status.st_size)
        guard let address = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else { return nil }
        let pointer = UnsafeRawPointer(address)
        return try? BTF(borrowing: UnsafeRawBufferPointer(start: pointer, count: length), base: base) {
            munmap(UnsafeMutableRawPointer(mutating: pointer), length)
        }
    }

    /// Names of the BTF files the kernel exposes: "vmlinux" and one per module with BTF.
    public static func sysfsNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: sysfsDirectory)) ?? []
        return names.sorted { ($0 == "vmlinux" ? "" : $0) < ($1 == "vmlinux" ? "" : $1) }
    }

    /// Parses a BTF file; files under /sys/kernel/btf other than vmlinux are split BTF and get
    /// vmlinux as their base unless `base` names another base file.
    public static func openFile(_ path: String, base: String? = nil) throws -> BTF {
        var baseBTF: BTF?
        if let base {
            baseBTF = try parse { try BTF(contentsOfFile: base) }
        } else if path.hasPrefix(sysfsDirectory + "/"), !path.hasSuffix("/vmlinux") {
            baseBTF = try vmlinux()
        }
        return try parse { try BTF(contentsOfFile: path, base: baseBTF) }
    }

    /// Turns a parse failure into a BPFError naming what could not be read.
    static func parse(_ body: () throws -> BTF) throws -> BTF {
        do { return try body() } catch let error as BTFError {
            if case .notFound(let what) = error { throw BPFError.notFound(what: what, detail: "cannot read BTF") }
            throw BPFError.invalidArgument(error.description)
        }
    }

    /// Every BTF object in the kernel (BPF_BTF_GET_NEXT_ID), with its info.
    public static func loadedObjects() throws -> [BTFObjectInfo] {
        var result: [BTFObjectInfo] = []
        for id in try KernelObjects.ids(of: .btf) {
            guard let fd = try? KernelObjects.open(.btf, id: id) else { continue }  // freed meanwhile
            result.append(try BTFObjectInfo(fd: fd))
        }
        return result
    }
}

/// What the kernel reports about a BTF object (BPF_OBJ_GET_INFO_BY_FD with `struct bpf_btf_info`).
public struct BTFObjectInfo: Sendable, Hashable {
    public var id: UInt32
    /// "vmlinux" or the module name for kernel BTF; usually empty for program BTF.
    public var name: String
    public var size: UInt32
    public var isKernel: Bool

    public init(fd: OwnedFileDescriptor) throws {
        var nameBuffer = [UInt8](repeating: 0, count: 64)
        var info = sbpf_btf_info()
        try nameBuffer.withUnsafeMutableBytes { buffer in
            info.name = kernelPointer(buffer.baseAddress)
            info.name_len = UInt32(buffer.count)
            try objectInfo(fd: fd, into: &info)
        }
        id = info.id
        size = info.btf_size
        isKernel = info.kernel_btf != 0
        name = String(decoding: nameBuffer.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// The raw BTF bytes of the object behind `fd` (BPF_OBJ_GET_INFO_BY_FD with a buffer).
    public static func bytes(of fd: OwnedFileDescriptor) throws -> [UInt8] {
        var first = sbpf_btf_info()
        try objectInfo(fd: fd, into: &first)
        var bytes = [UInt8](repeating: 0, count: Int(first.btf_size))
        try bytes.withUnsafeMutableBytes { buffer in
            var info = sbpf_btf_info()
            info.btf = kernelPointer(buffer.baseAddress)
            info.btf_size = UInt32(buffer.count)
            try objectInfo(fd: fd, into: &info)
        }
        return bytes
    }
}

/// A BTF blob loaded into the kernel (BPF_BTF_LOAD); owns its descriptor.
public final class LoadedBTF: Sendable {
    public let fd: OwnedFileDescriptor

    /// Loads `bytes`. Tries without a log first; on failure loads again with a verbose log so
    /// the error carries the kernel's reason (e.g. "[3] PTR  Invalid type_id").
    public init(bytes: [UInt8], label: String = "BTF") throws {
        if let fd = LoadedBTF.attempt(bytes, logSize: 0, label: label).fd {
            self.fd = fd
            return
        }
        let attempt = LoadedBTF.attempt(bytes, logSize: 1 << 20, label: label)
        if let fd = attempt.fd {
            self.fd = fd
            return
        }
        let errno = attempt.errno ?? .EINVAL
        let reason = attempt.log.split(separator: "\n").suffix(3).joined(separator: " | ")
        throw BPFError.syscall(SystemCallFailure(
            operation: BPFCommand.btfLoad.description, errno: errno, subject: label,
            meaning: reason.isEmpty ? nil : "the kernel rejected the BTF: \(reason)"))
    }

    /// Loads a parsed BTF (host byte order) into the kernel.
    public convenience init(_ btf: BTF, label: String = "BTF") throws {
        try self.init(bytes: btf.rawBytes, label: label)
    }

    static func attempt(_ bytes: [UInt8], logSize: Int, label: String) -> (fd: OwnedFileDescriptor?, errno: Errno?, log: String) {
        var log = [UInt8](repeating: 0, count: logSize)
        let result: Result<Int32, Errno> = bytes.withUnsafeBytes { blob in
            log.withUnsafeMutableBytes { logBuffer in
                var attr = sbpf_btf_load_attr()
                attr.btf = kernelPointer(blob.baseAddress)
                attr.btf_size = UInt32(blob.count)
                if logSize > 0 {
                    attr.btf_log_buf = kernelPointer(logBuffer.baseAddress)
                    attr.btf_log_size = UInt32(logBuffer.count)
                    attr.btf_log_level = 1
                }
                return BPFSyscall.invoke(.btfLoad, &attr)
            }
        }
        switch result {
        case .success(let fd): return (OwnedFileDescriptor(adopting: fd, label: label), nil, "")
        case .failure(let errno):
            return (nil, errno, String(decoding: log.prefix { $0 != 0 }, as: UTF8.self))
        }
    }

    /// The kernel's id of this BTF object.
    public func info() throws -> BTFObjectInfo { try BTFObjectInfo(fd: fd) }
}
