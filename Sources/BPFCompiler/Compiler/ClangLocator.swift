import BPF
import Foundation

/// Finds a clang that can compile for the BPF target, at run time (the program may run on a
/// machine other than the one that built it).
public enum ClangLocator {
    /// The environment variable that names the clang to use, ahead of every other place.
    public static let environmentVariable = "SWIFTBPF_CLANG"
    /// Where the Swift toolchain is installed by the official images and tarballs.
    public static let toolchainClang = "/opt/swift/usr/bin/clang"

    private static let lock = NSLock()
    nonisolated(unsafe) private static var cached: String?

    /// The clang to use: `$SWIFTBPF_CLANG`, the one next to `swift` on PATH (the toolchain's,
    /// which always has the BPF target), /opt/swift/usr/bin/clang, then any `clang` on PATH
    /// whose target list includes bpf. Throws `BPFError.notFound` naming every place searched.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        let found = try locateUncached(environment: environment)
        cached = found
        return found
    }

    static func locateUncached(environment: [String: String], toolchainClang: String = Self.toolchainClang) throws -> String {
        var searched: [String] = []
        let files = FileManager.default
        if let explicit = environment[environmentVariable], !explicit.isEmpty {
            guard files.isExecutableFile(atPath: explicit) else {
                throw BPFError.notFound(what: "clang", detail: "$\(environmentVariable) is '\(explicit)', which is not an executable file")
            }
            return explicit
        }
        searched.append("$\(environmentVariable) (unset)")
        let path = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        for directory in path {
            let swift = directory + "/swift"
            guard files.isExecutableFile(atPath: swift) else { continue }
            // `swift` may be a symlink into the toolchain (swiftly, /usr/bin/swift).
            let real = URL(fileURLWithPath: swift).resolvingSymlinksInPath().deletingLastPathComponent().path
            for candidate in [directory + "/clang", real + "/clang"] where files.isExecutableFile(atPath: candidate) {
                return candidate
            }
            searched.append("clang next to \(swift)")
        }
        if path.allSatisfy({ !files.isExecutableFile(atPath: $0 + "/swift") }) { searched.append("clang next to swift on PATH (no swift on PATH)") }
        if files.isExecutableFile(atPath: toolchainClang) {
            return toolchainClang
        }
        searched.append(toolchainClang)
        for directory in path {
            let candidate = directory + "/clang"
            guard files.isExecutableFile(atPath: candidate) else { continue }
            if hasBPFTarget(candidate) {
                return candidate
            }
            searched.append("\(candidate) (no bpf target in --print-targets)")
        }
        if !searched.contains(where: { $0.hasSuffix("--print-targets)") }) { searched.append("clang on PATH (none)") }
        throw BPFError.notFound(
            what: "clang with the BPF target",
            detail: "searched \(searched.joined(separator: ", ")); install the Swift toolchain (its clang has the BPF target) or set \(environmentVariable)=/path/to/clang")
    }

    /// Whether `clang --print-targets` lists the bpf back end.
    static func hasBPFTarget(_ clang: String) -> Bool {
        guard let run = try? CompilerProcess.run(clang, ["--print-targets"]), run.status == 0 else { return false }
        return run.output.split(separator: "\n").contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("bpf ") }
    }
}

/// Runs a tool and collects what it printed.
enum CompilerProcess {
    struct Run {
        var status: Int32
        var output: String
        var errors: String
    }

    static func run(_ executable: String, _ arguments: [String], directory: String? = nil) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw BPFError.invalidArgument("cannot run \(executable): \(error.localizedDescription)")
        }
        // Read both pipes concurrently so a chatty compiler cannot fill one and block.
        let errorData = CollectedData()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errorData.data = errors.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
                   errors: String(decoding: errorData.data, as: UTF8.self))
    }

    /// Filled by one thread, read by another after DispatchGroup.wait (which orders them).
    private final class CollectedData: @unchecked Sendable {
        var data = Data()
    }
}
