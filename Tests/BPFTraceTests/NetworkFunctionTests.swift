import BPFObject
import Foundation
@testable import BPFTrace
import Testing

/// cgroupid(), reg(), ntop(), pton() and macaddr(): types, code and bpftrace's errors.
@Suite struct NetworkFunctionTests {
    static func compile(_ text: String) throws -> CompiledScript {
        let parsed = try #require(Parser.parse(text).program)
        return try TraceCompiler.compile(parsed, formats: FixedFormats(), options: SymbolFunctionTests.options)
    }

    /// `lddw` (opcode 0x18) immediates of the first probe, low and high halves joined.
    static func wideImmediates(_ probe: CompiledProbe) -> [UInt64] {
        let code = probe.instructions
        return code.indices.dropLast().filter { code[$0].opcode == 0x18 }.map {
            UInt64(UInt32(bitPattern: code[$0].immediate)) | UInt64(UInt32(bitPattern: code[$0 + 1].immediate)) << 32
        }
    }

    @Test func cgroupidIsTheDirectoryInode() throws {
        var info = stat()
        #expect(stat("/", &info) == 0)
        let script = try Self.compile(#"BEGIN { @ = cgroupid("/"); }"#)
        #expect(Self.wideImmediates(script.probes[0]).contains(UInt64(info.st_ino)))
        #expect(script.maps.first?.kind == .value(.integer(signed: false)))
    }

    @Test func regReadsPtRegs() throws {
        let script = try Self.compile(#"uprobe:/bin/x:main { @ = reg("ip"); @s = reg("sp"); }"#)
        // ldxdw r0, [r9 + off] (opcode 0x79): the context is struct pt_regs.
        let loads = script.probes[0].instructions.filter { $0.opcode == 0x79 && $0.src == 9 }.map(\.offset)
        #expect(loads.contains(ProbeRegisters.offsets["ip"]!) && loads.contains(ProbeRegisters.offsets["sp"]!))
        #if arch(x86_64)
        #expect(ProbeRegisters.offsets["ip"] == 128 && ProbeRegisters.offsets["di"] == 112 && ProbeRegisters.offsets["ss"] == 160)
        #endif
    }

    @Test(arguments: [
        (#"BEGIN { @ = cgroupid("/nonexistent/swiftbpf"); }"#, #"stdin:1:13-46: ERROR: Failed to get `cgroupid` for path: "/nonexistent/swiftbpf": No such file or directory"#),
        (#"BEGIN { @ = cgroupid(comm); }"#, "stdin:1:13-27: ERROR: cgroupid() expects a string literal (string provided)"),
        (#"BEGIN { @ = reg("ip"); }"#, #"stdin:1:13-22: ERROR: reg can not be used with "BEGIN" probes"#),
        (#"uprobe:/bin/x:main { @ = reg("foo"); }"#, "stdin:1:26-36: ERROR: 'foo' is not a valid register on this architecture (\(ProbeRegisters.architecture))"),
    ] as [(String, String)])
    func badArguments(_ script: String, _ message: String) {
        #expect(renderedCompileErrors(script).contains(message), "\(renderedCompileErrors(script))")
    }
}
