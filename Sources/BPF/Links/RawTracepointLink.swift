import BPFObject
import CBPFSys

extension Program {
    /// Attaches this raw tracepoint program to the kernel tracepoint `name` (`sys_enter`,
    /// `sched_switch`; no category) with BPF_RAW_TRACEPOINT_OPEN. The program's context is the
    /// tracepoint's raw arguments (`u64 args[]`), without the perf record copy.
    public func attachRawTracepoint(_ name: String, cookie: UInt64 = 0) throws -> KernelLink {
        let label = "raw tracepoint \(name)"
        guard type == .rawTracepoint || type == .rawTracepointWritable else {
            throw BPFError.invalidArgument("\(label) needs a raw_tracepoint program; '\(self.name)' is \(type.name)")
        }
        guard !name.isEmpty, !name.contains(":"), !name.contains("/") else {
            throw BPFError.invalidArgument("raw tracepoint name '\(name)' must be a bare tracepoint name such as sys_enter (no category)")
        }
        let programFD = try fd.value()
        let fd: OwnedFileDescriptor = try name.withCString { cName in
            var attr = sbpf_raw_tracepoint_attr()
            attr.name = kernelPointer(cName)
            attr.prog_fd = UInt32(bitPattern: programFD)
            attr.cookie = cookie
            return try BPFSyscall.callReturningFD(.rawTracepointOpen, &attr, label: label) { errno in
                switch errno {
                case .ENOENT: "the kernel has no tracepoint '\(name)'; list them with Tracefs.categories()/events(in:) (raw names are the event names without category)"
                case .EINVAL: "the kernel refused the raw tracepoint attach (wrong program type, or the program reads more arguments than '\(name)' has)"
                default: nil
                }
            }
        }
        return KernelLink(fd: fd, description: label)
    }
}
