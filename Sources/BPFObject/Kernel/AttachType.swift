/// `enum bpf_attach_type` (include/uapi/linux/bpf.h). Names are bpftool's.
public enum AttachType: UInt32, CaseIterable, Sendable {
    case cgroupInetIngress = 0
    case cgroupInetEgress = 1
    case cgroupInetSockCreate = 2
    case cgroupSockOps = 3
    case skSkbStreamParser = 4
    case skSkbStreamVerdict = 5
    case cgroupDevice = 6
    case skMsgVerdict = 7
    case cgroupInet4Bind = 8
    case cgroupInet6Bind = 9
    case cgroupInet4Connect = 10
    case cgroupInet6Connect = 11
    case cgroupInet4PostBind = 12
    case cgroupInet6PostBind = 13
    case cgroupUdp4Sendmsg = 14
    case cgroupUdp6Sendmsg = 15
    case lircMode2 = 16
    case flowDissector = 17
    case cgroupSysctl = 18
    case cgroupUdp4Recvmsg = 19
    case cgroupUdp6Recvmsg = 20
    case cgroupGetsockopt = 21
    case cgroupSetsockopt = 22
    case traceRawTp = 23
    case traceFentry = 24
    case traceFexit = 25
    case modifyReturn = 26
    case lsmMac = 27
    case traceIter = 28
    case cgroupInet4Getpeername = 29
    case cgroupInet6Getpeername = 30
    case cgroupInet4Getsockname = 31
    case cgroupInet6Getsockname = 32
    case xdpDevmap = 33
    case cgroupInetSockRelease = 34
    case xdpCpumap = 35
    case skLookup = 36
    case xdp = 37
    case skSkbVerdict = 38
    case skReuseportSelect = 39
    case skReuseportSelectOrMigrate = 40
    case perfEvent = 41
    case traceKprobeMulti = 42
    case lsmCgroup = 43
    case structOps = 44
    case netfilter = 45
    case tcxIngress = 46
    case tcxEgress = 47
    case traceUprobeMulti = 48
    case cgroupUnixConnect = 49
    case cgroupUnixSendmsg = 50
    case cgroupUnixRecvmsg = 51
    case cgroupUnixGetpeername = 52
    case cgroupUnixGetsockname = 53
    case netkitPrimary = 54
    case netkitPeer = 55
    case traceKprobeSession = 56
    case traceUprobeSession = 57

    /// The name bpftool prints (`ingress`, `egress`, `sock_create`, `tcx_ingress`, ...).
    public var name: String {
        switch self {
        case .cgroupInetIngress: "cgroup_inet_ingress"
        case .cgroupInetEgress: "cgroup_inet_egress"
        case .cgroupInetSockCreate: "cgroup_inet_sock_create"
        case .cgroupSockOps: "cgroup_sock_ops"
        case .skSkbStreamParser: "sk_skb_stream_parser"
        case .skSkbStreamVerdict: "sk_skb_stream_verdict"
        case .cgroupDevice: "cgroup_device"
        case .skMsgVerdict: "sk_msg_verdict"
        case .cgroupInet4Bind: "cgroup_inet4_bind"
        case .cgroupInet6Bind: "cgroup_inet6_bind"
        case .cgroupInet4Connect: "cgroup_inet4_connect"
        case .cgroupInet6Connect: "cgroup_inet6_connect"
        case .cgroupInet4PostBind: "cgroup_inet4_post_bind"
        case .cgroupInet6PostBind: "cgroup_inet6_post_bind"
        case .cgroupUdp4Sendmsg: "cgroup_udp4_sendmsg"
        case .cgroupUdp6Sendmsg: "cgroup_udp6_sendmsg"
        case .lircMode2: "lirc_mode2"
        case .flowDissector: "flow_dissector"
        case .cgroupSysctl: "cgroup_sysctl"
        case .cgroupUdp4Recvmsg: "cgroup_udp4_recvmsg"
        case .cgroupUdp6Recvmsg: "cgroup_udp6_recvmsg"
        case .cgroupGetsockopt: "cgroup_getsockopt"
        case .cgroupSetsockopt: "cgroup_setsockopt"
        case .traceRawTp: "trace_raw_tp"
        case .traceFentry: "trace_fentry"
        case .traceFexit: "trace_fexit"
        case .modifyReturn: "modify_return"
        case .lsmMac: "lsm_mac"
        case .traceIter: "trace_iter"
        case .cgroupInet4Getpeername: "cgroup_inet4_getpeername"
        case .cgroupInet6Getpeername: "cgroup_inet6_getpeername"
        case .cgroupInet4Getsockname: "cgroup_inet4_getsockname"
        case .cgroupInet6Getsockname: "cgroup_inet6_getsockname"
        case .xdpDevmap: "xdp_devmap"
        case .cgroupInetSockRelease: "cgroup_inet_sock_release"
        case .xdpCpumap: "xdp_cpumap"
        case .skLookup: "sk_lookup"
        case .xdp: "xdp"
        case .skSkbVerdict: "sk_skb_verdict"
        case .skReuseportSelect: "sk_reuseport_select"
        case .skReuseportSelectOrMigrate: "sk_reuseport_select_or_migrate"
        case .perfEvent: "perf_event"
        case .traceKprobeMulti: "trace_kprobe_multi"
        case .lsmCgroup: "lsm_cgroup"
        case .structOps: "struct_ops"
        case .netfilter: "netfilter"
        case .tcxIngress: "tcx_ingress"
        case .tcxEgress: "tcx_egress"
        case .traceUprobeMulti: "trace_uprobe_multi"
        case .cgroupUnixConnect: "cgroup_unix_connect"
        case .cgroupUnixSendmsg: "cgroup_unix_sendmsg"
        case .cgroupUnixRecvmsg: "cgroup_unix_recvmsg"
        case .cgroupUnixGetpeername: "cgroup_unix_getpeername"
        case .cgroupUnixGetsockname: "cgroup_unix_getsockname"
        case .netkitPrimary: "netkit_primary"
        case .netkitPeer: "netkit_peer"
        case .traceKprobeSession: "trace_kprobe_session"
        case .traceUprobeSession: "trace_uprobe_session"
        }
    }
}

/// `enum bpf_link_type`. Names are bpftool's.
public enum LinkType: UInt32, CaseIterable, Sendable {
    case unspecified = 0
    case rawTracepoint = 1
    case tracing = 2
    case cgroup = 3
    case iter = 4
    case netns = 5
    case xdp = 6
    case perfEvent = 7
    case kprobeMulti = 8
    case structOps = 9
    case netfilter = 10
    case tcx = 11
    case uprobeMulti = 12
    case netkit = 13
    case sockmap = 14

    public var name: String {
        switch self {
        case .unspecified: "unspec"
        case .rawTracepoint: "raw_tracepoint"
        case .tracing: "tracing"
        case .cgroup: "cgroup"
        case .iter: "iter"
        case .netns: "netns"
        case .xdp: "xdp"
        case .perfEvent: "perf_event"
        case .kprobeMulti: "kprobe_multi"
        case .structOps: "struct_ops"
        case .netfilter: "netfilter"
        case .tcx: "tcx"
        case .uprobeMulti: "uprobe_multi"
        case .netkit: "netkit"
        case .sockmap: "sockmap"
        }
    }
}
