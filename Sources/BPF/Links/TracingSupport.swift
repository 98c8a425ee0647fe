import BPFObject
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What this kernel offers for attaching tracing programs, probed (not guessed from the
/// version, except where noted) and cached per process, for feature reports and for choosing
/// attach paths.
public enum TracingSupport {
    /// BPF_LINK_CREATE accepts perf events (5.15+); otherwise programs are attached with
    /// `ioctl(PERF_EVENT_IOC_SET_BPF)` and live as long as the perf event descriptor.
    public static var perfLinks: Bool { PerfLinkSupport.isAvailable }

    /// Whether programs of every tracing type (perf_event, kprobe, tracepoint...) may use hash
    /// maps created with BPF_F_NO_PREALLOC. Since Linux 6.1 such maps allocate from
    /// `bpf_mem_alloc`, which is safe in any context (NMI included), and the verifier stopped
    /// requiring preallocated hash maps in perf_event programs; older kernels refuse them there
    /// and only tolerate them elsewhere. Decided from the release, as the change left no other
    /// trace a probe could see cheaply. Not preallocating saves creating every element up
    /// front (~2.4 ms for a 4096-entry per-CPU hash).
    public static var nonPreallocatedHashMaps: Bool { kernelVersionCode >= 6 << 16 | 1 << 8 }

    /// `KERNEL_VERSION(major, minor, patch)` of the running kernel (uname release).
    static let kernelVersionCode: UInt32 = {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        return KconfigValues.kernelVersion(release: release)
    }()

    /// The kprobe PMU (`/sys/bus/event_source/devices/kprobe`, 4.17+).
    public static var kprobePMU: Bool { PerfEvent.dynamicPMUType("kprobe") != nil }

    /// The uprobe PMU (`/sys/bus/event_source/devices/uprobe`, 4.17+).
    public static var uprobePMU: Bool { PerfEvent.dynamicPMUType("uprobe") != nil }

    /// tracefs `kprobe_events` (CONFIG_KPROBE_EVENTS).
    public static var kprobeEvents: Bool { tracefsFileExists("kprobe_events") }

    /// tracefs `uprobe_events` (CONFIG_UPROBE_EVENTS).
    public static var uprobeEvents: Bool { tracefsFileExists("uprobe_events") }

    /// Whether kprobes can be attached at all, one way or the other.
    public static var kprobes: Bool { kprobePMU || kprobeEvents }

    /// Whether uprobes can be attached at all, one way or the other.
    public static var uprobes: Bool { uprobePMU || uprobeEvents }

    private static func tracefsFileExists(_ name: String) -> Bool {
        guard let root = try? Tracefs.root() else { return false }
        return FileManager.default.fileExists(atPath: root + "/" + name)
    }
}
