import Foundation
import Testing

/// Kernel tests need root (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_ADMIN). Without it they
/// skip, saying why — unless SWIFTBPF_REQUIRE_KERNEL_TESTS=1 (set by .ci/run), where they run
/// anyway and so fail loudly instead of skipping silently.
enum KernelTestEnvironment {
    static var isPrivileged: Bool { geteuid() == 0 }
    static var isRequired: Bool { ProcessInfo.processInfo.environment["SWIFTBPF_REQUIRE_KERNEL_TESTS"] == "1" }
}

extension Trait where Self == ConditionTrait {
    /// Marks a test or suite that loads into the real kernel.
    static var kernel: ConditionTrait {
        .enabled(
            if: KernelTestEnvironment.isPrivileged || KernelTestEnvironment.isRequired,
            "needs root (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN): run the tests as root to load into the kernel")
    }
}
