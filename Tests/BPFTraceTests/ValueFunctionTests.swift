import BPFObject
import Foundation
@testable import BPFTrace
import Testing

/// print(value), the string/map/clock functions, per-CPU aggregations, printf specifiers and
/// `-v`'s node count: types, code shapes and bpftrace 0.17's messages (checked against it).
@Suite struct ValueFunctionTests {
    static func errorLines(_ text: String) -> String {
        let file = SourceFile(name: "stdin", text: text)
        guard let program = Parser.parse(file).program else { return "parse failed" }
        do {
            _ = try TraceCompiler.compile(program, formats: FixedFormats(), options: SymbolFunctionTests.options)
            return ""
        } catch let failure as TraceCompiler.Failure {
            return failure.diagnostics.map { DiagnosticRenderer(file: file).render($0).split(separator: "\n").first.map(String.init) ?? "" }.joined(separator: "\n")
        } catch {
            return "\(error)"
        }
    }

    @Test func printRefusesWhatBpftraceRefuses() {
        #expect(Self.errorLines("BEGIN { print(1, 2); }") == "stdin:1:9-20: ERROR: Non-map print() only takes 1 argument, 2 found")
        #expect(Self.errorLines("BEGIN { @x[1]=1; print(@x[1], 2); }") == "stdin:1:18-33: ERROR: The map passed to print() should not be indexed by a key")
        #expect(Self.errorLines("BEGIN { print(); }") == "stdin:1:9-16: ERROR: print() requires at least one argument (0 provided)")
        #expect(Self.errorLines("BEGIN { @x = 1; print(@x, 1, 2, 3); }") == "stdin:1:17-35: ERROR: print() takes up to 3 arguments (4 provided)")
        #expect(Self.errorLines(#"BEGIN { @x = 1; print(@x, "a"); }"#) == "stdin:1:17-31: ERROR: print() expects a integer literal (string provided)")
        #expect(Self.errorLines("BEGIN { @x = 1; $a = 1; print(@x, $a); }") == "stdin:1:25-38: ERROR: print() expects a integer literal (integer provided)")
        #expect(Self.errorLines("BEGIN { print(@nope); }") == "stdin:1:15-20: ERROR: Undefined map: @nope")
    }

    @Test func printOfAValueIsOneRecordOfItsType() throws {
        let script = try compile(#"BEGIN { print((1, "ab")); print(-3); print(strerror(2)); print(username); print(@m); @m = 1; }"#)
        let values = script.formats.filter { $0.action == .value }
        #expect(values.map(\.argumentTypes) == [[.tuple([.integer(signed: true), .string(size: 8)])], [.integer(signed: true)], [.errorText], [.userName]])
        // Map print stays a map print event, not a value record.
        #expect(values.count == 4)
    }

    @Test func stringFunctionErrors() {
        #expect(Self.errorLines(#"BEGIN { @x = strcontains(1, "a"); }"#).hasSuffix("ERROR: strcontains() only supports string arguments (integer provided)"))
        #expect(Self.errorLines(#"BEGIN { $n = 2; @x = strncmp("a", "a", $n); }"#).hasSuffix("ERROR: strncmp() expects a integer literal (integer provided)"))
        #expect(Self.errorLines(#"BEGIN { @x = strncmp(1, "a", 1); }"#).hasSuffix("ERROR: strncmp() only supports string arguments (integer provided)"))
        #expect(Self.errorLines(#"BEGIN { @x = bswap("a"); }"#).hasSuffix("ERROR: bswap() only supports integer arguments (string provided)"))
        #expect(Self.errorLines(#"BEGIN { @x = kptr("a"); }"#).hasSuffix("ERROR: kptr() only supports integer or pointer arguments (string provided)"))
        #expect(Self.errorLines("BEGIN { override(1); }") == "stdin:1:9-20: ERROR: override() is an unsafe function being used in safe mode")
        #expect(Self.errorLines("BEGIN { @x = path(0); }").hasSuffix("ERROR: BPF_FUNC_d_path not available for your kernel version"))
        #expect(Self.errorLines(#"BEGIN { skboutput("/tmp/x.pcap", 0, 10, 0); }"#) == "stdin:1:9-43: ERROR: BPF_FUNC_skb_output is not available for your kernel version")
        #expect(Self.errorLines("BEGIN { debugf(1); }") == "stdin:1:9-18: ERROR: debugf() expects a string literal (integer provided)")
        #expect(Self.errorLines(#"BEGIN { debugf("%d %d", 1); }"#).contains("debugf: Not enough arguments"))
        var unsafe = SymbolFunctionTests.options
        unsafe.unsafe = true
        let program = Parser.parse("BEGIN { override(1); }").program!
        #expect(throws: TraceCompiler.Failure.self) { try TraceCompiler.compile(program, formats: FixedFormats(), options: unsafe) }
    }

    /// str()'s checks, and call locations as bpftrace's lexer makes them: a call right after
    /// `(` or `[` starts where the whitespace before them ended.
    @Test func strErrorsAndNestedCallLocations() {
        #expect(Self.errorLines(#"BEGIN { print(str(0, "a")); }"#) == "stdin:1:9-26: ERROR: str() only supports integer arguments (string provided)")
        #expect(Self.errorLines("BEGIN { print(str(0, -1)); }") == "stdin:1:9-25: ERROR: strcannot use negative length (-1)")
        #expect(Self.errorLines(#"BEGIN { print(str("abc")); }"#) == "stdin:1:9-25: ERROR: str() expects an integer or a pointer type as first argument (string[4] provided)")
        #expect(Self.errorLines("BEGIN { print(str(comm)); }") == "stdin:1:9-24: ERROR: str() expects an integer or a pointer type as first argument (string[16] provided)")
        #expect(Self.errorLines("BEGIN { print(str(0, 1, 2)); }") == "stdin:1:9-27: ERROR: str() takes up to 2 arguments (3 provided)")
        #expect(Self.errorLines("BEGIN { @y[str(0, -1)] = 1; }") == "stdin:1:9-22: ERROR: strcannot use negative length (-1)")
        #expect(Self.errorLines(#"BEGIN { if (str(0, -1) == "a") {} }"#) == "stdin:1:12-23: ERROR: strcannot use negative length (-1)")
        #expect(Self.errorLines(#"BEGIN { printf("%s", str(0, -1)); }"#) == "stdin:1:22-32: ERROR: strcannot use negative length (-1)")
        #expect(Self.errorLines("BEGIN { $n = 2; @s = str(0, $n); @t = str($1); }") == "")
    }

    @Test func hasKeyAndClockModes() throws {
        #expect(Self.errorLines("BEGIN { @x = 1; @y = has_key(@x, 1); }").hasSuffix("ERROR: has_key() expects a map with explicit keys (non-scalar map)"))
        #expect(Self.errorLines("BEGIN { $x = 1; @y = has_key($x, 1); }").hasSuffix("ERROR: has_key() expects a map argument"))
        #expect(Self.errorLines(#"BEGIN { @m[1, "a"] = 1; @y = has_key(@m, 1); }"#).contains("ERROR: Argument mismatch for @m"))
        #expect(Self.errorLines("BEGIN { @y = nsecs(realtime); }").contains("ERROR: Invalid timestamp mode"))
        #expect(Self.errorLines(#"BEGIN { @m[1, "a"] = 1; @k[2] = 1; @y = has_key(@m, (1, "a")); @z = has_key(@k, 2); }"#) == "")
        // Each clock is its own helper: ktime_get_ns (5), ktime_get_boot_ns (125), ktime_get_tai_ns (208).
        let script = try compile("BEGIN { @a = nsecs; @b = nsecs(monotonic); @c = nsecs(boot); @d = nsecs(tai); @j = jiffies; }")
        let calls = script.probes[0].instructions.filter { $0.opcode == 0x85 }.map(\.immediate)
        #expect(calls.filter { $0 == 5 }.count == 2 && calls.contains(125) && calls.contains(208) && calls.contains(118))
        // Alone, `nsecs` is still the builtin.
        #expect(Parser.parse("BEGIN { @a = nsecs; }").program?.probes[0].body.statements.first.map { ASTPrinter.sExpression($0) }?.contains("nsecs") == true)
    }

    @Test func aggregationsArePerCPUAndMergeAsBpftrace() throws {
        let script = try compile("BEGIN { @c = count(); @s = sum(1); @mn = min(1); @mx = max(1); @a = avg(1); @st = stats(1); @h = hist(1); @v = 1; }")
        for map in script.maps {
            let expected = !["@h", "@v"].contains(map.name)
            #expect(map.isPerCPU == expected && (map.spec(maxEntries: 1).type == .percpuHash) == expected, "\(map.name)")
        }
        func words(_ values: [UInt64]) -> [UInt8] { values.withUnsafeBytes { [UInt8]($0) } }
        // Two CPUs' [value, set] slots: the unset one (zeroed, not written) must not win.
        #expect(TraceSession.mergeCPUs(words([7, 1, 0, 0]), kind: .min(signed: false)) == words([7, 1]))
        #expect(TraceSession.mergeCPUs(words([0, 0, UInt64(bitPattern: -5), 1]), kind: .max(signed: true)) == words([UInt64(bitPattern: -5), 1]))
        #expect(TraceSession.mergeCPUs(words([UInt64(bitPattern: -2), 1, 3, 1]), kind: .min(signed: true)) == words([UInt64(bitPattern: -2), 1]))
        #expect(TraceSession.mergeCPUs(words([UInt64(bitPattern: -2), 1, 3, 1]), kind: .min(signed: false)) == words([3, 1]))
        #expect(TraceSession.mergeCPUs(words([10, 1, 20, 2]), kind: .avg) == words([30, 3]))
        #expect(TraceSession.mergeCPUs(words([4, 5]), kind: .count) == words([9]))
    }

    @Test func printfTakesOnlyBpftracesSpecifiers() {
        // bpftrace 0.17 leaves `%+d`, `%#x`, `%5%` and `%y` as text: they take no argument.
        #expect(PrintfFormat.check("[%+d][%#x][%5%][%y]", argumentTypes: []) == nil)
        #expect(PrintfFormat.render("[%+d][%#x][%5%][%y] %d", [.integer(4, signed: true)]) == "[%+d][%#x][%5%][%y] 4")
        #expect(PrintfFormat.check("%+d", argumentTypes: [.integer(signed: true)]) == "printf: Too many arguments for format string (1 supplied, 0 expected)")
        #expect(PrintfFormat.check("%s", argumentTypes: [.integer(signed: true)]) == "printf: %s specifier expects a value of type string (integer supplied)")
        #expect(PrintfFormat.render("%-08d|%08d|%.2s|", [.integer(42, signed: true), .integer(42, signed: true), .string("xyz")]) == "42      |00000042|xy|")
    }

    @Test func printArgumentsAndJSONValues() {
        let map = TraceMap(name: "@h", keyTypes: [], kind: .hist)
        let key = { (bucket: UInt64) in [UInt64(0), bucket].withUnsafeBytes { [UInt8]($0) } }
        let count = { (value: UInt64) in withUnsafeBytes(of: value) { [UInt8]($0) } }
        // Counts are divided, bars drawn from the real counts (bpftrace 0.17).
        let text = MapPrinter.render(map, elements: [(key(4), count(1)), (key(8), count(3))], top: 0, divisor: 2)
        #expect(text.contains("[4, 8)                 0 |@@@@@@@@@@@@@@@@@                                   |"), "\(text)")
        #expect(text.contains("[64, 128)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"), "\(text)")
        let tuple = TraceValueType.tuple([.integer(signed: true), .string(size: 8), .tuple([.integer(signed: false), .string(size: 8)])])
        var record = [UInt8](repeating: 0, count: tuple.storageSize)
        record.withUnsafeMutableBytes { bytes in
            bytes.storeBytes(of: UInt64(bitPattern: -1), toByteOffset: 0, as: UInt64.self)
            bytes[8] = UInt8(ascii: "\"")
            bytes.storeBytes(of: UInt64(2), toByteOffset: 16, as: UInt64.self)
            bytes[24] = UInt8(ascii: "y")
        }
        #expect(record.withUnsafeBytes { JSONOutput.value(tuple, $0, at: 0) } == #"[-1,"\"",[2,"y"]]"#)
        #expect(record.withUnsafeBytes { TraceValue.decode(tuple, $0, at: 0).text } == #"(-1, ", (2, y))"#)
    }

    @Test func cgroupHierarchiesFromMountinfo() {
        let mountInfo = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
        42 31 0:39 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
        broken line
        """
        let found = CgroupPaths.hierarchies(mountInfo: mountInfo)
        #expect(found.map(\.name) == ["unified", "blkio", "cpu,cpuacct", "systemd"])
        #expect(found.first?.mountPoint == "/sys/fs/cgroup/unified")
        #expect(CgroupPaths.path(ofInode: UInt64.max, under: "/nonexistent") == nil)
        #expect(Self.errorLines(#"BEGIN { @x = cgroup_path("a"); }"#).hasSuffix("ERROR: cgroup_path() only supports integer arguments (string provided)"))
        #expect(Self.errorLines("BEGIN { @x = cgroup_path(1, 2); }").hasSuffix("ERROR: cgroup_path() only supports string arguments (integer provided)"))
    }

    /// bpftrace 0.17's `-v` "INFO: node count" for the same programs.
    @Test(arguments: [
        ("BEGIN { @x = 1; exit(); }", 8),
        (#"BEGIN /1/ { @x[1, "a"] = 1; }"#, 10),
        (#"BEGIN { $x = 1; $x += 2; @y++; if ($x > 1) { printf("%d\n", $x); } else { exit(); } }"#, 24),
        (#"BEGIN { @a = comm == "x" ? 1 : 2; print(@a); delete(@a); }"#, 17),
        (#"BEGIN { @x = (1, "a"); $t = @x.0;}"#, 12),
        ("BEGIN { $t = 1; while ($t < 3) { } }", 10),
        ("BEGIN { unroll(2) { } }", 5),
        ("BEGIN { @k = kstack(perf); }", 7),
        ("BEGIN,END { }", 4),
        ("tracepoint:syscalls:sys_enter_openat { @ = args->flags; }", 8),
        ("BEGIN { @x = 1; @x += 2; @x <<= 1; }", 16),
        ("BEGIN { $p = (struct task_struct*)curtask; @ = $p->pid; @c[comm, pid] = count(); }", 17),
    ])
    func nodeCountMatchesBpftrace(_ program: String, _ count: Int) throws {
        #expect(try #require(Parser.parse(program).program).nodeCount == count)
    }
}
