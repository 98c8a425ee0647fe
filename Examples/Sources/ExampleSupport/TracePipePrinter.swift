import BPF
import Foundation

/// Prints bpf_printk/bpf_trace_printk output line by line, as `cat /sys/kernel/tracing/trace_pipe`
/// or BCC's `trace_print()` would, until interrupted. The lines come from a tracefs instance of
/// the example's own (`PrintkTraceInstance`), so it neither waits for nor takes lines from
/// another reader of the global trace_pipe.
public enum TracePipePrinter {
    /// `ready` runs once lines are being collected (an instance buffers only from its
    /// creation): an example says "Ctrl-C to end" — what users and tests wait for before making
    /// events — from there. `filter` picks the lines to print: every program's printk lines
    /// arrive.
    public static func run(until deadline: ContinuousClock.Instant? = nil, ready: () -> Void = {},
                           filter: (String) -> Bool = { _ in true }) throws {
        let instance = try PrintkTraceInstance(namePrefix: "swiftbpf_example_")
        defer { instance.close() }
        ready()
        try printLines(of: instance.pipe(), until: deadline, filter: filter)
    }

    private static func printLines(of pipe: TracePipe, until deadline: ContinuousClock.Instant?, filter: (String) -> Bool) throws {
        while !Interrupt.isRequested(deadline: deadline) {
            guard let line = try pipe.readLine(timeout: .milliseconds(200)) else { continue }
            if !line.isEmpty, filter(line) { print(line) }
        }
    }

    /// Pings `address` (`ping -c count -W 1`) while printing the lines `filter` picks, then
    /// prints ping's own output: the `--netns-demo` runs of the packet examples.
    public static func runWhilePinging(_ address: String, count: Int, until deadline: ContinuousClock.Instant? = nil,
                                       filter: (String) -> Bool) throws {
        let instance = try PrintkTraceInstance(namePrefix: "swiftbpf_example_")
        defer { instance.close() }
        try printLines(of: instance.pipe(), whilePinging: address, count: count, until: deadline, filter: filter)
    }

    private static func printLines(of pipe: TracePipe, whilePinging address: String, count: Int,
                                   until deadline: ContinuousClock.Instant?, filter: (String) -> Bool) throws {
        // ping runs beside this loop; its few lines of output fit in the pipe buffer, so it
        // never blocks on them.
        let ping = Process()
        ping.executableURL = URL(fileURLWithPath: "/usr/bin/ping")
        ping.arguments = ["-c", String(count), "-W", "1", address]
        let pingOutput = Pipe()
        ping.standardOutput = pingOutput
        ping.standardError = pingOutput
        try ping.run()
        while ping.isRunning && !Interrupt.isRequested(deadline: deadline) {
            if let line = try pipe.readLine(timeout: .milliseconds(200)), filter(line) { print(line) }
        }
        if ping.isRunning { ping.interrupt() }
        ping.waitUntilExit()
        usleep(100_000)
        // Lines written just before ping finished.
        for line in try pipe.availableLines() where filter(line) { print(line) }
        print(String(decoding: pingOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self), terminator: "")
    }
}
