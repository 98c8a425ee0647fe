import BPF
import BPFObject
import BPFTrace
import Foundation
import Testing

/// /usr/bin/bpftrace running a script in the background, so that it and a `TraceSession` watch
/// the same events at the same time (same processes, same addresses, same kernel paths).
final class ConcurrentBpftrace: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var collected = Data()
    private let pipe = Pipe()
    private let errors = Pipe()
    private var finished = false

    init(_ script: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/bpftrace")
        // Line-buffered, so "Attaching" arrives while it runs.
        process.arguments = ["-B", "line", "-e", script]
        process.standardOutput = pipe
        process.standardError = errors
        try process.run()
        let reader = pipe.fileHandleForReading
        Thread { [self] in
            while true {
                let data = reader.availableData
                if data.isEmpty { break }
                lock.withLock { collected.append(data) }
            }
            lock.withLock { finished = true }
        }.start()
        // bpftrace prints "Attaching N probes..." once its probes are attached.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, process.isRunning, !text.contains("Attaching ") { usleep(20_000) }
    }

    var text: String { lock.withLock { String(decoding: collected, as: UTF8.self) } }

    /// Waits for the script to `exit()` (the test runner blocks SIGINT in its children, so
    /// scripts end themselves) and returns its output without the "Attaching" line.
    func finish() -> String {
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        while !lock.withLock({ finished }) { usleep(10_000) }
        let problems = String(decoding: (try? errors.fileHandleForReading.readToEnd()) ?? Data(), as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("Attaching ") }.joined(separator: "\n")
            + (problems.split(separator: "\n").contains { $0.contains("ERROR:") && !$0.contains("RLIMIT_MEMLOCK") } ? problems : "")
    }
}

/// Runs `script` under bpftrace and TraceSession at once around `workload`; returns both outputs.
/// The workload runs on its own thread while the session prints events as they come, as the CLI
/// does (user addresses resolve against live processes).
func traceAlongsideBpftrace(_ script: String, workload: @escaping @Sendable () throws -> Void) throws -> (ours: String, theirs: String) {
    let bpftrace = try ConcurrentBpftrace(script)
    final class Sink: @unchecked Sendable { var text = "" }
    let sink = Sink()
    let session = try TraceSession(text: script) { sink.text += $0 }
    defer { session.close() }
    try session.attach()
    // run() starts with BEGIN; give it a moment so BEGIN's output comes first, as in bpftrace.
    Thread { usleep(300_000); try? workload() }.start()
    let deadline = Date().addingTimeInterval(20)
    try session.run { Date() > deadline }
    return (sink.text, bpftrace.finish())
}

/// A copy of /bin/sleep under a name of our own, so scripts can pick its events by `comm`.
func namedSleeper() throws -> String {
    let path = "/tmp/sbpf_stk_sleep"
    if !FileManager.default.fileExists(atPath: path) { try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: path) }
    return path
}

func runToCompletion(_ path: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    try process.run()
    process.waitUntilExit()
}

@Suite(.kernel, .serialized) struct TraceSymbolKernelTests {
    /// kstack/ustack (both modes, limits, as map keys and values), ksym/kaddr, printed exactly
    /// like bpftrace for the same sleeps of the same process.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")))
    func stacksAndSymbolsMatchBpftrace() throws {
        let sleeper = try namedSleeper()
        let script = #"tracepoint:syscalls:sys_enter_clock_nanosleep /comm == "sbpf_stk_sleep"/ { printf("k%s|u%s|p%s|q%s|%s %s\n", kstack, ustack, ustack(perf, 3), kstack(perf, 2), ksym(kaddr("do_syscall_64")), ksym(0)); @[kstack(3)] = count(); @u[ustack(2), comm] = count(); @k[ksym(kaddr("vfs_read"))] = count(); @s = kstack(1); @p = ustack(perf, 1); @n++; if (@n == 1) { exit(); } }"#
        let (ours, theirs) = try traceAlongsideBpftrace(script) {
            // One process sleeping long enough that both tools symbolise its stack while it lives
            // (each caches a process's mappings, so map keys printed at exit resolve too).
            try runToCompletion(sleeper, ["2"])
        }
        #expect(ours.contains("do_syscall_64+"), "\(ours)")
        #expect(ours.contains("@k[vfs_read]: 1\n"))
        #expect(ours.contains("clock_nanosleep+"))
        #expect(ours == theirs)
    }

    /// usym of pthread_create's start routine (threadsnoop.bt's FUNC column), for threads this
    /// process starts, against bpftrace watching the same calls.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")))
    func usymNamesThreadStartRoutinesLikeBpftrace() throws {
        // One event each: the harness's own thread start may reach one tool and not the other
        // (bpftrace says "Attaching" before it has attached), so counts are not compared.
        let script = #"uprobe:libc:pthread_create /pid == \#(getpid())/ { printf("%s %s\n", usym(arg2), usym(0x10)); exit(); }"#
        let (ours, theirs) = try traceAlongsideBpftrace(script) {
            for _ in 0..<2 {
                let thread = Thread { usleep(1000) }
                thread.start()
                usleep(50_000)
            }
        }
        #expect(ours.contains("NSThreadStart"), "\(ours)")
        #expect(ours.contains(" 0x10\n"))
        #expect(ours == theirs)
    }
}
