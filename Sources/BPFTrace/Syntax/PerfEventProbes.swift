/// The events `software:` and `hardware:` probes name, as bpftrace 0.17 accepts them.
public struct PerfEventProbe: Sendable, Equatable {
    /// The name `-l` lists.
    public var name: String
    /// The short alias (`cpu`, `faults`, `cs`, `cycles`, `branches`), if any.
    public var alias: String?
    /// `perf_event_attr.type`: PERF_TYPE_HARDWARE (0) or PERF_TYPE_SOFTWARE (1).
    public var type: UInt32
    /// `perf_event_attr.config`: a PERF_COUNT_HW_* or PERF_COUNT_SW_* value (uapi/linux/perf_event.h).
    public var config: UInt64
    /// The sample period bpftrace uses when the probe gives no count (observed with strace on
    /// bpftrace 0.17's perf_event_open calls).
    public var defaultPeriod: UInt64

    public static let software: [PerfEventProbe] = [
        .init(name: "alignment-faults", alias: nil, type: 1, config: 7, defaultPeriod: 1),
        .init(name: "bpf-output", alias: nil, type: 1, config: 10, defaultPeriod: 1),
        .init(name: "context-switches", alias: "cs", type: 1, config: 3, defaultPeriod: 1000),
        .init(name: "cpu-clock", alias: "cpu", type: 1, config: 0, defaultPeriod: 1_000_000),
        .init(name: "cpu-migrations", alias: nil, type: 1, config: 4, defaultPeriod: 1),
        .init(name: "dummy", alias: nil, type: 1, config: 9, defaultPeriod: 1),
        .init(name: "emulation-faults", alias: nil, type: 1, config: 8, defaultPeriod: 1),
        .init(name: "major-faults", alias: nil, type: 1, config: 6, defaultPeriod: 1),
        .init(name: "minor-faults", alias: nil, type: 1, config: 5, defaultPeriod: 100),
        .init(name: "page-faults", alias: "faults", type: 1, config: 2, defaultPeriod: 100),
        .init(name: "task-clock", alias: nil, type: 1, config: 1, defaultPeriod: 1),
    ]

    public static let hardware: [PerfEventProbe] = [
        .init(name: "backend-stalls", alias: nil, type: 0, config: 8, defaultPeriod: 1_000_000),
        .init(name: "branch-instructions", alias: "branches", type: 0, config: 4, defaultPeriod: 100_000),
        .init(name: "branch-misses", alias: nil, type: 0, config: 5, defaultPeriod: 100_000),
        .init(name: "bus-cycles", alias: nil, type: 0, config: 6, defaultPeriod: 100_000),
        .init(name: "cache-misses", alias: nil, type: 0, config: 3, defaultPeriod: 1_000_000),
        .init(name: "cache-references", alias: nil, type: 0, config: 2, defaultPeriod: 1_000_000),
        .init(name: "cpu-cycles", alias: "cycles", type: 0, config: 0, defaultPeriod: 1_000_000),
        .init(name: "frontend-stalls", alias: nil, type: 0, config: 7, defaultPeriod: 1_000_000),
        .init(name: "instructions", alias: nil, type: 0, config: 1, defaultPeriod: 1_000_000),
        .init(name: "ref-cycles", alias: nil, type: 0, config: 9, defaultPeriod: 1_000_000),
    ]

    /// The event `name` (or alias) of provider `software` or `hardware`.
    public static func named(_ name: String, provider: String) -> PerfEventProbe? {
        (provider == "hardware" ? hardware : software).first { $0.name == name || $0.alias == name }
    }
}
