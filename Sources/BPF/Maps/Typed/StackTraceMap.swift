import BPFObject

/// Stacks recorded by `bpf_get_stackid` (BPF_MAP_TYPE_STACK_TRACE): the program gets a stack id,
/// user space reads the instruction addresses under that id.
public struct StackTraceMap: @unchecked Sendable {
    public let map: Map
    /// The kernel's limit on frames per stack (PERF_MAX_STACK_DEPTH, sysctl kernel.perf_event_max_stack).
    public static let defaultMaxDepth = 127

    public init(_ map: Map) throws {
        try map.requireType([.stackTrace], for: "StackTraceMap")
        guard map.keySize == 4, map.valueSize % 8 == 0 else {
            throw BPFError.invalidArgument("\(map.label) must have 4-byte keys and values of 8-byte addresses, has \(map.keySize)/\(map.valueSize)")
        }
        self.map = map
    }

    /// Creates a stack map holding `maxEntries` stacks of up to `maxDepth` frames.
    public init(name: String, maxEntries: Int, maxDepth: Int = defaultMaxDepth, flags: MapFlags = []) throws {
        guard (1...StackTraceMap.defaultMaxDepth).contains(maxDepth) else {
            throw BPFError.invalidArgument("stack depth must be 1...\(StackTraceMap.defaultMaxDepth), got \(maxDepth)")
        }
        var spec = try Map.spec(name: name, type: .stackTrace, key: UInt32.self, value: UInt64.self, maxEntries: maxEntries, flags: flags)
        spec.valueSize = UInt32(8 * maxDepth)
        try self.init(Map(spec))
    }

    /// The addresses of stack `id`, innermost frame first, without the zero padding after the
    /// last frame; nil if no stack has that id.
    public func addresses(ofStack id: UInt32) throws -> [UInt64]? {
        guard let bytes = try map.lookup(map.keyBytes(id)) else { return nil }
        var frames: [UInt64] = []
        for offset in stride(from: 0, to: bytes.count, by: 8) {
            let address = PlainData.load(UInt64.self, from: bytes, at: offset)
            if address == 0 { break }
            frames.append(address)
        }
        return frames
    }

    /// Forgets stack `id` so the slot can be reused.
    @discardableResult
    public func delete(stack id: UInt32) throws -> Bool { try map.delete(map.keyBytes(id)) }

    /// The ids of all stored stacks.
    public func stackIDs() throws -> [UInt32] { try map.keys().map { PlainData.load(UInt32.self, from: $0) } }
}
