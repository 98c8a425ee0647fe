import BPF
import BPFObject
import Foundation

/// A map of a `BPFModule`, found by name (BCC's `b["name"]`), read and written with plain
/// Swift values whose sizes match the map's key and value (`UInt32`, `UInt64`, a C-layout
/// struct, a tuple of them).
public struct BPFTable: @unchecked Sendable {
    public let map: Map
    public var name: String { map.name }

    public init(_ map: Map) { self.map = map }

    func check<T>(_ type: T.Type, size: Int, role: String) throws {
        guard MemoryLayout<T>.size == size else {
            throw BPFError.invalidArgument("map '\(map.name)' has \(size)-byte \(role)s, but \(T.self) is \(MemoryLayout<T>.size) bytes")
        }
    }

    func bytes<T: BitwiseCopyable>(_ value: T, size: Int, role: String) throws -> [UInt8] {
        try check(T.self, size: size, role: role)
        return withUnsafeBytes(of: value) { Array($0) }
    }

    func decode<T: BitwiseCopyable>(_ bytes: [UInt8], as type: T.Type) -> T {
        bytes.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
    }

    /// The value at `key`, or nil if the key is absent.
    public func get<Key: BitwiseCopyable, Value: BitwiseCopyable>(_ key: Key, as type: Value.Type = Value.self) throws -> Value? {
        try check(Value.self, size: map.valueSize, role: "value")
        return try map.lookup(bytes(key, size: map.keySize, role: "key")).map { decode($0, as: Value.self) }
    }

    /// Stores `value` at `key`.
    public func set<Key: BitwiseCopyable, Value: BitwiseCopyable>(_ key: Key, _ value: Value, flags: MapUpdateFlags = .any) throws {
        try map.update(bytes(key, size: map.keySize, role: "key"), bytes(value, size: map.valueSize, role: "value"), flags: flags)
    }

    /// Removes `key`; false if it was absent. Array elements cannot be removed: they are zeroed
    /// (as BCC's Array does).
    @discardableResult
    public func delete<Key: BitwiseCopyable>(_ key: Key) throws -> Bool {
        let keyBytes = try bytes(key, size: map.keySize, role: "key")
        if map.type == .array || map.type == .percpuArray {
            try map.update(keyBytes, [UInt8](repeating: 0, count: map.valueBufferSize))
            return true
        }
        return try map.delete(keyBytes)
    }

    /// Every (key, value) pair now in the map (BCC's `items()`).
    public func items<Key: BitwiseCopyable, Value: BitwiseCopyable>(keyType: Key.Type = Key.self, valueType: Value.Type = Value.self) throws -> [(key: Key, value: Value)] {
        try check(Key.self, size: map.keySize, role: "key")
        try check(Value.self, size: map.valueSize, role: "value")
        return try map.entries().map { (decode($0.key, as: Key.self), decode($0.value, as: Value.self)) }
    }

    /// Every key now in the map.
    public func keys<Key: BitwiseCopyable>(as type: Key.Type = Key.self) throws -> [Key] {
        try check(Key.self, size: map.keySize, role: "key")
        return try map.keys().map { decode($0, as: Key.self) }
    }

    /// The raw entries, for layouts decoded by hand.
    public func rawItems() throws -> [MapEntry] { try map.entries() }

    /// Empties the map: hash maps lose every entry, arrays are zeroed (BCC's `clear()`).
    public func clear() throws { try map.clear() }

    /// Stores `program` at `index` of a program array (BCC's `prog_array[n] = fn.fd`).
    public func setProgram(_ program: Program, at index: UInt32) throws {
        guard map.type == .progArray else {
            throw BPFError.invalidArgument("map '\(map.name)' is a \(map.type.name) map; tail-call targets go in a prog_array (BPF_PROG_ARRAY)")
        }
        try map.update(withUnsafeBytes(of: index.littleEndian) { Array($0) },
                       withUnsafeBytes(of: try program.fd.value().littleEndian) { Array($0) })
    }

    /// The values of a histogram map indexed by slot: keys are 4- or 8-byte slot numbers,
    /// values 4- or 8-byte counts (BPF_HISTOGRAM, or any array/hash laid out that way).
    public func histogramBuckets() throws -> [UInt64] {
        guard map.keySize == 4 || map.keySize == 8, map.valueSize == 4 || map.valueSize == 8 else {
            throw BPFError.invalidArgument("map '\(map.name)' is not a histogram: it needs 4- or 8-byte slot keys and 4- or 8-byte counts (has \(map.keySize)-byte keys, \(map.valueSize)-byte values)")
        }
        func number(_ bytes: [UInt8]) -> UInt64 {
            bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        }
        var buckets: [UInt64] = []
        for entry in try map.entries() {
            let slot = number(entry.key)
            let count = map.valueSize == 4 ? number(Array(entry.value.prefix(4))) : number(entry.value)
            guard slot < 65_536 else { continue } // not a slot number; keep the table bounded
            if buckets.count <= Int(slot) { buckets += [UInt64](repeating: 0, count: Int(slot) + 1 - buckets.count) }
            buckets[Int(slot)] &+= count
        }
        return buckets
    }
}

extension BPFModule {
    /// The map `name` of the source (BCC's `b["name"]`).
    public subscript(name: String) -> BPFTable {
        get throws { try table(name) }
    }

    /// The map `name` of the source.
    public func table(_ name: String) throws -> BPFTable {
        BPFTable(try object.map(named: name))
    }

    /// Prints map `table` as a log2 histogram in BCC's layout (`print_log2_hist`).
    public func printLog2Hist(_ table: String, valueType: String = "value", stripLeadingZero: Bool = false) throws {
        let text = Histogram.log2(try self.table(table).histogramBuckets(), valueType: valueType, stripLeadingZero: stripLeadingZero)
        if !text.isEmpty { print(text, terminator: "") }
    }

    /// Prints map `table` as a linear histogram in BCC's layout (`print_linear_hist`).
    public func printLinearHist(_ table: String, valueType: String = "value") throws {
        let text = Histogram.linear(try self.table(table).histogramBuckets(), valueType: valueType)
        if !text.isEmpty { print(text, terminator: "") }
    }

    /// Prints a histogram whose keys carry a section and a slot (BCC's struct keys such as
    /// `{disk, slot}`): one log2 histogram per section, each after a `<sectionHeader> = <name>`
    /// line, in the order the map returns the sections (as BCC prints them). `split` reads a key.
    public func printLog2Hist<Key: BitwiseCopyable>(_ table: String, keyType: Key.Type, valueType: String = "value",
                                                    sectionHeader: String = "Bucket ptr",
                                                    split: (Key) -> (section: String, slot: Int)) throws {
        let sections = try sectionBuckets(table, keyType: keyType, split: split)
        print(Histogram.log2Sections(sections, valueType: valueType, sectionHeader: sectionHeader), terminator: "")
    }

    /// The linear form of `printLog2Hist(_:keyType:valueType:sectionHeader:split:)`.
    public func printLinearHist<Key: BitwiseCopyable>(_ table: String, keyType: Key.Type, valueType: String = "value",
                                                      sectionHeader: String = "Bucket ptr",
                                                      split: (Key) -> (section: String, slot: Int)) throws {
        let sections = try sectionBuckets(table, keyType: keyType, split: split)
        var text = ""
        for (name, buckets) in sections { text += "\n\(sectionHeader) = \(name)\n" + Histogram.linear(buckets, valueType: valueType) }
        print(text, terminator: "")
    }

    func sectionBuckets<Key: BitwiseCopyable>(_ table: String, keyType: Key.Type,
                                              split: (Key) -> (section: String, slot: Int)) throws -> [(String, [UInt64])] {
        let map = try self.table(table).map
        guard MemoryLayout<Key>.size == map.keySize, map.valueSize == 4 || map.valueSize == 8 else {
            throw BPFError.invalidArgument("map '\(table)' has \(map.keySize)-byte keys and \(map.valueSize)-byte values; \(Key.self) is \(MemoryLayout<Key>.size) bytes and counts must be 4 or 8 bytes")
        }
        var order: [String] = []
        var sections: [String: [UInt64]] = [:]
        for entry in try map.entries() {
            let key = entry.key.withUnsafeBytes { $0.loadUnaligned(as: Key.self) }
            let (name, slot) = split(key)
            guard slot >= 0, slot < 65_536 else { continue }
            let count = entry.value.prefix(map.valueSize).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            if sections[name] == nil { order.append(name); sections[name] = [] }
            if sections[name]!.count <= slot { sections[name]! += [UInt64](repeating: 0, count: slot + 1 - sections[name]!.count) }
            sections[name]![slot] &+= count
        }
        return order.map { ($0, sections[$0]!) }
    }
}
