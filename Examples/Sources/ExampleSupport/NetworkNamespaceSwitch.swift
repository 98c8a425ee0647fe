import BPF
import CBPFSys
import Foundation

/// Runs code inside a named network namespace (one `ip netns add` made, /run/netns/NAME) and
/// comes back. setns(2) with CLONE_NEWNET moves only the calling thread, and interface names,
/// ifindexes, netlink sockets and tc/XDP attachments all resolve in the thread's namespace; an
/// attachment made inside keeps its interface after the thread returns.
public enum NetworkNamespaceSwitch {
    /// CLONE_NEWNET (include/uapi/linux/sched.h).
    private static let cloneNewNet: Int32 = 0x4000_0000

    public static func run<T>(inNamespaceNamed name: String, _ body: () throws -> T) throws -> T {
        let original = try openNamespace("/proc/thread-self/ns/net")
        defer { close(original) }
        let target = try openNamespace("/run/netns/\(name)")
        defer { close(target) }
        guard sbpf_setns(target, cloneNewNet) == 0 else {
            throw ExampleError("cannot enter network namespace '\(name)': \(String(cString: strerror(errno)))")
        }
        defer {
            // Coming back cannot fail for a namespace we were just in; if it did, this thread
            // would act on the wrong interfaces, so stop rather than continue.
            if sbpf_setns(original, cloneNewNet) != 0 { fatalError("cannot return to the original network namespace") }
        }
        return try body()
    }

    private static func openNamespace(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = errno == ENOENT ? "no such network namespace (see `ip netns list`)" : String(cString: strerror(errno))
            throw ExampleError("\(path): \(reason)")
        }
        return fd
    }
}
