import BPFObject
import CBPFSys

/// The two traffic-control hooks of an interface.
public enum TCDirection: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case ingress, egress

    /// BPF_TCX_INGRESS / BPF_TCX_EGRESS.
    public var tcxAttachType: AttachType { self == .ingress ? .tcxIngress : .tcxEgress }

    /// The clsact qdisc's class for this direction (TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS/EGRESS)).
    public var clsactParent: UInt32 { self == .ingress ? TCHandle.clsactIngress : TCHandle.clsactEgress }

    public var description: String { self == .ingress ? "ingress" : "egress" }
}

/// A sched_cls program attached to an interface's ingress or egress, detached when closed or
/// released.
///
/// Two mechanisms: tcx (kernel 6.6+), a BPF link in the interface's multi-program chain; and
/// the classic netlink path, a direct-action cls_bpf filter under the clsact qdisc, which this
/// object creates if it is missing. `.automatic` probes for tcx and falls back to netlink.
/// A program's return value means the same in both: 0 pass (TC_ACT_OK / TCX_PASS), 2 drop
/// (TC_ACT_SHOT / TCX_DROP).
public final class TCAttachment: Link, @unchecked Sendable {
    /// How the program is attached: tcx (a BPF link) or a netlink cls_bpf filter on clsact.
    public enum Method: Sendable, Hashable {
        /// tcx when the kernel has it, otherwise netlink with kernel-chosen handle and priority.
        case automatic
        /// BPF_LINK_CREATE with BPF_TCX_INGRESS/EGRESS: appended to the end of the chain.
        case tcx
        /// A cls_bpf filter (RTM_NEWTFILTER). Zero lets the kernel choose handle and priority.
        case netlink(handle: UInt32 = 0, priority: UInt16 = 0)
    }

    public let interface: NetworkInterface
    public let direction: TCDirection
    /// The mechanism used, with the actual handle and priority for netlink filters.
    public let method: Method
    /// The tcx link, for `.tcx` attachments.
    public let kernelLink: KernelLink?
    public let description: String

    private let netlink: RouteNetlink?
    private var filterIsAttached: Bool
    /// Whether attaching created the clsact qdisc; if so, closing removes it again once no
    /// filter is left under it.
    public let createdQdisc: Bool

    public static func attach(_ program: Program, to interface: NetworkInterface, direction: TCDirection,
                              method: Method = .automatic) throws -> TCAttachment {
        guard program.type == .schedCls else {
            throw BPFError.invalidArgument("\(program.fd.label) is a \(program.type.name) program; tc and tcx need a sched_cls program")
        }
        let name = program.name.isEmpty ? "program" : "program '\(program.name)'"
        switch method {
        case .automatic:
            return try attach(program, to: interface, direction: direction, method: TCX.isSupported ? .tcx : .netlink())
        case .tcx:
            return try attachTCX(program, to: interface, direction: direction)
        case .netlink(let handle, let priority):
            let netlink = try RouteNetlink()
            let subject = "tc \(direction) filter for \(name) on \(interface)"
            let created = try netlink.addClsact(interfaceIndex: interface.index, subject: "clsact qdisc on \(interface)")
            do {
                let id = try program.info().id
                let chosen = try netlink.addBPFFilter(
                    interfaceIndex: interface.index, parent: direction.clsactParent, handle: handle, priority: priority,
                    programFD: try program.fd.value(), name: "\(program.name):[\(id)]", subject: subject)
                let description = "tc \(direction) filter (handle \(chosen.handle), priority \(chosen.priority)) for \(name) on \(interface)"
                return TCAttachment(interface: interface, direction: direction, method: .netlink(handle: chosen.handle, priority: chosen.priority),
                                    kernelLink: nil, netlink: netlink, createdQdisc: created, description: description)
            } catch {
                // Leave the interface as we found it.
                if created { try? netlink.deleteClsact(interfaceIndex: interface.index, subject: "clsact qdisc on \(interface)") }
                throw error
            }
        }
    }

    /// Attaches through a tcx link at a chosen place in the chain. With `expectedRevision`, the
    /// kernel refuses (ESTALE) if the chain changed since it was read (`TCX.chain(of:).revision`).
    public static func attachTCX(_ program: Program, to interface: NetworkInterface, direction: TCDirection,
                                 placement: TCXPlacement = .last, expectedRevision: UInt64? = nil) throws -> TCAttachment {
        guard program.type == .schedCls else {
            throw BPFError.invalidArgument("\(program.fd.label) is a \(program.type.name) program; tcx needs a sched_cls program")
        }
        guard TCX.isSupported else {
            throw BPFError.unsupported(feature: "tcx", detail: "tcx attachments need Linux 6.6 or newer; use the netlink (clsact) method")
        }
        let name = program.name.isEmpty ? "program" : "program '\(program.name)'"
        let description = "tcx \(direction) \(name) on \(interface)"
        let link = try KernelLink.create(program: program, targetFD: Int32(bitPattern: interface.index),
                                         attachType: direction.tcxAttachType, flags: placement.flags, description: description,
                                         meaning: { errno in
            switch errno {
            case .ENODEV: "interface \(interface) no longer exists"
            case .ENOENT: "the program named by the placement (\(placement)) is not in the tcx \(direction) chain of \(interface)"
            case Errno(116) /* ESTALE */: "the tcx \(direction) chain of \(interface) changed since revision \(expectedRevision ?? 0) was read"
            case .EEXIST: "this program is already in the tcx \(direction) chain of \(interface)"
            case .EINVAL: "the kernel refused the tcx attachment (the program must be sched_cls; the interface must not be a netkit device)"
            default: nil
            }
        }) { attr in
            attr.tail.tcx.relative_fd = placement.relativeID
            attr.tail.tcx.expected_revision = expectedRevision ?? 0
        }
        return TCAttachment(interface: interface, direction: direction, method: .tcx, kernelLink: link, netlink: nil,
                            createdQdisc: false, description: description)
    }

    private init(interface: NetworkInterface, direction: TCDirection, method: Method, kernelLink: KernelLink?,
                 netlink: RouteNetlink?, createdQdisc: Bool, description: String) {
        self.interface = interface
        self.direction = direction
        self.method = method
        self.kernelLink = kernelLink
        self.netlink = netlink
        self.filterIsAttached = netlink != nil
        self.createdQdisc = createdQdisc
        self.description = description
    }

    deinit {
        if filterIsAttached { try? removeFilter() }
    }

    /// Detaches now. A second call throws `BPFError.closed`.
    public func close() throws {
        if let kernelLink {
            try kernelLink.close()
            return
        }
        guard filterIsAttached else { throw BPFError.closed(description) }
        try removeFilter()
    }

    private func removeFilter() throws {
        guard filterIsAttached, let netlink, case .netlink(let handle, let priority) = method else { return }
        filterIsAttached = false
        do {
            try netlink.deleteFilter(interfaceIndex: interface.index, parent: direction.clsactParent, handle: handle,
                                     priority: priority, subject: description)
        } catch let error as BPFError where error.errno == .ENOENT || error.errno == .ENODEV || error.errno == .EINVAL {
            // Already gone: removed by someone else, or the interface (or its qdisc) vanished.
            return
        }
        if createdQdisc {
            let remaining = try TCDirection.allCases.reduce(0) { count, direction in
                count + (try netlink.filters(interfaceIndex: interface.index, parent: direction.clsactParent).count)
            }
            if remaining == 0 {
                try netlink.deleteClsact(interfaceIndex: interface.index, subject: "clsact qdisc on \(interface)")
            }
        }
    }
}

/// Where a tcx program goes in its chain (BPF_F_BEFORE / BPF_F_AFTER, with BPF_F_ID naming the
/// neighbour by program id).
public enum TCXPlacement: Sendable, Hashable, CustomStringConvertible {
    /// At the end: runs after every program already there.
    case last
    /// At the start: runs before every program already there.
    case first
    case before(programID: UInt32)
    case after(programID: UInt32)

    static let before: UInt32 = 1 << 3
    static let after: UInt32 = 1 << 4
    static let byID: UInt32 = 1 << 5

    var flags: UInt32 {
        switch self {
        case .last: Self.after
        case .first: Self.before
        case .before: Self.before | Self.byID
        case .after: Self.after | Self.byID
        }
    }

    var relativeID: UInt32 {
        switch self {
        case .last, .first: 0
        case .before(let id), .after(let id): id
        }
    }

    public var description: String {
        switch self {
        case .last: "last"
        case .first: "first"
        case .before(let id): "before program \(id)"
        case .after(let id): "after program \(id)"
        }
    }
}

/// tcx (kernel 6.6+): probing, querying the chain, and bpftool-style unowned attachment.
public enum TCX {
    /// Whether this kernel has tcx, probed once per process: BPF_PROG_QUERY with
    /// BPF_TCX_INGRESS on the loopback interface (index 1 in every network namespace) succeeds
    /// on 6.6+ and fails with EINVAL where the attach type is unknown.
    public static var isSupported: Bool { probe }

    private static let probe: Bool = {
        var attr = sbpf_prog_query_attr()
        attr.target_fd = 1
        attr.attach_type = AttachType.tcxIngress.rawValue
        switch BPFSyscall.invoke(.progQuery, &attr) {
        case .success: return true
        default: return false
        }
    }()

    /// The programs in one tcx chain, in run order.
    public struct Chain: Sendable, Hashable {
        /// One program of the chain with its flags and, if any, its link.
        public struct Entry: Sendable, Hashable {
            public var programID: UInt32
            public var programFlags: UInt32
            /// 0 when the program was attached without a link (BPF_PROG_ATTACH).
            public var linkID: UInt32
            public var linkFlags: UInt32
        }
        public var entries: [Entry]
        /// Bumped by the kernel on every change of the chain.
        public var revision: UInt64
    }

    /// BPF_PROG_QUERY on an interface's tcx hook.
    public static func chain(of interface: NetworkInterface, direction: TCDirection) throws -> Chain {
        try query(target: interface.index, attachType: direction.tcxAttachType, subject: "tcx \(direction) of \(interface)")
    }

    /// BPF_PROG_QUERY for mprog-style hooks (tcx, netkit), growing the arrays until all fit.
    static func query(target: UInt32, attachType: AttachType, subject: String) throws -> Chain {
        var capacity = 64
        while true {
            var programIDs = [UInt32](repeating: 0, count: capacity)
            var programFlags = [UInt32](repeating: 0, count: capacity)
            var linkIDs = [UInt32](repeating: 0, count: capacity)
            var linkFlags = [UInt32](repeating: 0, count: capacity)
            var attr = sbpf_prog_query_attr()
            let result: Result<Int32, Errno> = programIDs.withUnsafeMutableBufferPointer { ids in
                programFlags.withUnsafeMutableBufferPointer { flags in
                    linkIDs.withUnsafeMutableBufferPointer { links in
                        linkFlags.withUnsafeMutableBufferPointer { linkFlagBuffer in
                            attr.target_fd = target
                            attr.attach_type = attachType.rawValue
                            attr.prog_ids = kernelPointer(ids.baseAddress)
                            attr.prog_attach_flags = kernelPointer(flags.baseAddress)
                            attr.link_ids = kernelPointer(links.baseAddress)
                            attr.link_attach_flags = kernelPointer(linkFlagBuffer.baseAddress)
                            attr.prog_cnt = UInt32(capacity)
                            return BPFSyscall.invoke(.progQuery, &attr)
                        }
                    }
                }
            }
            switch result {
            case .success:
                let count = min(Int(attr.prog_cnt), capacity)
                return Chain(entries: (0..<count).map {
                    Chain.Entry(programID: programIDs[$0], programFlags: programFlags[$0], linkID: linkIDs[$0], linkFlags: linkFlags[$0])
                }, revision: attr.revision)
            case .failure(.ENOSPC) where Int(attr.prog_cnt) > capacity:
                capacity = Int(attr.prog_cnt)
            case .failure(let errno):
                throw BPFError.syscall(SystemCallFailure(operation: BPFCommand.progQuery.description, errno: errno, subject: subject,
                                                         meaning: errno == .EINVAL ? "this kernel has no \(attachType.name) hook (tcx needs Linux 6.6+)" : nil))
            }
        }
    }

    /// Attaches without a link (BPF_PROG_ATTACH), appended to the chain. The program stays
    /// until detached, after this process exits too — this is what `bpftool net attach
    /// tcx_ingress` does, and why bpftool needs no pin for it.
    public static func attachUnowned(_ program: Program, to interface: NetworkInterface, direction: TCDirection) throws {
        guard program.type == .schedCls else {
            throw BPFError.invalidArgument("\(program.fd.label) is a \(program.type.name) program; tcx needs a sched_cls program")
        }
        var attr = sbpf_prog_attach_attr()
        attr.target_fd = interface.index
        attr.attach_bpf_fd = UInt32(bitPattern: try program.fd.value())
        attr.attach_type = direction.tcxAttachType.rawValue
        try BPFSyscall.call(.progAttach, &attr, subject: "tcx \(direction) of \(interface)") { errno in
            switch errno {
            case .EEXIST: "this program is already in the tcx \(direction) chain of \(interface)"
            case .EINVAL: "the kernel refused the tcx attachment (tcx needs Linux 6.6+ and a sched_cls program)"
            case .ENODEV: "interface \(interface) no longer exists"
            default: nil
            }
        }
    }

    /// Detaches a program attached without a link (BPF_PROG_DETACH). With no program, the kernel
    /// removes the last program of the chain, and refuses (EBUSY) if a link holds that one.
    public static func detachUnowned(_ program: Program? = nil, from interface: NetworkInterface, direction: TCDirection) throws {
        var attr = sbpf_prog_attach_attr()
        attr.target_fd = interface.index
        if let program { attr.attach_bpf_fd = UInt32(bitPattern: try program.fd.value()) }
        attr.attach_type = direction.tcxAttachType.rawValue
        try BPFSyscall.call(.progDetach, &attr, subject: "tcx \(direction) of \(interface)") { errno in
            switch errno {
            case .ENOENT: "no such program in the tcx \(direction) chain of \(interface)"
            case .EBUSY: "the program is held by a BPF link; it detaches when its link is closed or unpinned (or with BPF_LINK_DETACH)"
            case .ENODEV: "interface \(interface) no longer exists"
            default: nil
            }
        }
    }
}

/// Classic tc: listing the cls_bpf filters of an interface.
public enum TC {
    /// The filters of the clsact qdisc's ingress or egress class.
    public static func filters(on interface: NetworkInterface, direction: TCDirection) throws -> [TCFilterRecord] {
        try RouteNetlink().filters(interfaceIndex: interface.index, parent: direction.clsactParent)
    }
}
