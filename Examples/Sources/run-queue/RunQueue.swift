import ArgumentParser
import BPF
import ExampleSupport
import Foundation

/// Per-CPU run-queue statistics read from the kernel's `struct rq` with CO-RE: every
/// interval, per CPU, how many tasks were runnable (average and maximum), how many waited
/// (run-queue length), the CFS queue, the uninterruptible count and context switches; at the
/// end, a histogram of the run-queue length like BCC's runqlen.
@main
struct RunQueue: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-queue",
        abstract: "Sample each CPU's run queue (struct rq, found from the running task with CO-RE) and print scheduler statistics.",
        discussion: """
            A perf_event program runs on each CPU at --frequency Hz (software cpu-clock) and \
            reads that CPU's struct rq (task->se.cfs_rq->rq): nr_running, cfs.h_nr_queued (h_nr_running before 6.14), \
            nr_uninterruptible and nr_switches, each located by CO-RE in the running kernel's BTF.
            Columns: NR_RUNNING is the average of rq->nr_running over the interval's samples and \
            MAX its largest value since the start; RUNQLEN the average number of tasks waiting \
            (nr_running minus the one on the CPU); CFS the CFS hierarchy's queued tasks and \
            UNINT rq->nr_uninterruptible at the last sample (per-CPU parts of a global sum, so \
            they may be negative); SWITCHES/s the context switches per second.

            EXAMPLES:
              run-queue                     every second until Ctrl-C, then the histogram
              run-queue -i 5 --duration 30  every 5 seconds for 30 seconds
            """)

    @Option(name: .shortAndLong, help: "Seconds between reports.")
    var interval: Double = 1

    @Option(help: "Samples per second on each CPU.")
    var frequency: UInt64 = 99

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    func validate() throws {
        guard interval > 0 else { throw ValidationError("--interval must be positive") }
        guard frequency > 0 else { throw ValidationError("--frequency must be positive") }
    }

    func run() throws {
        Interrupt.install()
        let loaded = try RunQueueSkeleton.open().load()
        let cpus = PossibleCPUs.online.filter { $0 < loaded.stats.count }
        let link = try loaded.programs.sample_run_queue.attachPerfEvent(.cpuClock, rate: .frequency(frequency), cpus: cpus)
        defer { try? link.close() }
        print("Sampling run queues of \(cpus.count) CPUs at \(frequency) Hz... Ctrl-C to end.")

        let deadline = Interrupt.deadline(afterSeconds: duration)
        var previous = try loaded.stats.values()
        var previousTime = ContinuousClock.now
        while !Interrupt.isRequested(deadline: deadline) {
            let next = ContinuousClock.now + .milliseconds(Int64(interval * 1000))
            while ContinuousClock.now < next, !Interrupt.isRequested(deadline: deadline) { usleep(20_000) }
            let current = try loaded.stats.values()
            let now = ContinuousClock.now
            let elapsed = Double((now - previousTime).components.attoseconds) / 1e18 + Double((now - previousTime).components.seconds)
            printInterval(cpus: cpus, previous: previous, current: current, seconds: elapsed)
            previous = current
            previousTime = now
        }
        try link.close()
        print()
        Self.printLinearHistogram(try loaded.runqlen_hist.values(), label: "runqlen")
    }

    func printInterval(cpus: [Int], previous: [RunQueueSkeleton.cpu_stats], current: [RunQueueSkeleton.cpu_stats], seconds: Double) {
        print(Self.clockTime())
        print(Self.columns(["CPU", "SAMPLES", "NR_RUNNING", "MAX", "RUNQLEN", "CFS", "UNINT", "SWITCHES/s"]))
        for cpu in cpus {
            let now = current[cpu], before = previous[cpu]
            let samples = now.samples &- before.samples
            let average = { (sum: UInt64, old: UInt64) in samples == 0 ? "-" : String(format: "%.2f", Double(sum &- old) / Double(samples)) }
            let switches = before.nr_switches == 0 ? "-" : String(format: "%.0f", Double(now.nr_switches &- before.nr_switches) / seconds)
            print(Self.columns([String(cpu), String(samples), average(now.nr_running_sum, before.nr_running_sum), String(now.nr_running_max),
                                average(now.runqlen_sum, before.runqlen_sum), String(now.cfs_queued), String(now.nr_uninterruptible), switches]))
        }
    }

    static func columns(_ values: [String]) -> String {
        let widths = [4, 8, 11, 5, 8, 5, 7, 10]
        return zip(values, widths).map { value, width in
            value.count >= width ? value : String(repeating: " ", count: width - value.count) + value
        }.joined(separator: " ")
    }

    /// BCC's linear histogram: `     runqlen       : count     distribution`, one row per
    /// value up to the last non-empty one, the bar 40 characters at the largest count.
    static func printLinearHistogram(_ counts: [UInt64], label: String) {
        guard let last = counts.lastIndex(where: { $0 > 0 }) else {
            print("no samples")
            return
        }
        let largest = counts.max() ?? 1
        print("     \(label.padding(toLength: 13, withPad: " ", startingAt: 0)) : count     distribution")
        for (value, count) in counts.prefix(last + 1).enumerated() {
            let stars = largest == 0 ? 0 : Int((Double(count) * 40 / Double(largest)).rounded(.down))
            let bar = String(repeating: "*", count: stars) + String(repeating: " ", count: 40 - stars)
            let valueText = String(value) + (value == counts.count - 1 ? "+" : "")
            print("        \(valueText.padding(toLength: 10, withPad: " ", startingAt: 0)) : \(String(count).padding(toLength: 8, withPad: " ", startingAt: 0)) |\(bar)|")
        }
    }

    static func clockTime() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        return String(format: "%02d:%02d:%02d", parts.tm_hour, parts.tm_min, parts.tm_sec)
    }
}
