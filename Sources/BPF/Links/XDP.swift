import BPFObject

/// Where an XDP program runs (include/uapi/linux/if_link.h XDP_FLAGS_*_MODE).
public enum XDPMode: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// No mode flag: the kernel picks native mode if the driver supports it, generic otherwise.
    case automatic
    /// XDP_FLAGS_SKB_MODE: after the skb is built; works on every interface.
    case generic
    /// XDP_FLAGS_DRV_MODE: in the driver's receive path (needs driver support; veth has it).
    case driver
    /// XDP_FLAGS_HW_MODE: on the NIC itself (needs an offload-capable NIC and an offloaded program).
    case offload

    public var flags: UInt32 {
        switch self {
        case .automatic: 0
        case .generic: XDPFlags.genericMode.rawValue
        case .driver: XDPFlags.driverMode.rawValue
        case .offload: XDPFlags.offloadMode.rawValue
        }
    }

    /// bpftool's attach-type word: `xdp`, `xdpgeneric`, `xdpdrv`, `xdpoffload`.
    public var bpftoolAttachType: String {
        switch self {
        case .automatic: "xdp"
        case .generic: "xdpgeneric"
        case .driver: "xdpdrv"
        case .offload: "xdpoffload"
        }
    }

    public init?(bpftoolAttachType: String) {
        guard let mode = Self.allCases.first(where: { $0.bpftoolAttachType == bpftoolAttachType }) else { return nil }
        self = mode
    }

    public var description: String {
        switch self {
        case .automatic: "automatic"
        case .generic: "generic"
        case .driver: "driver"
        case .offload: "offload"
        }
    }
}

/// `XDP_FLAGS_*`.
public struct XDPFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Fail with EBUSY instead of replacing an attached program (netlink attach only).
    public static let updateIfNoExist = XDPFlags(rawValue: 1 << 0)
    public static let genericMode = XDPFlags(rawValue: 1 << 1)
    public static let driverMode = XDPFlags(rawValue: 1 << 2)
    public static let offloadMode = XDPFlags(rawValue: 1 << 3)
    /// Replace only the program given by IFLA_XDP_EXPECTED_FD (kernel 5.7+).
    public static let replace = XDPFlags(rawValue: 1 << 4)
}

/// What XDP has attached to an interface, from the IFLA_XDP attribute of RTM_GETLINK.
public struct XDPState: Sendable, Hashable {
    /// `XDP_ATTACHED_*`.
    public enum Attached: UInt8, Sendable {
        case none = 0, driver = 1, generic = 2, offload = 3, multiple = 4
    }

    /// A program attached to the interface in one mode.
    public struct AttachedProgram: Sendable, Hashable {
        /// `.generic`, `.driver` or `.offload` (never `.automatic`).
        public var mode: XDPMode
        public var id: UInt32

        public init(mode: XDPMode, id: UInt32) {
            self.mode = mode
            self.id = id
        }
    }

    public var attached: Attached?
    /// IFLA_XDP_ATTACHED as sent, also when this library does not know the value.
    public var rawAttached: UInt8
    /// The attached programs, one per mode, in bpftool's order (generic, driver, offload).
    public var programs: [AttachedProgram]

    public init(attached rawAttached: UInt8, programs: [AttachedProgram]) {
        self.rawAttached = rawAttached
        self.attached = Attached(rawValue: rawAttached)
        self.programs = programs
    }

    /// Decodes the nested IFLA_XDP attributes. A single attachment reports its id in
    /// IFLA_XDP_PROG_ID; several (generic and driver at once are impossible, but driver plus
    /// offload are not) report one id per mode.
    init(attributes: NetlinkAttributes) {
        let raw = attributes.uint8(RouteAttribute.xdpAttached) ?? 0
        var programs: [AttachedProgram] = []
        switch Attached(rawValue: raw) {
        case .multiple:
            if let id = attributes.uint32(RouteAttribute.xdpGenericProgramID) { programs.append(AttachedProgram(mode: .generic, id: id)) }
            if let id = attributes.uint32(RouteAttribute.xdpDriverProgramID) { programs.append(AttachedProgram(mode: .driver, id: id)) }
            if let id = attributes.uint32(RouteAttribute.xdpOffloadProgramID) { programs.append(AttachedProgram(mode: .offload, id: id)) }
        case .driver:
            if let id = attributes.uint32(RouteAttribute.xdpProgramID) { programs.append(AttachedProgram(mode: .driver, id: id)) }
        case .generic:
            if let id = attributes.uint32(RouteAttribute.xdpProgramID) { programs.append(AttachedProgram(mode: .generic, id: id)) }
        case .offload:
            if let id = attributes.uint32(RouteAttribute.xdpProgramID) { programs.append(AttachedProgram(mode: .offload, id: id)) }
        default:
            break
        }
        self.init(attached: raw, programs: programs)
    }

    public var isAttached: Bool { rawAttached != Attached.none.rawValue }

    /// "program 42 (generic)", for error messages.
    var summary: String {
        programs.isEmpty ? "nothing" : programs.map { "program id \($0.id) (\($0.mode))" }.joined(separator: " and ")
    }
}

/// An XDP program attached to an interface, detached when closed or released.
///
/// Two mechanisms: a BPF link (BPF_LINK_CREATE with BPF_XDP, kernel 5.9+) — the default, which
/// no other program can silently replace; or the legacy netlink attach (RTM_SETLINK with
/// IFLA_XDP), which older kernels and tools such as `ip link` use. Both are owned here; to
/// leave a program attached after the process exits, pin the `kernelLink`, or use
/// `XDP.attachUnowned` as bpftool does.
public final class XDPAttachment: Link, @unchecked Sendable {
    /// How the program is attached: a BPF link or netlink.
    public enum Method: Sendable, Hashable {
        /// BPF_LINK_CREATE.
        case link
        /// RTM_SETLINK IFLA_XDP; `replaceExisting` replaces a program attached in the same mode.
        case netlink(replaceExisting: Bool)
    }

    public let interface: NetworkInterface
    public let mode: XDPMode
    public let method: Method
    /// The kernel link, for `.link` attachments (pin it, update it, read its id).
    public let kernelLink: KernelLink?
    /// For `.netlink`: our own descriptor of the attached program, so detaching can name it
    /// (XDP_FLAGS_REPLACE + IFLA_XDP_EXPECTED_FD) and never remove somebody else's program.
    private var attachedProgram: OwnedFileDescriptor?
    /// For `.netlink`: the socket used to attach. A netlink socket stays in the network
    /// namespace it was created in, so detaching reaches the right interface even when the
    /// last reference goes away on a thread in another namespace.
    private let netlink: RouteNetlink?
    public let description: String

    /// Attaches `program` (type xdp) to `interface`.
    public static func attach(_ program: Program, to interface: NetworkInterface, mode: XDPMode = .automatic,
                              method: Method = .link) throws -> XDPAttachment {
        guard program.type == .xdp else {
            throw BPFError.invalidArgument("\(program.fd.label) is a \(program.type.name) program; XDP needs an xdp program")
        }
        let description = "XDP \(program.name.isEmpty ? "program" : "program '\(program.name)'") on \(interface) (\(mode))"
        switch method {
        case .link:
            do {
                let link = try KernelLink.create(program: program, targetFD: Int32(bitPattern: interface.index), attachType: .xdp,
                                                 flags: mode.flags, description: description) { errno in
                    XDP.meaning(of: errno, on: interface, mode: mode, isLink: true)
                }
                return XDPAttachment(interface: interface, mode: mode, method: method, kernelLink: link, attachedProgram: nil,
                                     netlink: nil, description: description)
            } catch let error as BPFError where error.errno == .EBUSY || error.errno == .EEXIST {
                throw XDP.explainConflict(error, on: interface)
            }
        case .netlink(let replaceExisting):
            let programFD = try program.fd.duplicate()
            let netlink = try RouteNetlink()
            try XDP.attachUnowned(program, to: interface, mode: mode, replaceExisting: replaceExisting, using: netlink)
            return XDPAttachment(interface: interface, mode: mode, method: method, kernelLink: nil, attachedProgram: programFD,
                                 netlink: netlink, description: description)
        }
    }

    private init(interface: NetworkInterface, mode: XDPMode, method: Method, kernelLink: KernelLink?,
                 attachedProgram: OwnedFileDescriptor?, netlink: RouteNetlink?, description: String) {
        self.interface = interface
        self.mode = mode
        self.method = method
        self.kernelLink = kernelLink
        self.attachedProgram = attachedProgram
        self.netlink = netlink
        self.description = description
    }

    deinit {
        if attachedProgram != nil { try? detachNetlink() }
    }

    /// Detaches now. A second call throws `BPFError.closed`. A netlink attachment that someone
    /// else has replaced in the meantime is left alone (it is no longer ours).
    public func close() throws {
        if let kernelLink {
            try kernelLink.close()
            return
        }
        guard attachedProgram != nil else { throw BPFError.closed(description) }
        try detachNetlink()
    }

    private func detachNetlink() throws {
        guard let program = attachedProgram, let netlink else { return }
        attachedProgram = nil
        defer { try? program.close() }
        do {
            try netlink.setXDP(
                interfaceIndex: interface.index, programFD: -1, flags: mode.flags | XDPFlags.replace.rawValue,
                expectedFD: try program.value(), subject: description)
        } catch let error as BPFError where error.errno == .EEXIST || error.errno == .ENODEV {
            // EEXIST: the attached program is no longer ours. ENODEV: the interface is gone,
            // and its programs with it.
        }
    }
}

/// XDP operations without an owning object, and the state of interfaces.
public enum XDP {
    /// What XDP has attached to `interface` (netlink RTM_GETLINK, IFLA_XDP).
    public static func state(of interface: NetworkInterface) throws -> XDPState {
        let record = try RouteNetlink().interface(index: interface.index)
        return record.xdp ?? XDPState(attached: 0, programs: [])
    }

    /// Attaches with the legacy netlink call and no owner: the program stays attached until
    /// someone detaches it, after this process exits too (this is what `bpftool net attach xdp`
    /// and `ip link set dev X xdp` do). Without `replaceExisting`, an attached program makes
    /// this fail with EBUSY (XDP_FLAGS_UPDATE_IF_NOEXIST).
    public static func attachUnowned(_ program: Program, to interface: NetworkInterface, mode: XDPMode = .automatic,
                                     replaceExisting: Bool = false) throws {
        try attachUnowned(program, to: interface, mode: mode, replaceExisting: replaceExisting, using: RouteNetlink())
    }

    static func attachUnowned(_ program: Program, to interface: NetworkInterface, mode: XDPMode, replaceExisting: Bool,
                              using netlink: RouteNetlink) throws {
        guard program.type == .xdp else {
            throw BPFError.invalidArgument("\(program.fd.label) is a \(program.type.name) program; XDP needs an xdp program")
        }
        var flags = mode.flags
        if !replaceExisting { flags |= XDPFlags.updateIfNoExist.rawValue }
        do {
            try netlink.setXDP(
                interfaceIndex: interface.index, programFD: try program.fd.value(), flags: flags,
                subject: "XDP program on \(interface) (\(mode))"
            ) { errno, _ in meaning(of: errno, on: interface, mode: mode, isLink: false) }
        } catch let error as BPFError where error.errno == .EBUSY || error.errno == .EEXIST {
            throw explainConflict(error, on: interface)
        }
    }

    /// Detaches whatever program is attached in `mode` by netlink (`bpftool net detach xdp`).
    /// A program attached through a BPF link cannot be detached this way (EBUSY): close or
    /// unpin its link instead.
    public static func detach(from interface: NetworkInterface, mode: XDPMode = .automatic) throws {
        try RouteNetlink().setXDP(
            interfaceIndex: interface.index, programFD: -1, flags: mode.flags, subject: "XDP on \(interface) (\(mode))"
        ) { errno, _ in
            errno == .EBUSY ? "the program on \(interface) is attached through a BPF link; detach it by closing or unpinning the link (bpftool link detach)" : nil
        }
    }

    static func meaning(of errno: Errno, on interface: NetworkInterface, mode: XDPMode, isLink: Bool) -> String? {
        switch errno {
        case .EBUSY:
            return isLink
                ? "an XDP program or link is already attached to \(interface) in this mode; a BPF link never replaces it"
                : "an XDP program is already attached to \(interface) (pass replaceExisting / `overwrite` to replace it)"
        case .EEXIST:
            return "\(interface) already runs XDP in another mode: native and generic XDP cannot be active at the same time"
        case .EOPNOTSUPP:
            return mode == .offload
                ? "\(interface) cannot offload XDP programs (needs an offload-capable NIC and a program loaded for it)"
                : "the driver of \(interface) does not support native XDP; use generic mode"
        case .ENODEV:
            return "interface \(interface) no longer exists"
        case .EINVAL:
            return "the kernel refused the attachment: invalid mode flags for this kernel, or an XDP program the device cannot run (e.g. an MTU larger than one page without frags support)"
        default:
            return nil
        }
    }

    /// Adds what is attached now to an EBUSY/EEXIST failure, so the user knows what to detach.
    static func explainConflict(_ error: BPFError, on interface: NetworkInterface) -> BPFError {
        guard case .syscall(let failure) = error, let state = try? state(of: interface), state.isAttached else { return error }
        return .syscall(SystemCallFailure(
            operation: failure.operation, errno: failure.errno, subject: failure.subject,
            meaning: failure.meaning + "; attached now: \(state.summary) (detach with `swiftbpf net detach \(state.programs.first?.mode.bpftoolAttachType ?? "xdp") dev \(interface.name)`, or close its link)"))
    }
}
