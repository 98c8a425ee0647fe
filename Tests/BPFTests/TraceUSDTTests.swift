import Foundation
import Testing

/// `swiftbpf trace` on `usdt:` probes, against a C workload built here with <sys/sdt.h>
/// (Fixtures/trace-usdt/workload.c, package systemtap-sdt-dev) and compared with
/// /usr/bin/bpftrace running the same script on the same deterministic workload.
@Suite(.kernel, .serialized, .enabled(if: USDTFixture.hasSDTHeader))
struct TraceUSDTTests {
    static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/trace-usdt/workload.c").path
    static let hasBpftrace = FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")

    /// gcc -O2 puts arguments in registers and %rsp-relative memory; -O0 non-PIE in
    /// %rbp-relative memory; both are traced.
    static func workload(_ flags: [String] = ["-O2"]) throws -> String {
        let binary = USDTFixture.output + "/trace-usdt-workload" + flags.joined()
        if !FileManager.default.fileExists(atPath: binary) {
            let result = try CommandRunner.run("/usr/bin/gcc", flags + [source, "-o", binary])
            try #require(result.status == 0, "gcc failed: \(result.stderr)")
        }
        return binary
    }

    static func swiftbpf(_ arguments: [String]) throws -> CommandResult {
        try CommandRunner.run(try CommandRunner.swiftbpfPath(), ["trace"] + arguments)
    }

    /// bpftrace 0.17 warns about RLIMIT_MEMLOCK on kernels that account BPF memory to cgroups.
    static func bpftrace(_ arguments: [String]) throws -> CommandResult {
        try CommandRunner.run("/usr/bin/bpftrace", arguments)
    }

    static func withoutMemlockWarning(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("RLIMIT_MEMLOCK") }.joined(separator: "\n")
    }

    static let script = """
    usdt:BINARY:demo:sizes { printf("%d %d %d %d\\n", arg0, arg1, arg2, arg3); @small = arg0; @large = arg3; }
    usdt:BINARY:text { printf("%d %s %s\\n", arg0, str(arg1), probe); }
    usdt:BINARY:demo:guarded { printf("guarded %d\\n", arg0); @guarded = count(); }
    U:BINARY:other:* { printf("other %d %u %s\\n", arg0, arg0, probe); @sum = sum(arg0); }
    usdt:BINARY:demo:noargs { @noargs[probe] = count(); }
    """

    @Test(arguments: [["-O2"], ["-O0", "-fno-pie", "-no-pie"]])
    func argumentsSemaphoresAndProbeNames(flags: [String]) throws {
        let binary = try Self.workload(flags)
        let program = Self.script.replacingOccurrences(of: "BINARY", with: binary)
        let ours = try Self.swiftbpf(["-e", program, "-c", "\(binary) 4"])
        #expect(ours.status == 0, "\(ours.stderr)")
        // Values as the workload passes them: sign- and zero-extension by the specs' sizes.
        #expect(ours.stdout.hasPrefix("Attaching 5 probes...\n-5 65000 -100000 -989331456\n0 hello-42 usdt:\(binary):demo:text\n"))
        #expect(ours.stdout.contains("guarded 30\n"), "the semaphore-guarded probe fires only while the semaphore is held")
        #expect(ours.stdout.contains("other -3 4294967293 usdt:\(binary):other:sizes\n"))
        #expect(ours.stdout.contains("@guarded: 4\n"))
        #expect(ours.stdout.contains("@small: 18446744073709551611\n"))
        #expect(ours.stdout.contains("@large: 18000000000000000000\n"))
        #expect(ours.stdout.contains("@noargs[usdt:\(binary):demo:noargs]: 4\n"))
        if Self.hasBpftrace {
            let theirs = try Self.bpftrace(["-e", program, "-c", "\(binary) 4"])
            #expect(ours.stdout == theirs.stdout)
        }
    }

    /// An always-inline function's probe lands at three sites with different argument specs
    /// (gcc -O2: -8@-8(%rsp) -4@$1, -8@%rax -4@$2, -8@$-1 -4@-12(%rsp)); each gets its program.
    @Test func inlinedSitesEachReadTheirOwnSpec() throws {
        let binary = USDTFixture.output + "/trace-usdt-inlined"
        let build = try CommandRunner.run("/usr/bin/gcc", ["-O2", Self.source.replacingOccurrences(of: "workload.c", with: "inlined.c"), "-o", binary])
        try #require(build.status == 0, "gcc failed: \(build.stderr)")
        let program = "usdt:\(binary):m:hit { printf(\"%d %d\\n\", arg0, arg1); }"
        let ours = try Self.swiftbpf(["-e", program, "-c", binary])
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(ours.stdout == "Attaching 3 probes...\n7 1\n3 2\n-1 3\n\n\n")
        if Self.hasBpftrace {
            #expect(try Self.bpftrace(["-e", program, "-c", binary]).stdout == ours.stdout)
        }
    }

    @Test func attachesToAProcessByPID() throws {
        let binary = try Self.workload()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["3", "1500"]
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        // `usdt::provider:name` with -p: the probe's binary is the process's executable.
        let result = try Self.swiftbpf(["-p", "\(process.processIdentifier)", "-e",
                                        "usdt::demo:sizes { printf(\"%u\\n\", arg1); } usdt:\(binary):guarded { printf(\"g %d\\n\", arg0); }"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "Attaching 2 probes...\n65000\ng 0\n65000\ng 10\n65000\ng 20\n\n\n")
    }

    @Test func listingMatchesBpftrace() throws {
        let binary = try Self.workload()
        let patterns = ["usdt:\(binary):*", "usdt:\(binary):*:sizes", "U:\(binary):demo:*", "usdt:\(binary):noargs", "usdt:\(binary):nothing*"]
        for pattern in patterns {
            let ours = try Self.swiftbpf(["-l", pattern])
            #expect(ours.status == 0, "\(pattern): \(ours.stderr)")
            if Self.hasBpftrace {
                let theirs = try Self.bpftrace(["-l", pattern])
                #expect(ours.stdout == theirs.stdout, "\(pattern)")
            }
        }
        let all = try Self.swiftbpf(["-l", "usdt:\(binary):*"])
        #expect(all.stdout == ["demo:guarded", "demo:noargs", "demo:sizes", "demo:text", "other:sizes"]
            .map { "usdt:\(binary):\($0)\n" }.joined())
        let bare = try Self.swiftbpf(["-l", "usdt:\(binary)"])
        #expect(bare.status == 1)
        #expect(bare.stderr.contains("usdt probe type requires 2 or 3 arguments"))
    }

    @Test func badProbesAreCompileErrors() throws {
        let binary = try Self.workload()
        let cases: [(String, String)] = [
            ("usdt:\(binary):demo:nope { exit(); }", "stdin:1:1-\(binary.count + 16): ERROR: usdt probe 'demo:nope' not found in \(binary)"),
            ("usdt:/nonexistent/trace-usdt:demo:x { exit(); }", "ERROR: usdt target file '/nonexistent/trace-usdt' does not exist or is not executable"),
            ("usdt:\(binary):demo:text { print(arg2); }", "ERROR: couldn't get argument 2 for \(binary):demo:text"),
            ("usdt:\(binary):demo:noargs { print(arg0); }", "ERROR: couldn't get argument 0 for \(binary):demo:noargs"),
        ]
        for (program, message) in cases {
            let result = try Self.swiftbpf(["-e", program])
            #expect(result.status == 1, "\(program)")
            #expect(result.stderr.contains(message), "\(program): \(result.stderr)")
            #expect(!result.stdout.contains("Attaching"))
        }
        // A wildcard matching nothing is dropped, as bpftrace does.
        let dropped = try Self.swiftbpf(["-e", "BEGIN { exit(); } usdt:\(binary):nope:* { exit(); }"])
        #expect(dropped.status == 0, "\(dropped.stderr)")
        #expect(dropped.stdout.hasPrefix("Attaching 1 probe...\n"))
    }
}
