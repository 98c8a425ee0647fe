import BPFObject
import CBPFSys

/// The protocol families a BPF netfilter link can hook (include/uapi/linux/netfilter.h NFPROTO_*).
public enum NetfilterFamily: UInt32, Sendable, Hashable {
    case ipv4 = 2
    case ipv6 = 10
}

/// The IPv4/IPv6 netfilter hooks (include/uapi/linux/netfilter.h `enum nf_inet_hooks`).
public enum NetfilterHook: UInt32, Sendable, Hashable, CaseIterable {
    case preRouting = 0, localIn = 1, forward = 2, localOut = 3, postRouting = 4

    /// nftables' names, as bpftool prints them.
    public var name: String {
        switch self {
        case .preRouting: "prerouting"
        case .localIn: "input"
        case .forward: "forward"
        case .localOut: "output"
        case .postRouting: "postrouting"
        }
    }
}

/// A netfilter program (BPF_PROG_TYPE_NETFILTER) hooked into the current network namespace
/// through a BPF link (BPF_LINK_CREATE with BPF_NETFILTER, kernel 6.4+); it unhooks when closed
/// or released. The program returns NF_DROP (0) or NF_ACCEPT (1).
public final class NetfilterAttachment: Link, @unchecked Sendable {
    public let family: NetfilterFamily
    public let hook: NetfilterHook
    public let priority: Int32
    public let kernelLink: KernelLink
    public var description: String { kernelLink.description }

    /// BPF_F_NETFILTER_IP_DEFRAG: reassemble fragments before the program runs.
    static let defragmentFlag: UInt32 = 1

    /// Hooks `program` at `hook` of `family` with `priority` (lower runs first; the extremes
    /// INT32_MIN and INT32_MAX are reserved by netfilter). With `defragment`, the priority must
    /// be above the defragmentation hook's (-400).
    public static func attach(_ program: Program, family: NetfilterFamily, hook: NetfilterHook, priority: Int32,
                              defragment: Bool = false) throws -> NetfilterAttachment {
        guard program.type == .netfilter else {
            throw BPFError.invalidArgument("\(program.fd.label) is a \(program.type.name) program; netfilter hooks take netfilter programs")
        }
        guard priority != Int32.min, priority != Int32.max else {
            throw BPFError.invalidArgument("netfilter reserves priorities \(Int32.min) and \(Int32.max) (NF_IP_PRI_FIRST/LAST)")
        }
        let familyName = family == .ipv4 ? "ip" : "ip6"
        let name = program.name.isEmpty ? "program" : "program '\(program.name)'"
        let description = "netfilter \(name) at \(familyName) \(hook.name) prio \(priority)"
        let link = try KernelLink.create(program: program, attachType: .netfilter, description: description, meaning: { errno in
            switch errno {
            case .EINVAL: "the kernel refused the hook: unsupported family, hook or flags"
            case .ERANGE: "priority \(priority) is out of range: the extremes are reserved, and with defragmentation the priority must be above -400 (NF_IP_PRI_CONNTRACK_DEFRAG)"
            case .EOPNOTSUPP: "this kernel has no BPF netfilter links (CONFIG_NETFILTER_BPF_LINK, Linux 6.4+)"
            case .EBUSY: "another BPF netfilter program already uses priority \(priority) at this hook"
            default: nil
            }
        }) { attr in
            attr.tail.netfilter.pf = family.rawValue
            attr.tail.netfilter.hooknum = hook.rawValue
            attr.tail.netfilter.priority = priority
            attr.tail.netfilter.flags = defragment ? defragmentFlag : 0
        }
        return NetfilterAttachment(family: family, hook: hook, priority: priority, kernelLink: link)
    }

    private init(family: NetfilterFamily, hook: NetfilterHook, priority: Int32, kernelLink: KernelLink) {
        self.family = family
        self.hook = hook
        self.priority = priority
        self.kernelLink = kernelLink
    }

    public func close() throws { try kernelLink.close() }
}
