import BPFObject
import CBPFSys
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The objects a local-storage map attaches values to. From user space each is named by a file
/// descriptor: a pidfd for a task, an open cgroup directory, a socket, any fd for an inode.
public enum LocalStorageKind: Sendable {
    /// BPF_MAP_TYPE_TASK_STORAGE (Linux 5.11), keyed by pidfd.
    case task
    /// BPF_MAP_TYPE_CGRP_STORAGE (Linux 6.2), keyed by a cgroup v2 directory fd.
    case cgroup
    /// BPF_MAP_TYPE_SK_STORAGE (Linux 5.2), keyed by a socket fd.
    case socket
    /// BPF_MAP_TYPE_INODE_STORAGE (Linux 5.10), keyed by a file fd; programs need BPF LSM.
    case inode

    var mapType: MapType {
        switch self {
        case .task: .taskStorage
        case .cgroup: .cgrpStorage
        case .socket: .skStorage
        case .inode: .inodeStorage
        }
    }
}

/// A typed view of a local-storage map: one `Value` per kernel object (task, cgroup, socket,
/// inode), freed with the object. User space reaches an object's value through an fd for it.
///
/// The kernel insists that these maps carry BTF for key and value
/// (`bpf_local_storage_map_alloc_check`), that `max_entries` is 0 and BPF_F_NO_PREALLOC is set;
/// `init(kind:name:)` provides all three.
public struct LocalStorageMap<Value: BitwiseCopyable>: @unchecked Sendable {
    public let map: Map
    public let kind: LocalStorageKind

    public init(_ map: Map, kind: LocalStorageKind) throws {
        try map.requireType([kind.mapType], for: "LocalStorageMap(\(kind))")
        try map.requireKey(Int32.self)
        try map.requireValue(Value.self)
        self.map = map
        self.kind = kind
    }

    public init(kind: LocalStorageKind, name: String) throws {
        let valueSize = MemoryLayout<Value>.size
        guard valueSize > 0 else { throw BPFError.invalidArgument("local storage values cannot be empty") }
        let btf = try LocalStorageBTF.load(valueSize: valueSize)
        let spec = MapSpec(name: name, type: kind.mapType, keySize: 4, valueSize: UInt32(valueSize), maxEntries: 0,
                           flags: MapFlags.noPrealloc.rawValue)
        try self.init(Map(spec, options: MapCreateOptions(btf: btf)), kind: kind)
    }

    /// The value attached to the object behind `objectFD`, or nil if it has none.
    public func lookup(_ objectFD: OwnedFileDescriptor) throws -> Value? {
        try map.lookup(map.keyBytes(objectFD.value())).map { PlainData.load(Value.self, from: $0) }
    }

    /// Attaches `value` to the object behind `objectFD`.
    public func update(_ objectFD: OwnedFileDescriptor, _ value: Value, flags: MapUpdateFlags = .any) throws {
        do {
            try map.update(map.keyBytes(objectFD.value()), map.valueBytes(value), flags: flags)
        } catch let error as BPFError where error.errno == .EBADF || error.errno == Errno(88) /* ENOTSOCK */ {
            throw BPFError.syscall(SystemCallFailure(operation: BPFCommand.mapUpdateElem.description, errno: error.errno ?? .EBADF, subject: map.label,
                meaning: "\(objectFD.label) is not the kind of object a \(kind.mapType.name) map keys on (\(kind))"))
        }
    }

    @discardableResult
    public func delete(_ objectFD: OwnedFileDescriptor) throws -> Bool {
        try map.delete(map.keyBytes(objectFD.value()))
    }
}

/// Process descriptors (pidfd_open(2), Linux 5.3), the keys of task-storage maps.
public enum ProcessDescriptor {
    /// A pidfd for process `pid` (the calling process by default).
    public static func open(pid: Int32 = getpid()) throws -> OwnedFileDescriptor {
        let fd = sbpf_pidfd_open(pid, 0)
        guard fd >= 0 else {
            let errno = Errno.current
            throw BPFError.syscall(SystemCallFailure(operation: "pidfd_open", errno: errno, subject: "process \(pid)",
                meaning: errno == .ENOSYS ? "this kernel has no pidfd_open (Linux 5.3+)" : nil))
        }
        return OwnedFileDescriptor(adopting: fd, label: "pidfd of process \(pid)")
    }
}

/// The fixed BTF a local-storage map needs: `int` for the key and `unsigned char[N]` for the
/// value. Encoded by hand (header, three types, string table) as described in
/// Documentation/bpf/btf.rst; the full BTF encoder lives with the BTF code.
enum LocalStorageBTF {
    static let intTypeID: UInt32 = 1
    static let valueTypeID: UInt32 = 3

    static func encode(valueSize: Int) -> [UInt8] {
        var types: [UInt8] = []
        func u32(_ value: UInt32) { types += PlainData.bytes(of: value, count: 4) }
        let kindInt: UInt32 = 1, kindArray: UInt32 = 3
        // [1] INT 'int' size 4, signed (BTF_INT_SIGNED = 1 << 0 in the encoding byte), 32 bits
        u32(1); u32(kindInt << 24); u32(4); u32(1 << 24 | 32)
        // [2] INT 'unsigned char' size 1, 8 bits
        u32(5); u32(kindInt << 24); u32(1); u32(8)
        // [3] ARRAY of [2] indexed by [1], valueSize elements
        u32(0); u32(kindArray << 24); u32(0); u32(2); u32(1); u32(UInt32(valueSize))
        let strings = Array("\0int\0unsigned char\0".utf8)
        var blob: [UInt8] = []
        blob += PlainData.bytes(of: UInt16(0xeB9F), count: 2) // magic
        blob += [1, 0] // version 1, flags 0
        blob += PlainData.bytes(of: UInt32(24), count: 4) // hdr_len
        blob += PlainData.bytes(of: UInt32(0), count: 4) // type_off
        blob += PlainData.bytes(of: UInt32(types.count), count: 4) // type_len
        blob += PlainData.bytes(of: UInt32(types.count), count: 4) // str_off
        blob += PlainData.bytes(of: UInt32(strings.count), count: 4) // str_len
        return blob + types + strings
    }

    static func load(valueSize: Int) throws -> MapBTFTypes {
        let blob = encode(valueSize: valueSize)
        let fd: OwnedFileDescriptor = try blob.withUnsafeBytes { buffer in
            var attr = sbpf_btf_load_attr()
            attr.btf = kernelPointer(buffer.baseAddress)
            attr.btf_size = UInt32(buffer.count)
            return try BPFSyscall.callReturningFD(.btfLoad, &attr, label: "local storage BTF")
        }
        return MapBTFTypes(fd: fd, keyTypeID: intTypeID, valueTypeID: valueTypeID)
    }
}
