import BPFObject
import Foundation
import Testing
import TestSupport

/// Compiles the loader's C fixtures with the toolchain's clang (no kernel needed).
enum ObjectFixtures {
    static let clang = "/opt/swift/usr/bin/clang"
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("BPFTests/Fixtures/objects").path
    static let output: String = {
        let path = NSTemporaryDirectory() + "swiftbpf-objspec-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// Compiles `source` (a fixture file name or C text) and returns the object's bytes.
    static func compile(_ name: String, source: String? = nil) throws -> [UInt8] {
        var input = directory + "/" + name
        if let source {
            input = output + "/" + name
            try source.write(toFile: input, atomically: true, encoding: .utf8)
        }
        let object = output + "/" + name.replacingOccurrences(of: ".bpf.c", with: ".o")
        let compile = try ChildProcess.run(clang, ["-target", "bpf", "-g", "-O2", "-I", directory, "-c", input, "-o", object], mergingErrors: true)
        guard compile.status == 0 else { throw CompileError(message: compile.output) }
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: object)))
    }

    struct CompileError: Error, CustomStringConvertible { var message: String; var description: String { message } }
}

@Suite("ObjectSpec")
struct ObjectSpecTests {
    @Test func parsesProgramsMapsDataAndExterns() throws {
        let spec = try ObjectSpec(elf: try ObjectFixtures.compile("features.bpf.c"), name: "features")
        #expect(spec.license == "GPL")
        #expect(Set(spec.programs.map(\.name)) == ["count_calls", "tail_target", "jump", "use_inner"])
        let count = try #require(spec.program(named: "count_calls"))
        #expect(count.spec.type == .rawTracepoint)
        #expect(count.sectionName == "raw_tp/sys_enter")
        #expect(count.attachTarget == "sys_enter")
        // scaled (static), global_add (global) and loop_step (bpf_loop callback) are appended.
        #expect(Set(count.subprograms) == ["scaled", "global_add", "loop_step"])
        #expect(count.functionInfo.count == 4)
        #expect(count.functionInfo.first?.instructionByteOffset == 0)
        #expect(!count.lineInfo.isEmpty)
        // Every call/lddw of a function points at an appended function start.
        let starts = Set(count.functionInfo.map { Int($0.instructionByteOffset / 8) })
        for (index, insn) in count.spec.instructions.enumerated() where (insn.opcode == 0x85 && insn.src == 1) || (insn.opcode == 0x18 && insn.src == 4) {
            #expect(starts.contains(index + 1 + Int(insn.immediate)))
        }
        let targets = Set(count.relocations.map(\.target))
        #expect(targets.contains(.map("counts")))
        #expect(targets.contains(.map("legacy_array")))
        #expect(targets.contains(.mapValue(map: "features.bss", offset: spec.variable(named: "counter")!.offset)))
        #expect(targets.contains { if case .mapValue(map: "features.rodata", _) = $0 { true } else { false } })
        #expect(targets.contains { if case .mapValue(map: "feature.kconfig", _) = $0 { true } else { false } })

        #expect(spec.map(named: "counts")?.spec == MapSpec(name: "counts", type: .hash, keySize: 4, valueSize: 8, maxEntries: 64))
        #expect(spec.map(named: "events")?.spec.type == .ringbuf)
        #expect(spec.map(named: "events")?.spec.maxEntries == 4096)
        #expect(spec.map(named: "legacy_array")?.kind == .legacy)
        #expect(spec.map(named: "legacy_array")?.spec.valueSize == 8)
        let outer = try #require(spec.map(named: "outer"))
        #expect(outer.spec.type == .arrayOfMaps)
        #expect(outer.spec.innerMapSpec?.type == .array)
        #expect(outer.initialSlots == [.init(index: 1, target: .map("inner_a")), .init(index: 3, target: .map("inner_b"))])
        #expect(spec.map(named: "jumps")?.initialSlots == [.init(index: 0, target: .program("tail_target"))])

        let rodata = try #require(spec.map(named: "features.rodata"))
        #expect(rodata.isReadOnly)
        #expect(rodata.initialValue == [1, 0, 0, 0, 0, 0, 0, 0])
        #expect(spec.map(named: "features.data")?.initialValue == [7, 0, 0, 0, 0, 0, 0, 0])
        #expect(spec.map(named: "features.bss")?.spec.valueSize == 40)
        #expect(spec.variable(named: "multiplier")?.sectionName == ".rodata")
        #expect(spec.variable(named: "multiplier")?.typeID != nil)
        #expect(spec.externs.map(\.name).sorted() == ["CONFIG_BPF_SYSCALL", "CONFIG_HZ", "CONFIG_SWIFTBPF_MISSING", "LINUX_KERNEL_VERSION"])
        #expect(spec.externs.first { $0.name == "CONFIG_SWIFTBPF_MISSING" }?.isWeak == true)
        // The fixed-up BTF has data section sizes filled in.
        let btf = try #require(spec.btf)
        let bss = try btf.type(try btf.typeID(named: ".bss", kind: .dataSection))
        #expect(bss.sizeOrType == 40)
    }

    @Test func internalMapNamesFollowLibbpf() {
        #expect(ObjectSpec.objectName(forPath: "/tmp/hello_bpf.bpf.o") == "hello_bpf")
        let spec = try? ObjectSpec(elf: ObjectFixtures.compile("features.bpf.c"), name: "hello_bpf")
        #expect(spec?.map(named: "hello_bp.rodata") != nil)
        #expect(spec?.map(named: "hello_bp.bss") != nil)
        #expect(spec?.map(named: "hello_b.kconfig") != nil)
    }

    @Test(arguments: [
        ("socket", ProgramType.socketFilter, nil as AttachType?),
        ("xdp", .xdp, .xdp), ("xdp.frags", .xdp, .xdp), ("xdp/devmap", .xdp, .xdpDevmap),
        ("tc", .schedCls, nil), ("tc/ingress", .schedCls, .tcxIngress), ("tcx/egress", .schedCls, .tcxEgress),
        ("classifier", .schedCls, nil), ("action", .schedAct, nil),
        ("tracepoint/syscalls/sys_enter_openat", .tracepoint, nil), ("tp/sched/sched_switch", .tracepoint, nil),
        ("raw_tp/sys_enter", .rawTracepoint, nil), ("raw_tracepoint.w/x", .rawTracepointWritable, nil),
        ("tp_btf/sched_switch", .tracing, .traceRawTp), ("fentry/do_nanosleep", .tracing, .traceFentry),
        ("fexit.s/x", .tracing, .traceFexit), ("fmod_ret/x", .tracing, .modifyReturn), ("lsm/file_open", .lsm, .lsmMac),
        ("lsm.s/file_open", .lsm, .lsmMac), ("iter/task", .tracing, .traceIter), ("iter.s/task", .tracing, .traceIter),
        ("kprobe/do_sys_open", .kprobe, nil), ("kretprobe/x", .kprobe, nil), ("ksyscall/openat", .kprobe, nil),
        ("uprobe//bin/true:main", .kprobe, nil), ("uprobe.s/x", .kprobe, nil), ("usdt/x", .kprobe, nil),
        ("perf_event", .perfEvent, nil), ("cgroup_skb/ingress", .cgroupSkb, .cgroupInetIngress),
        ("cgroup_skb/egress", .cgroupSkb, .cgroupInetEgress), ("cgroup/skb", .cgroupSkb, nil),
        ("cgroup/sock", .cgroupSock, .cgroupInetSockCreate), ("cgroup/connect4", .cgroupSockAddr, .cgroupInet4Connect),
        ("cgroup/bind6", .cgroupSockAddr, .cgroupInet6Bind), ("cgroup/post_bind4", .cgroupSock, .cgroupInet4PostBind),
        ("cgroup/sendmsg4", .cgroupSockAddr, .cgroupUdp4Sendmsg), ("cgroup/recvmsg6", .cgroupSockAddr, .cgroupUdp6Recvmsg),
        ("cgroup/getpeername4", .cgroupSockAddr, .cgroupInet4Getpeername), ("cgroup/sysctl", .cgroupSysctl, .cgroupSysctl),
        ("cgroup/dev", .cgroupDevice, .cgroupDevice), ("cgroup/getsockopt", .cgroupSockopt, .cgroupGetsockopt),
        ("sockops", .sockOps, .cgroupSockOps), ("sk_skb/stream_parser", .skSkb, .skSkbStreamParser), ("sk_msg", .skMsg, .skMsgVerdict),
        ("flow_dissector", .flowDissector, .flowDissector), ("sk_lookup", .skLookup, .skLookup),
        ("sk_reuseport", .skReuseport, .skReuseportSelect), ("struct_ops/x", .structOps, nil), ("syscall", .syscall, nil),
        ("netfilter", .netfilter, .netfilter), ("lirc_mode2", .lircMode2, .lircMode2), ("lwt_xmit", .lwtXmit, nil),
    ])
    func sectionNamesMapLikeLibbpf(section: String, type: ProgramType, attach: AttachType?) throws {
        let definition = try #require(SectionDefinition.matching(section))
        #expect(definition.programType == type)
        #expect(definition.expectedAttachType == attach)
    }

    @Test func sectionMatchingIsExactOrSlashSeparated() {
        #expect(SectionDefinition.matching("xdp_foo") == nil)
        #expect(SectionDefinition.matching("tracepointx") == nil)
        #expect(SectionDefinition.matching("uprobe.s/x")?.traits.contains(.sleepable) == true)
        #expect(SectionDefinition.matching("xdp.frags")?.loadFlags == 1 << 5)
        #expect(SectionDefinition.matching("uprobe//usr/lib/libc.so.6:malloc")?.target(of: "uprobe//usr/lib/libc.so.6:malloc") == "/usr/lib/libc.so.6:malloc")
    }

    @Test func unknownSectionIsAClearError() throws {
        let bytes = try ObjectFixtures.compile("unknown.bpf.c", source: """
            #include "objtest.h"
            SEC("nonsense/thing") int prog(void *ctx) { return 0; }
            char LICENSE[] SEC("license") = "GPL";
            """)
        do {
            _ = try ObjectSpec(elf: bytes)
            Issue.record("expected an error")
        } catch let error as ObjectError {
            guard case .unknownSection(let name, let known) = error else { Issue.record("wrong error \(error)"); return }
            #expect(name == "nonsense/thing")
            #expect(known.contains("tracepoint+"))
        }
    }

    @Test func malformedObjectsThrowAndNeverTrap() throws {
        let bytes = try ObjectFixtures.compile("features.bpf.c")
        #expect(throws: ObjectError.self) { try ObjectSpec(elf: Array(bytes.prefix(100))) }
        #expect(throws: ObjectError.self) { try ObjectSpec(elf: [0x7f, 0x45, 0x4c, 0x46]) }
        #expect(throws: ObjectError.self) { try ObjectSpec(elf: []) }
        // Bad relocation symbol index: rewrite every r_info's symbol half in .relraw_tp/sys_enter.
        let elf = try ELFFile(bytes: bytes)
        let relocations = try #require(elf.section(named: ".relraw_tp/sys_enter"))
        var broken = bytes
        for entry in stride(from: Int(relocations.offset), to: Int(relocations.offset + relocations.size), by: 16) {
            broken[entry + 12] = 0xff; broken[entry + 13] = 0xff
        }
        #expect(throws: ObjectError.self) { try ObjectSpec(elf: broken) }
        // Bad section offset: move the code section past the end of the file.
        let code = try #require(elf.sections.first { $0.name == "raw_tp/sys_enter" })
        var moved = bytes
        let header = Int(elf.header.sectionHeaderOffset) + code.index * 64 + 24
        for byte in 0..<8 { moved[header + byte] = 0xff }
        #expect(throws: ObjectError.self) { try ObjectSpec(elf: moved) }
        // Fuzz: flip bytes all over; any outcome but a trap is fine.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var mutated = bytes
            for _ in 0..<8 { mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            _ = try? ObjectSpec(elf: mutated)
        }
        for length in stride(from: 0, to: bytes.count, by: 97) { _ = try? ObjectSpec(elf: Array(bytes.prefix(length))) }
    }
}

@Suite("ObjectSpec fuzz")
struct ObjectSpecFuzzTests {
    /// Random bytes written over the symbol table, relocations, .maps, BTF and code of a real
    /// object: every outcome but a trap is acceptable.
    @Test func mutatedStructuresNeverTrap() throws {
        let bytes = try ObjectFixtures.compile("features.bpf.c")
        let elf = try ELFFile(bytes: bytes)
        let targets = elf.sections.filter { [".symtab", ".relraw_tp/sys_enter", ".rel.text", ".rel.maps", ".maps", "maps", ".BTF", ".BTF.ext", "raw_tp/sys_enter", ".text"].contains($0.name) }
        var generator = SystemRandomNumberGenerator()
        for round in 0..<3000 {
            var mutated = bytes
            let section = targets[round % targets.count]
            guard section.size > 0 else { continue }
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                let at = Int(section.offset) + Int.random(in: 0..<Int(section.size), using: &generator)
                mutated[at] = [0, 0xff, 0x7f, 0x80, UInt8.random(in: 0...255, using: &generator)].randomElement(using: &generator)!
            }
            _ = try? ObjectSpec(elf: mutated)
        }
    }
}
