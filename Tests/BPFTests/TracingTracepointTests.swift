@testable import BPF
import BPFObject
import Foundation
import Testing

/// Builds the small counting programs the tracing tests attach: each adds 1 to a hash-map slot
/// (u32 key → u64 count) when the current process is the test process.
enum TracingCounter {
    enum Key {
        /// Always the same slot.
        case constant(Int32)
        /// The low 32 bits of the u64 at this offset of the program's context (e.g. the syscall
        /// id of raw tracepoint `sys_enter`, args[1] at offset 8).
        case contextU64(offset: Int16)
        /// The CPU the program runs on.
        case cpu
        /// What bpf_get_attach_cookie() returns (the cookie of the place that fired).
        case attachCookie
    }

    static func makeMap(_ name: String) throws -> Map {
        try Map(MapSpec(name: name, type: .hash, keySize: 4, valueSize: 8, maxEntries: 1024))
    }

    static func program(_ name: String, type: ProgramType, map: Map, key: Key = .constant(0),
                        onlyProcess tgid: Int32? = getpid(), expectedAttachType: AttachType? = nil,
                        attachBTFID: UInt32? = nil) throws -> Program {
        var asm = Assembler()
        asm.mov(.r6, .r1) // keep the context across helper calls
        if let tgid {
            asm.call(.getCurrentPidTgid)
            asm.alu(.rsh, .r0, 32) // upper half is the tgid (the process id)
            asm.jump(.ne, .r0, tgid, to: "out")
        }
        switch key {
        case .constant(let value):
            asm.store(.word, .r10, -4, immediate: value)
        case .contextU64(let offset):
            asm.load(.doubleWord, .r1, .r6, offset)
            asm.store(.word, .r10, -4, .r1)
        case .cpu:
            asm.call(.getSmpProcessorId)
            asm.store(.word, .r10, -4, .r0)
        case .attachCookie:
            asm.mov(.r1, .r6)
            asm.call(.getAttachCookie)
            asm.store(.word, .r10, -4, .r0)
        }
        asm.loadMapFD(.r1, try map.fd.value())
        asm.mov(.r2, .r10)
        asm.add(.r2, -4)
        asm.call(.mapLookupElem)
        asm.jump(.eq, .r0, 0, to: "insert")
        asm.mov(.r1, 1)
        asm.atomicAdd(.doubleWord, .r0, 0, .r1)
        asm.jump(to: "out")
        asm.label("insert")
        asm.store(.doubleWord, .r10, -16, immediate: 1)
        asm.loadMapFD(.r1, try map.fd.value())
        asm.mov(.r2, .r10)
        asm.add(.r2, -4)
        asm.mov(.r3, .r10)
        asm.add(.r3, -16)
        asm.mov(.r4, 1) // BPF_NOEXIST: a racing insert makes this fail instead of resetting the count
        asm.call(.mapUpdateElem)
        asm.label("out")
        asm.mov(.r0, 0)
        asm.exit()
        return try Program(ProgramSpec(name: name, type: type, expectedAttachType: expectedAttachType,
                                       instructions: try asm.assemble(), attachBTFID: attachBTFID))
    }

    static func count(_ map: Map, key: UInt32 = 0) throws -> UInt64 {
        let keyBytes = withUnsafeBytes(of: key.littleEndian, Array.init)
        guard let value = try map.lookup(keyBytes) else { return 0 }
        return value.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }

    /// The syscall number of getppid (arch/x86/entry/syscalls/syscall_64.tbl;
    /// include/uapi/asm-generic/unistd.h for arm64).
    #if arch(x86_64)
    static let getppidNumber = 110
    #else
    static let getppidNumber = 173
    #endif

    /// `getppid()`: glibc never caches it, so each call is one syscall.
    static func callGetppid(_ times: Int) {
        for _ in 0..<times { _ = getppid() }
    }
}

@Suite(.kernel, .serialized)
struct TracingTracepointTests {
    @Test func countsOwnSyscallsAndStopsAfterClose() throws {
        let map = try TracingCounter.makeMap("trc_tp_count")
        let program = try TracingCounter.program("trc_tp_getppid", type: .tracepoint, map: map)
        let link = try program.attachTracepoint("syscalls:sys_enter_getppid")
        TracingCounter.callGetppid(37)
        #expect(try TracingCounter.count(map) == 37)
        try link.close()
        TracingCounter.callGetppid(10)
        #expect(try TracingCounter.count(map) == 37)
        #expect(throws: BPFError.self) { try link.close() }
    }

    @Test func legacyIoctlAttachCountsAndDetaches() throws {
        let map = try TracingCounter.makeMap("trc_tp_ioctl")
        let program = try TracingCounter.program("trc_tp_ioctl", type: .tracepoint, map: map)
        let link = try program.attachTracepoint(category: "syscalls", name: "sys_enter_getppid", method: .ioctl)
        #expect(link.kernelLink == nil)
        TracingCounter.callGetppid(12)
        #expect(try TracingCounter.count(map) == 12)
        try link.close()
        TracingCounter.callGetppid(3)
        #expect(try TracingCounter.count(map) == 12)
    }

    @Test func perfLinksAreProbedAvailable() {
        // Linux 5.15+ has BPF_LINK_CREATE for perf events; this machine runs a newer kernel.
        #expect(PerfLinkSupport.isAvailable)
    }

    @Test func mountsTracefsItself() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbpf-tracing-mount-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Tracefs.mount(at: directory)
        defer { umount2(directory, 0) }
        #expect(FileManager.default.fileExists(atPath: directory + "/events/sched/sched_switch/id"))
        #expect(throws: BPFError.self) { try Tracefs.mount(at: directory + "/does-not-exist") }
    }

    @Test func releasingTheLinkDetaches() throws {
        let map = try TracingCounter.makeMap("trc_tp_release")
        let program = try TracingCounter.program("trc_tp_release", type: .tracepoint, map: map)
        do {
            let link = try program.attachTracepoint(category: "syscalls", name: "sys_enter_getppid")
            TracingCounter.callGetppid(5)
            withExtendedLifetime(link) {}
        }
        TracingCounter.callGetppid(5)
        #expect(try TracingCounter.count(map) == 5)
    }

    @Test func unknownTracepointIsNotFound() throws {
        let map = try TracingCounter.makeMap("trc_tp_unknown")
        let program = try TracingCounter.program("trc_tp_unknown", type: .tracepoint, map: map)
        do {
            _ = try program.attachTracepoint("syscalls:sys_enter_no_such_call")
            Issue.record("attached to a tracepoint that does not exist")
        } catch BPFError.notFound(let what, let detail) {
            #expect(what == "tracepoint syscalls:sys_enter_no_such_call")
            #expect(detail.contains("events(in: \"syscalls\")"))
        }
        do {
            _ = try program.attachTracepoint("nosuchcategory:foo")
            Issue.record("attached to a tracepoint in a category that does not exist")
        } catch BPFError.notFound(_, let detail) {
            #expect(detail.contains("no category 'nosuchcategory'"))
        }
        #expect(throws: BPFError.self) { try program.attachTracepoint("no_colon") }
        #expect(throws: BPFError.self) { try program.attachTracepoint("syscalls:../../x") }
    }

    @Test func readingPastTheRecordIsExplained() throws {
        // sys_enter_getppid's record is 16 bytes (common fields and __syscall_nr): reading at
        // offset 512 passes the verifier but the attach refuses it.
        let record = try Tracefs.format(category: "syscalls", name: "sys_enter_getppid").recordSize
        #expect(record < 512)
        var asm = Assembler()
        asm.load(.doubleWord, .r0, .r1, 512)
        asm.mov(.r0, 0)
        asm.exit()
        let program = try Program(ProgramSpec(name: "trc_tp_past", type: .tracepoint, instructions: try asm.assemble()))
        do {
            _ = try program.attachTracepoint("syscalls:sys_enter_getppid")
            Issue.record("the kernel accepted a program reading past the record")
        } catch let error as BPFError {
            #expect(error.errno == .EACCES)
            #expect(error.description.contains("reads past the end of this tracepoint's record"), "\(error)")
        }
    }

    @Test func wrongProgramTypeIsRefusedBeforeTheKernel() throws {
        let map = try TracingCounter.makeMap("trc_tp_wrongtype")
        let program = try TracingCounter.program("trc_tp_raw", type: .rawTracepoint, map: map)
        #expect(throws: BPFError.self) { try program.attachTracepoint("syscalls:sys_enter_getppid") }
    }

    @Test func listsAndMatchesTracepoints() throws {
        let categories = try Tracefs.categories()
        #expect(categories.contains("syscalls") && categories.contains("sched"))
        let matches = try Tracefs.tracepoints(matching: "syscalls:sys_enter_getpp*")
        #expect(matches.map { "\($0.category):\($0.name)" } == ["syscalls:sys_enter_getppid"])
        let sched = try Tracefs.tracepoints(matching: "sch?d:sched_switch")
        #expect(sched.count == 1)
        #expect(try Tracefs.events(in: "sched").contains("sched_wakeup"))
        #expect(try Tracefs.tracepointID(category: "sched", name: "sched_switch") > 0)
    }

    @Test func realFormatFiles() throws {
        let openat = try Tracefs.format(category: "syscalls", name: "sys_enter_openat")
        #expect(openat.name == "sys_enter_openat")
        #expect(openat.id == UInt32(try Tracefs.tracepointID(category: "syscalls", name: "sys_enter_openat")))
        #expect(openat.commonFields.map(\.name) == ["common_type", "common_flags", "common_preempt_count", "common_pid"])
        #expect(openat.fields.map(\.name) == ["__syscall_nr", "dfd", "filename", "flags", "mode"])
        let filename = try #require(openat.field(named: "filename"))
        #expect(filename.type == "const char *" && filename.isPointer && filename.offset == 24 && filename.size == 8)
        let sched = try Tracefs.format(category: "sched", name: "sched_switch")
        let prevComm = try #require(sched.field(named: "prev_comm"))
        #expect(prevComm.kind == .array(count: 16) && prevComm.type == "char")
        #expect(sched.field(named: "next_pid")?.isSigned == true)
    }
}

@Suite(.kernel, .serialized)
struct TracingRawTracepointTests {
    @Test func countsSyscallsById() throws {
        let map = try TracingCounter.makeMap("trc_raw_count")
        // sys_enter(struct pt_regs *regs, long id): args[1] is the syscall number.
        let program = try TracingCounter.program("trc_raw_enter", type: .rawTracepoint, map: map, key: .contextU64(offset: 8))
        let link = try program.attachRawTracepoint("sys_enter")
        TracingCounter.callGetppid(23)
        #expect(try TracingCounter.count(map, key: UInt32(TracingCounter.getppidNumber)) == 23)
        try link.close()
        TracingCounter.callGetppid(4)
        #expect(try TracingCounter.count(map, key: UInt32(TracingCounter.getppidNumber)) == 23)
    }

    @Test func unknownRawTracepoint() throws {
        let map = try TracingCounter.makeMap("trc_raw_unknown")
        let program = try TracingCounter.program("trc_raw_unknown", type: .rawTracepoint, map: map)
        do {
            _ = try program.attachRawTracepoint("no_such_tracepoint_xyz")
            Issue.record("attached to a raw tracepoint that does not exist")
        } catch let error as BPFError {
            #expect(error.errno == .ENOENT)
            #expect(error.description.contains("no tracepoint 'no_such_tracepoint_xyz'"))
        }
        #expect(throws: BPFError.self) { try program.attachRawTracepoint("sched:sched_switch") }
    }
}
