@testable import BPF
import BPFObject
import Foundation
import Testing
import TestSupport

/// Kernel BTF ids of attach targets, looked up in /sys/kernel/btf/vmlinux.
enum KernelBTFIDs {
    /// The id of the BTF type `kind 'name'` (e.g. TYPEDEF 'btf_trace_sched_switch'), read with
    /// bpftool as an independent oracle.
    static func id(kind: String, name: String) throws -> UInt32 {
        let needle = "] \(kind) '\(name)' "
        for line in try dump() where line.contains(needle) {
            if let close = line.firstIndex(of: "]"), let id = UInt32(line[line.index(after: line.startIndex)..<close]) { return id }
        }
        throw BPFError.notFound(what: "BTF \(kind) '\(name)'", detail: "not in vmlinux BTF")
    }

    static func id(_ target: BTFAttachTarget) throws -> UInt32 { try id(kind: target.btfKind.rawName, name: target.btfTypeName) }

    private static let cachedDump = Result { try runBpftool() }
    static func dump() throws -> [Substring] { try cachedDump.get() }

    private static func runBpftool() throws -> [Substring] {
        let bpftool = try #require(["/usr/sbin/bpftool", "/usr/bin/bpftool", "/usr/local/sbin/bpftool"].first { FileManager.default.isExecutableFile(atPath: $0) }, "bpftool is needed to look up BTF ids")
        let dump = try ChildProcess.run(bpftool, ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"])
        // Only the lines naming types are needed; keep the list small.
        return dump.stdout.split(separator: "\n").filter { $0.first == "[" && ($0.contains("] FUNC '") || $0.contains("] TYPEDEF 'btf_trace_")) }
    }
}

@Suite(.kernel, .serialized)
struct TracingBTFLinkTests {
    @Test func tpBTFSysEnterCountsExactly() throws {
        // The kernel's convention: tp_btf/<name> attaches to the typedef btf_trace_<name>.
        let target = try BTFAttachTarget("tp_btf/sys_enter")
        #expect(target.btfTypeName == "btf_trace_sys_enter" && target.btfKind == .typedef && target.attachType == .traceRawTp)
        let btfID = try target.kernelTypeID()
        let map = try TracingCounter.makeMap("trc_tpbtf")
        let program = try TracingCounter.program("trc_tpbtf", type: .tracing, map: map, key: .contextU64(offset: 8),
                                                 expectedAttachType: .traceRawTp, attachBTFID: btfID)
        let link = try program.attachTracing(target: "sys_enter")
        TracingCounter.callGetppid(19)
        #expect(try TracingCounter.count(map, key: UInt32(TracingCounter.getppidNumber)) == 19)
        try link.close()
        TracingCounter.callGetppid(3)
        #expect(try TracingCounter.count(map, key: UInt32(TracingCounter.getppidNumber)) == 19)
    }

    @Test func tpBTFSchedSwitch() throws {
        let btfID = try BTFAttachTarget("tp_btf/sched_switch").kernelTypeID()
        let map = try TracingCounter.makeMap("trc_tpbtf_sw")
        let program = try TracingCounter.program("trc_tpbtf_sw", type: .tracing, map: map,
                                                 expectedAttachType: .traceRawTp, attachBTFID: btfID)
        let link = try program.attachTracing(target: "sched_switch")
        for _ in 0..<5 { usleep(2_000) } // each sleep switches this thread out
        #expect(try TracingCounter.count(map) >= 5)
        try link.close()
    }

    @Test(arguments: ["fentry/do_sys_openat2", "fexit/do_sys_openat2", "fmod_ret/do_sys_openat2", "lsm/file_open"])
    func trampolineKindsWorkOrFailClearly(qualified: String) throws {
        let target = try BTFAttachTarget(qualified)
        let (attachType, programType, function) = (target.attachType, target.programType, target.name)
        let btfID = try target.kernelTypeID()
        let map = try TracingCounter.makeMap("trc_tramp")
        do {
            let program = try TracingCounter.program("trc_tramp", type: programType, map: map,
                                                     expectedAttachType: attachType, attachBTFID: btfID)
            // A kernel that allows trampolines attaches; then opening a file must be counted.
            let link = try program.attachTracing(target: function)
            _ = FileManager.default.contents(atPath: "/proc/self/stat")
            #expect(try TracingCounter.count(map) > 0 || attachType == .modifyReturn)
            try link.close()
        } catch let error as BPFError {
            // This test kernel refuses them with EPERM, already at load time.
            #expect(error.errno == .EPERM)
            let expected = attachType == .lsmMac ? "LSM programs are not permitted by this kernel (EPERM)" : "fentry/fexit programs are not permitted by this kernel (EPERM)"
            #expect(error.description.contains(expected), "\(error)")
        }
    }

    @Test func taskIteratorRunsOverEveryTask() throws {
        var asm = Assembler()
        asm.mov(.r6, .r1)
        asm.load(.doubleWord, .r7, .r6, 8) // ctx->task (NULL at the end of the walk)
        asm.jump(.eq, .r7, 0, to: "out")
        asm.load(.doubleWord, .r1, .r6, 0) // ctx->meta
        asm.load(.doubleWord, .r1, .r1, 0) // meta->seq
        asm.store(.word, .r10, -4, immediate: 0x6b73_6174) // "task"
        asm.mov(.r2, .r10)
        asm.add(.r2, -4)
        asm.mov(.r3, 4)
        asm.call(.seqWrite)
        asm.label("out")
        asm.mov(.r0, 0)
        asm.exit()
        let program = try Program(try ProgramSpec.btfAttached("iter/task", name: "trc_iter_task", instructions: try asm.assemble()))
        let link = try program.attachTracing(target: "task")
        let output = try link.readIterator()
        #expect(output.count % 4 == 0 && output.count >= 4 * 2, "at least init and this process: \(output.count) bytes")
        #expect(output.prefix(4) == Array("task".utf8)[...])
        try link.close()
        #expect(throws: BPFError.self) { try link.readIterator() }
    }

    @Test func kernelTypeIDsMatchBpftool() throws {
        for qualified in ["tp_btf/sched_switch", "tp_btf/sys_enter", "fentry/do_sys_openat2", "lsm/file_open", "iter/task"] {
            let target = try BTFAttachTarget(qualified)
            #expect(try target.kernelTypeID() == KernelBTFIDs.id(target), "\(qualified)")
        }
    }

    @Test func unknownTargetsAreNotFound() throws {
        for (qualified, hint) in [("tp_btf/no_such_tracepoint_xyz", "no tracepoint"), ("fentry/no_such_function_xyz", "no function"),
                                  ("lsm/no_such_hook_xyz", "no LSM hook"), ("iter/no_such_iterator_xyz", "no iterator")] {
            do {
                _ = try ProgramSpec.btfAttached(qualified, name: "trc_missing", instructions: [])
                Issue.record("resolved \(qualified)")
            } catch BPFError.notFound(let what, let detail) {
                #expect(what.hasPrefix("\(qualified) target"))
                #expect(detail.contains(hint), "\(detail)")
            }
        }
        let sleepable = try ProgramSpec.btfAttached("fentry.s/do_sys_openat2", name: "trc_sleepable", instructions: [])
        #expect(sleepable.flags & (1 << 4) != 0 && sleepable.type == .tracing && sleepable.expectedAttachType == .traceFentry)
    }

    @Test func parsesAttachTargets() throws {
        let lsm = try BTFAttachTarget("lsm/file_open")
        #expect(lsm.programType == .lsm && lsm.attachType == .lsmMac && lsm.btfTypeName == "bpf_lsm_file_open")
        let sleepable = try BTFAttachTarget("fentry.s/do_sys_openat2")
        #expect(sleepable.attachType == .traceFentry && sleepable.btfTypeName == "do_sys_openat2")
        #expect(try BTFAttachTarget("iter/task").description == "iter/task")
        #expect(throws: BPFError.self) { try BTFAttachTarget("kprobe/foo") }
        #expect(throws: BPFError.self) { try BTFAttachTarget("tp_btf/") }
        #expect(throws: BPFError.self) { try BTFAttachTarget("sched_switch") }
    }

    @Test func wrongProgramKindIsRefused() throws {
        let map = try TracingCounter.makeMap("trc_btf_wrong")
        let program = try TracingCounter.program("trc_btf_wrong", type: .tracepoint, map: map)
        #expect(throws: BPFError.self) { try program.attachTracing() }
    }
}
