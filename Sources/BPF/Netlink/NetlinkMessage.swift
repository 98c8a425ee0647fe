/// The netlink wire format (include/uapi/linux/netlink.h): messages with a 16-byte header,
/// and attributes as type-length-value records, everything 4-byte aligned, host byte order.
///
/// This file is pure: it builds and parses bytes and never calls the kernel, so every path of
/// the parser can be tested without root. Replies are untrusted input: each length is checked
/// against the bytes that are really there, and a malformed record ends parsing with a
/// `NetlinkParseError` instead of a trap.

/// `struct nlmsghdr`: length (header included), type, flags, sequence number, port id.
public struct NetlinkHeader: Sendable, Hashable {
    public static let size = 16
    public var length: UInt32
    public var type: UInt16
    public var flags: NetlinkFlags
    public var sequence: UInt32
    public var portID: UInt32
}

/// `NLM_F_*`. Some bits mean different things for GET and NEW requests, as in the kernel.
public struct NetlinkFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let request = NetlinkFlags(rawValue: 0x01)
    /// Part of a multipart reply, which ends with NLMSG_DONE.
    public static let multi = NetlinkFlags(rawValue: 0x02)
    public static let ack = NetlinkFlags(rawValue: 0x04)
    /// Send the created object back (used to learn kernel-chosen tc handles and priorities).
    public static let echo = NetlinkFlags(rawValue: 0x08)
    /// The dump was interrupted by a change; its contents may be inconsistent.
    public static let dumpInterrupted = NetlinkFlags(rawValue: 0x10)
    // GET requests
    public static let root = NetlinkFlags(rawValue: 0x100)
    public static let match = NetlinkFlags(rawValue: 0x200)
    public static let dump: NetlinkFlags = [.root, .match]
    // NEW requests
    public static let replace = NetlinkFlags(rawValue: 0x100)
    public static let exclusive = NetlinkFlags(rawValue: 0x200)
    public static let create = NetlinkFlags(rawValue: 0x400)
    public static let append = NetlinkFlags(rawValue: 0x800)
    // ACK messages
    /// The error message does not echo the request's payload.
    public static let capped = NetlinkFlags(rawValue: 0x100)
    /// Extended-ack attributes follow the error.
    public static let ackTLVs = NetlinkFlags(rawValue: 0x200)
}

/// Control message types shared by every netlink family.
public enum NetlinkControl {
    public static let noop: UInt16 = 1
    public static let error: UInt16 = 2
    public static let done: UInt16 = 3
    public static let overrun: UInt16 = 4
}

/// A malformed netlink reply. The parser reports where the data stopped making sense.
public struct NetlinkParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public let reason: String
    public let offset: Int
    public var description: String { "malformed netlink data at byte \(offset): \(reason)" }
}

@inline(__always)
func netlinkAlign(_ length: Int) -> Int { (length + 3) & ~3 }

/// One received message: its header and payload (the bytes after the header, up to its length).
public struct NetlinkMessage: Sendable, Hashable {
    public var header: NetlinkHeader
    public var payload: [UInt8]

    /// Splits a datagram into messages. Every length is validated before use.
    public static func parse(_ bytes: [UInt8]) throws(NetlinkParseError) -> [NetlinkMessage] {
        var messages: [NetlinkMessage] = []
        var offset = 0
        while bytes.count - offset >= NetlinkHeader.size {
            let length = Int(bytes.netlinkUInt32(at: offset))
            guard length >= NetlinkHeader.size else {
                throw NetlinkParseError(reason: "message length \(length) is smaller than its header", offset: offset)
            }
            guard length <= bytes.count - offset else {
                throw NetlinkParseError(reason: "message length \(length) runs past the \(bytes.count - offset) bytes received", offset: offset)
            }
            let header = NetlinkHeader(
                length: UInt32(length),
                type: bytes.netlinkUInt16(at: offset + 4),
                flags: NetlinkFlags(rawValue: bytes.netlinkUInt16(at: offset + 6)),
                sequence: bytes.netlinkUInt32(at: offset + 8),
                portID: bytes.netlinkUInt32(at: offset + 12))
            messages.append(NetlinkMessage(header: header, payload: Array(bytes[(offset + NetlinkHeader.size)..<(offset + length)])))
            offset += min(netlinkAlign(length), bytes.count - offset)
        }
        guard offset == bytes.count else {
            throw NetlinkParseError(reason: "\(bytes.count - offset) trailing bytes do not form a message header", offset: offset)
        }
        return messages
    }

    /// The encoded form: header followed by `payload`.
    public static func encode(type: UInt16, flags: NetlinkFlags, sequence: UInt32, portID: UInt32 = 0, payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(NetlinkHeader.size + payload.count)
        bytes.appendNetlinkValue(UInt32(NetlinkHeader.size + payload.count))
        bytes.appendNetlinkValue(type)
        bytes.appendNetlinkValue(flags.rawValue)
        bytes.appendNetlinkValue(sequence)
        bytes.appendNetlinkValue(portID)
        bytes += payload
        return bytes
    }
}

/// The body of an NLMSG_ERROR message: 0 for an acknowledgement, a negative errno otherwise,
/// with the extended-ack text the kernel attached (e.g. "Exclusivity flag on, cannot modify").
public struct NetlinkErrorReply: Sendable, Hashable {
    public var error: Int32
    /// `NLMSGERR_ATTR_MSG`.
    public var message: String?
    /// `NLMSGERR_ATTR_OFFS`: the byte offset of the offending attribute in the request.
    public var attributeOffset: UInt32?

    /// NLMSGERR attributes (include/uapi/linux/netlink.h `enum nlmsgerr_attrs`).
    static let attributeMessage: UInt16 = 1
    static let attributeOffsetType: UInt16 = 2

    public init(error: Int32, message: String? = nil, attributeOffset: UInt32? = nil) {
        self.error = error
        self.message = message
        self.attributeOffset = attributeOffset
    }

    /// Decodes `struct nlmsgerr` (error code and the echoed request header, plus the request
    /// payload unless capped) and the extended-ack attributes after it.
    public init(_ message: NetlinkMessage) throws(NetlinkParseError) {
        let payload = message.payload
        guard payload.count >= 4 + NetlinkHeader.size else {
            throw NetlinkParseError(reason: "error message of \(payload.count) bytes is shorter than struct nlmsgerr", offset: 0)
        }
        error = Int32(bitPattern: payload.netlinkUInt32(at: 0))
        var attributesStart = 4 + NetlinkHeader.size
        if !message.header.flags.contains(.capped) {
            // The whole request was echoed: skip it by its own length.
            let echoed = Int(payload.netlinkUInt32(at: 4))
            guard echoed >= NetlinkHeader.size, 4 + echoed <= payload.count else {
                // Truncated echo: no attributes can be located reliably.
                return
            }
            attributesStart = 4 + netlinkAlign(echoed)
        }
        guard message.header.flags.contains(.ackTLVs), attributesStart < payload.count else { return }
        let attributes = try NetlinkAttributes(Array(payload[attributesStart...]))
        self.message = attributes.string(Self.attributeMessage)
        self.attributeOffset = attributes.uint32(Self.attributeOffsetType)
    }
}

/// A parsed attribute list: the attributes of one message or of one nested attribute.
///
/// Lookups return nil both when an attribute is absent and when its payload has the wrong size
/// for the requested type, so a caller never reads past an attribute.
public struct NetlinkAttributes: Sendable, Hashable {
    /// One attribute (`struct nlattr`) with its payload.
    public struct Attribute: Sendable, Hashable {
        /// The type with the NLA_F_NESTED and NLA_F_NET_BYTEORDER bits removed.
        public var type: UInt16
        public var isNested: Bool
        public var payload: [UInt8]
    }

    public private(set) var all: [Attribute] = []

    static let nestedFlag: UInt16 = 0x8000
    static let byteOrderFlag: UInt16 = 0x4000
    static let typeMask: UInt16 = 0x3fff

    public init(_ bytes: [UInt8]) throws(NetlinkParseError) {
        var offset = 0
        while bytes.count - offset >= 4 {
            let length = Int(bytes.netlinkUInt16(at: offset))
            let rawType = bytes.netlinkUInt16(at: offset + 2)
            guard length >= 4 else {
                throw NetlinkParseError(reason: "attribute length \(length) is smaller than its 4-byte header", offset: offset)
            }
            guard length <= bytes.count - offset else {
                throw NetlinkParseError(reason: "attribute type \(rawType & Self.typeMask) of length \(length) runs past the \(bytes.count - offset) bytes left", offset: offset)
            }
            all.append(Attribute(
                type: rawType & Self.typeMask, isNested: rawType & Self.nestedFlag != 0,
                payload: Array(bytes[(offset + 4)..<(offset + length)])))
            offset += min(netlinkAlign(length), bytes.count - offset)
        }
        // Fewer than 4 bytes left can only be padding the sender did not need to send.
    }

    /// Parses the attributes that follow a fixed family header (`ifinfomsg`, `tcmsg`) in a
    /// message payload.
    public init(payload: [UInt8], afterHeaderOfSize headerSize: Int) throws(NetlinkParseError) {
        guard payload.count >= headerSize else {
            throw NetlinkParseError(reason: "payload of \(payload.count) bytes is shorter than its \(headerSize)-byte family header", offset: 0)
        }
        let start = min(netlinkAlign(headerSize), payload.count)
        try self.init(Array(payload[start...]))
    }

    /// The first attribute of `type`.
    public subscript(type: UInt16) -> Attribute? { all.first { $0.type == type } }

    public func contains(_ type: UInt16) -> Bool { self[type] != nil }

    public func uint8(_ type: UInt16) -> UInt8? {
        guard let payload = self[type]?.payload, payload.count >= 1 else { return nil }
        return payload[0]
    }

    public func uint16(_ type: UInt16) -> UInt16? {
        guard let payload = self[type]?.payload, payload.count >= 2 else { return nil }
        return payload.netlinkUInt16(at: 0)
    }

    public func uint32(_ type: UInt16) -> UInt32? {
        guard let payload = self[type]?.payload, payload.count >= 4 else { return nil }
        return payload.netlinkUInt32(at: 0)
    }

    public func int32(_ type: UInt16) -> Int32? { uint32(type).map { Int32(bitPattern: $0) } }

    /// A NUL-terminated (or unterminated) string attribute.
    public func string(_ type: UInt16) -> String? {
        guard let payload = self[type]?.payload else { return nil }
        return String(decoding: payload.prefix(while: { $0 != 0 }), as: UTF8.self)
    }

    /// The attributes nested inside attribute `type`.
    public func nested(_ type: UInt16) throws(NetlinkParseError) -> NetlinkAttributes? {
        guard let payload = self[type]?.payload else { return nil }
        return try NetlinkAttributes(payload)
    }
}

/// Builds an attribute list, padding each attribute to 4 bytes as the kernel expects.
public struct NetlinkAttributeWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func append(_ type: UInt16, bytes payload: [UInt8]) {
        let length = 4 + payload.count
        precondition(length <= Int(UInt16.max), "netlink attribute payload too large")
        bytes.appendNetlinkValue(UInt16(length))
        bytes.appendNetlinkValue(type)
        bytes += payload
        bytes += [UInt8](repeating: 0, count: netlinkAlign(length) - length)
    }

    public mutating func append(_ type: UInt16, uint8 value: UInt8) { append(type, bytes: [value]) }

    public mutating func append(_ type: UInt16, uint16 value: UInt16) {
        var payload: [UInt8] = []
        payload.appendNetlinkValue(value)
        append(type, bytes: payload)
    }

    public mutating func append(_ type: UInt16, uint32 value: UInt32) {
        var payload: [UInt8] = []
        payload.appendNetlinkValue(value)
        append(type, bytes: payload)
    }

    public mutating func append(_ type: UInt16, int32 value: Int32) { append(type, uint32: UInt32(bitPattern: value)) }

    /// A string attribute, NUL-terminated as `NLA_STRING`/`NLA_NUL_STRING` policies accept.
    public mutating func append(_ type: UInt16, string: String) { append(type, bytes: Array(string.utf8) + [0]) }

    /// A nested attribute (with NLA_F_NESTED set, which strict kernel policies require).
    public mutating func appendNested(_ type: UInt16, _ build: (inout NetlinkAttributeWriter) -> Void) {
        var inner = NetlinkAttributeWriter()
        build(&inner)
        append(type | NetlinkAttributes.nestedFlag, bytes: inner.bytes)
    }
}

// MARK: - Little-endian byte helpers (netlink uses host order; SwiftBPF targets little-endian hosts)

extension Array where Element == UInt8 {
    @inline(__always)
    func netlinkUInt16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) | UInt16(self[offset + 1]) << 8
    }

    @inline(__always)
    func netlinkUInt32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) | UInt32(self[offset + 1]) << 8 | UInt32(self[offset + 2]) << 16 | UInt32(self[offset + 3]) << 24
    }

    mutating func appendNetlinkValue<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
