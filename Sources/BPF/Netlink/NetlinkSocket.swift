#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An AF_NETLINK socket speaking one netlink family, with request/acknowledge and dump
/// exchanges. Kernel errors become `BPFError.syscall` carrying the errno and the kernel's
/// extended-ack text ("Exclusivity flag on, cannot modify").
///
/// A socket is not thread-safe; create one per thread (they are cheap). It belongs to the
/// network namespace of the thread that created it.
public final class NetlinkSocket: @unchecked Sendable {
    public let fd: OwnedFileDescriptor
    /// The port id the kernel assigned at bind time; replies are addressed to it.
    public let portID: UInt32
    private var lastSequence: UInt32

    /// `struct sockaddr_nl` (include/uapi/linux/netlink.h), which Glibc does not export to Swift.
    private struct NetlinkAddress {
        var family = UInt16(AF_NETLINK)
        var padding: UInt16 = 0
        var portID: UInt32 = 0
        var groups: UInt32 = 0
    }

    /// SOL_NETLINK and its options (include/uapi/linux/netlink.h, linux/socket.h).
    private static let solNetlink: Int32 = 270
    private static let netlinkCapAck: Int32 = 10
    private static let netlinkExtAck: Int32 = 11

    /// Opens and binds a socket for `family` (NETLINK_ROUTE = 0 by default).
    public init(family: Int32 = 0) throws {
        let raw = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), family)
        guard raw >= 0 else {
            throw BPFError.syscall(SystemCallFailure(operation: "socket(AF_NETLINK)", errno: .current, meaning: "could not open a netlink socket"))
        }
        let fd = OwnedFileDescriptor(adopting: raw, label: "netlink socket")
        var one: Int32 = 1
        // Extended acks carry the kernel's explanation of a refusal; capped acks keep the
        // error reply small by not echoing our request. Both are optional (kernel 4.12+).
        _ = setsockopt(raw, Self.solNetlink, Self.netlinkExtAck, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(raw, Self.solNetlink, Self.netlinkCapAck, &one, socklen_t(MemoryLayout<Int32>.size))
        // A reply that never comes (it cannot, normally) must not hang the caller forever.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        _ = setsockopt(raw, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        var address = NetlinkAddress()
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(raw, $0, socklen_t(MemoryLayout<NetlinkAddress>.size)) }
        }
        guard bound == 0 else {
            throw BPFError.syscall(SystemCallFailure(operation: "bind(AF_NETLINK)", errno: .current, subject: fd.label))
        }
        var length = socklen_t(MemoryLayout<NetlinkAddress>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(raw, $0, &length) }
        }
        guard named == 0 else {
            throw BPFError.syscall(SystemCallFailure(operation: "getsockname(AF_NETLINK)", errno: .current, subject: fd.label))
        }
        self.fd = fd
        self.portID = address.portID
        // Start from a time-derived number so a reply to an earlier process's request on a
        // recycled port id is never taken for ours.
        self.lastSequence = UInt32(truncatingIfNeeded: time(nil))
    }

    /// Sends one request with NLM_F_ACK and waits for its acknowledgement. Returns the messages
    /// the kernel sent before the ack (the created object, when `flags` has `.echo`).
    @discardableResult
    public func request(
        type: UInt16, flags: NetlinkFlags = [], payload: [UInt8],
        operation: String, subject: String? = nil, meaning: ((Errno, String?) -> String?)? = nil
    ) throws -> [NetlinkMessage] {
        let sequence = try send(type: type, flags: flags.union([.request, .ack]), payload: payload, operation: operation, subject: subject)
        var replies: [NetlinkMessage] = []
        while true {
            for message in try receive(operation: operation, subject: subject) where message.header.sequence == sequence {
                switch message.header.type {
                case NetlinkControl.error:
                    let reply = try decodeError(message, operation: operation, subject: subject)
                    if reply.error == 0 { return replies }
                    throw failure(reply, operation: operation, subject: subject, meaning: meaning)
                case NetlinkControl.done:
                    return replies
                case NetlinkControl.noop:
                    continue
                default:
                    replies.append(message)
                }
            }
        }
    }

    /// Sends a dump request (NLM_F_DUMP) and collects every message until NLMSG_DONE. A dump the
    /// kernel marks as interrupted by a concurrent change is repeated (up to 5 times).
    public func dump(
        type: UInt16, payload: [UInt8], operation: String, subject: String? = nil,
        meaning: ((Errno, String?) -> String?)? = nil
    ) throws -> [NetlinkMessage] {
        var attempt = 0
        while true {
            attempt += 1
            let sequence = try send(type: type, flags: [.request, .dump], payload: payload, operation: operation, subject: subject)
            var messages: [NetlinkMessage] = []
            var interrupted = false
            collecting: while true {
                for message in try receive(operation: operation, subject: subject) where message.header.sequence == sequence {
                    if message.header.flags.contains(.dumpInterrupted) { interrupted = true }
                    switch message.header.type {
                    case NetlinkControl.done:
                        // NLMSG_DONE carries an int: negative when the dump itself failed.
                        if message.payload.count >= 4 {
                            let code = Int32(bitPattern: message.payload.netlinkUInt32(at: 0))
                            if code < 0 {
                                // Extended-ack attributes, if any, follow the code directly.
                                let text = message.header.flags.contains(.ackTLVs)
                                    ? (try? NetlinkAttributes(Array(message.payload.dropFirst(4))))?.string(NetlinkErrorReply.attributeMessage)
                                    : nil
                                throw failure(NetlinkErrorReply(error: code, message: text), operation: operation, subject: subject, meaning: meaning)
                            }
                        }
                        break collecting
                    case NetlinkControl.error:
                        let reply = try decodeError(message, operation: operation, subject: subject)
                        if reply.error == 0 { break collecting }
                        throw failure(reply, operation: operation, subject: subject, meaning: meaning)
                    case NetlinkControl.noop:
                        continue
                    default:
                        messages.append(message)
                    }
                }
            }
            if !interrupted || attempt >= 5 { return messages }
        }
    }

    // MARK: Transport

    private func send(type: UInt16, flags: NetlinkFlags, payload: [UInt8], operation: String, subject: String?) throws -> UInt32 {
        lastSequence &+= 1
        let sequence = lastSequence
        let bytes = NetlinkMessage.encode(type: type, flags: flags, sequence: sequence, payload: payload)
        let descriptor = try fd.value()
        var kernel = NetlinkAddress()
        while true {
            let sent = bytes.withUnsafeBytes { buffer in
                withUnsafePointer(to: &kernel) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(descriptor, buffer.baseAddress, buffer.count, 0, $0, socklen_t(MemoryLayout<NetlinkAddress>.size))
                    }
                }
            }
            if sent == bytes.count { return sequence }
            let error = Errno.current
            if sent < 0 && error == .EINTR { continue }
            throw BPFError.syscall(SystemCallFailure(
                operation: "netlink \(operation)", errno: sent < 0 ? error : .EIO, subject: subject,
                meaning: "could not send the request to the kernel"))
        }
    }

    /// Receives one datagram, sized first with MSG_PEEK|MSG_TRUNC so nothing is cut off.
    private func receive(operation: String, subject: String?) throws -> [NetlinkMessage] {
        let descriptor = try fd.value()
        var buffer = [UInt8](repeating: 0, count: 32 * 1024)
        while true {
            let available = buffer.withUnsafeMutableBytes {
                recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_PEEK | MSG_TRUNC))
            }
            if available < 0 {
                let error = Errno.current
                if error == .EINTR { continue }
                throw receiveFailure(error, operation: operation, subject: subject)
            }
            if available > buffer.count {
                buffer = [UInt8](repeating: 0, count: available)
            }
            let received = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if received < 0 {
                let error = Errno.current
                if error == .EINTR { continue }
                throw receiveFailure(error, operation: operation, subject: subject)
            }
            do {
                return try NetlinkMessage.parse(Array(buffer.prefix(received))).filter { $0.header.portID == portID || $0.header.portID == 0 }
            } catch {
                throw BPFError.invalidArgument("the kernel's reply to netlink \(operation) could not be parsed: \(error)")
            }
        }
    }

    private func receiveFailure(_ error: Errno, operation: String, subject: String?) -> BPFError {
        let meaning = error == .EAGAIN
            ? "the kernel did not answer within 10 seconds"
            : error == .ENOBUFS ? "the socket's receive buffer overflowed; retry" : "could not receive the kernel's reply"
        return .syscall(SystemCallFailure(operation: "netlink \(operation)", errno: error, subject: subject, meaning: meaning))
    }

    private func decodeError(_ message: NetlinkMessage, operation: String, subject: String?) throws -> NetlinkErrorReply {
        do {
            return try NetlinkErrorReply(message)
        } catch {
            throw BPFError.invalidArgument("the kernel's error reply to netlink \(operation) could not be parsed: \(error)")
        }
    }

    private func failure(_ reply: NetlinkErrorReply, operation: String, subject: String?, meaning: ((Errno, String?) -> String?)?) -> BPFError {
        let errno = Errno(-reply.error)
        var text = meaning?(errno, reply.message) ?? SystemCallFailure.meaning(of: errno, in: operation)
        if let kernelText = reply.message, !kernelText.isEmpty, !text.contains(kernelText) {
            text += " (kernel: \(kernelText))"
        }
        return .syscall(SystemCallFailure(operation: "netlink \(operation)", errno: errno, subject: subject, meaning: text))
    }
}
