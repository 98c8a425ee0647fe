import BPF
import BPFObject
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Files the run-time compiler reuses across runs: our headers, written out of the library, and
/// vmlinux.h for the running kernel (writing it from /sys/kernel/btf/vmlinux takes about a
/// second, so it is made once per kernel build).
///
/// The directory is `$SWIFTBPF_CACHE_DIR`, else `$XDG_CACHE_HOME/swiftbpf`, else
/// `/var/cache/swiftbpf` when writable (root), else `$TMPDIR/swiftbpf-<uid>`.
public enum CompilerCache {
    public static func directory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        var candidates: [String] = []
        if let explicit = environment["SWIFTBPF_CACHE_DIR"], !explicit.isEmpty { candidates.append(explicit) }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { candidates.append(xdg + "/swiftbpf") }
        candidates.append("/var/cache/swiftbpf")
        for candidate in candidates where isWritableDirectory(candidate, create: true) { return candidate }
        return NSTemporaryDirectory() + "swiftbpf-\(getuid())"
    }

    static func isWritableDirectory(_ path: String, create: Bool) -> Bool {
        if create { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        return access(path, W_OK | X_OK) == 0
    }

    /// A directory holding `bpf/*.h` (our headers, as embedded in this library), keyed by their
    /// content so two SwiftBPF versions never share a stale copy.
    static func headerDirectory(in root: String) throws -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 // FNV-1a
        for file in EmbeddedHeaders.files {
            for byte in file.path.utf8 + [0] + file.text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        let directory = root + "/include-" + String(hash, radix: 16)
        let marker = directory + "/.complete"
        if FileManager.default.fileExists(atPath: marker) { return directory }
        for file in EmbeddedHeaders.files {
            try writeAtomically(file.text + "\n", to: directory + "/" + file.path)
        }
        try writeAtomically("", to: marker)
        return directory
    }

    /// A directory holding vmlinux.h for the running kernel, written by BTFCHeaderWriter from
    /// /sys/kernel/btf/vmlinux and kept per release and BTF size (a rebuilt kernel with the same
    /// release string gets its own).
    static func vmlinuxDirectory(in root: String, btfPath: String = KernelBTF.sysfsDirectory + "/vmlinux") throws -> String {
        var status = stat()
        guard stat(btfPath, &status) == 0 else {
            throw BPFError.notFound(what: "kernel BTF", detail: "\(btfPath) is missing: the kernel was built without CONFIG_DEBUG_INFO_BTF, so vmlinux.h cannot be generated")
        }
        let release = ((try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)) ?? "unknown")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let size = Int(status.st_size) // sysfs gives the BTF blob's real size
        let directory = root + "/vmlinux-\(release)-\(size)"
        let header = directory + "/vmlinux.h"
        if FileManager.default.fileExists(atPath: header) { return directory }
        let btf = try KernelBTF.vmlinux()
        let text: String
        do { text = try BTFCHeaderWriter(btf: btf).header() } catch {
            throw BPFError.invalidArgument("cannot write vmlinux.h from \(btfPath): \(error)")
        }
        try writeAtomically(text, to: header)
        return directory
    }

    /// Writes through a temporary file and rename(2), so concurrent compilers never read a
    /// half-written header.
    static func writeAtomically(_ text: String, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try text.write(toFile: temporary, atomically: false, encoding: .utf8)
            guard rename(temporary, path) == 0 else {
                let error = Errno.current
                unlink(temporary)
                throw BPFError.syscall(SystemCallFailure(operation: "rename", errno: error, subject: path))
            }
        } catch let error as BPFError {
            throw error
        } catch {
            throw BPFError.invalidArgument("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
