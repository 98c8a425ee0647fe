import Foundation

/// What this kernel offers for attaching tracing programs, probed (not guessed from the
/// version) and cached per process, for feature reports and for choosing attach paths.
public enum TracingSupport {
    /// BPF_LINK_CREATE accepts perf events (5.15+); otherwise programs are attached with
    /// `ioctl(PERF_EVENT_IOC_SET_BPF)` and live as long as the perf event descriptor.
    public static var perfLinks: Bool { PerfLinkSupport.isAvailable }

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
