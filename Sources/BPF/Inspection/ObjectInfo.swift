import BPFObject
import CBPFSys

/// What the kernel reports about a map (BPF_OBJ_GET_INFO_BY_FD with `struct bpf_map_info`).
public struct MapInfo: Sendable, Hashable {
    public var id: UInt32
    public var type: MapType?
    public var rawType: UInt32
    public var name: String
    public var keySize: UInt32
    public var valueSize: UInt32
    public var maxEntries: UInt32
    public var flags: UInt32
    public var btfID: UInt32
    public var btfKeyTypeID: UInt32
    public var btfValueTypeID: UInt32
    public var mapExtra: UInt64
    public var interfaceIndex: UInt32
}

/// What the kernel reports about a program (BPF_OBJ_GET_INFO_BY_FD with `struct bpf_prog_info`).
public struct ProgramInfo: Sendable, Hashable {
    public var id: UInt32
    public var type: ProgramType?
    public var rawType: UInt32
    public var name: String
    /// The 8-byte program tag (a hash of the instructions), as bpftool prints it in hex.
    public var tag: [UInt8]
    public var isGPLCompatible: Bool
    /// Nanoseconds since boot when the program was loaded.
    public var loadTime: UInt64
    public var createdByUID: UInt32
    public var mapIDs: [UInt32]
    public var btfID: UInt32
    public var jitedSize: UInt32
    public var translatedSize: UInt32
    public var verifiedInstructions: UInt32
    /// Run statistics; zero unless BPF_ENABLE_STATS or the sysctl kernel.bpf_stats_enabled is on.
    public var runTimeNanoseconds: UInt64
    public var runCount: UInt64
    public var recursionMisses: UInt64
    public var attachBTFObjectID: UInt32
    public var attachBTFID: UInt32

    public var tagHex: String { tag.map { byteHex($0) }.joined() }
}

@inline(__always)
func byteHex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
}

/// BPF_OBJ_GET_INFO_BY_FD into `record`, a zeroed info struct whose pointer fields the caller
/// may have filled to receive arrays.
func objectInfo<Record>(fd: OwnedFileDescriptor, into record: inout Record) throws {
    let descriptor = try fd.value()
    try withUnsafeMutableBytes(of: &record) { buffer in
        var attr = sbpf_info_attr()
        attr.bpf_fd = UInt32(bitPattern: descriptor)
        attr.info_len = UInt32(buffer.count)
        attr.info = kernelPointer(buffer.baseAddress)
        try BPFSyscall.call(.objGetInfoByFD, &attr, subject: fd.label)
    }
}

extension MapInfo {
    /// Reads the info of the map behind `fd`.
    public init(fd: OwnedFileDescriptor) throws {
        var info = sbpf_map_info()
        try objectInfo(fd: fd, into: &info)
        self.init(
            id: info.id, type: MapType(rawValue: info.type), rawType: info.type, name: stringFromCField(info.name),
            keySize: info.key_size, valueSize: info.value_size, maxEntries: info.max_entries, flags: info.map_flags,
            btfID: info.btf_id, btfKeyTypeID: info.btf_key_type_id, btfValueTypeID: info.btf_value_type_id,
            mapExtra: info.map_extra, interfaceIndex: info.ifindex)
    }
}

extension ProgramInfo {
    /// Reads the info of the program behind `fd`, including its map ids.
    public init(fd: OwnedFileDescriptor) throws {
        var info = sbpf_prog_info()
        try objectInfo(fd: fd, into: &info)
        var mapIDs = [UInt32](repeating: 0, count: Int(info.nr_map_ids))
        if !mapIDs.isEmpty {
            var second = sbpf_prog_info()
            second.nr_map_ids = UInt32(mapIDs.count)
            try mapIDs.withUnsafeMutableBufferPointer { ids in
                second.map_ids = kernelPointer(ids.baseAddress)
                try objectInfo(fd: fd, into: &second)
            }
        }
        self.init(
            id: info.id, type: ProgramType(rawValue: info.type), rawType: info.type, name: stringFromCField(info.name),
            tag: withUnsafeBytes(of: info.tag) { Array($0) }, isGPLCompatible: info.gpl_compatible_flags & 1 != 0,
            loadTime: info.load_time, createdByUID: info.created_by_uid, mapIDs: mapIDs, btfID: info.btf_id,
            jitedSize: info.jited_prog_len, translatedSize: info.xlated_prog_len, verifiedInstructions: info.verified_insns,
            runTimeNanoseconds: info.run_time_ns, runCount: info.run_cnt, recursionMisses: info.recursion_misses,
            attachBTFObjectID: info.attach_btf_obj_id, attachBTFID: info.attach_btf_id)
    }
}

extension Map {
    /// The kernel's view of this map.
    public func info() throws -> MapInfo { try MapInfo(fd: fd) }

    /// Wraps a map descriptor of unknown shape (from a pin, an id, or another process),
    /// reading its type and sizes from the kernel.
    public convenience init(adopting fd: OwnedFileDescriptor) throws {
        let info = try MapInfo(fd: fd)
        guard let type = info.type else {
            throw BPFError.unsupported(feature: "map type \(info.rawType)", detail: "this SwiftBPF does not know that map type")
        }
        self.init(fd: fd, name: info.name, type: type, keySize: Int(info.keySize), valueSize: Int(info.valueSize),
                  maxEntries: Int(info.maxEntries), flags: MapFlags(rawValue: info.flags))
    }
}

extension Program {
    /// The kernel's view of this program.
    public func info() throws -> ProgramInfo { try ProgramInfo(fd: fd) }

    /// Wraps a program descriptor of unknown origin, reading its type and name from the kernel.
    public convenience init(adopting fd: OwnedFileDescriptor) throws {
        let info = try ProgramInfo(fd: fd)
        guard let type = info.type else {
            throw BPFError.unsupported(feature: "program type \(info.rawType)", detail: "this SwiftBPF does not know that program type")
        }
        self.init(fd: fd, name: info.name, type: type, expectedAttachType: nil)
    }
}

/// The kinds of object the kernel numbers with ids.
public enum KernelObjectKind: Sendable {
    case program, map, link, btf

    var nextIDCommand: BPFCommand {
        switch self {
        case .program: .progGetNextID
        case .map: .mapGetNextID
        case .link: .linkGetNextID
        case .btf: .btfGetNextID
        }
    }

    var fdByIDCommand: BPFCommand {
        switch self {
        case .program: .progGetFDByID
        case .map: .mapGetFDByID
        case .link: .linkGetFDByID
        case .btf: .btfGetFDByID
        }
    }

    var noun: String {
        switch self {
        case .program: "program"
        case .map: "map"
        case .link: "link"
        case .btf: "BTF object"
        }
    }
}

/// Enumerating and opening kernel objects by id (BPF_*_GET_NEXT_ID, BPF_*_GET_FD_BY_ID).
public enum KernelObjects {
    /// All ids of `kind` currently in the kernel, ascending.
    public static func ids(of kind: KernelObjectKind) throws -> [UInt32] {
        var ids: [UInt32] = []
        var current: UInt32 = 0
        while true {
            var attr = sbpf_get_id_attr()
            attr.start_id = current
            switch BPFSyscall.invoke(kind.nextIDCommand, &attr) {
            case .success:
                ids.append(attr.next_id)
                current = attr.next_id
            case .failure(.ENOENT):
                return ids
            case .failure(let errno):
                throw BPFError.syscall(SystemCallFailure(operation: kind.nextIDCommand.description, errno: errno))
            }
        }
    }

    /// Opens the object with `id` as a new owned descriptor.
    public static func open(_ kind: KernelObjectKind, id: UInt32) throws -> OwnedFileDescriptor {
        var attr = sbpf_get_id_attr()
        attr.start_id = id
        return try BPFSyscall.callReturningFD(kind.fdByIDCommand, &attr, label: "\(kind.noun) id \(id)") { errno in
            errno == .ENOENT ? "there is no \(kind.noun) with id \(id)" : nil
        }
    }
}
