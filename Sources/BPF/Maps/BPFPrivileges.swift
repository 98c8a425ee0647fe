import Foundation

/// What the kernel requires of an unprivileged caller, read from its sysctls, so an `EPERM`
/// can say what is wrong rather than just "not permitted".
enum BPFPrivileges {
    /// `kernel.unprivileged_bpf_disabled`: 0 lets unprivileged users create some maps and socket
    /// filters, 1 and 2 forbid any bpf() use without CAP_BPF (1 until reboot, 2 changeable by root).
    static var unprivilegedBPFDisabled: Int? {
        guard let text = try? String(contentsOfFile: "/proc/sys/kernel/unprivileged_bpf_disabled", encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static var mapCreationDeniedMeaning: String {
        var text = "creating BPF maps needs root or CAP_BPF"
        if let setting = unprivilegedBPFDisabled, setting != 0 {
            text += " (kernel.unprivileged_bpf_disabled=\(setting) forbids bpf() to unprivileged users)"
        }
        return text + "; a memory cgroup limit or a security module may also refuse it"
    }
}
