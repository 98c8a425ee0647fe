#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// rtnetlink message types used here (include/uapi/linux/rtnetlink.h).
public enum RouteMessageType: UInt16, Sendable, CustomStringConvertible {
    case newLink = 16, deleteLink = 17, getLink = 18, setLink = 19
    case newQdisc = 36, deleteQdisc = 37, getQdisc = 38
    case newClass = 40, deleteClass = 41, getClass = 42
    case newFilter = 44, deleteFilter = 45, getFilter = 46

    public var description: String {
        switch self {
        case .newLink: "RTM_NEWLINK"
        case .deleteLink: "RTM_DELLINK"
        case .getLink: "RTM_GETLINK"
        case .setLink: "RTM_SETLINK"
        case .newQdisc: "RTM_NEWQDISC"
        case .deleteQdisc: "RTM_DELQDISC"
        case .getQdisc: "RTM_GETQDISC"
        case .newClass: "RTM_NEWTCLASS"
        case .deleteClass: "RTM_DELTCLASS"
        case .getClass: "RTM_GETTCLASS"
        case .newFilter: "RTM_NEWTFILTER"
        case .deleteFilter: "RTM_DELTFILTER"
        case .getFilter: "RTM_GETTFILTER"
        }
    }
}

/// `struct ifinfomsg`: the fixed header of link messages.
struct InterfaceInfoHeader {
    static let size = 16
    var family: UInt8 = 0
    var deviceType: UInt16 = 0
    var index: Int32 = 0
    var flags: UInt32 = 0
    var change: UInt32 = 0

    var encoded: [UInt8] {
        var bytes: [UInt8] = [family, 0]
        bytes.appendNetlinkValue(deviceType)
        bytes.appendNetlinkValue(index)
        bytes.appendNetlinkValue(flags)
        bytes.appendNetlinkValue(change)
        return bytes
    }

    init(index: Int32 = 0) { self.index = index }

    init(decoding payload: [UInt8]) throws(NetlinkParseError) {
        guard payload.count >= Self.size else {
            throw NetlinkParseError(reason: "link message of \(payload.count) bytes is shorter than struct ifinfomsg", offset: 0)
        }
        family = payload[0]
        deviceType = payload.netlinkUInt16(at: 2)
        index = Int32(bitPattern: payload.netlinkUInt32(at: 4))
        flags = payload.netlinkUInt32(at: 8)
        change = payload.netlinkUInt32(at: 12)
    }
}

/// `struct tcmsg`: the fixed header of qdisc, class and filter messages.
struct TrafficControlHeader {
    static let size = 20
    var family: UInt8 = 0
    var interfaceIndex: Int32 = 0
    var handle: UInt32 = 0
    var parent: UInt32 = 0
    /// For filters: priority in the upper 16 bits, protocol (network byte order) in the lower.
    var info: UInt32 = 0

    var encoded: [UInt8] {
        var bytes: [UInt8] = [family, 0, 0, 0]
        bytes.appendNetlinkValue(interfaceIndex)
        bytes.appendNetlinkValue(handle)
        bytes.appendNetlinkValue(parent)
        bytes.appendNetlinkValue(info)
        return bytes
    }

    init(interfaceIndex: Int32, handle: UInt32 = 0, parent: UInt32 = 0, info: UInt32 = 0) {
        self.interfaceIndex = interfaceIndex
        self.handle = handle
        self.parent = parent
        self.info = info
    }

    init(decoding payload: [UInt8]) throws(NetlinkParseError) {
        guard payload.count >= Self.size else {
            throw NetlinkParseError(reason: "traffic-control message of \(payload.count) bytes is shorter than struct tcmsg", offset: 0)
        }
        family = payload[0]
        interfaceIndex = Int32(bitPattern: payload.netlinkUInt32(at: 4))
        handle = payload.netlinkUInt32(at: 8)
        parent = payload.netlinkUInt32(at: 12)
        info = payload.netlinkUInt32(at: 16)
    }
}

/// Attribute numbers (include/uapi/linux/if_link.h, rtnetlink.h, pkt_cls.h).
enum RouteAttribute {
    static let interfaceName: UInt16 = 3 // IFLA_IFNAME
    static let xdp: UInt16 = 43 // IFLA_XDP

    // IFLA_XDP_*
    static let xdpFD: UInt16 = 1
    static let xdpAttached: UInt16 = 2
    static let xdpFlags: UInt16 = 3
    static let xdpProgramID: UInt16 = 4
    static let xdpDriverProgramID: UInt16 = 5
    static let xdpGenericProgramID: UInt16 = 6
    static let xdpOffloadProgramID: UInt16 = 7
    static let xdpExpectedFD: UInt16 = 8

    // TCA_*
    static let tcKind: UInt16 = 1
    static let tcOptions: UInt16 = 2
    static let tcChain: UInt16 = 11

    // TCA_BPF_* (cls_bpf options)
    static let bpfActions: UInt16 = 1
    static let bpfClassID: UInt16 = 3
    static let bpfFD: UInt16 = 6
    static let bpfName: UInt16 = 7
    static let bpfFlags: UInt16 = 8
    static let bpfTag: UInt16 = 10
    static let bpfID: UInt16 = 11

    // TCA_ACT_* and TCA_ACT_BPF_* (actions attached to a classifier)
    static let actionKind: UInt16 = 1
    static let actionOptions: UInt16 = 2
    static let actionBPFName: UInt16 = 6
    static let actionBPFID: UInt16 = 9
    /// TCA_ACT_MAX_PRIO: actions are nested under attribute numbers 1...32.
    static let actionMaxPriority: UInt16 = 32
}

/// One network interface as RTM_GETLINK reports it.
public struct InterfaceRecord: Sendable, Hashable {
    public var index: UInt32
    public var name: String
    /// What XDP has attached (IFLA_XDP), nil if the kernel sent no IFLA_XDP attribute.
    public var xdp: XDPState?
}

/// A traffic-control object (qdisc or class) as the dump reports it.
public struct TrafficControlObjectRecord: Sendable, Hashable {
    public var interfaceIndex: UInt32
    public var handle: UInt32
    public var parent: UInt32
    public var kind: String
}

/// A tc filter as RTM_GETTFILTER reports it; `bpf` is set for cls_bpf filters.
public struct TCFilterRecord: Sendable, Hashable {
    public var interfaceIndex: UInt32
    public var parent: UInt32
    public var handle: UInt32
    public var priority: UInt16
    /// Ethernet protocol in host order (ETH_P_ALL = 3).
    public var `protocol`: UInt16
    public var kind: String
    public var chain: UInt32?
    public var bpf: BPFClassifierOptions?
}

/// The options of a cls_bpf filter (TCA_OPTIONS of kind "bpf").
public struct BPFClassifierOptions: Sendable, Hashable {
    /// TCA_BPF_NAME, e.g. "prog:[42]" or iproute2's "obj.o:[sec]".
    public var name: String?
    public var programID: UInt32?
    /// TCA_BPF_FLAG_ACT_DIRECT: the program's return value is the tc action.
    public var isDirectAction: Bool
    public var tag: [UInt8]?
    /// bpf actions attached to the classifier (name, program id), as bpftool lists them; nil
    /// when the filter has no action list at all (direct-action filters).
    public var actions: [BPFActionRecord]?
}

/// A BPF action (act_bpf) of a TC filter: its name and program id.
public struct BPFActionRecord: Sendable, Hashable {
    public var name: String?
    public var programID: UInt32?
}

/// A typed rtnetlink (NETLINK_ROUTE) client: interfaces, XDP attachment by netlink, clsact
/// qdiscs and cls_bpf filters.
public final class RouteNetlink: @unchecked Sendable {
    public let socket: NetlinkSocket

    public init() throws { socket = try NetlinkSocket(family: 0) }

    // MARK: Links

    /// All interfaces of the current network namespace, in the kernel's (ifindex) order.
    public func interfaces() throws -> [InterfaceRecord] {
        let messages = try socket.dump(type: RouteMessageType.getLink.rawValue, payload: InterfaceInfoHeader().encoded,
                                       operation: RouteMessageType.getLink.description)
        return try messages.filter { $0.header.type == RouteMessageType.newLink.rawValue }.map(Self.decodeInterface)
    }

    /// One interface by index.
    public func interface(index: UInt32) throws -> InterfaceRecord {
        let replies = try socket.request(
            type: RouteMessageType.getLink.rawValue, payload: InterfaceInfoHeader(index: Int32(bitPattern: index)).encoded,
            operation: RouteMessageType.getLink.description, subject: "interface index \(index)"
        ) { errno, _ in errno == .ENODEV ? "there is no interface with index \(index) in this network namespace" : nil }
        guard let message = replies.first(where: { $0.header.type == RouteMessageType.newLink.rawValue }) else {
            throw BPFError.notFound(what: "interface", detail: "index \(index): the kernel sent no link message")
        }
        return try Self.decodeInterface(message)
    }

    static func decodeInterface(_ message: NetlinkMessage) throws -> InterfaceRecord {
        do {
            let header = try InterfaceInfoHeader(decoding: message.payload)
            let attributes = try NetlinkAttributes(payload: message.payload, afterHeaderOfSize: InterfaceInfoHeader.size)
            var xdp: XDPState?
            if let nested = try attributes.nested(RouteAttribute.xdp) {
                xdp = XDPState(attributes: nested)
            }
            return InterfaceRecord(index: UInt32(bitPattern: header.index), name: attributes.string(RouteAttribute.interfaceName) ?? "", xdp: xdp)
        } catch {
            throw BPFError.invalidArgument("the kernel's RTM_NEWLINK message could not be parsed: \(error)")
        }
    }

    /// RTM_SETLINK with an IFLA_XDP attribute: attaches `programFD` (or detaches with -1).
    /// `expectedFD` with XDP_FLAGS_REPLACE replaces only that program.
    func setXDP(interfaceIndex: UInt32, programFD: Int32, flags: UInt32, expectedFD: Int32? = nil,
                subject: String, meaning: ((Errno, String?) -> String?)? = nil) throws {
        var attributes = NetlinkAttributeWriter()
        attributes.appendNested(RouteAttribute.xdp) { xdp in
            xdp.append(RouteAttribute.xdpFD, int32: programFD)
            if flags != 0 { xdp.append(RouteAttribute.xdpFlags, uint32: flags) }
            if let expectedFD { xdp.append(RouteAttribute.xdpExpectedFD, int32: expectedFD) }
        }
        try socket.request(
            type: RouteMessageType.setLink.rawValue,
            payload: InterfaceInfoHeader(index: Int32(bitPattern: interfaceIndex)).encoded + attributes.bytes,
            operation: "\(RouteMessageType.setLink) IFLA_XDP", subject: subject, meaning: meaning)
    }

    // MARK: Qdiscs and classes

    /// The qdiscs of one interface.
    public func qdiscs(interfaceIndex: UInt32) throws -> [TrafficControlObjectRecord] {
        try trafficControlObjects(.getQdisc, reply: .newQdisc, interfaceIndex: interfaceIndex)
    }

    /// The classes of one interface.
    public func classes(interfaceIndex: UInt32) throws -> [TrafficControlObjectRecord] {
        try trafficControlObjects(.getClass, reply: .newClass, interfaceIndex: interfaceIndex)
    }

    private func trafficControlObjects(_ type: RouteMessageType, reply: RouteMessageType, interfaceIndex: UInt32) throws -> [TrafficControlObjectRecord] {
        let messages = try socket.dump(
            type: type.rawValue, payload: TrafficControlHeader(interfaceIndex: Int32(bitPattern: interfaceIndex)).encoded,
            operation: type.description, subject: "interface index \(interfaceIndex)")
        do {
            return try messages.filter { $0.header.type == reply.rawValue }.compactMap { message in
                let header = try TrafficControlHeader(decoding: message.payload)
                // The qdisc dump walks every interface; keep the one asked for.
                guard UInt32(bitPattern: header.interfaceIndex) == interfaceIndex else { return nil }
                let attributes = try NetlinkAttributes(payload: message.payload, afterHeaderOfSize: TrafficControlHeader.size)
                return TrafficControlObjectRecord(interfaceIndex: interfaceIndex, handle: header.handle, parent: header.parent,
                                                  kind: attributes.string(RouteAttribute.tcKind) ?? "unknown")
            }
        } catch let error as NetlinkParseError {
            throw BPFError.invalidArgument("the kernel's \(reply) message could not be parsed: \(error)")
        }
    }

    /// Adds the clsact qdisc to an interface. Returns false if one was already there.
    @discardableResult
    public func addClsact(interfaceIndex: UInt32, subject: String) throws -> Bool {
        var attributes = NetlinkAttributeWriter()
        attributes.append(RouteAttribute.tcKind, string: "clsact")
        let header = TrafficControlHeader(interfaceIndex: Int32(bitPattern: interfaceIndex),
                                          handle: TCHandle.make(major: TCHandle.clsact, minor: 0), parent: TCHandle.clsact)
        do {
            try socket.request(type: RouteMessageType.newQdisc.rawValue, flags: [.create, .exclusive],
                               payload: header.encoded + attributes.bytes,
                               operation: "\(RouteMessageType.newQdisc) clsact", subject: subject) { errno, _ in
                errno == .EOPNOTSUPP || errno == .ENOENT
                    ? "the kernel has no clsact qdisc (CONFIG_NET_SCH_INGRESS is off)" : nil
            }
            return true
        } catch let error as BPFError where error.errno == .EEXIST {
            return false
        }
    }

    /// Removes the clsact qdisc (and with it every filter under it).
    public func deleteClsact(interfaceIndex: UInt32, subject: String) throws {
        var attributes = NetlinkAttributeWriter()
        attributes.append(RouteAttribute.tcKind, string: "clsact")
        let header = TrafficControlHeader(interfaceIndex: Int32(bitPattern: interfaceIndex),
                                          handle: TCHandle.make(major: TCHandle.clsact, minor: 0), parent: TCHandle.clsact)
        try socket.request(type: RouteMessageType.deleteQdisc.rawValue, payload: header.encoded + attributes.bytes,
                           operation: "\(RouteMessageType.deleteQdisc) clsact", subject: subject)
    }

    // MARK: Filters

    /// The filters under `parent` of one interface.
    public func filters(interfaceIndex: UInt32, parent: UInt32) throws -> [TCFilterRecord] {
        let header = TrafficControlHeader(interfaceIndex: Int32(bitPattern: interfaceIndex), parent: parent)
        let messages = try socket.dump(type: RouteMessageType.getFilter.rawValue, payload: header.encoded,
                                       operation: RouteMessageType.getFilter.description, subject: "interface index \(interfaceIndex)")
        do {
            return try messages.filter { $0.header.type == RouteMessageType.newFilter.rawValue }.compactMap(Self.decodeFilter)
        } catch let error as NetlinkParseError {
            throw BPFError.invalidArgument("the kernel's RTM_NEWTFILTER message could not be parsed: \(error)")
        }
    }

    /// Decodes one filter message; nil for the per-priority "chain head" entries that carry no
    /// handle and no options.
    static func decodeFilter(_ message: NetlinkMessage) throws(NetlinkParseError) -> TCFilterRecord? {
        let header = try TrafficControlHeader(decoding: message.payload)
        let attributes = try NetlinkAttributes(payload: message.payload, afterHeaderOfSize: TrafficControlHeader.size)
        let kind = attributes.string(RouteAttribute.tcKind) ?? ""
        var bpf: BPFClassifierOptions?
        if kind == "bpf", let options = try attributes.nested(RouteAttribute.tcOptions) {
            var actions: [BPFActionRecord]?
            if let actionList = try options.nested(RouteAttribute.bpfActions) {
                actions = []
                for priority in 0...RouteAttribute.actionMaxPriority {
                    guard let action = try actionList.nested(priority), action.string(RouteAttribute.actionKind) == "bpf",
                          let actionOptions = try action.nested(RouteAttribute.actionOptions) else { continue }
                    actions?.append(BPFActionRecord(name: actionOptions.string(RouteAttribute.actionBPFName),
                                                   programID: actionOptions.uint32(RouteAttribute.actionBPFID)))
                }
            }
            bpf = BPFClassifierOptions(
                name: options.string(RouteAttribute.bpfName), programID: options.uint32(RouteAttribute.bpfID),
                isDirectAction: (options.uint32(RouteAttribute.bpfFlags) ?? 0) & TCFilterFlags.directAction != 0,
                tag: options[RouteAttribute.bpfTag]?.payload, actions: actions)
        } else if !attributes.contains(RouteAttribute.tcOptions) && header.handle == 0 {
            return nil
        }
        return TCFilterRecord(
            interfaceIndex: UInt32(bitPattern: header.interfaceIndex), parent: header.parent, handle: header.handle,
            priority: UInt16(header.info >> 16), protocol: UInt16(truncatingIfNeeded: header.info).byteSwapped,
            kind: kind, chain: attributes.uint32(RouteAttribute.tcChain), bpf: bpf)
    }

    /// Adds a direct-action cls_bpf filter. Zero `handle`/`priority` let the kernel choose; the
    /// chosen values come back through NLM_F_ECHO and are returned.
    func addBPFFilter(interfaceIndex: UInt32, parent: UInt32, handle: UInt32, priority: UInt16,
                      programFD: Int32, name: String, subject: String) throws -> (handle: UInt32, priority: UInt16) {
        var attributes = NetlinkAttributeWriter()
        attributes.append(RouteAttribute.tcKind, string: "bpf")
        attributes.appendNested(RouteAttribute.tcOptions) { options in
            options.append(RouteAttribute.bpfFD, uint32: UInt32(bitPattern: programFD))
            options.append(RouteAttribute.bpfName, string: name)
            options.append(RouteAttribute.bpfFlags, uint32: TCFilterFlags.directAction)
        }
        let header = TrafficControlHeader(interfaceIndex: Int32(bitPattern: interfaceIndex), handle: handle, parent: parent,
                                          info: UInt32(priority) << 16 | UInt32(TCFilterFlags.allProtocolsNetworkOrder))
        let replies = try socket.request(
            type: RouteMessageType.newFilter.rawValue, flags: [.create, .exclusive, .echo],
            payload: header.encoded + attributes.bytes, operation: "\(RouteMessageType.newFilter) bpf", subject: subject
        ) { errno, _ in
            switch errno {
            case .EEXIST: "a filter with handle \(handle) and priority \(priority) already exists there; pick another handle or priority"
            case .EINVAL: "the kernel refused the filter: the program must be of type sched_cls or sched_act, and the clsact qdisc must exist"
            case .ENOENT: "no clsact qdisc on the interface, or the kernel has no cls_bpf classifier (CONFIG_NET_CLS_BPF)"
            default: nil
            }
        }
        for reply in replies where reply.header.type == RouteMessageType.newFilter.rawValue {
            if let echoed = try? TrafficControlHeader(decoding: reply.payload) {
                return (echoed.handle, UInt16(echoed.info >> 16))
            }
        }
        guard handle != 0, priority != 0 else {
            throw BPFError.unsupported(feature: "NLM_F_ECHO for tc filters",
                                       detail: "the kernel did not echo the new filter, so its handle and priority are unknown; pass both explicitly")
        }
        return (handle, priority)
    }

    /// Deletes one filter by parent, handle and priority.
    func deleteFilter(interfaceIndex: UInt32, parent: UInt32, handle: UInt32, priority: UInt16, subject: String) throws {
        var attributes = NetlinkAttributeWriter()
        attributes.append(RouteAttribute.tcKind, string: "bpf")
        let header = TrafficControlHeader(interfaceIndex: Int32(bitPattern: interfaceIndex), handle: handle, parent: parent,
                                          info: UInt32(priority) << 16 | UInt32(TCFilterFlags.allProtocolsNetworkOrder))
        try socket.request(type: RouteMessageType.deleteFilter.rawValue, payload: header.encoded + attributes.bytes,
                           operation: "\(RouteMessageType.deleteFilter) bpf", subject: subject)
    }
}

/// tc handles (include/uapi/linux/pkt_sched.h): 16-bit major:minor pairs.
public enum TCHandle {
    public static let root: UInt32 = 0xFFFF_FFFF
    /// TC_H_CLSACT (= TC_H_INGRESS): the clsact qdisc's parent and major number.
    public static let clsact: UInt32 = 0xFFFF_FFF1
    public static let minorIngress: UInt32 = 0xFFF2
    public static let minorEgress: UInt32 = 0xFFF3
    public static let clsactIngress = make(major: clsact, minor: minorIngress)
    public static let clsactEgress = make(major: clsact, minor: minorEgress)

    /// TC_H_MAKE.
    public static func make(major: UInt32, minor: UInt32) -> UInt32 { (major & 0xFFFF_0000) | (minor & 0x0000_FFFF) }
}

enum TCFilterFlags {
    /// TCA_BPF_FLAG_ACT_DIRECT.
    static let directAction: UInt32 = 1
    /// htons(ETH_P_ALL): the filter sees every protocol.
    static let allProtocolsNetworkOrder: UInt16 = UInt16(0x0003).bigEndian
}
