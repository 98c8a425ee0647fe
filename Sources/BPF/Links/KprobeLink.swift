import Foundation
import BPFObject

extension Program {
    /// Attaches this kprobe program to kernel function `function` (+ `offset`) on entry, or on
    /// return (kretprobe, offset 0 only).
    ///
    /// Kernels without CONFIG_KPROBES have neither the kprobe PMU nor `kprobe_events`; that is
    /// `BPFError.unsupported(feature: "kprobes", ...)`.
    public func attachKprobe(function: String, offset: UInt64 = 0, isReturn: Bool = false,
                             mechanism: ProbeMechanism = .automatic) throws -> PerfEventLink {
        let label = "\(isReturn ? "kretprobe" : "kprobe") \(function)\(offset == 0 ? "" : "+\(offset)")"
        guard type == .kprobe else {
            throw BPFError.invalidArgument("\(label) needs a kprobe program; '\(name)' is \(type.name)")
        }
        guard !function.isEmpty, function.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else {
            throw BPFError.invalidArgument("'\(function)' is not a kernel function name")
        }
        if isReturn, offset != 0 { throw BPFError.invalidArgument("\(label): return probes attach at the function entry; offset must be 0") }
        let (event, cleanup) = try DynamicProbe.open(
            kind: .kprobe, isReturn: isReturn, target: function, offset: offset, processID: nil,
            mechanism: mechanism, label: label)
        return try PerfEventLink(program: self, perfEvent: event, description: label, cleanup: cleanup)
    }

    /// `attachKprobe(function:isReturn: true)`.
    public func attachKretprobe(function: String, mechanism: ProbeMechanism = .automatic) throws -> PerfEventLink {
        try attachKprobe(function: function, isReturn: true, mechanism: mechanism)
    }
}

/// Whether this kernel can attach kprobes at all.
public enum Kprobes {
    /// True when there is a kprobe PMU or a tracefs `kprobe_events` file; kernels built
    /// without CONFIG_KPROBES have neither.
    public static var areAvailable: Bool {
        if FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/kprobe/type") { return true }
        guard let root = try? Tracefs.root() else { return false }
        return FileManager.default.fileExists(atPath: root + "/kprobe_events")
    }
}
