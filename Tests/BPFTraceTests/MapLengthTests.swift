import BPFObject
import Foundation
import Testing
@testable import BPFTrace

/// `len(@map)`: bpf_for_each_map_elem with a callback appended after the optimized program.
@Suite struct MapLengthTests {
    @Test func lenCallsForEachMapElemWithACallbackAfterTheProgram() throws {
        let probe = try TraceCodeSizeTests.instructions("BEGIN { @a[1] = 1; @a[2] = 2; @n = len(@a); }")
        let program = probe.instructions
        let start = try #require(probe.callbackStarts.first)
        #expect(probe.callbackStarts == [program.count - 2])
        // The callback: r0 = 0; exit.
        var callback = Assembler()
        callback.mov(.r0, 0)
        callback.exit()
        #expect(Array(program[start...]) == (try callback.assemble()))
        // Exactly one lddw with BPF_PSEUDO_FUNC, pointing at the callback, followed by call 164.
        let references = program.indices.filter { program[$0].opcode == 0x18 && program[$0].src == PseudoSource.function.rawValue }
        #expect(references.count == 1)
        let reference = try #require(references.first)
        #expect(reference + 1 + Int(program[reference].immediate) == start)
        let call = try #require(program[(reference + 2)...].firstIndex { $0.opcode == 0x85 })
        #expect(program[call].immediate == HelperFunction.forEachMapElem.rawValue)
        // The main program still went through the peephole pass, and ranges stay aligned.
        try TraceCodeSizeTests.expectNoObviousWaste(probe)
        #expect(probe.sourceRanges.count == program.count)
        #expect(probe.sourceRanges[start] == nil)
    }

    @Test func programsWithoutLenHaveNoCallback() throws {
        let probe = try TraceCodeSizeTests.instructions("BEGIN { @a[1] = 1; }")
        #expect(probe.callbackStarts.isEmpty)
        #expect(!probe.instructions.contains { $0.opcode == 0x18 && $0.src == PseudoSource.function.rawValue })
    }

    @Test func lenOfEveryMapKindIsAnInteger() throws {
        let script = try compile(#"BEGIN { @c[comm] = count(); @s[1, 2] = sum(3); @h[1] = hist(4); @v["x"] = "y"; printf("%d %d %d %d\n", len(@c), len(@s), len(@h), len(@v)); if (len(@c) > 0) { @ok = 1; } }"#)
        let probe = try #require(script.probes.first)
        #expect(probe.callbackStarts.count == 1)
        let references = probe.instructions.filter { $0.opcode == 0x18 && $0.src == PseudoSource.function.rawValue }
        #expect(references.count == 5)
    }

    @Test func lenNeedsAMapWithKeys() {
        #expect(compileErrors("BEGIN { @x = 1; @n = len(@x); }") == [TraceCompiler.lenOfScalarMap])
        // Assigned in a later probe: found once every probe's maps are known.
        #expect(compileErrors("BEGIN { @n = len(@x); } END { @x = count(); }") == [TraceCompiler.lenOfScalarMap])
        #expect(compileErrors("BEGIN { @n = len(1); }") == ["len() expects a map to be provided"])
        #expect(compileErrors("BEGIN { @x[1] = 1; @n = len(@x[1]); }") == ["len() expects a map to be provided"])
        #expect(compileErrors("BEGIN { @n = len(@nosuch); }") == ["Undefined map: @nosuch"])
        #expect(compileErrors("BEGIN { @x[1] = 1; @n = len(@x, 2); }") == ["len() requires 1 argument (2 provided)"])
    }

    @Test func functionInfoNamesTheProgramAndTheStaticCallback() throws {
        let btf = try BTF(CallbackFunctionInfo.btf)
        let main = try btf.typeID(named: "probe", kind: .function)
        let callback = try btf.typeID(named: "count_element", kind: .function)
        #expect(main == CallbackFunctionInfo.mainFunctionTypeID && callback == CallbackFunctionInfo.callbackTypeID)
        let records = CallbackFunctionInfo.records(callbackStarts: [40])
        let words = records.withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) }
        #expect(words == [0, main, 40, callback])
    }
}
