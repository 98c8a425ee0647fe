import BPF
import BPFTrace
import Foundation
import Testing
import TestSupport

/// `len(@map)` counted in the kernel by bpf_for_each_map_elem (needs the program's BTF and
/// func_info for its callback; the kernel refuses the load otherwise).
@Suite(.kernel, .serialized) struct TraceMapLengthKernelTests {
    @Test func lenCountsInsertedAndDeletedKeys() throws {
        let keys = 37
        let (session, output) = try runTrace("""
            BEGIN { $i = 0; while ($i < \(keys)) { @m[$i] = $i * 2; $i++; } printf("inserted %d\\n", len(@m));
              $i = 1; while ($i < \(keys)) { delete(@m[$i]); $i++; } printf("left %d\\n", len(@m));
              @c["a"] = count(); @c["b"] = count(); @c["b"] = count(); @s[1, "x"] = sum(5); @h[2] = hist(100);
              printf("count %d sum %d hist %d\\n", len(@c), len(@s), len(@h)); exit(); }
            """)
        defer { session.close() }
        #expect(output.hasPrefix("inserted \(keys)\nleft 1\ncount 2 sum 1 hist 1\n"))
    }

    /// In a probe that fires many times, on a per-CPU hash (count()) filled by the probe itself.
    @Test func lenOfAPerCPUMapInATracepoint() throws {
        let pid = getpid()
        let calls = 5
        let (session, output) = try runTrace(
            "tracepoint:syscalls:sys_enter_getppid /pid == \(pid)/ { @calls[nsecs] = count(); @n = len(@calls); } interval:ms:300 { exit(); }",
            workload: { for _ in 0..<calls { _ = getppid() } })
        defer { session.close() }
        #expect(try session.value(ofMap: "@n") == UInt64(calls))
        #expect(output.contains("\n@n: \(calls)\n"))
    }

    @Test func lenInJSONOutput() throws {
        let (session, output) = try runTrace(#"BEGIN { @k["a"] = 1; @k["b"] = 2; @k["c"] = 3; printf("%d\n", len(@k)); @n = len(@k); exit(); }"#, json: true)
        defer { session.close() }
        #expect(output.contains(#"{"type": "printf", "data": "3\n"}"#))
        #expect(output.contains(#"{"type": "map", "data": {"@n": 3}}"#))
    }
}

/// `probe` travels as an id; printed, as a key, a value and in a tuple it must read as bpftrace's.
@Suite(.kernel, .serialized) struct TraceProbeIdentifierKernelTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")))
    func probeNamesPrintAsInBpftrace() throws {
        let script = #"BEGIN { $p = probe; @x = probe; @[probe] = count(); printf("%s %s|%-8s|%10s|\n", $p, probe, probe, probe); @t[probe, 1] = 2; @v[1] = probe; @u = (probe, 3); exit(); } END { @[probe] = count(); @[probe] = count(); printf("%s\n", probe); }"#
        // (Tuples are left out of JSON: ours print as text there, bpftrace's as arrays.)
        try expectSameOutputAsBpftrace([script], json: script.replacingOccurrences(of: " @u = (probe, 3);", with: ""))
    }

    /// Several attach points of one action: each program sends its own id.
    @Test func eachExpandedProbeSendsItsOwnName() throws {
        let pid = getpid()
        let (session, output) = try runTrace(
            "tracepoint:syscalls:sys_enter_getppid, tracepoint:syscalls:sys_enter_getegid /pid == \(pid)/ { @[probe] = count(); printf(\"%s\\n\", probe); } interval:ms:300 { exit(); }",
            workload: { _ = getppid(); _ = getegid(); _ = getegid() })
        defer { session.close() }
        #expect(output.hasPrefix("tracepoint:syscalls:sys_enter_getppid\ntracepoint:syscalls:sys_enter_getegid\ntracepoint:syscalls:sys_enter_getegid\n"))
        #expect(output.hasSuffix("\n@[tracepoint:syscalls:sys_enter_getppid]: 1\n@[tracepoint:syscalls:sys_enter_getegid]: 2\n"))
    }
}
