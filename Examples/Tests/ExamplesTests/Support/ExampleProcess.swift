import Foundation
import Testing

/// Example tests load into the real kernel: without root they skip, saying why, unless
/// SWIFTBPF_REQUIRE_KERNEL_TESTS=1 (set by .ci/run), where they run and so fail loudly.
extension Trait where Self == ConditionTrait {
    static var kernel: ConditionTrait {
        .enabled(
            if: geteuid() == 0 || ProcessInfo.processInfo.environment["SWIFTBPF_REQUIRE_KERNEL_TESTS"] == "1",
            "needs root (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN): run the example tests as root")
    }
}

/// One run of an example executable built by `swift build --package-path Examples`: its
/// output is collected as it arrives, so a test can wait for the "Tracing..." line, make its
/// workload, then stop the example with Ctrl-C (SIGINT) and read everything it printed.
final class ExampleProcess: @unchecked Sendable {
    /// Where SwiftPM put this package's executables: next to the test bundle.
    static let productsDirectory: URL = {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if FileManager.default.fileExists(atPath: bundle.appendingPathComponent("hello-func").path) { return bundle }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/debug")
    }()

    let name: String
    private let process = Process()
    private let output = OutputBuffer()

    /// Starts `name` with `arguments`; stdout and stderr are merged, in order of arrival.
    init(_ name: String, _ arguments: [String] = []) throws {
        self.name = name
        process.executableURL = Self.productsDirectory.appendingPathComponent(name)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [output] handle in
            let data = handle.availableData
            guard !data.isEmpty else { handle.readabilityHandler = nil; return }
            output.append(data)
        }
        try process.run()
    }

    deinit { if process.isRunning { process.terminate() } }

    /// Everything printed so far.
    var text: String { output.text }

    /// Waits until the output contains `marker`; fails the test (returning false) on timeout or
    /// if the example exits first.
    @discardableResult
    func waitFor(_ marker: String, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if text.contains(marker) { return true }
            if !process.isRunning {
                usleep(100_000)
                if text.contains(marker) { return true }
                break
            }
            usleep(20_000)
        }
        Issue.record("\(name): no \"\(marker)\" in its output:\n\(text)", sourceLocation: sourceLocation)
        return false
    }

    /// Ctrl-C, then waits for the example to exit; returns its status and whole output.
    func interrupt(timeout: Duration = .seconds(20)) -> (status: Int32, text: String) {
        if process.isRunning { kill(process.processIdentifier, SIGINT) }
        return waitForExit(timeout: timeout)
    }

    /// Waits for the example to exit by itself (killing it after `timeout`).
    func waitForExit(timeout: Duration = .seconds(60)) -> (status: Int32, text: String) {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            Issue.record("\(name) did not exit within \(timeout); output:\n\(text)")
        }
        process.waitUntilExit()
        usleep(50_000)  // the last output may still be in flight to the readability handler
        return (process.terminationStatus, text)
    }

    /// Runs an example to completion (for `--help`, `--dump` and other one-shot modes).
    static func run(_ name: String, _ arguments: [String] = [], timeout: Duration = .seconds(60)) throws -> (status: Int32, text: String) {
        try ExampleProcess(name, arguments).waitForExit(timeout: timeout)
    }
}

/// The output collected so far; appended from the pipe's handler thread, read by the test.
private final class OutputBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = Data()
    func append(_ data: Data) { lock.withLock { bytes.append(data) } }
    var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
}
