import BPFObject

/// Checks shared by the typed map views: the map's type is one the view understands, and the
/// Swift key and value types have the map's sizes.
extension Map {
    func requireType(_ allowed: Set<MapType>, for view: String) throws {
        guard allowed.contains(type) else {
            let names = allowed.map(\.name).sorted().joined(separator: ", ")
            throw BPFError.invalidArgument("\(view) needs a map of type \(names), but \(label) is a \(type.name) map")
        }
    }

    func requireKey<Key: BitwiseCopyable>(_ key: Key.Type) throws {
        try PlainData.check(key, matches: keySize, role: "key", in: label)
    }

    func requireValue<Value: BitwiseCopyable>(_ value: Value.Type) throws {
        try PlainData.check(value, matches: valueSize, role: "value", in: label)
    }

    func keyBytes<Key: BitwiseCopyable>(_ key: Key) -> [UInt8] { PlainData.bytes(of: key, count: keySize) }

    func valueBytes<Value: BitwiseCopyable>(_ value: Value) -> [UInt8] { PlainData.bytes(of: value, count: valueSize) }

    /// One buffer holding `values` (one per possible CPU) in 8-byte-aligned slots.
    func perCPUValueBytes<Value: BitwiseCopyable>(_ values: [Value]) throws -> [UInt8] {
        guard values.count == PossibleCPUs.count else {
            throw BPFError.invalidArgument("\(label) needs one value per possible CPU (\(PossibleCPUs.count)), got \(values.count)")
        }
        var buffer = [UInt8](repeating: 0, count: valueBufferSize)
        for (cpu, value) in values.enumerated() { PlainData.store(value, into: &buffer, at: cpu * perCPUSlotSize) }
        return buffer
    }

    func perCPUValues<Value: BitwiseCopyable>(_ type: Value.Type, from buffer: [UInt8]) -> [Value] {
        (0..<PossibleCPUs.count).map { cpu in PlainData.load(type, from: buffer, at: cpu * perCPUSlotSize) }
    }

    /// The spec for a new map whose key and value are the given Swift types.
    static func spec<Key, Value>(name: String, type: MapType, key: Key.Type, value: Value.Type, maxEntries: Int, flags: MapFlags, mapExtra: UInt64 = 0) throws -> MapSpec {
        guard let entries = UInt32(exactly: maxEntries) else {
            throw BPFError.invalidArgument("maxEntries must be between 0 and \(UInt32.max), got \(maxEntries)")
        }
        return MapSpec(name: name, type: type, keySize: UInt32(MemoryLayout<Key>.size), valueSize: UInt32(MemoryLayout<Value>.size),
                       maxEntries: entries, flags: flags.rawValue, mapExtra: mapExtra)
    }
}

/// A stand-in key type for maps without keys (queue, stack, bloom filter): zero bytes.
public struct NoKey: BitwiseCopyable, Sendable {}
