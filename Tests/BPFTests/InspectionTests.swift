@testable import BPF
import BPFObject
import CBPFSys
import Foundation
import Testing

@Suite(.kernel, .serialized)
struct InspectionTests {
    static let returnZero = [Instruction(opcode: 0xb7, dst: 0, immediate: 0), Instruction(opcode: 0x95)]

    /// A raw tracepoint link on sched_switch (BPF_RAW_TRACEPOINT_OPEN), owned by the result.
    static func rawTracepointLink() throws -> KernelLink {
        let program = try Program(ProgramSpec(name: "sbpf_insp_rtp", type: .rawTracepoint, instructions: returnZero))
        return try program.attachRawTracepoint("sched_switch")
    }

    @Test func translatedInstructionsAreTheLoadedProgram() throws {
        let instructions = [Instruction(opcode: 0xb7, dst: 0, immediate: 7), Instruction(opcode: 0x95)]
        let program = try Program(ProgramSpec(name: "sbpf_insp_x", type: .socketFilter, instructions: instructions))
        let bytes = try ProgramInfo.translatedInstructions(fd: program.fd)
        #expect(bytes == instructions.encoded())
        #expect(try program.info().translatedSize == UInt32(bytes.count))
        let jited = try ProgramInfo.jitedCode(fd: program.fd)
        #expect(jited.count == Int(try program.info().jitedSize))
    }

    @Test func enumerationFindsOurObjectsWithInfo() throws {
        let program = try Program(ProgramSpec(name: "sbpf_insp_enum", type: .socketFilter, instructions: Self.returnZero))
        let map = try Map(MapSpec(name: "sbpf_insp_enum", type: .hash, keySize: 4, valueSize: 4, maxEntries: 2))
        let programID = try program.info().id
        let mapID = try map.info().id
        #expect(try KernelObjects.programs().contains { $0.info.id == programID && $0.info.name == "sbpf_insp_enum" })
        #expect(try KernelObjects.maps().contains { $0.info.id == mapID && $0.info.type == .hash })
        #expect(try KernelObjects.programs(matching: .name("sbpf_insp_enum")).map(\.info.id).contains(programID))
        #expect(try KernelObjects.maps(matching: .id(mapID)).first?.info.name == "sbpf_insp_enum")
        // fdinfo carries what the info struct does not.
        let fdInfo = try FileDescriptorInfo(fd: map.fd)
        #expect((fdInfo.memlock ?? 0) > 0)
        #expect(!fdInfo.isFrozen)
    }

    @Test func vanishedObjectsAreSkippedNotReported() throws {
        // Load and free programs while enumerating from another thread: no error may escape.
        let done = ManagedAtomicFlag()
        let churn = Thread {
            while !done.isSet {
                _ = try? Program(ProgramSpec(name: "sbpf_insp_churn", type: .socketFilter, instructions: Self.returnZero))
            }
        }
        churn.start()
        defer { done.set() }
        for _ in 0..<50 { _ = try KernelObjects.programs() }
    }

    @Test func missingObjectsAreNotFound() throws {
        #expect(throws: BPFError.self) { try KernelObjects.open(.program, id: UInt32.max) }
        do {
            _ = try KernelObjects.programs(matching: .name("sbpf_insp_none"))
            Issue.record("no program should match")
        } catch BPFError.notFound(let what, _) {
            #expect(what.contains("sbpf_insp_none"))
        }
    }

    @Test func rawTracepointLinkInfo() throws {
        let link = try Self.rawTracepointLink()
        let info = try link.info()
        #expect(info.type == .rawTracepoint)
        #expect(info.details == .rawTracepoint(name: "sched_switch"))
        let reopened = try KernelLink(adoptingID: info.id)
        #expect(try reopened.info().programID == info.programID)
        #expect(try KernelObjects.links().contains { $0.info.id == info.id })
    }

    @Test func cgroupLinkInfo() throws {
        let testCgroup = try TestCgroup()
        defer { testCgroup.remove() }
        let path = testCgroup.path
        let cgroup = open(path, O_RDONLY | O_DIRECTORY)
        try #require(cgroup >= 0)
        defer { close(cgroup) }
        var status = stat()
        stat(path, &status)
        let program = try Program(ProgramSpec(name: "sbpf_insp_cg", type: .cgroupSkb, expectedAttachType: .cgroupInetEgress,
                                              instructions: [Instruction(opcode: 0xb7, dst: 0, immediate: 1), Instruction(opcode: 0x95)]))
        let link = try KernelLink.create(program: program, targetFD: cgroup, attachType: .cgroupInetEgress, description: "cgroup egress")
        let info = try link.info()
        #expect(info.type == .cgroup)
        // cgroup v2 ids are the directory's inode number.
        #expect(info.details == .cgroup(cgroupID: UInt64(status.st_ino), attachType: AttachType.cgroupInetEgress.rawValue))
        #expect(info.attachType == .cgroupInetEgress)
        #expect(info.programID == (try program.info().id))
    }

    @Test func tcxLinkInfo() throws {
        guard FeatureProbe.tcx.isAvailable else { return }
        // r0 = -1 (TCX_NEXT): packets go on to whatever other tests attached to lo.
        let program = try Program(ProgramSpec(name: "sbpf_insp_tcx", type: .schedCls, expectedAttachType: .tcxEgress,
                                              instructions: [Instruction(opcode: 0xb7, dst: 0, immediate: -1), Instruction(opcode: 0x95)]))
        let loopback = if_nametoindex("lo")
        let link = try KernelLink.create(program: program, targetFD: Int32(loopback), attachType: .tcxEgress, description: "tcx egress lo")
        let info = try link.info()
        #expect(info.type == .tcx)
        #expect(info.details == .tcx(interfaceIndex: loopback, attachType: AttachType.tcxEgress.rawValue))
    }

    /// perf_event_open on CPU 0 for `type`/`config`, owned by the result.
    static func perfEvent(type: UInt32, config: UInt64) throws -> OwnedFileDescriptor {
        var attr = sbpf_perf_event_attr()
        attr.type = type
        attr.size = UInt32(MemoryLayout<sbpf_perf_event_attr>.size)
        attr.config = config
        attr.sample_period = type == 2 ? 1 : 1_000_000
        attr.wakeup_events = 1
        let fd = sbpf_perf_event_open(&attr, -1, 0, -1, 8 /* PERF_FLAG_FD_CLOEXEC */)
        guard fd >= 0 else { throw BPFError.syscall(SystemCallFailure(operation: "perf_event_open", errno: .current)) }
        return OwnedFileDescriptor(adopting: fd, label: "perf event")
    }

    static func perfLink(_ program: Program, _ event: OwnedFileDescriptor, cookie: UInt64) throws -> KernelLink {
        try KernelLink.create(program: program, targetFD: try event.value(), attachType: .perfEvent, description: "perf link", configure: { attr in
            attr.tail.perf_event.bpf_cookie = cookie
        })
    }

    @Test func perfEventLinkInfoForATracepoint() throws {
        let idPath = "/sys/kernel/tracing/events/sched/sched_switch/id"
        guard let text = try? String(contentsOfFile: idPath, encoding: .utf8), let id = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            Issue.record("tracefs is not mounted at /sys/kernel/tracing")
            return
        }
        let event = try Self.perfEvent(type: 2 /* PERF_TYPE_TRACEPOINT */, config: id)
        let program = try Program(ProgramSpec(name: "sbpf_insp_ptp", type: .tracepoint, instructions: Self.returnZero))
        let link = try Self.perfLink(program, event, cookie: 0x1234_5678_9abc)
        let info = try link.info()
        #expect(info.type == .perfEvent)
        #expect(info.details == .perfEvent(.tracepoint(name: "sched_switch", cookie: 0x1234_5678_9abc)))
    }

    @Test func perfEventLinkInfoForASoftwareCounter() throws {
        let event = try Self.perfEvent(type: 1 /* PERF_TYPE_SOFTWARE */, config: 0 /* PERF_COUNT_SW_CPU_CLOCK */)
        let program = try Program(ProgramSpec(name: "sbpf_insp_pev", type: .perfEvent, instructions: Self.returnZero))
        let link = try Self.perfLink(program, event, cookie: 42)
        let info = try link.info()
        // The kernel reports the PMU that serves the event: PERF_TYPE_SOFTWARE, or on newer
        // kernels the dedicated cpu_clock PMU's dynamic type.
        guard case .perfEvent(.event(let type, let config, let cookie)) = info.details else {
            Issue.record("expected a perf event link, got \(info.details)")
            return
        }
        #expect(type != 0 && type != 2)
        #expect(config == 0)
        #expect(cookie == 42)
    }

    @Test func vmlinuxBTFInfo() throws {
        let objects = try KernelObjects.btfObjects()
        let vmlinux = try #require(objects.first { $0.info.name == "vmlinux" })
        #expect(vmlinux.info.isKernel)
        let fileSize = try FileManager.default.attributesOfItem(atPath: "/sys/kernel/btf/vmlinux")[.size] as? Int
        #expect(Int(vmlinux.info.size) == fileSize)
        let raw = try BTFObjectInfo.bytes(of: vmlinux.fd)
        #expect(raw.count == Int(vmlinux.info.size))
        #expect(raw.prefix(2) == [0x9f, 0xeb])
    }

    @Test func runtimeStatisticsCountRuns() throws {
        let program = try Program(ProgramSpec(name: "sbpf_insp_stat", type: .xdp, instructions: [
            Instruction(opcode: 0xb7, dst: 0, immediate: 2), Instruction(opcode: 0x95),
        ]))
        let statistics = try RuntimeStatistics()
        _ = try program.testRun(TestRunInput(data: [UInt8](repeating: 0, count: 64), repeatCount: 25))
        let info = try program.info()
        #expect(info.runCount >= 25)
        #expect(info.runTimeNanoseconds > 0)
        try statistics.close()
        #expect(throws: BPFError.self) { try statistics.close() }
    }
}
