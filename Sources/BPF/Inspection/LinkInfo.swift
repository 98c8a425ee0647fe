import BPFObject
import CBPFSys

/// What the kernel reports about a link (BPF_OBJ_GET_INFO_BY_FD with `struct bpf_link_info`).
public struct LinkInfo: Sendable, Hashable {
    public var id: UInt32
    public var type: LinkType?
    public var rawType: UInt32
    public var programID: UInt32
    /// The attach-kind specific part, decoded by `type`.
    public var details: Details

    /// The union member of `struct bpf_link_info` that matches the link's type.
    public enum Details: Sendable, Hashable {
        case rawTracepoint(name: String)
        case tracing(attachType: UInt32, targetObjectID: UInt32, targetBTFID: UInt32)
        case cgroup(cgroupID: UInt64, attachType: UInt32)
        case iterator(targetName: String)
        case netns(inode: UInt32, attachType: UInt32)
        case xdp(interfaceIndex: UInt32)
        case structOps(mapID: UInt32)
        case netfilter(protocolFamily: UInt32, hook: UInt32, priority: Int32, flags: UInt32)
        case kprobeMulti(count: UInt32, flags: UInt32, missed: UInt64)
        case uprobeMulti(path: String, count: UInt32, flags: UInt32, pid: UInt32)
        case perfEvent(PerfEventLink)
        case tcx(interfaceIndex: UInt32, attachType: UInt32)
        case netkit(interfaceIndex: UInt32, attachType: UInt32)
        case sockmap(mapID: UInt32, attachType: UInt32)
        /// A link type this SwiftBPF does not decode.
        case unknown
    }

    /// `bpf_link_info.perf_event`: what a perf-event based link (kprobe, uprobe, tracepoint,
    /// perf counter) is attached to.
    public enum PerfEventLink: Sendable, Hashable {
        case uprobe(path: String, offset: UInt32, cookie: UInt64, isReturn: Bool)
        case kprobe(function: String, offset: UInt32, address: UInt64, missed: UInt64, cookie: UInt64, isReturn: Bool)
        case tracepoint(name: String, cookie: UInt64)
        case event(type: UInt32, config: UInt64, cookie: UInt64)
        case unspecified
    }

    /// The attach type the details carry, if any (cgroup, netns, tcx, tracing, ...).
    public var attachType: AttachType? {
        switch details {
        case .tracing(let raw, _, _), .cgroup(_, let raw), .netns(_, let raw), .tcx(_, let raw),
             .netkit(_, let raw), .sockmap(_, let raw):
            AttachType(rawValue: raw)
        default: nil
        }
    }
}

extension LinkInfo {
    /// Reads the info of the link behind `fd`, fetching names (tracepoint, iterator target,
    /// probed file or function) with a second call when the type has one.
    public init(fd: OwnedFileDescriptor) throws {
        var head = sbpf_link_info()
        try objectInfo(fd: fd, into: &head)
        let type = LinkType(rawValue: head.type)
        // Offsets below are into the union after the common head (include/uapi/linux/bpf.h).
        var nameOffset: Int?
        var lengthOffset: Int?
        switch type {
        case .rawTracepoint, .iter: (nameOffset, lengthOffset) = (0, 8)
        case .uprobeMulti: (nameOffset, lengthOffset) = (0, 32) // path; path_size
        case .perfEvent:
            // perf_event: u32 type, pad, then the per-kind record; every kind but `event`
            // starts with a name pointer and its length.
            let perfType = Self.u32(head, 0)
            if (1...5).contains(perfType) { (nameOffset, lengthOffset) = (8, 16) }
        default: break
        }
        var name = ""
        if let nameOffset, let lengthOffset {
            var buffer = [UInt8](repeating: 0, count: 4096)
            var second = sbpf_link_info()
            try buffer.withUnsafeMutableBytes { bytes in
                Self.setU64(&second, nameOffset, kernelPointer(bytes.baseAddress))
                Self.setU32(&second, lengthOffset, UInt32(bytes.count))
                try objectInfo(fd: fd, into: &second)
            }
            name = String(decoding: buffer.prefix(while: { $0 != 0 }), as: UTF8.self)
            head = second
        }
        self.init(id: head.id, type: type, rawType: head.type, programID: head.prog_id,
                  details: Self.decode(type, head, name: name))
    }

    static func decode(_ type: LinkType?, _ info: sbpf_link_info, name: String) -> Details {
        switch type {
        case .rawTracepoint: return .rawTracepoint(name: name)
        case .tracing: return .tracing(attachType: u32(info, 0), targetObjectID: u32(info, 4), targetBTFID: u32(info, 8))
        case .cgroup: return .cgroup(cgroupID: u64(info, 0), attachType: u32(info, 8))
        case .iter: return .iterator(targetName: name)
        case .netns: return .netns(inode: u32(info, 0), attachType: u32(info, 4))
        case .xdp: return .xdp(interfaceIndex: u32(info, 0))
        case .structOps: return .structOps(mapID: u32(info, 0))
        case .netfilter:
            return .netfilter(protocolFamily: u32(info, 0), hook: u32(info, 4), priority: Int32(bitPattern: u32(info, 8)), flags: u32(info, 12))
        case .kprobeMulti: return .kprobeMulti(count: u32(info, 8), flags: u32(info, 12), missed: u64(info, 16))
        case .uprobeMulti: return .uprobeMulti(path: name, count: u32(info, 36), flags: u32(info, 40), pid: u32(info, 44))
        case .tcx: return .tcx(interfaceIndex: u32(info, 0), attachType: u32(info, 4))
        case .netkit: return .netkit(interfaceIndex: u32(info, 0), attachType: u32(info, 4))
        case .sockmap: return .sockmap(mapID: u32(info, 0), attachType: u32(info, 4))
        case .perfEvent:
            // enum bpf_perf_event_type: UPROBE 1, URETPROBE 2, KPROBE 3, KRETPROBE 4, TRACEPOINT 5, EVENT 6.
            switch u32(info, 0) {
            case 1, 2: return .perfEvent(.uprobe(path: name, offset: u32(info, 20), cookie: u64(info, 24), isReturn: u32(info, 0) == 2))
            case 3, 4:
                return .perfEvent(.kprobe(function: name, offset: u32(info, 20), address: u64(info, 24), missed: u64(info, 32),
                                          cookie: u64(info, 40), isReturn: u32(info, 0) == 4))
            case 5: return .perfEvent(.tracepoint(name: name, cookie: u64(info, 24)))
            case 6: return .perfEvent(.event(type: u32(info, 16), config: u64(info, 8), cookie: u64(info, 24)))
            default: return .perfEvent(.unspecified)
            }
        case .unspecified, nil: return .unknown
        }
    }

    private static func u32(_ info: sbpf_link_info, _ offset: Int) -> UInt32 {
        withUnsafeBytes(of: info.tail) { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
    }
    private static func u64(_ info: sbpf_link_info, _ offset: Int) -> UInt64 {
        withUnsafeBytes(of: info.tail) { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
    }
    private static func setU32(_ info: inout sbpf_link_info, _ offset: Int, _ value: UInt32) {
        withUnsafeMutableBytes(of: &info.tail) { $0.storeBytes(of: value, toByteOffset: offset, as: UInt32.self) }
    }
    private static func setU64(_ info: inout sbpf_link_info, _ offset: Int, _ value: UInt64) {
        withUnsafeMutableBytes(of: &info.tail) { $0.storeBytes(of: value, toByteOffset: offset, as: UInt64.self) }
    }
}

extension KernelLink {
    /// Opens the link with `id` (BPF_LINK_GET_FD_BY_ID). The returned object owns a new
    /// descriptor; closing it does not detach a link that something else still holds.
    public convenience init(adoptingID id: UInt32) throws {
        let fd = try KernelObjects.open(.link, id: id)
        let info = try LinkInfo(fd: fd)
        self.init(fd: fd, description: "\(info.type?.name ?? "link") link id \(id)")
    }

    /// The kernel's view of this link.
    public func info() throws -> LinkInfo { try LinkInfo(fd: fd) }
}
