// Driver of the `swiftbpf trace` against bpftrace benchmark (Benchmarks/run-trace.sh).
//
//   swiftbpf-bench-trace SWIFTBPF BPFTRACE [REPEAT]
//
// For each one-liner, alternating the two tools REPEAT times, it spawns the tool with its
// standard output on a pipe and measures:
//   - attach: time from spawn to the "Attaching N probes..." line;
//   - ready: time from spawn to the first event line (scripts that print on a probe this
//     driver fires: a thread calls getppid() every millisecond, which hits the tracepoint
//     syscalls:sys_enter_getppid and the uprobe on libc's getppid);
//   - peak RSS: the highest VmHWM of the tool until it exits after SIGINT (it prints its maps);
//   - instructions: the bpf-prog descriptors the tool holds once the set is stable (from
//     /proc/PID/fdinfo), each looked up by id: xlated bytes / 8 (after the verifier's rewrites),
//     and the instructions the verifier processed.
// Then the printf event rate: a thread of this process calls getppid() at stepped rates for one
// second each while the tool prints one line per call; a step passes when every line arrives.
import BPF
import BPFObject
import Foundation

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

struct Tool {
    var name: String
    var path: String
    var prefix: [String]
}

/// A spawned tool with its standard output on a pipe, read line by line.
final class RunningTool {
    let pid: pid_t
    let output: Int32
    var buffer: [UInt8] = []
    var lineCount = 0
    var lostEvents = 0
    var lostLines = 0
    var eof = false
    /// Called for each complete line (without the newline).
    var onLine: (ArraySlice<UInt8>) -> Void = { _ in }

    init(_ tool: Tool, script: String, stderrPath: String) throws {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw BenchError("pipe failed") }
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        let argv = [tool.path] + tool.prefix + ["-e", script]
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for arg in cArgs { free(arg) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, tool.path, &actions, nil, &cArgs, environ)
        close(pipeFDs[1])
        guard status == 0 else { close(pipeFDs[0]); throw BenchError("cannot spawn \(tool.path): \(String(cString: strerror(status)))") }
        pid = child
        output = pipeFDs[0]
    }

    /// Reads what is available within `timeout` seconds; returns false at end of file.
    @discardableResult
    func pump(timeout: Double) -> Bool {
        guard !eof else { return false }
        var poller = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(max(0, timeout * 1000))) > 0 else { return true }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let count = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
        if count <= 0 { eof = true; return false }
        buffer.append(contentsOf: chunk[0..<count])
        var start = 0
        while let newline = buffer[start...].firstIndex(of: 10) {
            let line = buffer[start..<newline]
            lineCount += 1
            if line.starts(with: Array("Lost ".utf8)) {
                // bpftrace: "Lost N events"
                let digits = line.dropFirst(5).prefix { $0 >= 48 && $0 <= 57 }
                lostEvents += Int(String(decoding: digits, as: UTF8.self)) ?? 0
                lostLines += 1
            }
            onLine(line)
            start = newline + 1
        }
        buffer.removeFirst(start)
        return true
    }

    /// Waits for a line matching `predicate`; returns the time it arrived, nil on timeout or EOF.
    func waitForLine(timeout: Double, _ predicate: @escaping (ArraySlice<UInt8>) -> Bool) -> Double? {
        var found: Double?
        let saved = onLine
        onLine = { line in
            saved(line)
            if found == nil, predicate(line) { found = now() }
        }
        defer { onLine = saved }
        let deadline = now() + timeout
        while found == nil, now() < deadline, pump(timeout: min(0.05, deadline - now())) {}
        return found
    }

    /// SIGINT, read everything until EOF, then reap; returns peak RSS in KiB: the highest
    /// VmHWM seen in /proc/PID/status until the process ends. (wait4's ru_maxrss would also
    /// count this driver's own RSS: posix_spawn starts the child in the parent's memory with
    /// CLONE_VM, and exec folds that memory's high-water mark into the child's maxrss.)
    func stop() -> Int {
        var peak = highWaterMark() ?? 0
        kill(pid, SIGINT)
        let deadline = now() + 20
        while pump(timeout: 0.1), now() < deadline { peak = max(peak, highWaterMark() ?? 0) }
        if !eof { kill(pid, SIGKILL) }
        close(output)
        var status: Int32 = 0
        var usage = rusage()
        wait4(pid, &status, 0, &usage)
        return peak
    }

    /// VmHWM of the running tool in KiB, nil once it has exited.
    func highWaterMark() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Instructions of every BPF program a process holds, from /proc/PID/fdinfo.
struct ProgramCounts: Equatable {
    var programs = 0
    var xlated = 0
    var verified = 0
    var jitedBytes = 0

    static func of(_ pid: pid_t) -> ProgramCounts {
        var counts = ProgramCounts()
        let directory = "/proc/\(pid)/fdinfo"
        var seen = Set<UInt32>()
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            // Link descriptors show their program's id too; count program descriptors once each.
            guard (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(entry)")) == "anon_inode:bpf-prog",
                  let info = try? String(contentsOfFile: directory + "/" + entry, encoding: .utf8),
                  let line = info.split(separator: "\n").first(where: { $0.hasPrefix("prog_id:") }),
                  let id = UInt32(line.dropFirst("prog_id:".count).trimmingCharacters(in: .whitespaces)),
                  seen.insert(id).inserted,
                  let fd = try? KernelObjects.open(.program, id: id),
                  let program = try? ProgramInfo(fd: fd) else { continue }
            counts.programs += 1
            counts.xlated += Int(program.translatedSize) / 8
            counts.verified += Int(program.verifiedInstructions)
            counts.jitedBytes += Int(program.jitedSize)
        }
        return counts
    }
}

/// Calls getppid() every `interval` seconds until stopped (fires the benchmark's probes).
final class Trigger: @unchecked Sendable {
    private var running = true
    private let lock = NSLock()
    private var thread: Thread?
    init(interval: Double) {
        thread = Thread { [self] in
            while lock.withLock({ running }) {
                _ = getppid()
                usleep(UInt32(interval * 1e6))
            }
        }
        thread?.start()
    }
    func stop() { lock.withLock { running = false } }
}

/// CPU time (ns) a process has used so far, all threads: the first field of each
/// /proc/PID/task/TID/schedstat (nanosecond resolution, unlike utime/stime in clock ticks).
func cpuTime(_ pid: pid_t) -> Double {
    let tasks = "/proc/\(pid)/task"
    var total = 0.0
    for task in (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? [] {
        guard let text = try? String(contentsOfFile: "\(tasks)/\(task)/schedstat", encoding: .utf8),
              let field = text.split(separator: " ").first, let nanoseconds = Double(field) else { continue }
        total += nanoseconds
    }
    return total / 1e9
}

struct Sample {
    var attach: Double
    /// CPU time of the tool when its "Attaching" line arrived.
    var attachCPU: Double
    var ready: Double?
    var rssKiB: Int
    var counts: ProgramCounts
}

let libc = "/lib/x86_64-linux-gnu/libc.so.6"

/// The one-liners: name, script, and whether it prints on the first getppid() (for `ready`).
let oneLiners: [(name: String, script: String, printsOnTrigger: Bool)] = [
    ("BEGIN only", #"BEGIN { printf("hello\n"); }"#, false),
    ("tracepoint printf", #"tracepoint:syscalls:sys_enter_getppid { printf("%s %d\n", comm, pid); }"#, true),
    ("uprobe printf", "uprobe:\(libc):getppid { printf(\"%s %d\\n\", comm, tid); }", true),
    ("interval count", "interval:ms:10 { @ticks = count(); }", false),
    ("profile count", "profile:hz:99 { @[cpu] = count(); }", false),
    ("map-heavy", "tracepoint:raw_syscalls:sys_enter { @calls[comm, args->id] = count(); @bytes[pid] = sum(args->id); @lat = hist(args->id); @last[tid] = nsecs; }", false),
    ("struct access", "tracepoint:sched:sched_switch { @[curtask->pid, curtask->comm] = count(); }", false),
]

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
}

func measureOneLiner(_ tool: Tool, _ script: String, printsOnTrigger: Bool, stderrPath: String) throws -> Sample {
    let trigger = printsOnTrigger ? Trigger(interval: 0.001) : nil
    defer { trigger?.stop() }
    let start = now()
    let running = try RunningTool(tool, script: script, stderrPath: stderrPath)
    var attachCPU = 0.0
    guard let attached = running.waitForLine(timeout: 60, { line in
        guard line.starts(with: Array("Attaching ".utf8)) else { return false }
        attachCPU = cpuTime(running.pid)
        return true
    }) else {
        _ = running.stop()
        throw BenchError("\(tool.name) did not attach: \(script) (see \(stderrPath))")
    }
    var ready: Double?
    if printsOnTrigger {
        ready = running.waitForLine(timeout: 30) { !$0.isEmpty }.map { $0 - start }
    }
    // bpftrace prints "Attaching" before it loads its programs; wait until the set is stable.
    var counts = ProgramCounts.of(running.pid)
    var stableSince = now()
    while now() - stableSince < 0.3 {
        running.pump(timeout: 0.05)
        let current = ProgramCounts.of(running.pid)
        if current != counts { counts = current; stableSince = now() }
    }
    let rss = running.stop()
    return Sample(attach: attached - start, attachCPU: attachCPU, ready: ready, rssKiB: rss, counts: counts)
}

/// getppid() calls at `rate` per second (or as fast as possible) for `duration` seconds; the
/// results are read after the thread signals completion.
final class Workload: @unchecked Sendable {
    var made = 0
    var elapsed = 0.0
    func run(rate: Double, duration: Double) {
        let begin = now()
        var current = begin
        while current - begin < duration {
            for _ in 0..<16 { _ = getppid() }
            made += 16
            current = now()
            if rate.isFinite {
                let due = begin + Double(made) / rate
                while current < due { current = now() }
            }
        }
        elapsed = current - begin
    }
}

/// Printf throughput: one line per getppid() of this process, at stepped rates.
func measureEventRate(_ tool: Tool, stderrPath: String) throws -> (lossless: Double, flatOut: (rate: Double, delivered: Double, lost: Double)) {
    let script = "tracepoint:syscalls:sys_enter_getppid /pid == \(getpid())/ { printf(\"%s %d %d\\n\", comm, pid, tid); }"
    let running = try RunningTool(tool, script: script, stderrPath: stderrPath)
    defer { _ = running.stop() }
    guard running.waitForLine(timeout: 60, { $0.starts(with: Array("Attaching ".utf8)) }) != nil else {
        throw BenchError("\(tool.name) did not attach the rate script")
    }
    // Until bpftrace has really attached (it announces first), wait for the first event.
    var primed = false
    while !primed {
        _ = getppid()
        primed = running.waitForLine(timeout: 0.05) { !$0.isEmpty } != nil
    }
    // Let stray priming events arrive, then count from here.
    while running.waitForLine(timeout: 0.3, { _ in true }) != nil {}
    var lossless = 0.0
    var flatOut = (rate: 0.0, delivered: 0.0, lost: 0.0)
    for rate in [25_000.0, 50_000, 100_000, 200_000, 400_000, 800_000, .infinity] {
        let before = running.lineCount
        let lostBefore = running.lostEvents, lostLinesBefore = running.lostLines
        let load = Workload()
        let done = DispatchSemaphore(value: 0)
        Thread {
            load.run(rate: rate, duration: 1.0)
            done.signal()
        }.start()
        while done.wait(timeout: .now()) == .timedOut { running.pump(timeout: 0.01) }
        let (made, elapsed) = (load.made, load.elapsed)
        // Drain: until no line for 0.5 s.
        while running.waitForLine(timeout: 0.5, { _ in true }) != nil {}
        let lost = running.lostEvents - lostBefore
        // "Lost N events" lines are not events.
        let delivered = running.lineCount - before - (running.lostLines - lostLinesBefore)
        let achieved = Double(made) / elapsed
        if delivered >= made && lost == 0 { lossless = max(lossless, achieved) }
        if !rate.isFinite { flatOut = (achieved, Double(delivered) / elapsed, Double(made - delivered) / Double(made) * 100) }
    }
    return (lossless, flatOut)
}

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: swiftbpf-bench-trace SWIFTBPF BPFTRACE [REPEAT]\n".utf8))
    exit(2)
}
let repeatCount = arguments.count > 3 ? Int(arguments[3]) ?? 3 : 3
let tools = [Tool(name: "bpftrace", path: arguments[2], prefix: []), Tool(name: "swiftbpf", path: arguments[1], prefix: ["trace"])]
let stderrPath = "Benchmarks/.out/trace-stderr.log"
let only = ProcessInfo.processInfo.environment["ONLY"]

func format(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

do {
    print("one-liner | bpftrace attach ms | swiftbpf attach ms | ratio | bpftrace CPU ms at attach | swiftbpf CPU ms at attach | ratio | bpftrace ready ms | swiftbpf ready ms | ratio | bpftrace RSS MiB | swiftbpf RSS MiB | ratio | bpftrace progs/xlated insns | swiftbpf progs/xlated insns")
    for oneLiner in oneLiners where only == nil || oneLiner.name.contains(only!) {
        var samples: [String: [Sample]] = [:]
        for _ in 0..<repeatCount {
            for tool in tools {
                samples[tool.name, default: []].append(try measureOneLiner(tool, oneLiner.script, printsOnTrigger: oneLiner.printsOnTrigger, stderrPath: stderrPath))
            }
        }
        let b = samples["bpftrace"]!, s = samples["swiftbpf"]!
        let attachB = median(b.map(\.attach)) * 1000, attachS = median(s.map(\.attach)) * 1000
        let cpuB = median(b.map(\.attachCPU)) * 1000, cpuS = median(s.map(\.attachCPU)) * 1000
        let rssB = median(b.map { Double($0.rssKiB) }) / 1024, rssS = median(s.map { Double($0.rssKiB) }) / 1024
        var readyColumns = "- | - | -"
        if oneLiner.printsOnTrigger {
            let readyB = median(b.compactMap(\.ready)) * 1000, readyS = median(s.compactMap(\.ready)) * 1000
            readyColumns = "\(format(readyB)) | \(format(readyS)) | \(format(readyB / readyS))×"
        }
        let countsB = b.last!.counts, countsS = s.last!.counts
        print("\(oneLiner.name) | \(format(attachB)) | \(format(attachS)) | \(format(attachB / attachS))× | \(format(cpuB)) | \(format(cpuS)) | \(format(cpuB / cpuS))× | \(readyColumns) | \(format(rssB)) | \(format(rssS)) | \(format(rssB / rssS))× | \(countsB.programs)/\(countsB.xlated) | \(countsS.programs)/\(countsS.xlated)")
        if ProcessInfo.processInfo.environment["VERBOSE"] != nil {
            for (name, list) in [("bpftrace", b), ("swiftbpf", s)] {
                print("  \(name): attach ms \(list.map { format($0.attach * 1000) }) CPU ms \(list.map { format($0.attachCPU * 1000) }) ready ms \(list.map { $0.ready.map { format($0 * 1000) } ?? "-" }) RSS KiB \(list.map(\.rssKiB)) verified insns \(list.last!.counts.verified) jited bytes \(list.last!.counts.jitedBytes)")
            }
        }
    }
    if ProcessInfo.processInfo.environment["SKIP_RATE"] == nil {
        print("")
        print("printf events/s | lossless (highest stepped rate with every line delivered) | flat out: getppid/s, lines/s, loss %")
        for tool in tools {
            var best = 0.0
            var flat = (rate: 0.0, delivered: 0.0, lost: 0.0)
            for _ in 0..<repeatCount {
                let result = try measureEventRate(tool, stderrPath: stderrPath)
                best = max(best, result.lossless)
                if result.flatOut.delivered > flat.delivered { flat = result.flatOut }
            }
            print("\(tool.name) | \(format(best / 1000)) K | \(format(flat.rate / 1000)) K, \(format(flat.delivered / 1000)) K, \(format(flat.lost, 2)) %")
        }
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
