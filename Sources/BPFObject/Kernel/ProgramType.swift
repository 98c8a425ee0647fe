/// `enum bpf_prog_type` (include/uapi/linux/bpf.h). Names are bpftool's.
public enum ProgramType: UInt32, CaseIterable, Sendable {
    case unspecified = 0
    case socketFilter = 1
    case kprobe = 2
    case schedCls = 3
    case schedAct = 4
    case tracepoint = 5
    case xdp = 6
    case perfEvent = 7
    case cgroupSkb = 8
    case cgroupSock = 9
    case lwtIn = 10
    case lwtOut = 11
    case lwtXmit = 12
    case sockOps = 13
    case skSkb = 14
    case cgroupDevice = 15
    case skMsg = 16
    case rawTracepoint = 17
    case cgroupSockAddr = 18
    case lwtSeg6local = 19
    case lircMode2 = 20
    case skReuseport = 21
    case flowDissector = 22
    case cgroupSysctl = 23
    case rawTracepointWritable = 24
    case cgroupSockopt = 25
    case tracing = 26
    case structOps = 27
    case ext = 28
    case lsm = 29
    case skLookup = 30
    case syscall = 31
    case netfilter = 32

    /// The name bpftool prints (`socket_filter`, `sched_cls`, `tracing`, ...).
    public var name: String {
        switch self {
        case .unspecified: "unspec"
        case .socketFilter: "socket_filter"
        case .kprobe: "kprobe"
        case .schedCls: "sched_cls"
        case .schedAct: "sched_act"
        case .tracepoint: "tracepoint"
        case .xdp: "xdp"
        case .perfEvent: "perf_event"
        case .cgroupSkb: "cgroup_skb"
        case .cgroupSock: "cgroup_sock"
        case .lwtIn: "lwt_in"
        case .lwtOut: "lwt_out"
        case .lwtXmit: "lwt_xmit"
        case .sockOps: "sock_ops"
        case .skSkb: "sk_skb"
        case .cgroupDevice: "cgroup_device"
        case .skMsg: "sk_msg"
        case .rawTracepoint: "raw_tracepoint"
        case .cgroupSockAddr: "cgroup_sock_addr"
        case .lwtSeg6local: "lwt_seg6local"
        case .lircMode2: "lirc_mode2"
        case .skReuseport: "sk_reuseport"
        case .flowDissector: "flow_dissector"
        case .cgroupSysctl: "cgroup_sysctl"
        case .rawTracepointWritable: "raw_tracepoint_writable"
        case .cgroupSockopt: "cgroup_sockopt"
        case .tracing: "tracing"
        case .structOps: "struct_ops"
        case .ext: "ext"
        case .lsm: "lsm"
        case .skLookup: "sk_lookup"
        case .syscall: "syscall"
        case .netfilter: "netfilter"
        }
    }

    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }
}
