import Foundation

/// Runs the commands examples and their tests need (ip, ping, workloads) to completion.
public enum Command {
    /// Runs `executable` to completion; throws with its output when it exits non-zero.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], allowFailure: Bool = false) throws -> String {
        let result = try runCapturing(executable, arguments)
        if result.status != 0 && !allowFailure {
            let shown = ([executable] + arguments).joined(separator: " ")
            throw ExampleError("`\(shown)` failed (exit \(result.status)): \(result.output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return result.output
    }

    /// Runs `executable` to completion; returns its exit status and merged stdout and stderr.
    public static func runCapturing(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ExampleError("\(executable) is missing (install iproute2 / iputils-ping)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
