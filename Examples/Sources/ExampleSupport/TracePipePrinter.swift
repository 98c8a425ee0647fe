import BPF
import Foundation

/// Prints the kernel's trace_pipe (where bpf_printk/bpf_trace_printk write) line by line, as
/// `cat /sys/kernel/tracing/trace_pipe` or BCC's `trace_print()` would, until interrupted.
public enum TracePipePrinter {
    /// `filter` picks the lines to print: the pipe is shared by every tracer on the machine.
    public static func run(until deadline: ContinuousClock.Instant? = nil,
                           filter: (String) -> Bool = { _ in true }) throws {
        let pipe = try TracePipe()
        defer { pipe.close() }
        while !Interrupt.isRequested(deadline: deadline) {
            guard let line = try pipe.readLine(timeout: .milliseconds(200)) else { continue }
            if filter(line) { print(line) }
        }
    }
}
