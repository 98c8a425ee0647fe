import BPF
import BPFTrace
import Foundation
import Testing
import TestSupport

/// `-l`/`-lv` listings compared with bpftrace's, and the probe kinds that need no workload of
/// their own: `software:`, `hardware:`, `profile:` with a time unit, wildcard uprobes.
@Suite(.kernel, .serialized) struct TraceProbeKindTests {
    static let bpftrace = "/usr/bin/bpftrace"

    /// Tracepoint listings (names and `-v` fields of all ~2,300 tracepoints, sorted by the whole
    /// name, the ftrace category left out) and a binary's functions are line for line bpftrace's.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: bpftrace)))
    func listingsMatchBpftrace() throws {
        for arguments in [["-lv", "tracepoint:*"], ["-l", "tracepoint:sched:*"], ["-lv", "t:syscalls:sys_enter_openat"],
                          ["-l", "uprobe:/bin/bash:*"], ["-l", "uprobe:/bin/bash:read*"]] {
            let theirs = try ChildProcess.run(Self.bpftrace, arguments)
            let ours = try CommandRunner.run(try CommandRunner.swiftbpfPath(), ["trace"] + arguments)
            #expect(ours.status == 0, "\(arguments): \(ours.stderr)")
            #expect(!theirs.stdout.isEmpty)
            #expect(ours.stdout == theirs.stdout, "\(arguments)")
        }
    }

    /// What bpftrace 0.17 cannot list here: kfunc arguments from BTF, software events, and a
    /// search without a probe type.
    @Test func listingsFromBTFAndEventTables() throws {
        let kfunc = try CommandRunner.swiftbpf("trace", "-lv", "kretfunc:vfs_read")
        #expect(kfunc.stdout == "kretfunc:vfs_read\n    struct file * file\n    char * buf\n    size_t count\n    loff_t * pos\n    ssize_t retval\n")
        let software = try CommandRunner.swiftbpf("trace", "-l", "s:*fault*")
        #expect(software.stdout == "software:alignment-faults:\nsoftware:emulation-faults:\nsoftware:major-faults:\nsoftware:minor-faults:\nsoftware:page-faults:\n")
        let search = try CommandRunner.swiftbpf("trace", "-l", "sched_switch")
        #expect(search.stdout == "tracepoint:sched:sched_switch\n")
        let missing = try CommandRunner.swiftbpf("trace", "-l", "uprobe:/nonexistent/binary:*")
        #expect(missing.status != 0 && missing.stderr.contains("/nonexistent/binary"))
    }

    /// software:cpu-clock and profile:ms sample on every CPU; a page-fault counter fires for a
    /// process that touches new memory; hardware events fail cleanly on a VM without counters.
    @Test func perfEventProbesFire() throws {
        let script = """
            software:cpu-clock:1000000 { @clock = count(); } profile:ms:5 { @profile = count(); }
            software:faults:1 /pid == cpid/ { @faults = count(); } interval:ms:400 { exit(); }
            """
        let result = try CommandRunner.swiftbpf("trace", "-c", "/bin/sh -c 'head -c 4000000 /dev/zero > /dev/null; sleep 0.3'", "-e", script)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("Attaching 4 probes...\n"), "\(result.stdout)")
        for map in ["@clock", "@profile", "@faults"] {
            let line = result.stdout.split(separator: "\n").first { $0.hasPrefix(map + ": ") }
            let count = line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            #expect(count > 0, "\(map) in \(result.stdout)")
        }
        let hardware = try CommandRunner.swiftbpf("trace", "-e", "hardware:cycles:100000 { @ = count(); }")
        if hardware.status != 0 {
            #expect(hardware.stderr.contains("ERROR: Error attaching probe: 'hardware:cycles:100000'"), "\(hardware.stderr)")
            #expect(hardware.stderr.contains("hardware counters"), "\(hardware.stderr)")
        }
        let unknown = try CommandRunner.swiftbpf("trace", "-e", "software:nope:1 { }")
        #expect(unknown.status != 0 && unknown.stderr.contains("ERROR: nope is not a software probe"))
        let unit = try CommandRunner.swiftbpf("trace", "-e", "profile:xx:1 { }")
        #expect(unit.stderr.contains("ERROR: xx is not an accepted unit of time"))
    }

    /// `uprobe:BINARY:PATTERN` attaches one probe per matching function, the same set as
    /// bpftrace; a pattern matching nothing is bpftrace's "No probes to attach".
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: bpftrace)))
    func wildcardUprobesExpandLikeBpftrace() throws {
        let script = "uprobe:/bin/bash:readl* { @[probe] = count(); } BEGIN { exit(); }"
        let theirs = try ChildProcess.run(Self.bpftrace, ["-e", script])
        let ours = try CommandRunner.swiftbpf("trace", "-e", script)
        #expect(ours.status == 0, "\(ours.stderr)")
        let attaching = { (text: String) in text.split(separator: "\n").first { $0.hasPrefix("Attaching") }.map(String.init) }
        #expect(attaching(ours.stdout) != nil && attaching(ours.stdout) == attaching(theirs.stdout), "\(ours.stdout) vs \(theirs.stdout)")
        var environment = ProcessInfo.processInfo.environment
        environment["BPFTRACE_MAX_PROBES"] = "3"
        let limited = try ChildProcess.run(try CommandRunner.swiftbpfPath(), ["trace", "-e", script], environment: environment)
        #expect(limited.status == 1 && limited.stderr.hasPrefix("ERROR: Can't attach to 5 probes because it exceeds the current limit of 3 probes.\n"), "\(limited.stderr)")
        let none = try CommandRunner.swiftbpf("trace", "-e", "uprobe:/bin/bash:nomatch_at_all* { }")
        #expect(none.status == 1 && none.stdout == "No probes to attach\n")
    }

    /// kprobe and kfunc programs are generated for real (users' kernels run them). This kernel
    /// has no CONFIG_KPROBES and refuses BPF trampolines: with the early kprobe check skipped,
    /// the kprobe program loads and its attach fails naming CONFIG_KPROBES; the kfunc program
    /// (arguments and retval from BTF) is refused at load with the reason. Nothing stays attached.
    @Test func kprobeAndKfuncFailCleanlyOnThisKernel() throws {
        var options = TraceSession.Options()
        options.compile.kprobesUnavailable = { nil }
        let kprobe = try TraceSession(text: "kprobe:vfs_read { @[comm] = count(); } kretprobe:vfs_read { @r = hist(retval); }", options: options) { _ in }
        defer { kprobe.close() }
        if Kprobes.areAvailable {
            try kprobe.attach()
        } else {
            do {
                try kprobe.attach()
                Issue.record("kprobes attached on a kernel without them")
            } catch let error as TraceError {
                #expect(error.description.contains("Error attaching probe: 'kprobe:vfs_read'") && error.description.contains("CONFIG_KPROBES"), "\(error)")
            }
        }
        let kfunc = try TraceSession(text: "kretfunc:vfs_read { @[args->count] = hist(retval); @p = args->file->f_pos; }") { _ in }
        defer { kfunc.close() }
        do {
            try kfunc.attach()
        } catch let error as TraceError {
            #expect(error.description.contains("kretfunc:vfs_read") && error.description.contains("BPF trampolines"), "\(error)")
        }
    }

    /// `watchpoint:ADDRESS:8:w` with `-c`: a hardware breakpoint in the child counts its writes
    /// to a global of a non-PIE program, the same count as bpftrace's; bad lengths and modes
    /// give bpftrace's errors.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: bpftrace)))
    func watchpointCountsWritesLikeBpftrace() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sbpf-watchpoint-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("wp.c").path, binary = directory.appendingPathComponent("wp").path
        try "#include <unistd.h>\nvolatile long watched;\nint main(void) { usleep(200000); for (int i = 0; i < 5; i++) watched = i; return 0; }\n"
            .write(toFile: source, atomically: true, encoding: .utf8)
        let build = try ChildProcess.run("/usr/bin/cc", ["-O0", "-no-pie", source, "-o", binary])
        try #require(build.status == 0, "\(build.stderr)")
        let symbols = try ChildProcess.run("/usr/bin/nm", [binary])
        let address = try #require(symbols.stdout.split(separator: "\n").first { $0.hasSuffix(" watched") }?.split(separator: " ").first)
        let script = "watchpoint:0x\(address):8:w { @[comm] = count(); }"
        let theirs = try ChildProcess.run(Self.bpftrace, ["-c", binary, "-e", script])
        let ours = try CommandRunner.swiftbpf("trace", "-c", binary, "-e", script)
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(ours.stdout.contains("@[wp]: ") && ours.stdout == theirs.stdout, "\(ours.stdout) vs \(theirs.stdout)")
        #expect(try CommandRunner.swiftbpf("trace", "-e", "watchpoint:0x1000:3:w { }").stderr.contains("ERROR: watchpoint length must be one of (1,2,4,8)"))
        #expect(try CommandRunner.swiftbpf("trace", "-e", "watchpoint:0x1000:8:r { }").stderr.contains("ERROR: invalid watchpoint mode: r"))
        #expect(try CommandRunner.swiftbpf("trace", "-e", "watchpoint:0x1000:8:q { }").stderr.contains("ERROR: watchpoint mode must be combination of (r,w,x)"))
    }

    /// `#include`d headers' integer macros, read without a C preprocessor, print what bpftrace
    /// prints; Debian's tcpdrop.bt (which takes `AF_INET` from <sys/socket.h> and
    /// `SKB_DROP_REASON_*` from BTF) starts, which bpftrace 0.17 cannot do here.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: bpftrace)))
    func headerMacrosMatchBpftrace() throws {
        let script = "#include <sys/socket.h>\n#define MINE (AF_INET6 + 1)\nBEGIN { printf(\"%d %d %d %d\\n\", AF_INET, AF_INET6, MINE, SOCK_STREAM); exit(); }"
        let theirs = try ChildProcess.run(Self.bpftrace, ["-e", script])
        let ours = try CommandRunner.swiftbpf("trace", "-e", script)
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(ours.stdout == theirs.stdout && ours.stdout.contains("2 10 11 1\n"), "\(ours.stdout) vs \(theirs.stdout)")
        guard FileManager.default.fileExists(atPath: "/usr/sbin/tcpdrop.bt") else { return }
        var environment = ProcessInfo.processInfo.environment
        environment["BPFTRACE_MAX_PROBES"] = "512"
        let tcpdrop = try ChildProcess.run("/usr/bin/timeout", ["-s", "INT", "2", try CommandRunner.swiftbpfPath(), "trace", "/usr/sbin/tcpdrop.bt"], environment: environment)
        #expect(tcpdrop.stdout.hasPrefix("Attaching 3 probes...\nTracing tcp drops. Hit Ctrl-C to end.\n"), "\(tcpdrop.stdout)\(tcpdrop.stderr)")
    }
}
