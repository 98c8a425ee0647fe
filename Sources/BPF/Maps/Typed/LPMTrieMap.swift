import BPFObject
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A key of an LPM trie: a prefix length in bits and the address bytes in network order
/// (`struct bpf_lpm_trie_key_u8`: a host-order `__u32 prefixlen` then the data).
public struct LPMPrefix: Hashable, Sendable, CustomStringConvertible {
    public var prefixLength: UInt32
    public var address: [UInt8]

    public init(address: [UInt8], prefixLength: UInt32) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// An IPv4 prefix such as `LPMPrefix(ipv4: "10.1.0.0", prefixLength: 16)`; nil if the text is
    /// not an IPv4 address or the length exceeds 32.
    public init?(ipv4 text: String, prefixLength: UInt32 = 32) {
        var address = in_addr()
        guard prefixLength <= 32, inet_pton(AF_INET, text, &address) == 1 else { return nil }
        self.init(address: withUnsafeBytes(of: address) { Array($0) }, prefixLength: prefixLength)
    }

    /// An IPv6 prefix such as `LPMPrefix(ipv6: "2001:db8::", prefixLength: 32)`.
    public init?(ipv6 text: String, prefixLength: UInt32 = 128) {
        var address = in6_addr()
        guard prefixLength <= 128, inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        self.init(address: withUnsafeBytes(of: address) { Array($0) }, prefixLength: prefixLength)
    }

    /// `10.1.0.0/16`, `2001:db8::/32`, or hex bytes for other lengths.
    public var description: String {
        var buffer = [CChar](repeating: 0, count: 64)
        let family: Int32? = address.count == 4 ? AF_INET : address.count == 16 ? AF_INET6 : nil
        if let family, address.withUnsafeBytes({ inet_ntop(family, $0.baseAddress, &buffer, 64) }) != nil {
            return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/\(prefixLength)"
        }
        return address.map { byteHex($0) }.joined() + "/\(prefixLength)"
    }

    func bytes() -> [UInt8] { PlainData.bytes(of: prefixLength, count: 4) + address }

    init(bytes: [UInt8]) {
        prefixLength = PlainData.load(UInt32.self, from: bytes)
        address = Array(bytes.dropFirst(4))
    }
}

/// A typed view of a longest-prefix-match trie (BPF_MAP_TYPE_LPM_TRIE): keys are prefixes of a
/// fixed address size; looking up a full-length address finds the value of the longest stored
/// prefix that contains it.
public struct LPMTrieMap<Value: BitwiseCopyable>: @unchecked Sendable {
    public let map: Map
    /// Bytes of the address part of the key (4 for IPv4, 16 for IPv6).
    public var addressSize: Int { map.keySize - 4 }

    public init(_ map: Map) throws {
        try map.requireType([.lpmTrie], for: "LPMTrieMap")
        guard map.keySize > 4 else { throw BPFError.invalidArgument("\(map.label) has \(map.keySize)-byte keys; an LPM key is 4 bytes of prefix length plus at least one address byte") }
        try map.requireValue(Value.self)
        self.map = map
    }

    /// Creates a trie for `addressSize`-byte addresses. The kernel requires BPF_F_NO_PREALLOC,
    /// which is always set.
    public init(name: String, addressSize: Int, maxEntries: Int, flags: MapFlags = []) throws {
        guard (1...256).contains(addressSize) else { throw BPFError.invalidArgument("LPM trie addresses must be 1 to 256 bytes, got \(addressSize)") }
        var spec = try Map.spec(name: name, type: .lpmTrie, key: UInt8.self, value: Value.self, maxEntries: maxEntries, flags: flags.union(.noPrealloc))
        spec.keySize = UInt32(4 + addressSize)
        try self.init(Map(spec))
    }

    func keyBytes(_ prefix: LPMPrefix) throws -> [UInt8] {
        guard prefix.address.count == addressSize else {
            throw BPFError.invalidArgument("\(map.label) holds \(addressSize)-byte addresses, got \(prefix.address.count) bytes (\(prefix))")
        }
        guard prefix.prefixLength <= UInt32(addressSize * 8) else {
            throw BPFError.invalidArgument("prefix length \(prefix.prefixLength) exceeds the \(addressSize * 8) bits of \(map.label)'s addresses")
        }
        return prefix.bytes()
    }

    /// The value stored for exactly this prefix's longest match; use `longestMatch(for:)` for
    /// an address.
    public func lookup(_ prefix: LPMPrefix) throws -> Value? {
        try map.lookup(keyBytes(prefix)).map { PlainData.load(Value.self, from: $0) }
    }

    /// The value of the longest stored prefix containing `address`, or nil.
    public func longestMatch(for address: [UInt8]) throws -> Value? {
        try lookup(LPMPrefix(address: address, prefixLength: UInt32(address.count * 8)))
    }

    public func update(_ prefix: LPMPrefix, _ value: Value, flags: MapUpdateFlags = .any) throws {
        try map.update(keyBytes(prefix), map.valueBytes(value), flags: flags)
    }

    @discardableResult
    public func delete(_ prefix: LPMPrefix) throws -> Bool { try map.delete(keyBytes(prefix)) }

    public func entries() throws -> [(prefix: LPMPrefix, value: Value)] {
        try map.entries().map { (LPMPrefix(bytes: $0.key), PlainData.load(Value.self, from: $0.value)) }
    }

    public func count() throws -> Int { try map.count() }
    public func clear() throws { try map.clear() }
}
