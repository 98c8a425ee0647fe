import BPF
import Foundation
import Testing

/// `swiftbpf trace` as a process: the common flags are read directly (no ArgumentParser, for
/// start-up time) and everything else goes through ArgumentParser; both must behave the same.
@Suite(.kernel, .serialized) struct TraceCLITests {
    static let program = #"BEGIN { @x = 5; printf("hi %d\n", 7); exit(); }"#

    @Test func oneLinerRunsAndPrintsMapsAtExit() throws {
        let result = try CommandRunner.swiftbpf("trace", "-e", Self.program)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "Attaching 1 probe...\nhi 7\n\n\n@x: 5\n")
    }

    /// `-qv` (bundled) is left to ArgumentParser; `-q -v` is read directly: same result.
    @Test func directlyReadFlagsMatchArgumentParser() throws {
        let direct = try CommandRunner.swiftbpf("trace", "-q", "-v", "-e", Self.program)
        let parsed = try CommandRunner.swiftbpf("trace", "-qv", "-e", Self.program)
        #expect(direct.status == 0 && parsed.status == 0, "\(direct.stderr)\(parsed.stderr)")
        #expect(direct.stdout == parsed.stdout)
        #expect(direct.stderr == parsed.stderr)
        #expect(!direct.stdout.contains("Attaching"))
        #expect(direct.stderr.contains("instructions, verifier accepted"))
    }

    @Test func scriptFileWithPositionalParametersAndOutputFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sbpf-trace-cli-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = directory.appendingPathComponent("args.bt").path
        let output = directory.appendingPathComponent("out.txt").path
        try #"BEGIN { printf("%s %d\n", str($1), $2); exit(); }"#.write(toFile: script, atomically: true, encoding: .utf8)
        let result = try CommandRunner.swiftbpf("trace", "-o", output, script, "hello", "42")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(try String(contentsOfFile: output, encoding: .utf8) == "Attaching 1 probe...\nhello 42\n\n\n")
    }

    /// Usage errors read the same whichever way the arguments were read.
    @Test func usageErrorsComeFromArgumentParser() throws {
        let format = try CommandRunner.swiftbpf("trace", "-f", "xml", "-e", Self.program)
        #expect(format.status == 64)
        #expect(format.stderr.contains(#"Invalid output format "xml""#))
        let pid = try CommandRunner.swiftbpf("trace", "-p", "notanumber", "-e", Self.program)
        #expect(pid.status == 64)
        #expect(pid.stderr.contains("notanumber"))
        let repeated = try CommandRunner.swiftbpf("trace", "-e", "BEGIN { exit(); }", "-e", Self.program)
        #expect(repeated.status == 0)  // ArgumentParser keeps the last value
        #expect(repeated.stdout.contains("hi 7"))
        let help = try CommandRunner.swiftbpf("trace", "--help")
        #expect(help.status == 0 && help.stdout.contains("USAGE: swiftbpf trace"))
        let missing = try CommandRunner.swiftbpf("trace", "-e")
        #expect(missing.status == 64)
    }

    @Test func compileErrorsExitNonZero() throws {
        let result = try CommandRunner.swiftbpf("trace", "-e", "BEGIN { @x = nope; }")
        #expect(result.status == 1)
        #expect(result.stderr.contains("stdin:1:14"))
    }
}
