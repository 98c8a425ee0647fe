import BPF
import BPFObject
import Foundation
import Testing

/// A UDP socket bound to 127.0.0.1 on a kernel-chosen port.
final class LoopbackUDPSocket {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TopologyError(message: "socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            Glibc.close(fd)
            throw TopologyError(message: "bind: errno \(errno)")
        }
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    func close() { _ = Glibc.close(fd) }

    func send(_ size: Int, to port: UInt16) throws {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        address.sin_port = port.bigEndian
        let payload = [UInt8](repeating: 0x61, count: size)
        let sent = payload.withUnsafeBytes { buffer in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buffer.baseAddress, buffer.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard sent == size else { throw TopologyError(message: "sendto: errno \(errno)") }
    }

    /// Receives datagrams until none arrives for `quietMilliseconds`; returns their sizes.
    func drain(quietMilliseconds: Int32 = 300) -> [Int] {
        var sizes: [Int] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, quietMilliseconds) == 1 else { return sizes }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count >= 0 { sizes.append(count) }
        }
    }
}

@Suite(.kernel, .serialized)
struct SocketFilterTests {
    /// Counts every datagram; keeps those whose skb is at most `maximumLength` bytes (UDP header
    /// included), drops the rest by returning 0.
    static func lengthFilter(_ map: Map, maximumLength: Int32) throws -> Program {
        var asm = Assembler()
        asm.mov(.r6, .r1)
        asm.load(.word, .r7, .r6, 0) // __sk_buff.len
        emitCounterIncrement(&asm, map: map, label: "counted")
        asm.jump(.gt, .r7, maximumLength, to: "drop")
        asm.mov(.r0, .r7)
        asm.exit()
        asm.label("drop")
        asm.mov(.r0, 0)
        asm.exit()
        return try Program(ProgramSpec(name: "sbpfnet_sockf", type: .socketFilter, instructions: asm.assemble()))
    }

    @Test func filterCountsAndDropsDatagrams() throws {
        let receiver = try LoopbackUDPSocket()
        defer { receiver.close() }
        let sender = try LoopbackUDPSocket()
        defer { sender.close() }
        let counts = try makeCounterMap("sbpfnet_sockcnt")
        let program = try Self.lengthFilter(counts, maximumLength: 8 + 16)

        let attachment = try SocketFilterAttachment(program, socket: receiver.fd)
        for _ in 0..<5 { try sender.send(5, to: receiver.port) }
        for _ in 0..<3 { try sender.send(100, to: receiver.port) }
        #expect(receiver.drain() == [5, 5, 5, 5, 5])
        #expect(try counterValue(counts) == 8)

        try attachment.close()
        #expect(throws: BPFError.self) { try attachment.close() }
        for _ in 0..<3 { try sender.send(100, to: receiver.port) }
        #expect(receiver.drain() == [100, 100, 100])
        #expect(try counterValue(counts) == 8)
    }

    @Test func releaseAfterSocketCloseLeavesAReusedDescriptorAlone() throws {
        let sender = try LoopbackUDPSocket()
        defer { sender.close() }
        let firstCounts = try makeCounterMap("sbpfnet_sockold")
        let secondCounts = try makeCounterMap("sbpfnet_socknew")

        let first = try LoopbackUDPSocket()
        let firstDescriptor = first.fd
        var stale: SocketFilterAttachment? = try SocketFilterAttachment(Self.lengthFilter(firstCounts, maximumLength: 1 << 20), socket: first.fd)
        first.close()
        // The next socket most likely gets the same descriptor number.
        let second = try LoopbackUDPSocket()
        defer { second.close() }
        #expect(second.fd == firstDescriptor, "the descriptor was not reused, so this test proves less than it should")
        let current = try SocketFilterAttachment(Self.lengthFilter(secondCounts, maximumLength: 1 << 20), socket: second.fd)
        defer { try? current.close() }

        stale = nil // must not detach the second socket's filter
        _ = stale
        try sender.send(10, to: second.port)
        #expect(second.drain() == [10])
        #expect(try counterValue(secondCounts) == 1)
        #expect(try counterValue(firstCounts) == 0)
    }

    @Test func refusesNonSocketsAndWrongProgramTypes() throws {
        let counts = try makeCounterMap("sbpfnet_sockbad")
        let program = try Self.lengthFilter(counts, maximumLength: 100)
        #expect(throws: BPFError.self) { _ = try SocketFilterAttachment(program, socket: 0x7fff) }
        let pipeEnds = UnsafeMutablePointer<Int32>.allocate(capacity: 2)
        defer { pipeEnds.deallocate() }
        #expect(pipe(pipeEnds) == 0)
        defer { close(pipeEnds[0]); close(pipeEnds[1]) }
        #expect(throws: BPFError.self) { _ = try SocketFilterAttachment(program, socket: pipeEnds[0]) }

        let xdp = try Program(ProgramSpec(name: "sbpfnet_notsf", type: .xdp, instructions: [
            Instruction(opcode: 0xb7, dst: 0, immediate: 2), Instruction(opcode: 0x95),
        ]))
        let socket = try LoopbackUDPSocket()
        defer { socket.close() }
        do {
            _ = try SocketFilterAttachment(xdp, socket: socket.fd)
            Issue.record("an XDP program was attached as a socket filter")
        } catch BPFError.invalidArgument(let message) {
            #expect(message.contains("socket_filter"))
        }
    }
}
