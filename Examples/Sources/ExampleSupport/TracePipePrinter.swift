import BPF
import Foundation

/// Prints the kernel's trace_pipe (where bpf_printk/bpf_trace_printk write) line by line, as
/// `cat /sys/kernel/tracing/trace_pipe` or BCC's `trace_print()` would, until interrupted.
public enum TracePipePrinter {
    /// `ready` runs once the pipe is open: reading trace_pipe consumes what it reads, so lines
    /// written while another process holds the pipe go to that process, and an example should
    /// say "Ctrl-C to end" (what users and tests wait for before making events) only from there.
    /// `filter` picks the lines to print: the pipe is shared by every tracer on the machine.
    public static func run(until deadline: ContinuousClock.Instant? = nil, ready: () -> Void = {},
                           filter: (String) -> Bool = { _ in true }) throws {
        guard let pipe = try openWaitingWhileBusy(until: deadline) else { return }
        defer { pipe.close() }
        ready()
        while !Interrupt.isRequested(deadline: deadline) {
            guard let line = try pipe.readLine(timeout: .milliseconds(200)) else { continue }
            if filter(line) { print(line) }
        }
    }

    /// The kernel lets one process read trace_pipe at a time: while another holds it, say so
    /// once and wait for it (nil if interrupted first).
    public static func openWaitingWhileBusy(until deadline: ContinuousClock.Instant? = nil) throws -> TracePipe? {
        var announced = false
        while !Interrupt.isRequested(deadline: deadline) {
            do {
                return try TracePipe()
            } catch BPFError.syscall(let failure) where failure.errno == .EBUSY {
                if !announced {
                    FileHandle.standardError.write(Data("\(failure.meaning); waiting for it to finish...\n".utf8))
                    announced = true
                }
                usleep(200_000)
            }
        }
        return nil
    }
}
