import BPF
import BPFObject
import Foundation
import Testing
import CBPFSys

/// Maps observed through real programs run with BPF_PROG_TEST_RUN.
@Suite(.kernel, .serialized)
struct MapProgramTests {
    static let xdpPass: Int32 = 2
    static let packet = [UInt8](repeating: 0, count: 64)
    // Helper ids (enum bpf_func_id).
    static let mapLookupElem: Int32 = 1
    static let tailCall: Int32 = 12
    static let getStackID: Int32 = 27

    static func xdp(_ name: String, _ build: (inout Assembler) -> Void) throws -> Program {
        var asm = Assembler()
        build(&asm)
        return try Program(ProgramSpec(name: name, type: .xdp, instructions: asm.assemble()))
    }

    /// The layout of a global-data-like section: one array element holding several fields.
    struct Counters: BitwiseCopyable, Equatable {
        var runs: UInt64 = 0
        var lastReturn: UInt64 = 0
        var fromUser: UInt64 = 0
    }

    @Test func mmapArrayWrittenByProgramIsSeenThroughMemory() throws {
        // Direct value pointers (BPF_PSEUDO_MAP_VALUE) need a single-element array, as for
        // .bss/.data: the kernel's array_map_direct_value_addr refuses max_entries != 1.
        let array = try ArrayMap<Counters>(name: "maps_mmap", maxEntries: 1, flags: .mmapable)
        let memory = try array.memoryMap()
        #expect(memory.isWritable)
        try memory.set(Counters(fromUser: 5), at: 0)
        // Each run atomically adds 1 to `runs` and copies `fromUser` into `lastReturn`.
        let program = try Self.xdp("maps_mmap_prog") { asm in
            asm.loadMapValue(.r1, fd: array.map.fd.rawValue, offset: 0)
            asm.mov(.r2, 1)
            asm.atomicAdd(.doubleWord, .r1, 0, .r2)
            asm.loadMapValue(.r3, fd: array.map.fd.rawValue, offset: 16)
            asm.load(.doubleWord, .r4, .r3, 0)
            asm.store(.doubleWord, .r1, 8, .r4)
            asm.mov(.r0, Self.xdpPass)
            asm.exit()
        }
        var input = TestRunInput(data: Self.packet)
        input.repeatCount = 5
        #expect(try program.testRun(input).returnValue == 2)
        #expect(try memory.value(at: 0) == Counters(runs: 5, lastReturn: 5, fromUser: 5))
        #expect(try array.lookup(0) == Counters(runs: 5, lastReturn: 5, fromUser: 5))
        #expect(memory[0].runs == 5)
        let outside = #expect(throws: BPFError.self) { try memory.value(at: 1) }
        #expect("\(outside!)".contains("outside"))
        try memory.unmap()
        #expect(throws: BPFError.self) { try memory.value(at: 0) }
    }

    @Test func mmapMultiElementArrayMatchesSyscalls() throws {
        // 12-byte values sit 16 bytes apart in the mapping (round_up(value_size, 8)).
        struct Triple: BitwiseCopyable, Equatable { var a: UInt32, b: UInt32, c: UInt32 }
        let array = try ArrayMap<Triple>(name: "maps_mmap3", maxEntries: 1000, flags: .mmapable)
        let memory = try array.memoryMap()
        for index in 0..<1000 { try memory.set(Triple(a: UInt32(index), b: 7, c: UInt32(index * 2)), at: index) }
        #expect(try array.lookup(999) == Triple(a: 999, b: 7, c: 1998))
        try array.update(500, Triple(a: 1, b: 2, c: 3))
        #expect(try memory.value(at: 500) == Triple(a: 1, b: 2, c: 3))
        #expect(try array.values().enumerated().allSatisfy { index, value in index == 500 || value == Triple(a: UInt32(index), b: 7, c: UInt32(index * 2)) })
    }

    @Test func frozenArrayMapsReadOnly() throws {
        let array = try ArrayMap<UInt32>(name: "maps_mmapro", maxEntries: 8, flags: .mmapable)
        try array.update(2, 22)
        try array.map.freeze()
        let memory = try array.memoryMap()
        #expect(!memory.isWritable)
        #expect(try memory.value(at: 2) == 22)
        let write = #expect(throws: BPFError.self) { try memory.set(1, at: 2) }
        #expect("\(write!)".contains("read-only"))
        #expect(throws: BPFError.self) { try array.memoryMap(writable: true) }
        // Frozen through another descriptor: the kernel's fdinfo says so.
        let other = try Map(adopting: array.map.fd.duplicate())
        #expect(!other.isFrozen && other.isFrozenInKernel)
        let fallback = try other.memoryMap(as: UInt32.self)
        #expect(!fallback.isWritable)
        #expect(try fallback.value(at: 2) == 22)
        // Not mmapable at all.
        let plain = try ArrayMap<UInt32>(name: "maps_nommap", maxEntries: 2)
        let refused = #expect(throws: BPFError.self) { try plain.memoryMap() }
        #expect("\(refused!)".contains("BPF_F_MMAPABLE"))
    }

    @Test func programArraySlotIsTailCalled() throws {
        let slots = try ProgramArrayMap(name: "maps_progarr", maxEntries: 4)
        let target = try Self.xdp("maps_tail_tgt") { asm in
            asm.mov(.r0, 42)
            asm.exit()
        }
        let caller = try Self.xdp("maps_tail_call") { asm in
            // r1 still holds the context.
            asm.loadMapFD(.r2, slots.map.fd.rawValue)
            asm.mov(.r3, 1)
            asm.call(helperID: Self.tailCall)
            asm.mov(.r0, 1) // reached only when the slot is empty
            asm.exit()
        }
        #expect(try caller.testRun(TestRunInput(data: Self.packet)).returnValue == 1)
        try slots.set(1, to: target)
        #expect(try slots.programID(at: 1) == target.info().id)
        #expect(try caller.testRun(TestRunInput(data: Self.packet)).returnValue == 42)
        #expect(try slots.clear(1))
        #expect(try caller.testRun(TestRunInput(data: Self.packet)).returnValue == 1)
        // A program of another type is refused.
        let socketFilter = try Program(ProgramSpec(name: "maps_sockf", type: .socketFilter, instructions: [
            Instruction(opcode: 0xb7, dst: 0, immediate: 0), Instruction(opcode: 0x95),
        ]))
        #expect(throws: BPFError.self) { try slots.set(0, to: socketFilter) }
    }

    @Test func programWritesThroughArrayOfMaps() throws {
        let innerSpec = MapSpec(name: "maps_inner2", type: .array, keySize: 4, valueSize: 8, maxEntries: 1)
        let outer = try ArrayOfMapsMap(name: "maps_aom2", maxEntries: 1, innerMap: innerSpec)
        let inner = try ArrayMap<UInt64>(Map(innerSpec))
        try outer.set(0, to: inner.map)
        let program = try Self.xdp("maps_aom_prog") { asm in
            asm.store(.word, .r10, -4, immediate: 0)
            asm.loadMapFD(.r1, outer.map.fd.rawValue)
            asm.mov(.r2, .r10)
            asm.add(.r2, -4)
            asm.call(helperID: Self.mapLookupElem) // r0 = inner map or NULL
            asm.jump(.eq, .r0, 0, to: "out")
            asm.mov(.r1, .r0)
            asm.mov(.r2, .r10)
            asm.add(.r2, -4)
            asm.call(helperID: Self.mapLookupElem) // r0 = &inner[0] or NULL
            asm.jump(.eq, .r0, 0, to: "out")
            asm.mov(.r1, 7777)
            asm.store(.doubleWord, .r0, 0, .r1)
            asm.label("out")
            asm.mov(.r0, Self.xdpPass)
            asm.exit()
        }
        _ = try program.testRun(TestRunInput(data: Self.packet))
        #expect(try inner.lookup(0) == 7777)
    }

    @Test func stackTraceRecordedByProgramReadsBack() throws {
        // A raw tracepoint program run by BPF_PROG_TEST_RUN calls bpf_get_stackid on the
        // kernel stack of the test-run path and stores the id in an array.
        let stacks = try StackTraceMap(name: "maps_stackids", maxEntries: 64)
        let result = try ArrayMap<Int64>(name: "maps_stackres", maxEntries: 1)
        var asm = Assembler()
        asm.mov(.r6, .r1)
        asm.loadMapFD(.r2, stacks.map.fd.rawValue)
        asm.mov(.r3, 0) // kernel stack, no flags
        asm.call(helperID: Self.getStackID)
        asm.mov(.r7, .r0)
        asm.store(.word, .r10, -4, immediate: 0)
        asm.loadMapFD(.r1, result.map.fd.rawValue)
        asm.mov(.r2, .r10)
        asm.add(.r2, -4)
        asm.call(helperID: Self.mapLookupElem)
        asm.jump(.eq, .r0, 0, to: "out")
        asm.store(.doubleWord, .r0, 0, .r7)
        asm.label("out")
        asm.mov(.r0, 0)
        asm.exit()
        let program = try Program(ProgramSpec(name: "maps_stackprog", type: .rawTracepoint, instructions: asm.assemble()))
        try runRawTracepoint(program, arguments: [0])
        let stackID = try result.lookup(0)
        try #require(stackID >= 0, "bpf_get_stackid failed with \(stackID)")
        let frames = try #require(try stacks.addresses(ofStack: UInt32(stackID)))
        #expect(!frames.isEmpty)
        #expect(frames.allSatisfy { $0 >= 0xffff_0000_0000_0000 }, "kernel text addresses expected: \(frames.map { String($0, radix: 16) })")
        #expect(try stacks.stackIDs() == [UInt32(stackID)])
        #expect(try stacks.delete(stack: UInt32(stackID)))
    }
}

/// BPF_PROG_TEST_RUN for a raw tracepoint program. The kernel accepts only `ctx_in` here
/// (bpf_prog_test_run_raw_tp refuses repeat, data and ctx_out), which `Program.testRun` always
/// sets, so the call is made directly.
func runRawTracepoint(_ program: Program, arguments: [UInt64]) throws {
    var attr = sbpf_prog_test_run_attr()
    try arguments.withUnsafeBytes { context in
        attr.prog_fd = UInt32(bitPattern: try program.fd.value())
        attr.ctx_in = UInt64(UInt(bitPattern: context.baseAddress))
        attr.ctx_size_in = UInt32(context.count)
        try BPFSyscall.call(.progTestRun, &attr, subject: program.fd.label)
    }
}
