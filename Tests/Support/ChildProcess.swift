import Foundation

/// A command that a test runs to completion (clang, bpftool, bpftrace, our own CLI, a workload),
/// and what it printed. The one way tests start processes.
public enum ChildProcess {
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        /// Empty when the command ran with `mergingErrors`: then everything is in `stdout`.
        public let stderr: String
        /// Both streams, standard output first.
        public var output: String { stderr.isEmpty ? stdout : stdout + stderr }
    }

    /// Runs `executable` (a path, or a name looked up on PATH) with `arguments` until it exits.
    /// `mergingErrors` sends standard error into the same pipe as standard output, keeping the
    /// order in which the command wrote them.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil,
                           mergingErrors: Bool = false, currentDirectory: String? = nil) throws -> Result {
        let process = Process()
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        if let environment { process.environment = environment }
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        process.standardInput = FileHandle.nullDevice
        let output = Pipe()
        let errors = mergingErrors ? output : Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Both pipes are drained while the child runs: a full pipe would stall it.
        let errorText = ErrorText()
        if !mergingErrors {
            Thread.detachNewThread {
                errorText.text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                errorText.done.signal()
            }
        }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        if !mergingErrors { errorText.done.wait() }
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outputData, as: UTF8.self), stderr: errorText.text)
    }
}

/// Standard error, read on its own thread; `done` orders the write before the read.
private final class ErrorText: @unchecked Sendable {
    var text = ""
    let done = DispatchSemaphore(value: 0)
}
