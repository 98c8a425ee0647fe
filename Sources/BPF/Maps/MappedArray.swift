import BPFObject
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An array map's values mapped into this process's memory (an array created with
/// BPF_F_MMAPABLE, Linux 5.5): reads and writes go straight to the kernel's copy, with no
/// system call, while programs update it too. Unmapped when released (or by `unmap()`).
///
/// Elements sit `round_up(value_size, 8)` bytes apart from the start of the mapping, as the
/// kernel lays out `bpf_array.value`. A frozen or user-read-only map can only be mapped
/// read-only; writes then fail with an error rather than a SIGSEGV.
public final class MappedArray<Value: BitwiseCopyable>: @unchecked Sendable {
    public let map: Map
    /// Number of elements (`maxEntries`).
    public let count: Int
    public let isWritable: Bool
    private var base: UnsafeMutableRawPointer?
    private let length: Int
    private let elementStride: Int

    init(map: Map, writable requested: Bool?) throws {
        guard map.type == .array, map.flags.contains(.mmapable) else {
            throw BPFError.invalidArgument("only array maps created with BPF_F_MMAPABLE (MapFlags.mmapable) can be memory-mapped; \(map.label) is a \(map.type.name) map with flags 0x\(String(map.flags.rawValue, radix: 16))")
        }
        try PlainData.check(Value.self, matches: map.valueSize, role: "value", in: map.label)
        let descriptor = try map.fd.value()
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let stride = (map.valueSize + 7) & ~7
        let bytes = ((stride * map.maxEntries + page - 1) / page) * page
        let readOnlyMap = map.flags.contains(.readOnly) || map.isFrozenInKernel
        if requested == true && readOnlyMap {
            throw BPFError.invalidArgument("\(map.label) is frozen or read-only for user space, so it can only be mapped read-only")
        }
        var writable = requested ?? !readOnlyMap
        var address = mmap(nil, bytes, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, descriptor, 0)
        if address == MAP_FAILED, writable, requested == nil, Errno.current == .EPERM || Errno.current == .EACCES {
            // Frozen meanwhile through another descriptor: the kernel refuses VM_WRITE;
            // read-only works.
            writable = false
            address = mmap(nil, bytes, PROT_READ, MAP_SHARED, descriptor, 0)
        }
        guard let address, address != MAP_FAILED else {
            let errno = Errno.current
            throw BPFError.syscall(SystemCallFailure(operation: "mmap", errno: errno, subject: map.label, meaning: errno == .EPERM || errno == .EACCES
                ? "\(map.label) is frozen or read-only, so it cannot be mapped writable" : nil))
        }
        self.map = map
        self.count = map.maxEntries
        self.isWritable = writable
        self.base = address
        self.length = bytes
        self.elementStride = stride
    }

    deinit {
        if let base { munmap(base, length) }
    }

    /// Unmaps now; later accesses throw `BPFError.closed`.
    public func unmap() throws {
        guard let base else { throw BPFError.closed("memory mapping of \(map.label)") }
        munmap(base, length)
        self.base = nil
    }

    private func address(of index: Int) throws -> UnsafeMutableRawPointer {
        guard let base else { throw BPFError.closed("memory mapping of \(map.label)") }
        guard index >= 0, index < count else {
            throw BPFError.invalidArgument("index \(index) is outside the mapped \(map.label) (0..<\(count))")
        }
        return base + index * elementStride
    }

    /// The current value at `index`.
    public func value(at index: Int) throws -> Value {
        try address(of: index).loadUnaligned(as: Value.self)
    }

    /// Stores `value` at `index`; throws on a read-only mapping.
    public func set(_ value: Value, at index: Int) throws {
        guard isWritable else { throw BPFError.invalidArgument("the mapping of \(map.label) is read-only (frozen or read-only map)") }
        try address(of: index).storeBytes(of: value, as: Value.self)
    }

    /// Element access for code that has already checked its indices; out-of-range indices,
    /// writes to a read-only mapping and use after `unmap()` trap.
    public subscript(index: Int) -> Value {
        get {
            do { return try value(at: index) } catch { preconditionFailure("\(error)") }
        }
        set {
            do { try set(newValue, at: index) } catch { preconditionFailure("\(error)") }
        }
    }

    /// The whole mapping as raw bytes (elements `round_up(valueSize, 8)` apart).
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        guard let base else { throw BPFError.closed("memory mapping of \(map.label)") }
        return try body(UnsafeRawBufferPointer(start: base, count: elementStride * count))
    }
}

extension Map {
    /// Maps this BPF_F_MMAPABLE array into memory. `writable` nil maps read-write unless the map
    /// is frozen or read-only.
    public func memoryMap<Value: BitwiseCopyable>(as type: Value.Type, writable: Bool? = nil) throws -> MappedArray<Value> {
        try MappedArray(map: self, writable: writable)
    }
}

extension ArrayMap {
    /// Maps this array into memory (it must have been created with `.mmapable`).
    public func memoryMap(writable: Bool? = nil) throws -> MappedArray<Value> {
        try MappedArray(map: map, writable: writable)
    }
}
