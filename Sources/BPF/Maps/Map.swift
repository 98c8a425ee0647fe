import BPFObject
import CBPFSys
import Synchronization

/// A BPF map in the kernel, owning its file descriptor.
///
/// Keys and values are raw bytes here; the typed views in this folder sit on top. Sizes are
/// checked before any system call, so a wrong size is an `invalidArgument`, not an `EINVAL`.
public final class Map: @unchecked Sendable {
    public let fd: OwnedFileDescriptor
    public let name: String
    public let type: MapType
    public let keySize: Int
    /// The size of one value as the program sees it (one CPU's slot for per-CPU maps).
    public let valueSize: Int
    public let maxEntries: Int
    public let flags: MapFlags

    /// Creates a new map from `spec`.
    public convenience init(_ spec: MapSpec) throws {
        try self.init(spec, options: MapCreateOptions())
    }

    /// Creates a new map from `spec` with creation details that are not part of the spec
    /// (BTF type ids, which local-storage maps require).
    public convenience init(_ spec: MapSpec, options: MapCreateOptions) throws {
        var attr = sbpf_map_create_attr()
        attr.map_type = spec.type.rawValue
        attr.key_size = spec.keySize
        attr.value_size = spec.valueSize
        attr.max_entries = spec.maxEntries
        attr.map_flags = spec.flags
        attr.map_extra = spec.mapExtra
        if let node = spec.numaNode {
            attr.numa_node = node
            attr.map_flags |= MapFlags.numaNode.rawValue
        }
        setObjectName(spec.name, into: &attr.map_name)
        if let btf = options.btf {
            attr.btf_fd = UInt32(bitPattern: try btf.fd.value())
            attr.btf_key_type_id = btf.keyTypeID
            attr.btf_value_type_id = btf.valueTypeID
        }
        var innerMap: Map?
        if let innerSpec = spec.innerMapSpec {
            innerMap = try Map(innerSpec)
            attr.inner_map_fd = UInt32(try innerMap!.fd.value())
        }
        let label = spec.name.isEmpty ? "\(spec.type.name) map" : "map '\(spec.name)'"
        let fd = try BPFSyscall.callReturningFD(.mapCreate, &attr, label: label) { errno in
            switch errno {
            case .EINVAL: "the kernel refused this map definition (type \(spec.type.name), key \(spec.keySize) B, value \(spec.valueSize) B, \(spec.maxEntries) entries, flags 0x\(String(spec.flags, radix: 16))): unsupported type or flag, or sizes this type does not allow"
            case .EPERM: BPFPrivileges.mapCreationDeniedMeaning
            default: nil
            }
        }
        withExtendedLifetime((innerMap, options.btf)) {}
        self.init(fd: fd, name: spec.name, type: spec.type, keySize: Int(spec.keySize),
                  valueSize: Int(spec.valueSize), maxEntries: Int(spec.maxEntries), flags: MapFlags(rawValue: attr.map_flags))
    }

    /// Wraps an existing map descriptor whose attributes are already known.
    public init(fd: OwnedFileDescriptor, name: String, type: MapType, keySize: Int, valueSize: Int, maxEntries: Int, flags: MapFlags) {
        self.fd = fd
        self.name = name
        self.type = type
        self.keySize = keySize
        self.valueSize = valueSize
        self.maxEntries = maxEntries
        self.flags = flags
    }

    var label: String { fd.label }

    /// Bytes of one complete value buffer as the syscalls exchange it: for per-CPU maps one
    /// 8-byte-aligned slot per possible CPU.
    public var valueBufferSize: Int {
        type.isPerCPU ? ((valueSize + 7) & ~7) * PossibleCPUs.count : valueSize
    }

    func checkKey(_ key: [UInt8]) throws {
        guard key.count == keySize else {
            throw BPFError.invalidArgument("\(label) has \(keySize)-byte keys, got \(key.count) bytes")
        }
    }

    func checkValue(_ value: [UInt8]) throws {
        guard value.count == valueBufferSize else {
            let perCPU = type.isPerCPU ? " (\(PossibleCPUs.count) CPUs × \((valueSize + 7) & ~7) bytes)" : ""
            throw BPFError.invalidArgument("\(label) has \(valueBufferSize)-byte values\(perCPU), got \(value.count) bytes")
        }
    }

    /// One element command (lookup, update, delete, next key, ...) on this map: `key` is passed
    /// as a null pointer for keyless maps (queue, stack, bloom filter), which the kernel requires.
    func elementCall(_ command: BPFCommand, key: UnsafeRawBufferPointer?, value: UnsafeRawPointer?, flags: UInt64 = 0) -> Result<Int32, Errno> {
        var attr = sbpf_map_elem_attr()
        attr.map_fd = UInt32(bitPattern: fd.rawValue)
        attr.key = keySize > 0 ? kernelPointer(key?.baseAddress) : 0
        attr.value = kernelPointer(value)
        attr.flags = flags
        return BPFSyscall.invoke(command, &attr)
    }

    /// The value stored under `key`, or nil if there is none.
    public func lookup(_ key: [UInt8], flags: UInt64 = 0) throws -> [UInt8]? {
        if keySize > 0 { try checkKey(key) }
        var value = [UInt8](repeating: 0, count: valueBufferSize)
        let result = key.withUnsafeBytes { keyBuffer in
            value.withUnsafeMutableBytes { valueBuffer in
                elementCall(.mapLookupElem, key: keyBuffer, value: valueBuffer.baseAddress, flags: flags)
            }
        }
        switch result {
        case .success: return value
        case .failure(.ENOENT): return nil
        case .failure(let errno): throw failure(.mapLookupElem, errno)
        }
    }

    /// Stores `value` under `key`.
    public func update(_ key: [UInt8], _ value: [UInt8], flags: MapUpdateFlags = .any) throws {
        if keySize > 0 { try checkKey(key) }
        try checkValue(value)
        let result = key.withUnsafeBytes { keyBuffer in
            value.withUnsafeBytes { valueBuffer in
                elementCall(.mapUpdateElem, key: keyBuffer, value: valueBuffer.baseAddress, flags: flags.rawValue)
            }
        }
        if case .failure(let errno) = result {
            throw failure(.mapUpdateElem, errno) { errno in
                switch errno {
                case .E2BIG: "\(self.label) is full: all \(self.maxEntries) entries are used"
                case .EEXIST: "the key already exists and the update asked for a new element only (noExist)"
                case .ENOENT: "the key does not exist and the update asked for an existing element only (exist)"
                case .EPERM: self.writeDeniedReason
                default: nil
                }
            }
        }
    }

    /// Removes `key`; returns false if it was not there.
    @discardableResult
    public func delete(_ key: [UInt8]) throws -> Bool {
        if keySize > 0 { try checkKey(key) }
        let result = key.withUnsafeBytes { keyBuffer in
            elementCall(.mapDeleteElem, key: keyBuffer, value: nil)
        }
        switch result {
        case .success: return true
        case .failure(.ENOENT): return false
        case .failure(let errno): throw failure(.mapDeleteElem, errno)
        }
    }

    /// The key after `key` in the map's order, the first key when `key` is nil, or nil at the end.
    public func nextKey(after key: [UInt8]?) throws -> [UInt8]? {
        if let key { try checkKey(key) }
        var next = [UInt8](repeating: 0, count: keySize)
        let result = next.withUnsafeMutableBytes { nextBuffer in
            guard let key else { return elementCall(.mapGetNextKey, key: nil, value: nextBuffer.baseAddress) }
            return key.withUnsafeBytes { keyBuffer in
                elementCall(.mapGetNextKey, key: keyBuffer, value: nextBuffer.baseAddress)
            }
        }
        switch result {
        case .success: return next
        case .failure(.ENOENT): return nil
        case .failure(let errno): throw failure(.mapGetNextKey, errno)
        }
    }

    /// Whether this map type answered the batch commands: 0 not tried yet, 1 yes, 2 no
    /// (atomic: maps are shared between threads).
    let batchLookupSupport = Atomic<UInt8>(0)

    /// Whether `freeze()` was called through this object.
    public internal(set) var isFrozen = false

    /// Closes the map's descriptor now (the map lives on while programs or pins hold it).
    public func close() throws { try fd.close() }

    func failure(_ command: BPFCommand, _ errno: Errno, meaning: ((Errno) -> String?)? = nil) -> BPFError {
        if errno == .EBADF, !fd.isOpen { return .closed(label) }
        return .syscall(SystemCallFailure(operation: command.description, errno: errno, subject: label, meaning: meaning?(errno)))
    }
}

/// Map creation details beyond `MapSpec`.
public struct MapCreateOptions: @unchecked Sendable {
    /// BTF describing the key and value (`btf_fd`, `btf_key_type_id`, `btf_value_type_id`).
    public var btf: MapBTFTypes?
    public init(btf: MapBTFTypes? = nil) { self.btf = btf }
}

/// A loaded BTF object and the ids of a map's key and value types in it.
public struct MapBTFTypes: @unchecked Sendable {
    public var fd: OwnedFileDescriptor
    public var keyTypeID: UInt32
    public var valueTypeID: UInt32
    public init(fd: OwnedFileDescriptor, keyTypeID: UInt32, valueTypeID: UInt32) {
        self.fd = fd
        self.keyTypeID = keyTypeID
        self.valueTypeID = valueTypeID
    }
}

/// `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`, `BPF_F_LOCK` for map updates.
public struct MapUpdateFlags: OptionSet, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// Create or replace.
    public static let any = MapUpdateFlags([])
    /// Create only; fail if the key exists.
    public static let noExist = MapUpdateFlags(rawValue: 1)
    /// Replace only; fail if the key is absent.
    public static let exist = MapUpdateFlags(rawValue: 2)
    /// Take the value's bpf_spin_lock while updating.
    public static let lock = MapUpdateFlags(rawValue: 4)
}
