import BPF
import BPFObject
import CBPFSys
import Foundation
import TestSupport

/// Shell commands for the networking tests (ip, tc, ping, bpftool, nsenter).
enum NetTestShell {
    /// Runs a command and returns its exit status and combined output.
    @discardableResult
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let result = try ChildProcess.run(arguments[0], Array(arguments.dropFirst()), mergingErrors: true)
        return (result.status, result.output)
    }

    /// Runs a command that must succeed.
    @discardableResult
    static func checked(_ arguments: [String]) throws -> String {
        let (status, output) = try run(arguments)
        guard status == 0 else {
            throw TopologyError(message: "`\(arguments.joined(separator: " "))` exited with \(status): \(output)")
        }
        return output
    }
}

struct TopologyError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Two network namespaces joined by a veth pair, made for one test and deleted afterwards:
///
///     sbpfnetA<id>: sbpfa<id> 10.250.0.1/30  <──veth──>  sbpfb<id> 10.250.0.2/30 :sbpfnetB<id>
///
/// Both ends live in the test's own namespaces, so the addresses and all traffic stay there.
/// Programs are attached to `insideInterface` (in namespace B) from a thread that entered B;
/// pings go from A to B.
final class VethTopology {
    let id: String
    let outsideNamespace: String
    let insideNamespace: String
    let outsideInterface: String
    let insideInterface: String
    let outsideAddress = "10.250.0.1"
    let insideAddress = "10.250.0.2"

    init() throws {
        // The process id (low 16 bits) keeps concurrent test runs apart, the random part
        // keeps topologies of one run apart; interface names must stay within IFNAMSIZ - 1 = 15.
        id = String(UInt32(getpid()) & 0xffff, radix: 16) + "x" + String(UInt16.random(in: 0...UInt16.max), radix: 16)
        outsideNamespace = "sbpfnetA\(id)"
        insideNamespace = "sbpfnetB\(id)"
        outsideInterface = "sbpfa\(id)"
        insideInterface = "sbpfb\(id)"
        do {
            try NetTestShell.checked(["ip", "netns", "add", outsideNamespace])
            try NetTestShell.checked(["ip", "netns", "add", insideNamespace])
            try NetTestShell.checked(["ip", "link", "add", outsideInterface, "netns", outsideNamespace, "type", "veth",
                            "peer", "name", insideInterface, "netns", insideNamespace])
            for (namespace, interface, address) in [(outsideNamespace, outsideInterface, outsideAddress),
                                                    (insideNamespace, insideInterface, insideAddress)] {
                // IPv4 only: no IPv6 neighbour discovery or MLD packets in the counts.
                try NetTestShell.checked(["ip", "netns", "exec", namespace, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"])
                try NetTestShell.checked(["ip", "-n", namespace, "addr", "add", "\(address)/30", "dev", interface])
                try NetTestShell.checked(["ip", "-n", namespace, "link", "set", interface, "up"])
                try NetTestShell.checked(["ip", "-n", namespace, "link", "set", "lo", "up"])
            }
        } catch {
            tearDown()
            throw error
        }
    }

    deinit { tearDown() }

    /// Deletes both namespaces (and with them the veth pair and everything attached to it).
    func tearDown() {
        _ = try? NetTestShell.run(["ip", "netns", "del", outsideNamespace])
        _ = try? NetTestShell.run(["ip", "netns", "del", insideNamespace])
    }

    /// Pings B from A: `ping -c count -W 1`. True if any reply came back.
    func ping(count: Int = 3) throws -> Bool {
        let (status, _) = try NetTestShell.run(["ip", "netns", "exec", outsideNamespace, "ping", "-c", "\(count)", "-W", "1",
                                          "-i", "0.2", "-q", insideAddress])
        return status == 0
    }

    /// `bpftool net list --json` as bpftool sees namespace B.
    func bpftoolNetList() throws -> [String: Any] {
        let text = try NetTestShell.checked(["nsenter", "--net=/run/netns/\(insideNamespace)", "bpftool", "net", "list", "--json"])
        guard let array = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]], let object = array.first else {
            throw TopologyError(message: "unexpected bpftool output: \(text)")
        }
        return object
    }

    /// `bpftool net list` (text) as bpftool sees namespace B.
    func bpftoolNetListText() throws -> String {
        try NetTestShell.checked(["nsenter", "--net=/run/netns/\(insideNamespace)", "bpftool", "net", "list"])
    }

    /// Runs `body` on a new thread that has entered namespace B (setns(2) moves only the calling
    /// thread), so interface names, netlink sockets and ifindex-based attachments refer to B.
    func inside<T>(_ body: @escaping () throws -> T) throws -> T {
        try runInNetworkNamespace("/run/netns/\(insideNamespace)", body)
    }
}

private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}

/// Runs `body` on a dedicated thread inside the network namespace at `path`, and waits for it.
func runInNetworkNamespace<T>(_ path: String, _ body: @escaping () throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        defer { done.signal() }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            box.result = .failure(TopologyError(message: "cannot open \(path): errno \(errno)"))
            return
        }
        defer { close(fd) }
        guard sbpf_setns(fd, 0x4000_0000 /* CLONE_NEWNET */) == 0 else {
            box.result = .failure(TopologyError(message: "setns(\(path)) failed: errno \(errno)"))
            return
        }
        box.result = Result { try body() }
    }
    thread.start()
    done.wait()
    return try box.result!.get()
}

/// Reads counter slot `index` (a little-endian u64) of an array map.
func counterValue(_ map: Map, _ index: UInt32 = 0) throws -> UInt64 {
    guard let value = try map.lookup(withUnsafeBytes(of: index.littleEndian) { Array($0) }) else { return 0 }
    return value.prefix(8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
}

/// A one-slot array map of u64 counters.
func makeCounterMap(_ name: String) throws -> Map {
    try Map(MapSpec(name: name, type: .array, keySize: 4, valueSize: 8, maxEntries: 1))
}

/// Emits `counts[0] += 1` (array map lookup and atomic add); clobbers r0–r5.
func emitCounterIncrement(_ asm: inout Assembler, map: Map, label: String) {
    asm.store(.word, .r10, -4, immediate: 0)
    asm.loadMapFD(.r1, map.fd.rawValue)
    asm.mov(.r2, .r10)
    asm.add(.r2, -4)
    asm.call(.mapLookupElem)
    asm.jump(.eq, .r0, 0, to: label)
    asm.mov(.r1, 1)
    asm.atomicAdd(.doubleWord, .r0, 0, .r1)
    asm.label(label)
}

/// A packet program that parses Ethernet + IPv4 with packet bounds checks and, for ICMP,
/// counts the packet and returns `icmpVerdict`; everything else gets `otherVerdict`.
/// `dataOffset`/`dataEndOffset` locate the packet pointers in the context (xdp_md: 0/4,
/// __sk_buff: 76/80).
func icmpProgram(map: Map, dataOffset: Int16, dataEndOffset: Int16, icmpVerdict: Int32, otherVerdict: Int32) throws -> [Instruction] {
    var asm = Assembler()
    asm.mov(.r6, .r1)
    asm.load(.word, .r2, .r6, dataOffset)
    asm.load(.word, .r3, .r6, dataEndOffset)
    asm.mov(.r4, .r2)
    asm.add(.r4, 14 + 20) // Ethernet header + minimal IPv4 header
    asm.jump(.gt, .r4, .r3, to: "other")
    asm.load(.halfWord, .r5, .r2, 12) // h_proto, network order
    asm.jump(.ne, .r5, 0x0008, to: "other") // htons(ETH_P_IP) read little-endian
    asm.load(.byte, .r5, .r2, 14 + 9) // iphdr.protocol
    asm.jump(.ne, .r5, 1, to: "other") // IPPROTO_ICMP
    emitCounterIncrement(&asm, map: map, label: "counted")
    asm.mov(.r0, icmpVerdict)
    asm.exit()
    asm.label("other")
    asm.mov(.r0, otherVerdict)
    asm.exit()
    return try asm.assemble()
}

enum XDPVerdict {
    static let drop: Int32 = 1
    static let pass: Int32 = 2
}

enum TCVerdict {
    /// TC_ACT_OK / TCX_PASS.
    static let pass: Int32 = 0
    /// TC_ACT_SHOT / TCX_DROP.
    static let drop: Int32 = 2
}
