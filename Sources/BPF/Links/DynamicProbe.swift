import BPFObject
import CBPFSys
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How a kprobe or uprobe perf event is created.
public enum ProbeMechanism: Sendable {
    /// The PMU when the kernel has it, else tracefs.
    case automatic
    /// The `kprobe`/`uprobe` PMU (Linux 4.17+): perf_event_open creates the probe and closing
    /// the event removes it, so nothing can be left behind.
    case pmu
    /// A named entry in tracefs `kprobe_events`/`uprobe_events`, removed when the link closes.
    case tracefs
}

/// kprobes and uprobes: probes created on demand, through the PMU or through tracefs.
enum DynamicProbe {
    enum Kind: String {
        case kprobe, uprobe
        var eventsFile: String { "\(rawValue)_events" }
        var group: String { "\(rawValue)s" }
    }

    private static let counter = ProbeCounter()

    /// Opens the perf event of a probe on `target` (a kernel function name or a binary path)
    /// at `offset`. Returns the event and, for tracefs probes, the cleanup removing the entry.
    static func open(
        kind: Kind, isReturn: Bool, target: String, offset: UInt64, processID: Int32?,
        mechanism: ProbeMechanism, extraConfig: UInt64 = 0, label: String
    ) throws -> (event: OwnedFileDescriptor, cleanup: (() -> Void)?) {
        let pmuType = PerfEvent.dynamicPMUType(kind.rawValue)
        let useTracefs: Bool
        switch mechanism {
        case .pmu:
            guard pmuType != nil else { throw unavailable(kind, what: "the \(kind.rawValue) PMU (/sys/bus/event_source/devices/\(kind.rawValue))") }
            useTracefs = false
        case .tracefs: useTracefs = true
        case .automatic: useTracefs = pmuType == nil
        }
        let pid = processID ?? -1
        // A system-wide probe is one event on CPU 0 (the program runs on every CPU); a
        // per-process one follows the process on any CPU.
        let cpu: Int32 = processID == nil ? 0 : -1
        if !useTracefs, let pmuType {
            var attr = sbpf_perf_event_attr()
            attr.type = pmuType
            attr.sample_period = 1
            attr.wakeup_events = 1
            if isReturn {
                guard let bit = PerfEvent.formatBit(pmu: kind.rawValue, field: "retprobe") else {
                    throw BPFError.unsupported(feature: "\(kind.rawValue) return probes", detail: "the \(kind.rawValue) PMU has no format/retprobe bit")
                }
                attr.config = bit
            }
            attr.config |= extraConfig
            attr.config2 = offset
            let event = try target.withCString { cTarget in
                attr.config1 = kernelPointer(cTarget) // kprobe_func or uprobe_path
                return try PerfEvent.open(&attr, pid: pid, cpu: cpu, label: label) { errno in
                    switch errno {
                    case .ENOENT where kind == .kprobe, .EINVAL where kind == .kprobe:
                        "the kernel cannot probe '\(target)' (not a function, inlined, or on the kprobe blacklist)"
                    case .EINVAL where kind == .uprobe:
                        "the kernel refused a uprobe at offset 0x\(String(offset, radix: 16)) of \(target) (not an instruction boundary, or outside an executable mapping)"
                    default: nil
                    }
                }
            }
            return (event, nil)
        }
        return try openThroughTracefs(kind: kind, isReturn: isReturn, target: target, offset: offset, pid: pid, cpu: cpu, label: label)
    }

    private static func openThroughTracefs(
        kind: Kind, isReturn: Bool, target: String, offset: UInt64, pid: Int32, cpu: Int32, label: String
    ) throws -> (event: OwnedFileDescriptor, cleanup: (() -> Void)?) {
        let root = try Tracefs.root()
        guard FileManager.default.fileExists(atPath: root + "/" + kind.eventsFile) else {
            throw unavailable(kind, what: "\(root)/\(kind.eventsFile)")
        }
        guard !target.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) else {
            throw BPFError.invalidArgument("\(label): tracefs probe definitions cannot name '\(target)', which contains white space")
        }
        removeStaleEntriesOnce(kind)
        let name = "\(entryPrefix)\(getpid())_\(counter.next())"
        let location = switch kind {
        case .kprobe: offset == 0 ? target : "\(target)+\(offset)"
        case .uprobe: "\(target):0x\(String(offset, radix: 16))"
        }
        try Tracefs.appendCommand("\(isReturn ? "r" : "p"):\(kind.group)/\(name) \(location)", to: kind.eventsFile) { errno in
            switch errno {
            case .ENOENT where kind == .kprobe: "the kernel has no function '\(target)' it can probe"
            case .EINVAL: "the kernel refused the probe '\(location)'; see \(root)/error_log"
            default: nil
            }
        }
        let cleanup: () -> Void = { _ = try? Tracefs.appendCommand("-:\(kind.group)/\(name)", to: kind.eventsFile) }
        do {
            var attr = sbpf_perf_event_attr()
            attr.type = 2 // PERF_TYPE_TRACEPOINT
            attr.config = try Tracefs.tracepointID(category: kind.group, name: name)
            attr.sample_period = 1
            attr.wakeup_events = 1
            return (try PerfEvent.open(&attr, pid: pid, cpu: cpu, label: label), cleanup)
        } catch {
            cleanup()
            throw error
        }
    }

    /// Our tracefs entries are `swiftbpf_<pid>_<n>`, so leftovers of a process that died before
    /// closing its links can be told apart from live ones.
    static let entryPrefix = "swiftbpf_"

    private static let staleCleanup = StaleCleanupState()

    private static func removeStaleEntriesOnce(_ kind: Kind) {
        guard staleCleanup.claim(kind) else { return }
        _ = try? removeStaleEntries(kind)
    }

    /// Removes the `swiftbpf_<pid>_<n>` entries of `kind_events` whose process no longer exists
    /// (left behind by a crash) and returns their names. Entries of live processes are kept.
    @discardableResult
    static func removeStaleEntries(_ kind: Kind) throws -> [String] {
        let path = try Tracefs.root() + "/" + kind.eventsFile
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var removed: [String] = []
        for line in text.split(separator: "\n") {
            // "p:uprobes/swiftbpf_123_1 /path:0x..." → group/name after the first ':'.
            guard let colon = line.firstIndex(of: ":"), let space = line.firstIndex(of: " ") else { continue }
            let qualified = line[line.index(after: colon)..<space]
            guard let slash = qualified.firstIndex(of: "/") else { continue }
            let name = qualified[qualified.index(after: slash)...]
            guard name.hasPrefix(entryPrefix) else { continue }
            let pidText = name.dropFirst(entryPrefix.count).prefix { $0.isNumber }
            guard let pid = Int32(pidText), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            if (try? Tracefs.appendCommand("-:\(qualified)", to: kind.eventsFile)) != nil { removed.append(String(qualified)) }
        }
        return removed
    }

    static func unavailable(_ kind: Kind, what: String) -> BPFError {
        switch kind {
        case .kprobe:
            .unsupported(feature: "kprobes", detail: "this kernel was built without CONFIG_KPROBES (no kprobe PMU in /sys/bus/event_source/devices and no kprobe_events in tracefs; missing: \(what)); use tracepoints, raw tracepoints or fentry instead")
        case .uprobe:
            .unsupported(feature: "uprobes", detail: "this kernel was built without CONFIG_UPROBE_EVENTS (missing: \(what))")
        }
    }
}

/// Which probe kinds have had their stale entries removed in this process.
private final class StaleCleanupState: @unchecked Sendable {
    private let lock = NSLock()
    private var done: Set<String> = []
    func claim(_ kind: DynamicProbe.Kind) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return done.insert(kind.rawValue).inserted
    }
}

/// Numbers tracefs probe names uniquely within this process.
private final class ProbeCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
