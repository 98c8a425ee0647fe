import Foundation
import Testing

/// Starts `executable` with `arguments` and waits for it; returns its process id.
@discardableResult
func runAndReturnPID(_ executable: String, _ arguments: [String] = []) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.processIdentifier
}

/// Compiling, loading and attaching can take long on a busy machine (clang parses vmlinux.h;
/// attaching waits for RCU grace periods).
let readiness: Duration = .seconds(120)

/// The BCC-style examples (C text compiled at run time by BPFModule), each run against a
/// workload this test makes, then stopped with Ctrl-C.
@Suite(.kernel, .serialized) struct BCCHelloTests {
    @Test(arguments: ["hello-world", "hello-fields", "hello-perf-output", "hello-map", "sync-timing"])
    func helpDescribesTheExample(name: String) throws {
        let help = try ExampleProcess.run(name, ["--help"])
        #expect(help.status == 0)
        #expect(help.text.contains("USAGE: \(name)"), "\(help.text)")
        #expect(help.text.contains("EXAMPLES:"), "\(help.text)")
    }

    /// helloworld.py: one kernel trace line per exec, `true-<pid> [cpu] flags ts:
    /// bpf_trace_printk: Hello, World!`, for each /bin/true this test runs.
    @Test func helloWorldPrintsATraceLinePerExec() throws {
        let example = try ExampleProcess("hello-world")
        try #require(example.waitFor("Ctrl-C to end", timeout: readiness))
        let pids = try (0..<3).map { _ in try runAndReturnPID("/bin/true") }
        // The kernel prints the comm it last saved for the pid (its saved_cmdlines cache), which
        // for a process that exits right after exec may still be the spawning one's: match the pid.
        for pid in pids { example.waitFor("-\(pid) ", timeout: .seconds(10)) }
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")
        let lines = result.text.split(separator: "\n")
        for pid in pids {
            let line = lines.first { $0.contains("-\(pid) ") }
            #expect(line?.hasSuffix(": bpf_trace_printk: Hello, World!") == true, "pid \(pid): \(result.text)")
            // comm-pid [cpu] flags timestamp: — the kernel's trace format.
            #expect(line.map { $0.range(of: #"\S+-\#(pid) +\[\d{3}\] \S+ +\d+\.\d+: "#, options: .regularExpression) != nil } == true)
        }
    }

    /// hello_fields.py: the TIME(s) COMM PID MESSAGE header, then a row for the clone(2) of a
    /// shell that forks, with the shell's comm and pid. (bash forks with fork(), which is
    /// clone(2); dash uses vfork(2), a different system call.)
    @Test func helloFieldsPrintsTheCloningShell() throws {
        let example = try ExampleProcess("hello-fields")
        try #require(example.waitFor("MESSAGE", timeout: readiness))
        let shell = try runAndReturnPID("/bin/bash", ["-c", "/bin/true; /bin/true"])
        example.waitFor(" \(shell) ", timeout: .seconds(10))
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")
        let lines = result.text.split(separator: "\n").map(String.init)
        #expect(lines.first == "TIME(s)            COMM             PID    MESSAGE")
        let row = try #require(lines.first { $0.contains(" \(shell) ") }, "\(result.text)")
        // "%-18.9f %-16s %-6d %s"
        let time = String(row.prefix(18)).trimmingCharacters(in: .whitespaces)
        #expect(time.range(of: #"^\d+\.\d{9}$"#, options: .regularExpression) != nil, "\(row)")
        // COMM is what the kernel prints: the comm it saved for the pid at a context switch after
        // the event, or `<...>` when the line is read before that switch.
        let columns = String(row.dropFirst(19))
        let pidAndMessage = "\(String(shell).padding(toLength: 6, withPad: " ", startingAt: 0)) Hello, World2!"
        #expect(["bash ", "<...> "].contains { columns.hasPrefix($0.padding(toLength: 17, withPad: " ", startingAt: 0) + pidAndMessage) }, "\(row)")
    }

    /// `--kprobe` is the original's attach; on a kernel without kprobes it fails saying so.
    @Test(arguments: ["hello-world", "hello-fields", "hello-perf-output", "hello-map", "sync-timing"])
    func kprobeVariantSaysWhenKprobesAreMissing(name: String) throws {
        guard !FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/kprobe") else { return }
        let result = try ExampleProcess.run(name, ["--kprobe", "--duration", "1"])
        #expect(result.status != 0)
        #expect(result.text.contains("kprobes is not supported here: this kernel was built without CONFIG_KPROBES"), "\(result.text)")
    }

    /// hello_perf_output.py: a perf-buffer event per clone(2) with the shell's pid and comm,
    /// the time relative to the first event, and "Hello, perf_output!".
    @Test func helloPerfOutputDeliversTheShellsClone() throws {
        let example = try ExampleProcess("hello-perf-output")
        try #require(example.waitFor("MESSAGE", timeout: readiness))
        let shell = try runAndReturnPID("/bin/bash", ["-c", "/bin/true; /bin/true"])
        example.waitFor(" \(shell) ", timeout: .seconds(10))
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")
        let lines = result.text.split(separator: "\n").map(String.init)
        #expect(lines.first == "TIME(s)            COMM             PID    MESSAGE")
        #expect(lines.dropFirst().first?.hasPrefix("0.000000000        ") == true, "the first event is time 0: \(result.text)")
        let row = try #require(lines.first { $0.contains(" \(shell) ") }, "\(result.text)")
        #expect(row.dropFirst(19).hasPrefix("bash             \(String(shell).padding(toLength: 6, withPad: " ", startingAt: 0)) Hello, perf_output!"), "\(row)")
    }

    /// hello-map.py: execve counts per uid. Three execs as user nobody (setpriv execs /bin/true
    /// after switching uid) show up as exactly `ID 65534: 3`; this test's own uid is counted too.
    @Test func helloMapCountsExecsPerUser() throws {
        let example = try ExampleProcess("hello-map", ["--interval", "1"])
        try #require(example.waitFor("Ctrl-C to end", timeout: readiness))
        for _ in 0..<3 { try runAndReturnPID("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/true"]) }
        example.waitFor("ID 65534: 3\t", timeout: .seconds(10))
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")
        let reports = result.text.split(separator: "\n").filter { $0.hasPrefix("ID ") }
        let last = try #require(reports.last, "\(result.text)")
        #expect(last.contains("ID 65534: 3\t"), "\(result.text)")
        #expect(last.contains("ID \(getuid()): "), "\(result.text)")
        // Every field is `ID <uid>: <count>` followed by a tab.
        #expect(last.split(separator: "\t").allSatisfy { $0.range(of: #"^ID \d+: \d+$"#, options: .regularExpression) != nil }, "\(last)")
    }

    /// sync_timing.py: two syncs 100 ms apart are reported; one a second and a half later is not.
    @Test func syncTimingDetectsQuickSyncs() throws {
        // Flush first, untraced: a sync that has much to write back (builds running beside the
        // tests) can itself take a second, and the example times sync entries.
        try runAndReturnPID("/usr/bin/sync")
        let example = try ExampleProcess("sync-timing")
        try #require(example.waitFor("Tracing for quick sync's... Ctrl-C to end", timeout: readiness))
        try runAndReturnPID("/usr/bin/sync")
        usleep(100_000)
        try runAndReturnPID("/usr/bin/sync")
        example.waitFor("multiple syncs detected", timeout: .seconds(10))
        usleep(1_500_000)
        try runAndReturnPID("/usr/bin/sync")
        usleep(300_000)
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")
        let reports = result.text.split(separator: "\n").filter { $0.contains("multiple syncs detected") }
        #expect(reports.count == 1, "\(result.text)")
        let report = try #require(reports.first)
        let pattern = try Regex(#"^At time 0\.00 s: multiple syncs detected, last (\d+) ms ago$"#, as: (Substring, Substring).self)
        let match = try #require(report.wholeMatch(of: pattern), "\(report)")
        let milliseconds = try #require(Int(match.1))
        #expect((90..<1000).contains(milliseconds), "\(report)")
    }
}
