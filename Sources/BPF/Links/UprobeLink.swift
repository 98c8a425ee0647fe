import BPFObject
import Foundation

extension Program {
    /// Attaches this kprobe-type program to a user-space function: on entry (uprobe) or on return
    /// (uretprobe), in every process that runs the binary or only in `target.processID`.
    ///
    /// - Parameters:
    ///   - target: the binary and the place in it, optionally one process.
    ///   - isReturn: probe the function's return (uretprobe) instead of its entry.
    ///   - referenceCounterOffset: file offset of a USDT semaphore the kernel increments
    ///     while the probe exists (0 for none; PMU only).
    ///   - mechanism: the uprobe PMU or an entry in tracefs `uprobe_events`; `.automatic` uses
    ///     the PMU when the kernel has it.
    public func attachUprobe(_ target: UprobeTarget, isReturn: Bool = false, referenceCounterOffset: UInt64 = 0,
                             mechanism: ProbeMechanism = .automatic) throws -> PerfEventLink {
        try attachUprobe(target, isReturn: isReturn, referenceCounterOffset: referenceCounterOffset, cookie: 0, mechanism: mechanism)
    }

    /// `attachUprobe` with a BPF cookie: the value `bpf_get_attach_cookie()` returns in the
    /// program (needs perf links, Linux 5.15+).
    public func attachUprobe(_ target: UprobeTarget, isReturn: Bool = false, referenceCounterOffset: UInt64 = 0,
                             cookie: UInt64, mechanism: ProbeMechanism = .automatic) throws -> PerfEventLink {
        let label = "\(isReturn ? "uretprobe" : "uprobe") \(target)"
        guard type == .kprobe else {
            throw BPFError.invalidArgument("\(label) needs a kprobe-type program (uprobes run kprobe programs); '\(name)' is \(type.name)")
        }
        let (path, offset) = try target.resolve()
        if referenceCounterOffset != 0, mechanism == .tracefs {
            throw BPFError.invalidArgument("\(label): a reference counter (USDT semaphore) needs the uprobe PMU, not tracefs")
        }
        if referenceCounterOffset != 0, !FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset") {
            throw BPFError.unsupported(feature: "USDT semaphores (\(label))", detail: "the uprobe PMU has no format/ref_ctr_offset (Linux 4.20+), so the kernel cannot count the probe's semaphore")
        }
        // Only the PMU carries the reference counter; tracefs would silently drop it.
        let mechanism = referenceCounterOffset != 0 ? .pmu : mechanism
        // The uprobe PMU's format/ref_ctr_offset is config:32-63.
        let (event, cleanup) = try DynamicProbe.open(
            kind: .uprobe, isReturn: isReturn, target: path, offset: offset, processID: target.processID,
            mechanism: mechanism, extraConfig: referenceCounterOffset << 32, label: label)
        return try PerfEventLink(program: self, perfEvent: event, description: label, cookie: cookie, cleanup: cleanup)
    }

    /// `attachUprobe(target, isReturn: true)`.
    public func attachUretprobe(_ target: UprobeTarget, mechanism: ProbeMechanism = .automatic) throws -> PerfEventLink {
        try attachUprobe(target, isReturn: true, mechanism: mechanism)
    }
}
