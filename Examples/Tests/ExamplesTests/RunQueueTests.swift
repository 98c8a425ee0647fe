import Foundation
import Testing

@Suite(.kernel, .serialized) struct RunQueueTests {
    @Test func helpDescribesTheExample() throws {
        let help = try ExampleProcess.run("run-queue", ["--help"])
        #expect(help.status == 0)
        #expect(help.text.contains("USAGE: run-queue"), "\(help.text)")
    }

    /// Four busy loops pinned to CPU 0 are always runnable there, so every sample of CPU 0's
    /// rq->nr_running is at least 4 (three of them waiting), whatever else the machine runs.
    @Test func seesBusyLoopsQueuedOnOneCPU() throws {
        var loops: [Process] = []
        // SIGKILL: the test process may run with SIGTERM blocked, and the loops inherit its mask.
        defer { for loop in loops { kill(loop.processIdentifier, SIGKILL); loop.waitUntilExit() } }
        for _ in 0..<4 {
            let loop = Process()
            loop.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
            loop.arguments = ["-c", "0", "/bin/sh", "-c", "while :; do :; done"]
            try loop.run()
            loops.append(loop)
        }
        usleep(300_000)  // until taskset has exec'd the pinned shells
        let result = try ExampleProcess.run("run-queue", ["--interval", "1", "--duration", "2.5"])
        #expect(result.status == 0, "\(result.text)")
        let lines = result.text.split(separator: "\n").map(String.init)

        // ` CPU  SAMPLES  NR_RUNNING   MAX  RUNQLEN   CFS   UNINT SWITCHES/s` rows for CPU 0
        // from full intervals (at 99 Hz, about 99 samples).
        let rows: [[Substring]] = lines.map { $0.split(separator: " ") }
        let cpu0 = rows.filter { row in row.count == 8 && row[0] == "0" && (Int(row[1]) ?? 0) >= 50 }
        #expect(cpu0.count >= 1, "\(result.text)")
        for row in cpu0 {
            #expect((Double(row[2]) ?? 0) >= 4, "average nr_running on CPU 0: \(row)")
            #expect((Int(row[3]) ?? 0) >= 4, "max nr_running on CPU 0: \(row)")
            #expect((Double(row[4]) ?? 0) >= 3, "average run-queue length on CPU 0: \(row)")
        }
        // The runqlen histogram has samples with 3 or more tasks waiting.
        let header = try #require(lines.firstIndex { $0.contains("runqlen       : count     distribution") }, "\(result.text)")
        let waiting = lines[(header + 1)...].compactMap { line -> UInt64? in
            let fields = line.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 2, let value = Int(fields[0].trimmingCharacters(in: CharacterSet(charactersIn: "+"))), value >= 3 else { return nil }
            return UInt64(fields[1].split(separator: " ").first ?? "")
        }.reduce(0, +)
        #expect(waiting > 0, "\(result.text)")
    }
}
