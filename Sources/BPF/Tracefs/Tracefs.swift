import BPFObject
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The kernel's tracing filesystem: tracepoint ids and formats, and the `kprobe_events` /
/// `uprobe_events` files for probes created the legacy way.
///
/// Found where it is mounted (`/sys/kernel/tracing` since 4.1, or `tracing/` inside debugfs on
/// older setups) and mounted at `/sys/kernel/tracing` when it is not.
public enum Tracefs {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var cachedRoot: String?

    /// The directory tracefs is mounted at, mounting it first if needed (needs CAP_SYS_ADMIN).
    public static func root() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let cachedRoot, FileManager.default.fileExists(atPath: cachedRoot + "/events") { return cachedRoot }
        let found = try locateOrMount()
        cachedRoot = found
        return found
    }

    static func locateOrMount() throws -> String {
        // The usual place first: one stat instead of reading and splitting the mount table
        // (the directory is empty unless tracefs is mounted there).
        if FileManager.default.fileExists(atPath: "/sys/kernel/tracing/events") { return "/sys/kernel/tracing" }
        let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        var tracefsMounts: [String] = []
        var debugfsMounts: [String] = []
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3 else { continue }
            // /proc/mounts escapes spaces in paths as \040.
            let path = String(fields[1]).replacingOccurrences(of: "\\040", with: " ")
            if fields[2] == "tracefs" { tracefsMounts.append(path) }
            if fields[2] == "debugfs" { debugfsMounts.append(path + "/tracing") }
        }
        let preferred = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        let candidates = preferred.filter { tracefsMounts.contains($0) || debugfsMounts.contains($0) } + tracefsMounts + debugfsMounts
        if let existing = candidates.first(where: { FileManager.default.fileExists(atPath: $0 + "/events") }) {
            return existing
        }
        let target = "/sys/kernel/tracing"
        guard FileManager.default.fileExists(atPath: target) else {
            throw BPFError.unsupported(feature: "tracefs", detail: "\(target) does not exist: this kernel was built without CONFIG_TRACING, or /sys is not mounted")
        }
        do {
            try mount(at: target)
        } catch let error as BPFError where error.errno == .EBUSY && FileManager.default.fileExists(atPath: target + "/events") {
            // Someone else mounted it meanwhile.
        }
        return target
    }

    /// Mounts a tracefs instance at `directory` with mount(2) (needs CAP_SYS_ADMIN).
    public static func mount(at directory: String) throws {
        guard Glibc.mount("tracefs", directory, "tracefs", 0, nil) == 0 else {
            let error = Errno.current
            let meaning: String = switch error {
            case .EPERM, .EACCES: "mounting tracefs needs CAP_SYS_ADMIN; run as root or mount it first: mount -t tracefs tracefs \(directory)"
            case .ENODEV: "this kernel has no tracefs (CONFIG_TRACING off)"
            case .ENOENT: "\(directory) does not exist"
            default: "could not mount tracefs; mount it by hand: mount -t tracefs tracefs \(directory)"
            }
            throw BPFError.syscall(SystemCallFailure(operation: "mount(tracefs)", errno: error, subject: directory, meaning: meaning))
        }
    }

    // MARK: Tracepoints

    /// Splits `category:name` (also `category/name`, as in section names).
    public static func splitTracepoint(_ qualified: String) throws -> (category: String, name: String) {
        let separator: Character = qualified.contains(":") ? ":" : "/"
        let parts = qualified.split(separator: separator, maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw BPFError.invalidArgument("tracepoint '\(qualified)' must be written category:name, e.g. syscalls:sys_enter_openat")
        }
        return (parts[0], parts[1])
    }

    static func checkComponent(_ component: String, _ what: String) throws {
        guard !component.isEmpty, !component.contains("/"), component != ".", component != ".." else {
            throw BPFError.invalidArgument("\(what) '\(component)' is not a valid tracefs name")
        }
    }

    static func tracepointDirectory(category: String, name: String) throws -> String {
        try checkComponent(category, "tracepoint category")
        try checkComponent(name, "tracepoint name")
        let directory = try root() + "/events/\(category)/\(name)"
        guard FileManager.default.fileExists(atPath: directory) else {
            let categoryExists = FileManager.default.fileExists(atPath: try root() + "/events/\(category)")
            let hint = categoryExists
                ? "category '\(category)' has no event '\(name)'; list them with Tracefs.events(in: \"\(category)\") or `ls \(try root())/events/\(category)`"
                : "there is no category '\(category)'; list categories with Tracefs.categories() or `ls \(try root())/events`"
            throw BPFError.notFound(what: "tracepoint \(category):\(name)", detail: hint)
        }
        return directory
    }

    /// The id of tracepoint `category:name` (`events/<category>/<name>/id`), the `config` of a
    /// PERF_TYPE_TRACEPOINT perf event.
    public static func tracepointID(category: String, name: String) throws -> UInt64 {
        let path = try tracepointDirectory(category: category, name: name) + "/id"
        let text = try readFile(path)
        guard let id = UInt64(text.split(whereSeparator: \.isWhitespace).first ?? "") else {
            throw BPFError.invalidArgument("\(path) does not hold a number: '\(text.prefix(40))'")
        }
        return id
    }

    /// The record layout of tracepoint `category:name`.
    public static func format(category: String, name: String) throws -> TracepointFormat {
        let path = try tracepointDirectory(category: category, name: name) + "/format"
        do {
            return try TracepointFormat(parsing: try readFile(path))
        } catch let error as TracepointFormatError {
            throw BPFError.invalidArgument("\(path): \(error)")
        }
    }

    /// All tracepoint categories (`syscalls`, `sched`, ...), sorted.
    public static func categories() throws -> [String] {
        let events = try root() + "/events"
        return try directoryNames(events).filter { isDirectory(events + "/" + $0) }.sorted()
    }

    /// The events of `category`, sorted.
    public static func events(in category: String) throws -> [String] {
        try checkComponent(category, "tracepoint category")
        let directory = try root() + "/events/" + category
        guard isDirectory(directory) else {
            throw BPFError.notFound(what: "tracepoint category '\(category)'", detail: "list categories with Tracefs.categories()")
        }
        return try directoryNames(directory).filter { isDirectory(directory + "/" + $0) }.sorted()
    }

    /// The tracepoints whose `category:name` match `pattern`, in which `*` matches any run of
    /// characters, `?` one character and `[...]` a set (shell glob rules, as bpftrace uses), e.g.
    /// `syscalls:sys_enter_open*` or `sched:*`.
    public static func tracepoints(matching pattern: String) throws -> [(category: String, name: String)] {
        let (categoryPattern, namePattern) = try splitTracepoint(pattern)
        var result: [(String, String)] = []
        for category in try categories() where globMatches(categoryPattern, category) {
            for name in try events(in: category) where globMatches(namePattern, name) {
                result.append((category, name))
            }
        }
        return result
    }

    static func globMatches(_ pattern: String, _ text: String) -> Bool {
        if !pattern.contains(where: { "*?[".contains($0) }) { return pattern == text }
        return fnmatch(pattern, text, 0) == 0
    }

    // MARK: Files

    /// A tracefs file's text. Read with open/read: tracefs files report size 0, and these small
    /// reads sit on the start-up path of every tracepoint a trace script attaches.
    static func readFile(_ path: String) throws -> String {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BPFError.syscall(SystemCallFailure(operation: "open", errno: .current, subject: path)) }
        defer { Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if got > 0 { bytes += chunk[0..<got]; continue }
            if got == 0 { break }
            if Errno.current == .EINTR { continue }
            throw BPFError.syscall(SystemCallFailure(operation: "read", errno: .current, subject: path))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends one command line to a tracefs control file (`uprobe_events`, `kprobe_events`).
    /// The kernel parses each write(2) as one command, so it is written in a single call.
    static func appendCommand(_ command: String, to file: String, meaning: ((Errno) -> String?)? = nil) throws {
        let directory = try root()
        try write(command + "\n", to: directory + "/" + file, flags: O_APPEND, describing: command) { error in
            meaning?(error) ?? "the kernel refused the probe definition; see \(directory)/error_log"
        }
    }

    /// Writes `text` to a tracefs control file (`.../enable`, `uprobe_events`) in one write(2).
    static func write(_ text: String, to path: String, flags: Int32 = O_TRUNC, describing command: String? = nil,
                      meaning: ((Errno) -> String?)? = nil) throws {
        let fd = Glibc.open(path, O_WRONLY | flags | O_CLOEXEC)
        guard fd >= 0 else {
            let error = Errno.current
            throw BPFError.syscall(SystemCallFailure(operation: "open", errno: error, subject: path, meaning: meaning?(error)))
        }
        defer { Glibc.close(fd) }
        let written = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        guard written >= 0 else {
            let error = Errno.current
            throw BPFError.syscall(SystemCallFailure(
                operation: "write", errno: error, subject: command.map { "\(path) ('\($0)')" } ?? path, meaning: meaning?(error)))
        }
    }

    private static func directoryNames(_ path: String) throws -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: path) }
        catch { throw BPFError.notFound(what: "directory \(path)", detail: "tracefs is not readable here") }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
