import BPF
import BPFObject
import Foundation
import Testing

/// A child cgroup under the cgroup v2 mount, named with the process id so concurrent test runs
/// cannot collide, removed afterwards, and a way to run a shell
/// inside it: the child shell moves itself in (cgroup.procs) before it does anything else.
final class TestCgroup {
    let path: String

    init() throws {
        path = try Cgroup.unifiedMountPoint() + "/sbpfnet_\(getpid())_\(UInt32.random(in: 0..<0x100_0000))"
        guard mkdir(path, 0o755) == 0 else { throw TopologyError(message: "mkdir \(path): errno \(errno)") }
    }

    deinit { remove() }

    func remove() {
        // The cgroup is empty once the children have been reaped; rmdir may still race the
        // kernel's release of the last member for a moment.
        for _ in 0..<50 {
            if rmdir(path) == 0 || errno == ENOENT { return }
            usleep(20_000)
        }
    }

    /// Runs `script` with bash inside this cgroup.
    func runBash(_ script: String) throws -> (status: Int32, output: String) {
        try NetTestShell.run(["sh", "-c", "echo $$ > '\(path)/cgroup.procs' && exec bash -c \"$1\"", "sbpfnet", script])
    }
}

/// A TCP listener on 127.0.0.1 with a kernel-chosen port.
final class LoopbackTCPListener {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ready = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                fd >= 0 && bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ready else {
            if fd >= 0 { Glibc.close(fd) }
            throw TopologyError(message: "TCP listener: errno \(errno)")
        }
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { Glibc.close(fd) }
}

@Suite(.kernel, .serialized)
struct CgroupTests {
    /// cgroup_skb: counts every packet and returns `verdict` (1 allow, 0 drop).
    static func countingSKB(_ map: Map, verdict: Int32, name: String) throws -> Program {
        var asm = Assembler()
        emitCounterIncrement(&asm, map: map, label: "counted")
        asm.mov(.r0, verdict)
        asm.exit()
        return try Program(ProgramSpec(name: name, type: .cgroupSkb, expectedAttachType: .cgroupInetEgress, instructions: asm.assemble()))
    }

    @Test func mountPointAndLinksAreFound() throws {
        #expect(try Cgroup.unifiedMountPoint() == "/sys/fs/cgroup/unified")
        #expect(CgroupLinks.isSupported)
    }

    @Test func egressCountingLinkThenDroppingProgramAttach() throws {
        let cgroupDirectory = try TestCgroup()
        let cgroup = try Cgroup(path: cgroupDirectory.path)
        let receiver = try LoopbackUDPSocket()
        defer { receiver.close() }
        let send5 = "for i in 1 2 3 4 5; do printf x > /dev/udp/127.0.0.1/\(receiver.port); done"

        // A BPF link that counts and allows.
        let counts = try makeCounterMap("sbpfnet_cgcnt")
        let counting = try Self.countingSKB(counts, verdict: 1, name: "sbpfnet_cgcount")
        var link: CgroupAttachment? = try CgroupAttachment.attach(counting, to: cgroup)
        #expect(link?.method == .link)
        #expect(try cgroup.attachedPrograms(.cgroupInetEgress).programIDs == [try counting.info().id])
        #expect(try cgroupDirectory.runBash(send5).status == 0)
        #expect(receiver.drain() == [1, 1, 1, 1, 1])
        #expect(try counterValue(counts) == 5)
        // bpftool sees the same attachment.
        let shown = try NetTestShell.checked(["bpftool", "cgroup", "show", cgroupDirectory.path])
        #expect(shown.contains("sbpfnet_cgcount") && shown.contains("cgroup_inet_egress"))
        link = nil
        #expect(try cgroup.attachedPrograms(.cgroupInetEgress).programs.isEmpty)

        // The pre-link mechanism: BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI, dropping everything.
        let drops = try makeCounterMap("sbpfnet_cgdrop")
        let dropping = try Self.countingSKB(drops, verdict: 0, name: "sbpfnet_cgdrop")
        let attached = try CgroupAttachment.attach(dropping, to: cgroup, attachType: .cgroupInetEgress, method: .programAttach(.allowMulti))
        #expect(attached.kernelLink == nil)
        let query = try cgroup.attachedPrograms(.cgroupInetEgress)
        #expect(query.programIDs == [try dropping.info().id])
        #expect(query.programs.first?.flags == .allowMulti)
        let refused = try cgroupDirectory.runBash(send5)
        #expect(refused.status != 0)
        #expect(refused.output.contains("Operation not permitted"))
        #expect(receiver.drain().isEmpty)
        #expect(try counterValue(drops) == 5)
        // Programs outside the cgroup are not affected.
        let outsider = try LoopbackUDPSocket()
        defer { outsider.close() }
        try outsider.send(3, to: receiver.port)
        #expect(receiver.drain() == [3])

        try attached.close()
        #expect(throws: BPFError.self) { try attached.close() }
        #expect(try cgroup.attachedPrograms(.cgroupInetEgress).programs.isEmpty)
        #expect(try cgroupDirectory.runBash(send5).status == 0)
        #expect(receiver.drain().count == 5)
        #expect(try counterValue(drops) == 5)
    }

    @Test func connect4RefusesOnePort() throws {
        let cgroupDirectory = try TestCgroup()
        let cgroup = try Cgroup(path: cgroupDirectory.path)
        let allowed = try LoopbackTCPListener()
        let blocked = try LoopbackTCPListener()

        // bpf_sock_addr.user_port (offset 24) holds the port in network byte order.
        var asm = Assembler()
        asm.load(.word, .r2, .r1, 24)
        asm.jump(.eq, .r2, Int32(blocked.port.bigEndian), to: "deny")
        asm.mov(.r0, 1)
        asm.exit()
        asm.label("deny")
        asm.mov(.r0, 0)
        asm.exit()
        let program = try Program(ProgramSpec(name: "sbpfnet_conn4", type: .cgroupSockAddr, expectedAttachType: .cgroupInet4Connect,
                                              instructions: asm.assemble()))
        let connect = { (port: UInt16) in try cgroupDirectory.runBash("exec 3<>/dev/tcp/127.0.0.1/\(port)") }

        let attachment = try CgroupAttachment.attach(program, to: cgroup)
        #expect(attachment.attachType == .cgroupInet4Connect)
        let refused = try connect(blocked.port)
        #expect(refused.status != 0)
        #expect(refused.output.contains("Operation not permitted"))
        #expect(try connect(allowed.port).status == 0)

        try attachment.close()
        #expect(try connect(blocked.port).status == 0)
    }

    @Test func badCgroupsAndHooksGiveSpecificErrors() throws {
        do {
            _ = try Cgroup(path: "/sys/fs/cgroup/unified/sbpfnet_does_not_exist")
            Issue.record("a missing cgroup was opened")
        } catch BPFError.notFound(let what, _) {
            #expect(what == "cgroup")
        }
        #expect(throws: BPFError.self) { _ = try Cgroup(path: "/proc") } // not cgroup v2
        #expect(throws: BPFError.self) { _ = try Cgroup(path: "/etc/hostname") } // not a directory

        let cgroupDirectory = try TestCgroup()
        let cgroup = try Cgroup(path: cgroupDirectory.path)
        let counts = try makeCounterMap("sbpfnet_cgbad")
        let program = try Self.countingSKB(counts, verdict: 1, name: "sbpfnet_cgbad")
        // A cgroup_skb program at a sock_addr hook: EINVAL, explained.
        do {
            _ = try CgroupAttachment.attach(program, to: cgroup, attachType: .cgroupInet4Connect)
            Issue.record("cgroup_skb attached at connect4")
        } catch let error as BPFError {
            #expect(error.errno == .EINVAL)
            #expect(error.description.contains("cgroup_inet4_connect"))
        }
        #expect(try cgroup.attachedPrograms(.cgroupInet4Connect).programs.isEmpty)
    }
}
