import BPF
import Foundation
import Testing
import TestSupport

/// `swiftbpf object show|load|run` on the compiled fixtures (the binary built next to the tests).
@Suite(.kernel, .serialized)
struct LoaderCLITests {
    static var binary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("swiftbpf").path
    }

    func run(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        let result = try ChildProcess.run(Self.binary, arguments)
        return (result.status, result.stdout, result.stderr)
    }

    @Test func showLoadAndRun() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the swiftbpf product first (swift build --build-tests builds it)")
        let features = try LoaderFixtures.compile("features.bpf.c")
        let show = try run(["object", "show", features])
        #expect(show.status == 0)
        #expect(show.output.contains("count_calls  section raw_tp/sys_enter  type raw_tracepoint"))
        #expect(show.output.contains("outer  type array_of_maps"))
        #expect(show.output.contains(".rodata+0  multiplier  const volatile __u64"))

        let load = try run(["object", "load", "--program", "count_calls", features])
        #expect(load.status == 0, "\(load.errors)")
        #expect(load.output.contains("count_calls: loaded as raw_tracepoint program id"))
        #expect(!load.output.contains("jump:"))

        let rejected = try run(["object", "load", try LoaderFixtures.compile("rejected.bpf.c")])
        #expect(rejected.status != 0)
        #expect(rejected.errors.contains("UNCHECKED-DEREFERENCE"))

        // run: attaches the raw_tp programs, then prints the maps (BTF-decoded .bss).
        let running = try run(["object", "run", "--duration", "0.5", features])
        #expect(running.status == 0, "\(running.errors)")
        #expect(running.output.contains("map features.bss:"))
        #expect(running.output.contains("  counter: "), "\(running.output)")
    }

    @Test func runPrintsRingBufferRecords() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary))
        let tracing = try LoaderFixtures.compile("tracing.bpf.c")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["object", "run", "--duration", "2", tracing]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = Pipe()
        try process.run()
        // Keep calling getppid() while it runs: each call emits our pid into the ring buffer.
        let started = Date()
        while Date().timeIntervalSince(started) < 1.5 { _ = getppid(); usleep(20_000) }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let pid = UInt32(getpid())
        let hex = (0..<4).map { let byte = UInt8(truncatingIfNeeded: pid >> (8 * UInt32($0))); return (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined(separator: " ")
        #expect(process.terminationStatus == 0)
        #expect(text.contains("events: \(hex)"), "\(text.prefix(500))")
    }
}
