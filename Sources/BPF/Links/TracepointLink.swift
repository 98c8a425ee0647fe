import BPFObject
import CBPFSys

extension Program {
    /// Attaches this tracepoint program to `category:name` (e.g. `syscalls`, `sys_enter_openat`):
    /// one PERF_TYPE_TRACEPOINT event whose program runs for every hit on any CPU.
    public func attachTracepoint(category: String, name: String) throws -> PerfEventLink {
        try attachTracepoint(category: category, name: name, method: .automatic)
    }

    func attachTracepoint(category: String, name: String, method: PerfEventAttachMethod) throws -> PerfEventLink {
        let label = "tracepoint \(category):\(name)"
        guard type == .tracepoint else {
            throw BPFError.invalidArgument("\(label) needs a tracepoint program; '\(self.name)' is \(type.name)")
        }
        let id = try Tracefs.tracepointID(category: category, name: name)
        var attr = sbpf_perf_event_attr()
        attr.type = 2 // PERF_TYPE_TRACEPOINT
        attr.config = id
        attr.sample_period = 1
        attr.wakeup_events = 1
        // pid -1 with cpu 0 is one event for all processes; a BPF program on a tracepoint runs on
        // every CPU regardless of the event's CPU (it hangs off the tracepoint, not the event).
        let event = try PerfEvent.open(&attr, pid: -1, cpu: 0, label: label)
        return try PerfEventLink(program: self, perfEvent: event, description: label, method: method)
    }

    /// Attaches to a tracepoint written `category:name` (or `category/name`).
    public func attachTracepoint(_ qualifiedName: String) throws -> PerfEventLink {
        let (category, name) = try Tracefs.splitTracepoint(qualifiedName)
        return try attachTracepoint(category: category, name: name)
    }
}
