import Foundation
import TestSupport
import Testing

/// Kernel tests need root; without it they skip, unless SWIFTBPF_REQUIRE_KERNEL_TESTS=1 (CI),
/// where they run and fail loudly (the same rule as Tests/BPFTests).
extension Trait where Self == ConditionTrait {
    static var kernel: ConditionTrait {
        .enabled(
            if: geteuid() == 0 || ProcessInfo.processInfo.environment["SWIFTBPF_REQUIRE_KERNEL_TESTS"] == "1",
            "needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN): run the tests as root to load into the kernel")
    }
}

/// Runs `/bin/true` `count` times (each is a clone + execve by this process's children).
func runTrue(_ count: Int) throws {
    for _ in 0..<count { try ChildProcess.run("/bin/true") }
}

/// The calling thread's id (the pid column of trace lines): /proc/thread-self → "PID/task/TID".
func currentThreadID() -> Int {
    let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
    return Int(target.split(separator: "/").last ?? "") ?? -1
}
