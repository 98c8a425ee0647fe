import CBPFSys

/// Run-time statistics for every program (BPF_ENABLE_STATS with BPF_STATS_RUN_TIME): while
/// this object lives, the kernel counts `run_cnt` and `run_time_ns` in each `bpf_prog_info`.
///
/// Statistics cost a little on every program run, so the kernel keeps them on only as long as
/// a descriptor from BPF_ENABLE_STATS (or the sysctl kernel.bpf_stats_enabled) asks for them.
public final class RuntimeStatistics: @unchecked Sendable {
    public let fd: OwnedFileDescriptor

    /// Turns statistics on until `close()` or deinit.
    public init() throws {
        var attr = sbpf_enable_stats_attr()
        attr.type = 0 // BPF_STATS_RUN_TIME
        fd = try BPFSyscall.callReturningFD(.enableStats, &attr, label: "BPF run-time statistics") { errno in
            switch errno {
            case .EINVAL: "this kernel has no BPF_ENABLE_STATS (5.8+); use the sysctl kernel.bpf_stats_enabled"
            case .EPERM: "enabling BPF statistics needs CAP_SYS_ADMIN"
            default: nil
            }
        }
    }

    /// Whether the sysctl kernel.bpf_stats_enabled is on (statistics for everyone).
    public static var isEnabledBySysctl: Bool {
        SystemSetting.integer("/proc/sys/kernel/bpf_stats_enabled").map { $0 != 0 } ?? false
    }

    /// Turns statistics off now (unless another holder keeps them on).
    public func close() throws { try fd.close() }
}
