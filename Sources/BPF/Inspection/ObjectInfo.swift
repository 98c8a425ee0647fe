import Foundation
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

// MARK: - Instructions, fdinfo and enumeration

extension ProgramInfo {
    /// The program as the kernel runs it after verification and rewriting
    /// (`xlated_prog_insns`: map fds replaced by map ids/addresses, helper calls resolved).
    /// Empty when the kernel hides it (kernel.kptr_restrict, missing CAP_SYS_ADMIN).
    public static func translatedInstructions(fd: OwnedFileDescriptor) throws -> [UInt8] {
        try programBytes(fd: fd, length: { $0.xlated_prog_len }) { info, length, address in
            info.xlated_prog_len = length
            info.xlated_prog_insns = address
        }
    }

    /// The JIT-compiled machine code (`jited_prog_insns`); empty when the program is interpreted.
    public static func jitedCode(fd: OwnedFileDescriptor) throws -> [UInt8] {
        try programBytes(fd: fd, length: { $0.jited_prog_len }) { info, length, address in
            info.jited_prog_len = length
            info.jited_prog_insns = address
        }
    }

    /// Asks for the size first, then the bytes: the kernel copies at most what we offer.
    private static func programBytes(
        fd: OwnedFileDescriptor,
        length: (sbpf_prog_info) -> UInt32,
        request: (inout sbpf_prog_info, UInt32, UInt64) -> Void
    ) throws -> [UInt8] {
        var sizing = sbpf_prog_info()
        try objectInfo(fd: fd, into: &sizing)
        let size = Int(length(sizing))
        guard size > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: size)
        var info = sbpf_prog_info()
        try bytes.withUnsafeMutableBytes { buffer in
            request(&info, UInt32(size), kernelPointer(buffer.baseAddress))
            try objectInfo(fd: fd, into: &info)
        }
        return Array(bytes.prefix(min(size, Int(length(info)))))
    }
}

/// The `key: value` lines the kernel prints in /proc/self/fdinfo/FD for a BPF object
/// (`memlock`, `frozen`, `owner_prog_type`, `prog_tag`, ...): facts bpf_*_info does not carry.
public struct FileDescriptorInfo: Sendable {
    public let fields: [String: String]

    public init(fd: OwnedFileDescriptor) throws {
        let path = "/proc/self/fdinfo/\(try fd.value())"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw BPFError.notFound(what: path, detail: "cannot read the kernel's fdinfo for \(fd.label)")
        }
        self.init(parsing: text)
    }

    public init(parsing text: String) {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            fields[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        self.fields = fields
    }

    /// Bytes charged to the memory cgroup (or, on old kernels, RLIMIT_MEMLOCK) for the object.
    public var memlock: UInt64? { fields["memlock"].flatMap { UInt64($0) } }
    /// Whether a map was frozen with BPF_MAP_FREEZE.
    public var isFrozen: Bool { fields["frozen"].flatMap { Int($0) }.map { $0 != 0 } ?? false }
    /// For prog_array maps: the type of the programs it may hold, once one was added.
    public var ownerProgramType: UInt32? { fields["owner_prog_type"].flatMap { UInt32($0) } }
    public var ownerJited: Bool? { fields["owner_jited"].flatMap { Int($0) }.map { $0 != 0 } }
    /// The descriptor's open(2) flags (`flags:`, printed in octal by fs/proc/fd.c), e.g. O_RDONLY.
    public var fileFlags: Int? { fields["flags"].flatMap { Int($0, radix: 8) } }
}

/// One kernel object found by enumeration: its descriptor (owned) and its info.
public struct InspectedObject<Info: Sendable>: Sendable {
    public let fd: OwnedFileDescriptor
    public let info: Info
}

extension KernelObjects {
    /// Opens every object of `kind` and reads its info with `read`.
    ///
    /// Objects are freed concurrently by other processes: one that vanishes between
    /// GET_NEXT_ID and GET_FD_BY_ID (ENOENT) is skipped, not reported as an error.
    public static func all<Info>(
        _ kind: KernelObjectKind,
        info read: (OwnedFileDescriptor) throws -> Info
    ) throws -> [InspectedObject<Info>] {
        var objects: [InspectedObject<Info>] = []
        for id in try ids(of: kind) {
            let fd: OwnedFileDescriptor
            do {
                fd = try open(kind, id: id)
            } catch let error as BPFError where error.errno == .ENOENT {
                continue
            }
            do {
                objects.append(InspectedObject(fd: fd, info: try read(fd)))
            } catch let error as BPFError where error.errno == .ENOENT {
                continue // released while we were reading it (e.g. a link's target went away)
            }
        }
        return objects
    }

    /// Every program with its info, by ascending id.
    public static func programs() throws -> [InspectedObject<ProgramInfo>] { try all(.program, info: ProgramInfo.init(fd:)) }
    /// Every map with its info, by ascending id.
    public static func maps() throws -> [InspectedObject<MapInfo>] { try all(.map, info: MapInfo.init(fd:)) }
    /// Every link with its info, by ascending id.
    public static func links() throws -> [InspectedObject<LinkInfo>] { try all(.link, info: LinkInfo.init(fd:)) }
    /// Every BTF object (vmlinux, modules, programs') with its info, by ascending id.
    public static func btfObjects() throws -> [InspectedObject<BTFObjectInfo>] { try all(.btf, info: BTFObjectInfo.init(fd:)) }
}

extension ProgramInfo {
    /// The wall-clock time the program was loaded, in seconds since the epoch: `loadTime`
    /// counts from boot, so it is shifted by the current difference between the clocks.
    public var loadedAtEpochSeconds: Int64 {
        var real = timespec()
        var boot = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        clock_gettime(CLOCK_BOOTTIME, &boot)
        return Int64(real.tv_sec - boot.tv_sec) + (Int64(real.tv_nsec - boot.tv_nsec) + Int64(loadTime)) / 1_000_000_000
    }
}
