import BPFObject
import CBPFSys
import Foundation

/// `BPF_F_LOCK` for lookups: copy the value while holding its `bpf_spin_lock` (the value's BTF
/// must contain one).
public struct MapLookupFlags: OptionSet, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let lock = MapLookupFlags(rawValue: 4)
}

extension Map {
    /// The value stored under `key` read with lookup flags (`.lock`), or nil if there is none.
    public func lookup(_ key: [UInt8], flags: MapLookupFlags) throws -> [UInt8]? {
        try lookup(key, flags: flags.rawValue)
    }

    /// Removes `key` and returns its value in one step (BPF_MAP_LOOKUP_AND_DELETE_ELEM), or nil
    /// if there was none. For queues and stacks this is "pop" and `key` is empty.
    ///
    /// Hash maps support this since Linux 5.14, queues and stacks since 4.20; arrays never (their
    /// elements cannot be deleted).
    public func lookupAndDelete(_ key: [UInt8] = [], flags: MapLookupFlags = []) throws -> [UInt8]? {
        if keySize > 0 { try checkKey(key) }
        var value = [UInt8](repeating: 0, count: valueBufferSize)
        let result = key.withUnsafeBytes { keyBuffer in
            value.withUnsafeMutableBytes { valueBuffer in
                elementCall(.mapLookupAndDeleteElem, key: keyBuffer, value: valueBuffer.baseAddress, flags: flags.rawValue)
            }
        }
        switch result {
        case .success: return value
        case .failure(.ENOENT): return nil
        case .failure(let errno):
            throw failure(.mapLookupAndDeleteElem, errno) { errno in
                switch errno {
                case .ENOTSUPP, .EOPNOTSUPP: "\(self.type.name) maps do not support lookup-and-delete on this kernel (hash maps need Linux 5.14)"
                case .EINVAL where self.type == .array || self.type == .percpuArray: "array elements cannot be deleted, so arrays have no lookup-and-delete"
                case .EPERM: self.writeDeniedReason
                default: nil
                }
            }
        }
    }

    /// Makes the map read-only for user space (BPF_MAP_FREEZE); programs may still write it
    /// unless it was created with `readOnlyProgram`. Later updates fail with `EPERM`.
    /// Needs Linux 5.2. Fails with `EBUSY` while a writable mmap of the map exists.
    public func freeze() throws {
        var attr = sbpf_map_elem_attr()
        // BPF_MAP_FREEZE's last field is map_fd, so the kernel (CHECK_ATTR) wants every byte after
        // it zero, including the padding before `key` that an optimised build may leave unset.
        _ = withUnsafeMutableBytes(of: &attr) { $0.initializeMemory(as: UInt8.self, repeating: 0) }
        attr.map_fd = UInt32(bitPattern: try fd.value())
        switch BPFSyscall.invoke(.mapFreeze, &attr) {
        case .success: isFrozen = true
        case .failure(let errno):
            throw failure(.mapFreeze, errno) { errno in
                switch errno {
                case .EBUSY: "\(self.label) is already frozen, or a writable memory mapping of it is still open"
                // The kernel checks write permission first, which a frozen map no longer grants.
                case .EPERM where self.isFrozenInKernel: "\(self.label) is already frozen"
                case .EPERM where self.flags.contains(.readOnly): "\(self.label) is read-only for user space (BPF_F_RDONLY), so it cannot be frozen"
                case .ENOTSUPP, .EOPNOTSUPP, .EINVAL: "\(self.type.name) maps cannot be frozen on this kernel (Linux 5.2+; not for struct_ops and some others)"
                default: nil
                }
            }
        }
    }

    // MARK: Per-CPU values

    /// Bytes of one CPU's slot in a per-CPU value buffer: the value size rounded up to 8, as the
    /// kernel copies per-CPU values (`round_up(value_size, 8)` in bpf_percpu_*_copy).
    public var perCPUSlotSize: Int { (valueSize + 7) & ~7 }

    /// Splits a per-CPU value buffer into one `valueSize` value per possible CPU.
    public func perCPUValues(from buffer: [UInt8]) throws -> [[UInt8]] {
        guard type.isPerCPU else { throw BPFError.invalidArgument("\(label) is a \(type.name) map, not a per-CPU map") }
        try checkValue(buffer)
        return (0..<PossibleCPUs.count).map { cpu in
            Array(buffer[(cpu * perCPUSlotSize)..<(cpu * perCPUSlotSize + valueSize)])
        }
    }

    /// Joins one `valueSize` value per possible CPU into the buffer the kernel expects.
    public func perCPUBuffer(from values: [[UInt8]]) throws -> [UInt8] {
        guard type.isPerCPU else { throw BPFError.invalidArgument("\(label) is a \(type.name) map, not a per-CPU map") }
        guard values.count == PossibleCPUs.count else {
            throw BPFError.invalidArgument("\(label) needs one value per possible CPU (\(PossibleCPUs.count)), got \(values.count)")
        }
        var buffer = [UInt8](repeating: 0, count: valueBufferSize)
        for (cpu, value) in values.enumerated() {
            guard value.count == valueSize else {
                throw BPFError.invalidArgument("\(label) has \(valueSize)-byte values, got \(value.count) bytes for CPU \(cpu)")
            }
            buffer.replaceSubrange((cpu * perCPUSlotSize)..<(cpu * perCPUSlotSize + valueSize), with: value)
        }
        return buffer
    }

    /// Each possible CPU's value under `key`, or nil if there is none.
    public func lookupPerCPU(_ key: [UInt8]) throws -> [[UInt8]]? {
        guard type.isPerCPU else { throw BPFError.invalidArgument("\(label) is a \(type.name) map, not a per-CPU map") }
        return try lookup(key).map { try perCPUValues(from: $0) }
    }

    /// Stores one value per possible CPU under `key`.
    public func updatePerCPU(_ key: [UInt8], _ values: [[UInt8]], flags: MapUpdateFlags = .any) throws {
        try update(key, try perCPUBuffer(from: values), flags: flags)
    }
}

extension Map {
    /// Whether the kernel holds this map frozen, by whatever descriptor froze it: the `frozen:`
    /// line of /proc/self/fdinfo (Linux 5.2).
    public var isFrozenInKernel: Bool {
        guard let info = try? FileDescriptorInfo(fd: fd), info.fields["frozen"] != nil else { return isFrozen }
        return info.isFrozen
    }

    /// Whether this descriptor only grants reading (opened with BPF_F_RDONLY, e.g. from a pin):
    /// its file access mode (`flags:` in fdinfo) is O_RDONLY.
    public var isDescriptorReadOnly: Bool {
        guard let flags = (try? FileDescriptorInfo(fd: fd))?.fileFlags else { return false }
        return flags & 3 == 0 // O_ACCMODE == O_RDONLY
    }

    /// Why a write was refused with EPERM, when the map or descriptor explains it.
    var writeDeniedReason: String? {
        if isFrozenInKernel { return "\(label) is frozen: user space can no longer change it (BPF_MAP_FREEZE)" }
        if flags.contains(.readOnly) { return "\(label) was created read-only for user space (BPF_F_RDONLY)" }
        if isDescriptorReadOnly { return "this descriptor of \(label) was opened read-only" }
        return nil
    }
}
