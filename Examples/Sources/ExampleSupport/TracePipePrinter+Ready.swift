import BPF
import Foundation

extension TracePipePrinter {
    /// Like `run(until:filter:)`, but calls `ready` once the pipe is open. Reading trace_pipe
    /// consumes what it reads, so lines written while another process holds the pipe go to that
    /// process: an example should say "Ctrl-C to end" (what users and tests wait for before
    /// making traffic) only from here.
    public static func run(until deadline: ContinuousClock.Instant? = nil, ready: () -> Void,
                           filter: (String) -> Bool = { _ in true }) throws {
        guard let pipe = try openWaitingWhileBusy(until: deadline) else { return }
        defer { pipe.close() }
        ready()
        while !Interrupt.isRequested(deadline: deadline) {
            guard let line = try pipe.readLine(timeout: .milliseconds(200)) else { continue }
            if filter(line) { print(line) }
        }
    }
}
