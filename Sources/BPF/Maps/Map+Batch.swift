import BPFObject
import CBPFSys

/// One key and its value, as raw bytes.
public struct MapEntry: Hashable, Sendable {
    public var key: [UInt8]
    public var value: [UInt8]
    public init(key: [UInt8], value: [UInt8]) {
        self.key = key
        self.value = value
    }
}

/// Where a batch walk of a map stands: the kernel's opaque position token (`out_batch` of the
/// previous call, fed back as `in_batch`) and whether the end was reached.
///
/// Hash maps use a 4-byte bucket index, other maps the last key, so the token holds
/// `max(keySize, 4)` bytes.
public struct MapBatchCursor: Sendable {
    var token: [UInt8]?
    public internal(set) var isDone = false
    public init() {}
}

extension Map {
    /// Whether the kernel implements the batch commands for this map type: set after the first
    /// batch call answers `ENOTSUPP` (no `map_*_batch` operation for the type).
    var supportsBatchLookup: Bool {
        get { batchLookupSupport.load(ordering: .relaxed) != 2 }
        set { batchLookupSupport.store(newValue ? 1 : 2, ordering: .relaxed) }
    }

    /// Reads (and with `delete`, removes) up to `maxCount` entries after `cursor`
    /// (BPF_MAP_LOOKUP_BATCH / BPF_MAP_LOOKUP_AND_DELETE_BATCH).
    ///
    /// The kernel answers `ENOENT` together with the last entries when the walk reaches the end;
    /// that sets `cursor.isDone`. A hash bucket holding more entries than `maxCount` makes it
    /// answer `ENOSPC` (or `E2BIG` on some paths); the buffer is then grown and the same position
    /// read again, so `maxCount` is a starting size, not a limit that can fail.
    public func lookupBatch(_ cursor: inout MapBatchCursor, maxCount: Int = 256, delete: Bool = false, flags: MapLookupFlags = []) throws -> [MapEntry] {
        guard maxCount > 0 else { throw BPFError.invalidArgument("batch size must be positive, got \(maxCount)") }
        if cursor.isDone { return [] }
        let command: BPFCommand = delete ? .mapLookupAndDeleteBatch : .mapLookupBatch
        let tokenSize = max(keySize, 4)
        var capacity = maxCount
        while true {
            var keys = [UInt8](repeating: 0, count: capacity * keySize)
            var values = [UInt8](repeating: 0, count: capacity * valueBufferSize)
            var outToken = [UInt8](repeating: 0, count: tokenSize)
            var attr = sbpf_map_batch_attr()
            let inToken = cursor.token ?? []
            let result: Result<Int32, Errno> = keys.withUnsafeMutableBytes { keyBuffer in
                values.withUnsafeMutableBytes { valueBuffer in
                    outToken.withUnsafeMutableBytes { outBuffer in
                        inToken.withUnsafeBytes { inBuffer in
                            attr.in_batch = cursor.token == nil ? 0 : kernelPointer(inBuffer.baseAddress)
                            attr.out_batch = kernelPointer(outBuffer.baseAddress)
                            attr.keys = kernelPointer(keyBuffer.baseAddress)
                            attr.values = kernelPointer(valueBuffer.baseAddress)
                            attr.count = UInt32(capacity)
                            attr.map_fd = UInt32(bitPattern: fd.rawValue)
                            attr.elem_flags = flags.rawValue
                            return BPFSyscall.invoke(command, &attr)
                        }
                    }
                }
            }
            switch result {
            case .success, .failure(.ENOENT):
                if case .failure = result { cursor.isDone = true }
                let count = min(Int(attr.count), capacity)
                cursor.token = outToken
                return (0..<count).map { index in
                    MapEntry(key: Array(keys[(index * keySize)..<((index + 1) * keySize)]),
                             value: Array(values[(index * valueBufferSize)..<((index + 1) * valueBufferSize)]))
                }
            case .failure(let errno) where (errno == .ENOSPC || errno == .E2BIG) && capacity < max(maxEntries, 1) * 2 + 1024:
                capacity *= 2
            case .failure(let errno):
                if errno == .ENOTSUPP || errno == .EOPNOTSUPP { supportsBatchLookup = false }
                throw failure(command, errno) { errno in
                    switch errno {
                    case .ENOTSUPP, .EOPNOTSUPP: "\(self.type.name) maps have no \(command) on this kernel (hash maps since 5.6, arrays since 5.6 for lookup)"
                    case .EINVAL where delete && (self.type == .array || self.type == .percpuArray): "array elements cannot be deleted"
                    default: nil
                    }
                }
            }
        }
    }

    /// Stores many entries in one call (BPF_MAP_UPDATE_BATCH); returns how many were stored.
    /// On failure the error says how many went in before it.
    @discardableResult
    public func updateBatch(keys: [[UInt8]], values: [[UInt8]], flags: MapUpdateFlags = .any) throws -> Int {
        guard keys.count == values.count else {
            throw BPFError.invalidArgument("updateBatch needs as many values as keys (\(keys.count) keys, \(values.count) values)")
        }
        if keys.isEmpty { return 0 }
        for key in keys { try checkKey(key) }
        for value in values { try checkValue(value) }
        return try updateBatch(flatKeys: keys.flatMap { $0 }, flatValues: values.flatMap { $0 }, count: keys.count, flags: flags)
    }

    /// BPF_MAP_UPDATE_BATCH over keys and values already laid out back to back (`count` of
    /// each; sizes checked by the caller).
    func updateBatch(flatKeys: [UInt8], flatValues: [UInt8], count: Int, flags: MapUpdateFlags) throws -> Int {
        var attr = sbpf_map_batch_attr()
        let result: Result<Int32, Errno> = flatKeys.withUnsafeBytes { keyBuffer in
            flatValues.withUnsafeBytes { valueBuffer in
                attr.keys = kernelPointer(keyBuffer.baseAddress)
                attr.values = kernelPointer(valueBuffer.baseAddress)
                attr.count = UInt32(count)
                attr.map_fd = UInt32(bitPattern: fd.rawValue)
                attr.elem_flags = flags.rawValue
                return BPFSyscall.invoke(.mapUpdateBatch, &attr)
            }
        }
        if case .failure(let errno) = result {
            let done = Int(attr.count)
            throw failure(.mapUpdateBatch, errno) { errno in
                let prefix = "\(done) of \(count) entries were stored before the failure: "
                switch errno {
                case .E2BIG, .ENOSPC: return prefix + "\(self.label) is full (all \(self.maxEntries) entries used)"
                case .EPERM where self.writeDeniedReason != nil: return prefix + self.writeDeniedReason!
                case .ENOTSUPP, .EOPNOTSUPP: return "\(self.type.name) maps have no BPF_MAP_UPDATE_BATCH on this kernel"
                default: return prefix + SystemCallFailure.meaning(of: errno, in: BPFCommand.mapUpdateBatch.description)
                }
            }
        }
        return Int(attr.count)
    }

    /// Removes many keys in one call (BPF_MAP_DELETE_BATCH); returns how many were removed.
    /// A missing key stops the batch with `ENOENT` (the error says how many went before it).
    @discardableResult
    public func deleteBatch(keys: [[UInt8]]) throws -> Int {
        if keys.isEmpty { return 0 }
        for key in keys { try checkKey(key) }
        let flatKeys = keys.flatMap { $0 }
        var attr = sbpf_map_batch_attr()
        let result: Result<Int32, Errno> = flatKeys.withUnsafeBytes { keyBuffer in
            attr.keys = kernelPointer(keyBuffer.baseAddress)
            attr.count = UInt32(keys.count)
            attr.map_fd = UInt32(bitPattern: fd.rawValue)
            return BPFSyscall.invoke(.mapDeleteBatch, &attr)
        }
        if case .failure(let errno) = result {
            let done = Int(attr.count)
            throw failure(.mapDeleteBatch, errno) { errno in
                switch errno {
                case .ENOENT: "key number \(done) of \(keys.count) is not in the map (\(done) were deleted before it)"
                case .ENOTSUPP, .EOPNOTSUPP: "\(self.type.name) maps do not support BPF_MAP_DELETE_BATCH on this kernel"
                case .EINVAL where self.type == .array || self.type == .percpuArray:
                    "array elements cannot be deleted (BPF_MAP_DELETE_BATCH on an array)"
                default: nil
                }
            }
        }
        return Int(attr.count)
    }
}
