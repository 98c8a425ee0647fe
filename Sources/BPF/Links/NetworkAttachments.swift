#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import BPFObject
import CBPFSys

/// Every networking attachment of the current network namespace, gathered the way
/// `bpftool net list` gathers them, and rendered in its text and JSON layouts.
///
/// Sources: netlink RTM_GETLINK (XDP), BPF_PROG_QUERY per interface (tcx, netkit), netlink
/// qdisc/class/filter dumps (cls_bpf), BPF_PROG_QUERY on the namespace (flow dissector) and
/// the link list (netfilter).
public struct NetworkAttachmentListing: Sendable, Hashable {
    /// The XDP programs of one interface.
    public struct XDPEntry: Sendable, Hashable {
        public var interface: NetworkInterface
        /// `XDP_ATTACHED_MULTI`: several modes at once, listed per mode.
        public var isMulti: Bool
        public var programs: [XDPState.AttachedProgram]
    }

    /// A program in a multi-program chain (tcx, netkit), from BPF_PROG_QUERY.
    public struct ChainEntry: Sendable, Hashable {
        public var interface: NetworkInterface
        /// `tcx/ingress`, `tcx/egress`, `netkit/primary`, `netkit/peer`.
        public var kind: String
        public var programName: String?
        public var programID: UInt32
        public var programFlags: UInt32
        public var linkID: UInt32
        public var linkFlags: UInt32
    }

    /// A cls_bpf filter, from the netlink filter dump.
    public struct FilterEntry: Sendable, Hashable {
        public var interface: NetworkInterface
        /// `clsact/ingress`, `clsact/egress`, `root`, or the qdisc/class kind (`htb`).
        public var kind: String
        public var name: String?
        public var programID: UInt32?
        public var isDirectAction: Bool
        public var actions: [BPFActionRecord]?
    }

    /// A TC attachment: a tcx chain or a cls_bpf filter.
    public enum TCEntry: Sendable, Hashable {
        case chain(ChainEntry)
        case filter(FilterEntry)
    }

    /// A netfilter link: protocol family, hook, priority and program (`struct bpf_link_info.netfilter`).
    public struct NetfilterEntry: Sendable, Hashable {
        public var protocolFamily: UInt32
        public var hook: UInt32
        public var priority: Int32
        public var flags: UInt32
        public var programID: UInt32
    }

    public var xdp: [XDPEntry] = []
    public var tc: [TCEntry] = []
    /// The flow dissector program of this network namespace, if any.
    public var flowDissectorProgramID: UInt32?
    public var netfilter: [NetfilterEntry] = []

    public init() {}
}

/// Lists the networking attachments of a network namespace, like `bpftool net list`.
public enum NetworkAttachments {
    /// Gathers the attachments of the current thread's network namespace, or of one interface.
    public static func list(interface only: NetworkInterface? = nil) throws -> NetworkAttachmentListing {
        var listing = NetworkAttachmentListing()
        listing.flowDissectorProgramID = try flowDissectorProgram()
        let netlink = try RouteNetlink()
        let interfaces = try netlink.interfaces().filter { record in only.map { $0.index == record.index } ?? true }
        for record in interfaces {
            guard let state = record.xdp, state.isAttached else { continue }
            listing.xdp.append(.init(interface: NetworkInterface(name: record.name, index: record.index),
                                     isMulti: state.attached == .multiple, programs: state.programs))
        }
        for record in interfaces {
            let interface = NetworkInterface(name: record.name, index: record.index)
            listing.tc += chainEntries(of: interface)
            listing.tc += try filterEntries(of: interface, netlink: netlink).map { .filter($0) }
        }
        listing.netfilter = try netfilterEntries()
        return listing
    }

    /// tcx then netkit chains, in bpftool's order. Interfaces without such a hook (netkit on a
    /// non-netkit device, tcx on old kernels) answer with an error and are skipped, as bpftool does.
    static func chainEntries(of interface: NetworkInterface) -> [NetworkAttachmentListing.TCEntry] {
        let hooks: [(AttachType, String)] = [
            (.tcxIngress, "tcx/ingress"), (.tcxEgress, "tcx/egress"),
            (.netkitPrimary, "netkit/primary"), (.netkitPeer, "netkit/peer"),
        ]
        var entries: [NetworkAttachmentListing.TCEntry] = []
        for (attachType, kind) in hooks {
            guard let chain = try? TCX.query(target: interface.index, attachType: attachType, subject: kind) else { continue }
            for entry in chain.entries {
                let name = (try? KernelObjects.open(.program, id: entry.programID)).flatMap { try? ProgramInfo(fd: $0).name }
                entries.append(.chain(.init(
                    interface: interface, kind: kind, programName: name?.isEmpty == false ? name : nil, programID: entry.programID,
                    programFlags: entry.programFlags, linkID: entry.linkID, linkFlags: entry.linkFlags)))
            }
        }
        return entries
    }

    /// cls_bpf filters: under classes, then under qdiscs other than clsact, then under the
    /// root, clsact ingress and clsact egress (bpftool's order).
    static func filterEntries(of interface: NetworkInterface, netlink: RouteNetlink) throws -> [NetworkAttachmentListing.FilterEntry] {
        var parents: [(handle: UInt32, kind: String)] = try netlink.classes(interfaceIndex: interface.index).map { ($0.handle, $0.kind) }
        parents += try netlink.qdiscs(interfaceIndex: interface.index)
            .filter { $0.kind != "clsact" && $0.handle != 0 }
            .map { ($0.handle, $0.kind) }
        parents += [(TCHandle.root, "root"), (TCHandle.clsactIngress, "clsact/ingress"), (TCHandle.clsactEgress, "clsact/egress")]
        var entries: [NetworkAttachmentListing.FilterEntry] = []
        for parent in parents {
            for filter in try netlink.filters(interfaceIndex: interface.index, parent: parent.handle) {
                guard let bpf = filter.bpf else { continue }
                entries.append(.init(interface: interface, kind: parent.kind, name: bpf.name, programID: bpf.programID,
                                     isDirectAction: bpf.isDirectAction, actions: bpf.actions))
            }
        }
        return entries
    }

    /// BPF_PROG_QUERY with BPF_FLOW_DISSECTOR on this thread's network namespace.
    static func flowDissectorProgram() throws -> UInt32? {
        // thread-self, not self: a thread may have entered another namespace with setns(2).
        let raw = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard raw >= 0 else { return nil }
        let namespace = OwnedFileDescriptor(adopting: raw, label: "network namespace")
        var ids = [UInt32](repeating: 0, count: 1)
        var attr = sbpf_prog_query_attr()
        let result: Result<Int32, Errno> = ids.withUnsafeMutableBufferPointer { buffer in
            attr.target_fd = UInt32(bitPattern: namespace.rawValue)
            attr.attach_type = AttachType.flowDissector.rawValue
            attr.prog_ids = kernelPointer(buffer.baseAddress)
            attr.prog_cnt = 1
            return BPFSyscall.invoke(.progQuery, &attr)
        }
        switch result {
        case .success: return attr.prog_cnt >= 1 ? ids[0] : nil
        case .failure(.EINVAL): return nil // kernels before 5.6 cannot query flow dissectors
        case .failure(let errno):
            throw BPFError.syscall(SystemCallFailure(operation: BPFCommand.progQuery.description, errno: errno, subject: "flow dissector of this network namespace"))
        }
    }

    /// Netfilter links, sorted by family, hook, priority and flags.
    static func netfilterEntries() throws -> [NetworkAttachmentListing.NetfilterEntry] {
        var entries: [NetworkAttachmentListing.NetfilterEntry] = []
        for id in try KernelObjects.ids(of: .link) {
            guard let fd = try? KernelObjects.open(.link, id: id) else { continue } // freed meanwhile
            var info = sbpf_link_info()
            guard (try? objectInfo(fd: fd, into: &info)) != nil, info.type == LinkType.netfilter.rawValue else { continue }
            // struct bpf_link_info.netfilter: pf, hooknum, priority, flags (four 32-bit words).
            let words = withUnsafeBytes(of: info.tail) { Array($0.bindMemory(to: UInt32.self).prefix(4)) }
            entries.append(.init(protocolFamily: words[0], hook: words[1], priority: Int32(bitPattern: words[2]),
                                 flags: words[3], programID: info.prog_id))
        }
        return entries.sorted {
            ($0.protocolFamily, $0.hook, $0.priority, $0.flags) < ($1.protocolFamily, $1.hook, $1.priority, $1.flags)
        }
    }
}

// MARK: - bpftool layouts

extension NetworkAttachmentListing {
    /// The text of `bpftool net list`: one section per kind, one line per attachment
    /// (`lo(1) generic id 42`), each section closed by an empty line.
    public func bpftoolText() -> String {
        var out = "xdp:\n"
        for entry in xdp {
            out += entry.interface.description
            for program in entry.programs { out += " \(program.mode) id \(program.id)" }
            out += "\n"
        }
        out += "\ntc:\n"
        for entry in tc {
            switch entry {
            case .chain(let chain):
                out += "\(chain.interface) \(chain.kind)"
                if let name = chain.programName { out += " \(name)" }
                out += " prog_id \(chain.programID) "
                if chain.programFlags != 0 { out += "prog_flags " + Self.flagBits(chain.programFlags).map { "\($0) " }.joined() }
                if chain.linkID != 0 {
                    out += "link_id \(chain.linkID) "
                    if chain.linkFlags != 0 { out += "link_flags " + Self.flagBits(chain.linkFlags).map { "\($0) " }.joined() }
                }
            case .filter(let filter):
                out += filter.interface.name.isEmpty ? "(\(filter.interface.index))" : "\(filter.interface)"
                out += " \(filter.kind)"
                if let name = filter.name { out += " \(name)" }
                if let id = filter.programID { out += " id \(id)" }
                if let actions = filter.actions {
                    out += " act ["
                    for action in actions {
                        out += "{\(action.name ?? "")"
                        if let id = action.programID { out += " id \(id)" }
                        out += "}"
                    }
                    out += "] "
                }
            }
            out += "\n"
        }
        out += "\nflow_dissector:\n"
        if let id = flowDissectorProgramID { out += "id \(id)" }
        out += "\nnetfilter:\n"
        for entry in netfilter {
            out += "\n\t" + Self.netfilterPlain(entry) + " prog_id \(entry.programID)"
        }
        out += "\n"
        return out
    }

    /// The JSON of `bpftool net list --json` (`-p` for `pretty`): an array holding one object
    /// with the arrays `xdp`, `tc`, `flow_dissector`, `netfilter`, keys in bpftool's order.
    /// One deliberate difference: bpftool writes the flow dissector as `["id": N]`, which is not
    /// JSON; here it is `[{"id": N}]`.
    public func bpftoolJSON(pretty: Bool = false) -> String {
        var json = BPFToolJSONWriter(pretty: pretty)
        json.beginArray()
        json.beginObject()
        json.name("xdp")
        json.beginArray()
        for entry in xdp {
            json.beginObject()
            json.field("devname", entry.interface.name)
            json.field("ifindex", UInt64(entry.interface.index))
            if entry.isMulti {
                json.name("multi_attachments")
                json.beginArray()
                for program in entry.programs {
                    json.beginObject()
                    json.field("mode", program.mode.description)
                    json.field("id", UInt64(program.id))
                    json.endObject()
                }
                json.endArray()
            } else if let program = entry.programs.first {
                json.field("mode", program.mode.description)
                json.field("id", UInt64(program.id))
            }
            json.endObject()
        }
        json.endArray()
        json.name("tc")
        json.beginArray()
        for entry in tc {
            json.beginObject()
            switch entry {
            case .chain(let chain):
                json.field("devname", chain.interface.name)
                json.field("ifindex", UInt64(chain.interface.index))
                json.field("kind", chain.kind)
                if let name = chain.programName { json.field("name", name) }
                json.field("prog_id", UInt64(chain.programID))
                json.name("prog_flags")
                json.beginArray()
                for bit in Self.flagBits(chain.programFlags) { json.value(UInt64(bit)) }
                json.endArray()
                json.field("link_id", UInt64(chain.linkID))
                json.name("link_flags")
                json.beginArray()
                for bit in Self.flagBits(chain.linkFlags) { json.value(UInt64(bit)) }
                json.endArray()
            case .filter(let filter):
                if !filter.interface.name.isEmpty { json.field("devname", filter.interface.name) }
                json.field("ifindex", UInt64(filter.interface.index))
                json.field("kind", filter.kind)
                if let name = filter.name { json.field("name", name) }
                if let id = filter.programID { json.field("id", UInt64(id)) }
                if let actions = filter.actions {
                    json.name("act")
                    json.beginArray()
                    for action in actions {
                        json.beginObject()
                        if let name = action.name { json.field("name", name) }
                        if let id = action.programID { json.field("id", UInt64(id)) }
                        json.endObject()
                    }
                    json.endArray()
                }
            }
            json.endObject()
        }
        json.endArray()
        json.name("flow_dissector")
        json.beginArray()
        if let id = flowDissectorProgramID {
            json.beginObject()
            json.field("id", UInt64(id))
            json.endObject()
        }
        json.endArray()
        json.name("netfilter")
        json.beginArray()
        for entry in netfilter {
            json.beginObject()
            json.field("pf", UInt64(entry.protocolFamily))
            json.field("hook", UInt64(entry.hook))
            json.field("prio", Int64(entry.priority))
            json.field("flags", UInt64(entry.flags))
            json.field("id", UInt64(entry.programID))
            json.endObject()
        }
        json.endArray()
        json.endObject()
        json.endArray()
        return json.document
    }

    /// The set bits of a flag word, lowest first, as values (`1`, `4`, ...).
    static func flagBits(_ flags: UInt32) -> [UInt32] {
        (0..<32).compactMap { flags & (1 << $0) != 0 ? UInt32(1) << UInt32($0) : nil }
    }

    /// `ip prerouting prio -128`: family and hook by name where netfilter names them
    /// (include/uapi/linux/netfilter.h NFPROTO_*, NF_INET_*, NF_ARP_*).
    static func netfilterPlain(_ entry: NetfilterEntry) -> String {
        let families: [UInt32: String] = [1: "inet", 2: "ip", 3: "arp", 5: "netdev", 7: "bridge", 10: "ip6"]
        let inetHooks = ["prerouting", "input", "forward", "output", "postrouting"]
        let arpHooks = ["input", "output"]
        var hookName: String?
        switch entry.protocolFamily {
        case 1, 2, 7, 10: hookName = entry.hook < inetHooks.count ? inetHooks[Int(entry.hook)] : nil
        case 3: hookName = entry.hook < arpHooks.count ? arpHooks[Int(entry.hook)] : nil
        default: break
        }
        var text = families[entry.protocolFamily].map { $0 } ?? "pf: \(entry.protocolFamily)"
        text += hookName.map { " \($0)" } ?? ", hook \(entry.hook),"
        text += " prio \(entry.priority)"
        if entry.flags != 0 { text += " flags 0x\(String(entry.flags, radix: 16))" }
        return text
    }
}
