import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where tracefs is mounted, mounting it at /sys/kernel/tracing if it is nowhere.
///
/// A minimal, private stand-in for the tracing area's `Tracefs` helper, which had not landed
/// in main when the trace pipe reader was written. TODO(unify): use `Tracefs` once it lands.
enum TracefsLocation {
    static let standard = "/sys/kernel/tracing"
    /// The old location under debugfs, still the only one on some systems.
    static let debugfs = "/sys/kernel/debug/tracing"

    /// The tracefs root (a directory holding `trace_pipe`).
    static func root() throws -> String {
        for candidate in [standard, debugfs] where FileManager.default.fileExists(atPath: candidate + "/trace_pipe") {
            return candidate
        }
        // tracefs is usually mounted by systemd; containers and minimal VMs may lack it.
        if mount("tracefs", standard, "tracefs", 0, nil) != 0 {
            let errno = Errno.current
            let meaning: String? = switch errno {
            case .EPERM: "mounting tracefs needs CAP_SYS_ADMIN; mount it yourself: mount -t tracefs tracefs \(standard)"
            case .ENODEV: "this kernel has no tracefs (CONFIG_TRACING off)"
            case .ENOENT: "\(standard) does not exist (is sysfs mounted?)"
            default: nil
            }
            throw BPFError.syscall(SystemCallFailure(operation: "mount(tracefs)", errno: errno, subject: standard, meaning: meaning))
        }
        guard FileManager.default.fileExists(atPath: standard + "/trace_pipe") else {
            throw BPFError.notFound(what: "trace_pipe", detail: "tracefs is mounted at \(standard) but has no trace_pipe")
        }
        return standard
    }
}
