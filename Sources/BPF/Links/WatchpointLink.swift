import BPFObject
import CBPFSys

/// The accesses a hardware watchpoint traps (`HW_BREAKPOINT_*` of uapi/linux/hw_breakpoint.h).
public struct WatchpointAccess: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let read = WatchpointAccess(rawValue: 1)
    public static let write = WatchpointAccess(rawValue: 2)
    public static let execute = WatchpointAccess(rawValue: 4)
}

extension Program {
    /// Attaches this perf_event program to a hardware breakpoint on `length` bytes (1, 2, 4 or
    /// 8) at `address`: in process `processID` only, or in every process on each online CPU.
    /// x86 debug registers trap writes, reads-or-writes and execution, not reads alone.
    public func attachWatchpoint(address: UInt64, length: Int, access: WatchpointAccess, processID: Int32? = nil) throws -> [PerfEventLink] {
        let label = "watchpoint \(String(address, radix: 16, uppercase: false)):\(length)"
        guard type == .perfEvent else {
            throw BPFError.invalidArgument("\(label) needs a perf_event program; '\(name)' is \(type.name)")
        }
        guard [1, 2, 4, 8].contains(length) else { throw BPFError.invalidArgument("\(label): the length must be 1, 2, 4 or 8 bytes") }
        guard !access.isEmpty else { throw BPFError.invalidArgument("\(label): no access kind to watch") }
        var attr = sbpf_perf_event_attr()
        attr.type = 5 // PERF_TYPE_BREAKPOINT
        attr.bp_type = access.rawValue
        attr.config1 = address // bp_addr
        attr.config2 = UInt64(length) // bp_len
        attr.sample_period = 1
        let meaning: (Errno) -> String? = { errno in
            switch errno {
            case .EINVAL: "the kernel refused the breakpoint (address \(address), \(length) bytes); it must be aligned to its length and the access kind supported by the CPU"
            case .ENOSPC: "every hardware debug register is in use (x86 has four)"
            case .ENOENT, .EOPNOTSUPP: "this machine has no hardware breakpoints"
            default: nil
            }
        }
        var links: [PerfEventLink] = []
        var targets: [(pid: Int32, cpu: Int32)] = []
        if let processID { targets = [(processID, -1)] } else { targets = PossibleCPUs.online.map { (-1, Int32($0)) } }
        for target in targets {
            var eventAttr = attr
            let event = try PerfEvent.open(&eventAttr, pid: target.pid, cpu: target.cpu, label: label, meaning: meaning)
            links.append(try PerfEventLink(program: self, perfEvent: event, description: label))
        }
        return links
    }
}
