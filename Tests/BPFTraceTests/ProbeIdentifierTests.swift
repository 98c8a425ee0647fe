import BPFObject
import Foundation
import Testing
@testable import BPFTrace

/// `probe` travels as an index into `CompiledScript.probeNames` (bpftrace's probe id), not as
/// a string: one immediate instead of the name's bytes.
@Suite struct ProbeIdentifierTests {
    @Test func probeIsAnIndexIntoTheScriptsNames() throws {
        let script = try compile(#"BEGIN { printf("%s\n", probe); @[probe] = count(); } END { @[probe] = count(); } tracepoint:syscalls:sys_enter_openat { @[probe] = count(); }"#)
        #expect(script.probeNames == ["BEGIN", "END", "tracepoint:syscalls:sys_enter_openat"])
        #expect(script.formats.first?.argumentTypes == [.probeName])
        #expect(script.maps.first?.keyTypes == [.probeName])
        // Each program moves its own index into a register; no name bytes are stored.
        for (index, probe) in script.probes.enumerated() {
            // mov64 rX, imm (0xb7) or *(u64 *)(r10 + off) = imm (0x7a).
            #expect(probe.instructions.contains { ($0.opcode == 0xb7 || $0.opcode == 0x7a) && $0.immediate == Int32(index) })
            #expect(probe.instructions.count < 40)
        }
    }

    @Test func probeValuesPrintAsNames() {
        let symbols = TraceSymbolizer { _, _ in [] }
        symbols.probeNames = ["BEGIN", "tracepoint:a:b"]
        let one = withUnsafeBytes(of: UInt64(1)) { TraceValue.decode(.probeName, $0, at: 0, symbols: symbols) }
        #expect(one.text == "tracepoint:a:b")
        // An id without a table (or out of range) prints nothing rather than trapping.
        let missing = withUnsafeBytes(of: UInt64(7)) { TraceValue.decode(.probeName, $0, at: 0, symbols: symbols) }
        #expect(missing.text == "")
    }

    /// As in bpftrace 0.17, `probe` has its own type: it does not compare with strings and
    /// prints only with %s.
    @Test func probeIsNotAString() {
        #expect(compileErrors(#"BEGIN { if (probe == "BEGIN") { exit(); } }"#) == ["Type mismatch for '==': comparing 'probe' with 'string'"])
        #expect(compileErrors(#"BEGIN { printf("%d\n", probe); }"#) == ["printf: %d specifier expects a value of type integer (string supplied)"])
        #expect(compileErrors(#"BEGIN { @[probe] = 1; @["x"] = 2; }"#).count == 1)
    }
}
