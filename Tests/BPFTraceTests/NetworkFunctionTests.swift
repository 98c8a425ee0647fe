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

    @Test func addressValuesType() throws {
        let script = try Self.compile(#"BEGIN { @a = ntop(0x0100007f); @b = ntop(pton("::1")); @c = pton("1.2.3.4"); @d = pton("fe80::1"); @m = macaddr(0); @k[ntop(2, 1)] = 1; }"#)
        func kind(_ name: String) -> TraceMapKind? { script.maps.first { $0.name == name }?.kind }
        #expect(kind("@a") == .value(.inet) && kind("@b") == .value(.inet))
        #expect(kind("@c") == .value(.byteArray(count: 4)) && kind("@d") == .value(.byteArray(count: 16)))
        #expect(kind("@m") == .value(.macAddress))
        #expect(script.maps.first { $0.name == "@k" }?.keyTypes == [.inet])
        #expect(TraceValueType.inet.storageSize == 24 && !TraceValueType.byteArray(count: 4).isRegisterValue)
    }

    @Test func addressValuesPrintAsBpftrace() {
        func text(_ type: TraceValueType, _ record: [UInt8]) -> String { record.withUnsafeBytes { TraceValue.decode(type, $0, at: 0).text } }
        #expect(text(.inet, [2, 0, 0, 0, 0, 0, 0, 0, 127, 0, 0, 1] + [UInt8](repeating: 0, count: 12)) == "127.0.0.1")
        #expect(text(.inet, [10, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [1]) == "fe80::1")
        #expect(text(.inet, [3] + [UInt8](repeating: 0, count: 23)) == "")
        #expect(text(.inet, [2, 0, 0]) == "")
        #expect(text(.byteArray(count: 4), [1, 2, 255, 4, 0, 0, 0, 0]) == "[1,2,255,4]")
        #expect(text(.macAddress, [0x4c, 0x69, 0x6e, 0x75, 0x78, 0xab, 0, 0]) == "4C:69:6E:75:78:AB")
        #expect(TraceCompiler.networkAddress("10.0.0.1") == [10, 0, 0, 1] && TraceCompiler.networkAddress("::1")?.count == 16)
        #expect(TraceCompiler.networkAddress("abc") == nil)
    }

    @Test(arguments: [
        (#"BEGIN { @ = cgroupid("/nonexistent/swiftbpf"); }"#, #"stdin:1:13-46: ERROR: Failed to get `cgroupid` for path: "/nonexistent/swiftbpf": No such file or directory"#),
        (#"BEGIN { @ = cgroupid(comm); }"#, "stdin:1:13-27: ERROR: cgroupid() expects a string literal (string provided)"),
        (#"BEGIN { @ = reg("ip"); }"#, #"stdin:1:13-22: ERROR: reg can not be used with "BEGIN" probes"#),
        (#"uprobe:/bin/x:main { @ = reg("foo"); }"#, "stdin:1:26-36: ERROR: 'foo' is not a valid register on this architecture (\(ProbeRegisters.architecture))"),
        (#"BEGIN { @ = pton("abc"); }"#, "stdin:1:13-24: ERROR: pton() expects an string argument of an IPv4/IPv6 address, got abc"),
        (#"BEGIN { @ = pton("::ffff:1.2.3.4"); }"#, "stdin:1:13-35: ERROR: pton() expects a valid IPv4/IPv6 address, got ::ffff:1.2.3.4"),
        (#"BEGIN { @ = pton(comm); }"#, "ERROR: pton() expects a string literal (string provided)"),
        (#"BEGIN { @ = macaddr(pton("1.2.3.4")); }"#, "stdin:1:13-37: ERROR: macaddr() argument must be 6 bytes in size"),
        (#"BEGIN { @ = ntop(kstack); }"#, "ERROR: ntop() expects an integer or array argument, got kstack"),
        (#"BEGIN { @ = ntop(pton("::1"), 1); }"#, "stdin:1:13-33: ERROR: ntop() only supports integer arguments (array provided)"),
        (#"BEGIN { @ = ntop(); }"#, "stdin:1:13-19: ERROR: ntop() requires at least one argument (0 provided)"),
        (#"BEGIN { @ = ntop(1, 2, 3); }"#, "ERROR: ntop() takes up to 2 arguments (3 provided)"),
        (#"BEGIN { @ = pton(); }"#, "ERROR: pton() requires one argument (0 provided)"),
        (#"uprobe:/bin/x:main { @ = reg(1); }"#, "ERROR: reg() expects a string literal (integer provided)"),
        (#"BEGIN { @ = pton("1.2.3.4") == pton("::1"); }"#, "stdin:1:29-31: ERROR: Only arrays of same size support comparison operators."),
    ] as [(String, String)])
    func badArguments(_ script: String, _ message: String) {
        #expect(renderedCompileErrors(script).contains(message), "\(renderedCompileErrors(script))")
    }
}
