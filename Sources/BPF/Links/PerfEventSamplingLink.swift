import BPFObject
import CBPFSys

/// A perf event that samples: what is counted and when a sample (a program run) is taken.
public struct PerfEventKind: Hashable, Sendable, CustomStringConvertible {
    /// `perf_event_attr.type` (PERF_TYPE_HARDWARE = 0, PERF_TYPE_SOFTWARE = 1, ...).
    public var type: UInt32
    /// `perf_event_attr.config` within that type.
    public var config: UInt64
    public var name: String

    public init(type: UInt32, config: UInt64, name: String) {
        self.type = type
        self.config = config
        self.name = name
    }

    // include/uapi/linux/perf_event.h: enum perf_sw_ids, enum perf_hw_id.
    public static let cpuClock = PerfEventKind(type: 1, config: 0, name: "software:cpu-clock")
    public static let taskClock = PerfEventKind(type: 1, config: 1, name: "software:task-clock")
    public static let pageFaults = PerfEventKind(type: 1, config: 2, name: "software:page-faults")
    public static let contextSwitches = PerfEventKind(type: 1, config: 3, name: "software:context-switches")
    public static let cpuCycles = PerfEventKind(type: 0, config: 0, name: "hardware:cpu-cycles")
    public static let instructions = PerfEventKind(type: 0, config: 1, name: "hardware:instructions")

    public var description: String { name }
}

/// When a sampling event runs its program.
public enum SamplingRate: Hashable, Sendable, CustomStringConvertible {
    /// About this many times per second per CPU (the kernel adjusts the period).
    case frequency(UInt64)
    /// Every this many events (nanoseconds for the clocks).
    case period(UInt64)

    public var description: String {
        switch self {
        case .frequency(let hertz): "\(hertz) Hz"
        case .period(let count): "every \(count)"
        }
    }
}

/// A perf_event program attached to one sampling event per CPU; closing it detaches all.
public final class PerfEventSamplingLink: Link, @unchecked Sendable {
    /// One link per CPU, in the order of `cpus`.
    public let links: [PerfEventLink]
    public let cpus: [Int]
    public let description: String
    private var isClosed = false

    init(links: [PerfEventLink], cpus: [Int], description: String) {
        self.links = links
        self.cpus = cpus
        self.description = description
    }

    public func close() throws {
        guard !isClosed else { throw BPFError.closed(description) }
        isClosed = true
        for link in links { try? link.close() }
    }

    deinit {
        if !isClosed { try? close() }
    }
}

extension Program {
    /// Attaches this perf_event program to a sampling event on each of `cpus` (default: every
    /// online CPU), optionally only while `processID` runs.
    public func attachPerfEvent(_ kind: PerfEventKind = .cpuClock, rate: SamplingRate, cpus: [Int]? = nil,
                                processID: Int32? = nil) throws -> PerfEventSamplingLink {
        let cpus = cpus ?? PossibleCPUs.online
        let label = "perf event \(kind) at \(rate)"
        guard type == .perfEvent else {
            throw BPFError.invalidArgument("\(label) needs a perf_event program; '\(name)' is \(type.name)")
        }
        guard !cpus.isEmpty else { throw BPFError.invalidArgument("\(label): no CPUs to sample") }
        var attr = sbpf_perf_event_attr()
        attr.type = kind.type
        attr.config = kind.config
        switch rate {
        case .frequency(let hertz):
            guard hertz > 0 else { throw BPFError.invalidArgument("\(label): the frequency must be positive") }
            attr.sample_period = hertz // sample_freq
            attr.flags |= SBPF_PERF_FLAG_FREQ
        case .period(let period):
            guard period > 0 else { throw BPFError.invalidArgument("\(label): the period must be positive") }
            attr.sample_period = period
        }
        // Links made so far close with this array if a later CPU fails.
        var links: [PerfEventLink] = []
        for cpu in cpus {
            let cpuLabel = "\(label) on CPU \(cpu)"
            var eventAttr = attr
            let event = try PerfEvent.open(&eventAttr, pid: processID ?? -1, cpu: Int32(cpu), label: cpuLabel) { errno in
                switch errno {
                case .ENOENT, .EOPNOTSUPP: "this machine has no \(kind) event (virtual machines often lack hardware counters; software events such as cpu-clock work)"
                case .EINVAL: "the kernel refused the sampling parameters (\(rate)); a frequency above /proc/sys/kernel/perf_event_max_sample_rate is refused"
                case .ENODEV: "CPU \(cpu) is not online"
                default: nil
                }
            }
            links.append(try PerfEventLink(program: self, perfEvent: event, description: cpuLabel))
        }
        return PerfEventSamplingLink(links: links, cpus: cpus, description: label)
    }
}
