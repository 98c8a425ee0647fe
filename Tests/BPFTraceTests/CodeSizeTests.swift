import BPFObject
import Foundation
import Testing
@testable import BPFTrace

/// The size of the programs `swiftbpf trace` generates, counted from our own assembled program
/// (no kernel): the issue asks for no more instructions than bpftrace 0.17 for the same script.
/// The budgets are today's counts; a change that makes these programs grow fails here.
@Suite struct TraceCodeSizeTests {
    static func instructions(_ text: String, kernelTypes: Bool = false) throws -> CompiledProbe {
        let parsed = Parser.parse(text)
        guard let program = parsed.program, parsed.succeeded else { throw TraceError("parse failed") }
        let script = try TraceCompiler.compile(program, formats: FixedFormats(), options: TraceCompileOptions(),
                                               kernelTypes: kernelTypes ? { try BTF([UInt8](Data(contentsOf: URL(fileURLWithPath: "/sys/kernel/btf/vmlinux")))) } : nil)
        return try #require(script.probes.first)
    }

    /// The waste the generator used to emit: a reload right after storing the same slot, `goto +0`.
    static func expectNoObviousWaste(_ probe: CompiledProbe, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let program = try probe.instructions.decodedInstructions()
        for (previous, next) in zip(program, program.dropFirst()) {
            if case .store(.doubleWord, .r10, let offset, _) = previous, case .load(.doubleWord, _, .r10, offset) = next {
                Issue.record("reload of r10\(offset) right after storing it", sourceLocation: sourceLocation)
            }
        }
        #expect(!program.contains(.jump(offset: 0)), sourceLocation: sourceLocation)
        #expect(probe.sourceRanges.count == probe.instructions.count, sourceLocation: sourceLocation)
    }

    @Test func mapHeavyProgramStaysWithinBudget() throws {
        // Benchmarks/Trace's map-heavy one-liner on the fixed openat record (args->dfd for args->id).
        let probe = try Self.instructions("t:syscalls:sys_enter_openat { @calls[comm, args->dfd] = count(); @bytes[pid] = sum(args->dfd); @lat = hist(args->dfd); @last[tid] = nsecs; }")
        #expect(probe.instructions.count <= 110, "map-heavy: \(probe.instructions.count) instructions")
        try Self.expectNoObviousWaste(probe)
    }

    @Test(.enabled(if: FileManager.default.isReadableFile(atPath: "/sys/kernel/btf/vmlinux")))
    func structAccessProgramStaysWithinBudget() throws {
        let probe = try Self.instructions("t:syscalls:sys_enter_openat { @[curtask->pid, curtask->comm] = count(); }", kernelTypes: true)
        #expect(probe.instructions.count <= 38, "struct access: \(probe.instructions.count) instructions")
        try Self.expectNoObviousWaste(probe)
    }

    @Test func printfAndPredicateProgramsStayWithinBudget() throws {
        let printf = try Self.instructions(#"t:syscalls:sys_enter_openat { printf("%s %d\n", comm, pid); }"#)
        #expect(printf.instructions.count <= 24, "printf: \(printf.instructions.count) instructions")
        try Self.expectNoObviousWaste(printf)
        let predicate = try Self.instructions(#"t:syscalls:sys_enter_openat /pid > 1 && comm != "bash"/ { @[comm] = sum(args->dfd / 1024); }"#)
        #expect(predicate.instructions.count <= 49, "predicate: \(predicate.instructions.count) instructions")
        try Self.expectNoObviousWaste(predicate)
    }

    /// Values a probe patches at load time stay on their lddw after the peephole pass.
    @Test func patchedSlotsFollowTheirInstructions() throws {
        let probe = try Self.instructions("t:syscalls:sys_enter_openat { $x = 1; @[$x] = elapsed; }")
        let program = probe.instructions
        #expect(!probe.startTimeSlots.isEmpty)
        for slot in probe.startTimeSlots {
            #expect(program[slot].opcode == OpcodeByte.loadImm64)
        }
    }
}
