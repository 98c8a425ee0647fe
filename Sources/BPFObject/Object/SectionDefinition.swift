/// How a program's ELF section name maps to its program type, expected attach type, load flags
/// and automatic attachment, following libbpf's conventions (tools/lib/bpf/libbpf.c
/// `section_defs`): the first matching entry wins; a pattern ending in `+` matches the bare
/// name or the name followed by `/` and anything; every other pattern matches exactly.
public struct SectionDefinition: Hashable, Sendable {
    /// The pattern as libbpf writes it (`tracepoint+`, `cgroup_skb/ingress`).
    public let pattern: String
    public let programType: ProgramType
    /// nil: the kernel expects 0 (no particular attach type).
    public let expectedAttachType: AttachType?
    public let traits: Traits
    /// How a loaded program of this section is attached without further input.
    public let autoAttach: AutoAttach

    /// Load-time properties the section name implies.
    public struct Traits: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// `BPF_F_SLEEPABLE` at load.
        public static let sleepable = Traits(rawValue: 1 << 0)
        /// `BPF_F_XDP_HAS_FRAGS` at load.
        public static let xdpFragments = Traits(rawValue: 1 << 1)
        /// The attach target is a kernel BTF type named after the section suffix.
        public static let attachBTF = Traits(rawValue: 1 << 2)
    }

    /// The attach kind a section name selects, as libbpf's auto-attach does.
    public enum AutoAttach: Hashable, Sendable {
        /// Nothing to attach automatically (needs an interface, a cgroup, a map...).
        case none
        case tracepoint, rawTracepoint, tracing, lsm, iterator
        case kprobe, kretprobe, ksyscall, kretsyscall, kprobeMulti
        case uprobe, uretprobe, usdt
    }

    /// `BPF_F_SLEEPABLE` | `BPF_F_XDP_HAS_FRAGS` as the section requires.
    public var loadFlags: UInt32 {
        (traits.contains(.sleepable) ? 1 << 4 : 0) | (traits.contains(.xdpFragments) ? 1 << 5 : 0)
    }

    /// Whether `sectionName` matches this definition.
    public func matches(_ sectionName: String) -> Bool {
        if pattern.hasSuffix("+") {
            let stem = pattern.dropLast()
            guard sectionName.hasPrefix(stem) else { return false }
            let rest = sectionName.dropFirst(stem.count)
            return rest.isEmpty || rest.hasPrefix("/")
        }
        if pattern.hasSuffix("/") { return sectionName.hasPrefix(pattern) }
        return sectionName == pattern
    }

    /// What follows the pattern's stem and its `/` (`syscalls/sys_enter_openat` for
    /// `tracepoint/syscalls/sys_enter_openat`); empty when the section is the bare name.
    public func target(of sectionName: String) -> String {
        let stem = pattern.hasSuffix("+") ? String(pattern.dropLast()) : pattern
        guard sectionName.hasPrefix(stem) else { return "" }
        var rest = sectionName.dropFirst(stem.count)
        if rest.hasPrefix("/") { rest = rest.dropFirst() }
        return String(rest)
    }

    /// The definition for `sectionName`, or nil when no convention knows it.
    public static func matching(_ sectionName: String) -> SectionDefinition? {
        all.first { $0.matches(sectionName) }
    }

    /// The known patterns, for error messages.
    public static var knownPatterns: [String] { all.map(\.pattern) }

    init(_ pattern: String, _ type: ProgramType, _ attach: AttachType? = nil, _ traits: Traits = [], _ autoAttach: AutoAttach = .none) {
        self.pattern = pattern
        self.programType = type
        self.expectedAttachType = attach
        self.traits = traits
        self.autoAttach = autoAttach
    }

    /// In libbpf's order (order decides between overlapping patterns).
    public static let all: [SectionDefinition] = [
        .init("socket", .socketFilter),
        .init("sk_reuseport/migrate", .skReuseport, .skReuseportSelectOrMigrate),
        .init("sk_reuseport", .skReuseport, .skReuseportSelect),
        .init("kprobe+", .kprobe, nil, [], .kprobe),
        .init("uprobe+", .kprobe, nil, [], .uprobe),
        .init("uprobe.s+", .kprobe, nil, .sleepable, .uprobe),
        .init("kretprobe+", .kprobe, nil, [], .kretprobe),
        .init("uretprobe+", .kprobe, nil, [], .uretprobe),
        .init("uretprobe.s+", .kprobe, nil, .sleepable, .uretprobe),
        .init("kprobe.multi+", .kprobe, .traceKprobeMulti, [], .kprobeMulti),
        .init("kretprobe.multi+", .kprobe, .traceKprobeMulti, [], .kprobeMulti),
        .init("kprobe.session+", .kprobe, .traceKprobeSession, [], .kprobeMulti),
        .init("uprobe.multi+", .kprobe, .traceUprobeMulti),
        .init("uretprobe.multi+", .kprobe, .traceUprobeMulti),
        .init("uprobe.session+", .kprobe, .traceUprobeSession),
        .init("uprobe.multi.s+", .kprobe, .traceUprobeMulti, .sleepable),
        .init("uretprobe.multi.s+", .kprobe, .traceUprobeMulti, .sleepable),
        .init("uprobe.session.s+", .kprobe, .traceUprobeSession, .sleepable),
        .init("ksyscall+", .kprobe, nil, [], .ksyscall),
        .init("kretsyscall+", .kprobe, nil, [], .kretsyscall),
        .init("usdt+", .kprobe, nil, [], .usdt),
        .init("usdt.s+", .kprobe, nil, .sleepable, .usdt),
        .init("tc/ingress", .schedCls, .tcxIngress),
        .init("tc/egress", .schedCls, .tcxEgress),
        .init("tcx/ingress", .schedCls, .tcxIngress),
        .init("tcx/egress", .schedCls, .tcxEgress),
        .init("tc", .schedCls),
        .init("classifier", .schedCls),
        .init("action", .schedAct),
        .init("netkit/primary", .schedCls, .netkitPrimary),
        .init("netkit/peer", .schedCls, .netkitPeer),
        .init("tracepoint+", .tracepoint, nil, [], .tracepoint),
        .init("tp+", .tracepoint, nil, [], .tracepoint),
        .init("raw_tracepoint+", .rawTracepoint, nil, [], .rawTracepoint),
        .init("raw_tp+", .rawTracepoint, nil, [], .rawTracepoint),
        .init("raw_tracepoint.w+", .rawTracepointWritable, nil, [], .rawTracepoint),
        .init("raw_tp.w+", .rawTracepointWritable, nil, [], .rawTracepoint),
        .init("tp_btf+", .tracing, .traceRawTp, .attachBTF, .tracing),
        .init("fentry+", .tracing, .traceFentry, .attachBTF, .tracing),
        .init("fmod_ret+", .tracing, .modifyReturn, .attachBTF, .tracing),
        .init("fexit+", .tracing, .traceFexit, .attachBTF, .tracing),
        .init("fentry.s+", .tracing, .traceFentry, [.attachBTF, .sleepable], .tracing),
        .init("fmod_ret.s+", .tracing, .modifyReturn, [.attachBTF, .sleepable], .tracing),
        .init("fexit.s+", .tracing, .traceFexit, [.attachBTF, .sleepable], .tracing),
        .init("freplace+", .ext, nil, .attachBTF),
        .init("lsm+", .lsm, .lsmMac, .attachBTF, .lsm),
        .init("lsm.s+", .lsm, .lsmMac, [.attachBTF, .sleepable], .lsm),
        .init("lsm_cgroup+", .lsm, .lsmCgroup, .attachBTF),
        .init("iter+", .tracing, .traceIter, .attachBTF, .iterator),
        .init("iter.s+", .tracing, .traceIter, [.attachBTF, .sleepable], .iterator),
        .init("syscall", .syscall, nil, .sleepable),
        .init("xdp.frags/devmap", .xdp, .xdpDevmap, .xdpFragments),
        .init("xdp/devmap", .xdp, .xdpDevmap),
        .init("xdp.frags/cpumap", .xdp, .xdpCpumap, .xdpFragments),
        .init("xdp/cpumap", .xdp, .xdpCpumap),
        .init("xdp.frags", .xdp, .xdp, .xdpFragments),
        .init("xdp", .xdp, .xdp),
        .init("perf_event", .perfEvent),
        .init("lwt_in", .lwtIn),
        .init("lwt_out", .lwtOut),
        .init("lwt_xmit", .lwtXmit),
        .init("lwt_seg6local", .lwtSeg6local),
        .init("sockops", .sockOps, .cgroupSockOps),
        .init("sk_skb/stream_parser", .skSkb, .skSkbStreamParser),
        .init("sk_skb/stream_verdict", .skSkb, .skSkbStreamVerdict),
        .init("sk_skb/verdict", .skSkb, .skSkbVerdict),
        .init("sk_skb", .skSkb),
        .init("sk_msg", .skMsg, .skMsgVerdict),
        .init("lirc_mode2", .lircMode2, .lircMode2),
        .init("flow_dissector", .flowDissector, .flowDissector),
        .init("cgroup_skb/ingress", .cgroupSkb, .cgroupInetIngress),
        .init("cgroup_skb/egress", .cgroupSkb, .cgroupInetEgress),
        .init("cgroup/skb", .cgroupSkb),
        .init("cgroup/sock_create", .cgroupSock, .cgroupInetSockCreate),
        .init("cgroup/sock_release", .cgroupSock, .cgroupInetSockRelease),
        .init("cgroup/sock", .cgroupSock, .cgroupInetSockCreate),
        .init("cgroup/post_bind4", .cgroupSock, .cgroupInet4PostBind),
        .init("cgroup/post_bind6", .cgroupSock, .cgroupInet6PostBind),
        .init("cgroup/bind4", .cgroupSockAddr, .cgroupInet4Bind),
        .init("cgroup/bind6", .cgroupSockAddr, .cgroupInet6Bind),
        .init("cgroup/connect4", .cgroupSockAddr, .cgroupInet4Connect),
        .init("cgroup/connect6", .cgroupSockAddr, .cgroupInet6Connect),
        .init("cgroup/connect_unix", .cgroupSockAddr, .cgroupUnixConnect),
        .init("cgroup/sendmsg4", .cgroupSockAddr, .cgroupUdp4Sendmsg),
        .init("cgroup/sendmsg6", .cgroupSockAddr, .cgroupUdp6Sendmsg),
        .init("cgroup/sendmsg_unix", .cgroupSockAddr, .cgroupUnixSendmsg),
        .init("cgroup/recvmsg4", .cgroupSockAddr, .cgroupUdp4Recvmsg),
        .init("cgroup/recvmsg6", .cgroupSockAddr, .cgroupUdp6Recvmsg),
        .init("cgroup/recvmsg_unix", .cgroupSockAddr, .cgroupUnixRecvmsg),
        .init("cgroup/getpeername4", .cgroupSockAddr, .cgroupInet4Getpeername),
        .init("cgroup/getpeername6", .cgroupSockAddr, .cgroupInet6Getpeername),
        .init("cgroup/getpeername_unix", .cgroupSockAddr, .cgroupUnixGetpeername),
        .init("cgroup/getsockname4", .cgroupSockAddr, .cgroupInet4Getsockname),
        .init("cgroup/getsockname6", .cgroupSockAddr, .cgroupInet6Getsockname),
        .init("cgroup/getsockname_unix", .cgroupSockAddr, .cgroupUnixGetsockname),
        .init("cgroup/sysctl", .cgroupSysctl, .cgroupSysctl),
        .init("cgroup/getsockopt", .cgroupSockopt, .cgroupGetsockopt),
        .init("cgroup/setsockopt", .cgroupSockopt, .cgroupSetsockopt),
        .init("cgroup/dev", .cgroupDevice, .cgroupDevice),
        .init("struct_ops+", .structOps),
        .init("struct_ops.s+", .structOps, nil, .sleepable),
        .init("sk_lookup", .skLookup, .skLookup),
        .init("netfilter", .netfilter, .netfilter),
    ]
}
