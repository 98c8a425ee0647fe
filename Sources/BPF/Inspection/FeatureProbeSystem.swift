import BPFObject
import CBPFSys
import Foundation

extension FeatureProbe {
    // MARK: Attach kinds

    /// BPF_LINK_CREATE exists (5.7+): asked to attach to fd -1, a kernel that knows the command
    /// complains about the descriptor (EBADF) rather than the command (EINVAL).
    public static var bpfLinks: ProbeResult {
        cache.value(for: "attach:link") {
            linkCreateAnswer(programType: .cgroupSkb, attachType: .cgroupInetIngress, target: UInt32.max, expecting: .EBADF)
        }
    }

    /// Perf-event links (BPF_LINK_CREATE with BPF_PERF_EVENT, 5.15+), the detach-on-close way to
    /// attach kprobes, uprobes and tracepoints. The tracing links' own probe decides.
    public static var perfLinks: ProbeResult {
        TracingSupport.perfLinks ? .available : .unavailable(reason: "BPF_LINK_CREATE refuses BPF_PERF_EVENT (kernel before 5.15)")
    }

    /// tcx links (6.6+): with interface index 0 a kernel that has tcx answers ENODEV.
    public static var tcx: ProbeResult {
        cache.value(for: "attach:tcx") {
            linkCreateAnswer(programType: .schedCls, attachType: .tcxIngress, target: 0, expecting: .ENODEV)
        }
    }

    /// The kprobe PMU (/sys/bus/event_source/devices/kprobe), which needs CONFIG_KPROBES and
    /// CONFIG_KPROBE_EVENTS.
    public static var kprobePMU: ProbeResult {
        TracingSupport.kprobePMU ? .available : .unavailable(reason: "/sys/bus/event_source/devices/kprobe does not exist")
    }

    /// The uprobe PMU (/sys/bus/event_source/devices/uprobe), CONFIG_UPROBE_EVENTS.
    public static var uprobePMU: ProbeResult {
        TracingSupport.uprobePMU ? .available : .unavailable(reason: "/sys/bus/event_source/devices/uprobe does not exist")
    }

    /// Kprobes at all (the PMU or tracefs kprobe_events); when absent, the reason names the
    /// missing kernel option if the configuration is readable.
    public static var kprobes: ProbeResult {
        if TracingSupport.kprobes { return .available }
        if let config = KernelConfiguration.current() {
            if config["CONFIG_KPROBES"] == nil { return .unavailable(reason: "the kernel is built without CONFIG_KPROBES") }
            if config["CONFIG_KPROBE_EVENTS"] == nil { return .unavailable(reason: "the kernel is built without CONFIG_KPROBE_EVENTS") }
        }
        return .unavailable(reason: "no kprobe PMU and no kprobe_events in tracefs")
    }

    private static func linkCreateAnswer(programType: ProgramType, attachType: AttachType, target: UInt32, expecting: Errno) -> ProbeResult {
        let program: Program
        do {
            program = try Program(ProgramSpec(name: "sbpf_probe", type: programType, expectedAttachType: attachType, instructions: returnZero))
        } catch {
            return .undetermined(reason: "a \(programType.name) program does not load: \(error)")
        }
        var attr = sbpf_link_create_attr()
        attr.prog_fd = UInt32(bitPattern: program.fd.rawValue)
        attr.target_fd = target
        attr.attach_type = attachType.rawValue
        switch BPFSyscall.invoke(.linkCreate, &attr) {
        case .success(let fd):
            close(fd) // attached somewhere after all: the kind exists
            return .available
        case .failure(let errno) where errno == expecting:
            return .available
        case .failure(let errno):
            return .unavailable(reason: errno.name)
        }
    }

    // MARK: System settings

    /// Whether the bpf() system call exists at all.
    public static var bpfSyscall: ProbeResult {
        cache.value(for: "syscall") {
            var attr = sbpf_get_id_attr()
            switch BPFSyscall.invoke(.progGetNextID, &attr) {
            case .failure(.ENOSYS): return .unavailable(reason: "ENOSYS")
            default: return .available
            }
        }
    }
}

/// The BPF-related sysctls (/proc/sys/kernel and /proc/sys/net/core); nil where unreadable.
public struct BPFSystemSettings: Sendable {
    /// 0: unprivileged bpf() allowed; 1: disabled until reboot; 2: disabled, admin can change.
    public var unprivilegedBPFDisabled: Int?
    /// 0: interpreter; 1: JIT; 2: JIT with debug output.
    public var jitEnabled: Int?
    /// 0: off; 1: hardening for unprivileged users; 2: for everyone.
    public var jitHarden: Int?
    /// 0: no JIT symbols in kallsyms; 1: for root; 2: for everyone.
    public var jitKallsyms: Int?
    /// Bytes of JIT memory unprivileged users may use in total.
    public var jitLimit: Int?
    /// kernel.bpf_stats_enabled: run-time statistics for every program.
    public var statsEnabled: Int?

    public static func current() -> BPFSystemSettings {
        BPFSystemSettings(
            unprivilegedBPFDisabled: SystemSetting.integer("/proc/sys/kernel/unprivileged_bpf_disabled"),
            jitEnabled: SystemSetting.integer("/proc/sys/net/core/bpf_jit_enable"),
            jitHarden: SystemSetting.integer("/proc/sys/net/core/bpf_jit_harden"),
            jitKallsyms: SystemSetting.integer("/proc/sys/net/core/bpf_jit_kallsyms"),
            jitLimit: SystemSetting.integer("/proc/sys/net/core/bpf_jit_limit"),
            statsEnabled: SystemSetting.integer("/proc/sys/kernel/bpf_stats_enabled"))
    }
}
