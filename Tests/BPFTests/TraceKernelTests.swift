import BPF
import BPFObject
import BPFTrace
import Foundation
import Testing
import TestSupport

/// Runs a script through the library (not the CLI binary) and returns its output.
func runTrace(_ text: String, json: Bool = false, workload: () -> Void = {}, stopAfter seconds: Double = 5) throws -> (session: TraceSession, output: String) {
    final class Sink: @unchecked Sendable { var text = "" }
    let sink = Sink()
    var options = TraceSession.Options()
    options.json = json
    let session = try TraceSession(text: text, options: options) { sink.text += $0 }
    try session.attach()
    workload()
    let deadline = Date().addingTimeInterval(seconds)
    try session.run { Date() > deadline }
    return (session, sink.text)
}

nonisolated(unsafe) private var traceTestSignals: sig_atomic_t = 0

@Suite(.kernel, .serialized) struct TraceKernelTests {
    @Test func countsExactlyTheSyscallsThisProcessMakes() throws {
        let pid = getpid()
        let calls = 37
        let (session, output) = try runTrace(
            "tracepoint:syscalls:sys_enter_getppid /pid == \(pid)/ { @c = count(); @n[args->__syscall_nr] = count(); } interval:ms:300 { exit(); }",
            workload: { for _ in 0..<calls { _ = getppid() } })
        defer { session.close() }
        #expect(try session.value(ofMap: "@c") == UInt64(calls))
        // __NR_getppid is 110 on x86-64.
        #expect(output.hasSuffix("\n\n@c: \(calls)\n@n[110]: \(calls)\n"))
    }

    /// A wildcard and a probe list share one action; `probe` names the expanded tracepoint.
    @Test func wildcardProbesAndProbeListsShareOneAction() throws {
        let pid = getpid()
        let (session, output) = try runTrace(
            "tracepoint:syscalls:sys_enter_getpp*, tracepoint:syscalls:sys_enter_getegid /pid == \(pid)/ { @[probe] = count(); } interval:ms:300 { exit(); }",
            workload: { for _ in 0..<5 { _ = getppid() }; for _ in 0..<3 { _ = getegid() } })
        defer { session.close() }
        // sys_enter_getppid, sys_enter_getegid, interval.
        #expect(session.probeCount == 3)
        #expect(output.hasSuffix("\n\n@[tracepoint:syscalls:sys_enter_getegid]: 3\n@[tracepoint:syscalls:sys_enter_getppid]: 5\n"))
        #expect(throws: TraceError.self) { try TraceSession(text: "tracepoint:syscalls:sys_enter_nosuch* { }") { _ in } }
    }

    /// join() reads argv's user pointers and prints the strings up to the first empty one (the NULL reads as one) with the separator.
    @Test func joinPrintsArgv() throws {
        let marker = "swiftbpf-join-\(getpid())"
        let (session, output) = try runTrace(
            #"tracepoint:syscalls:sys_enter_execve { join(args->argv, ","); } interval:ms:500 { exit(); }"#,
            workload: {
                let child = Process()
                child.executableURL = URL(fileURLWithPath: "/bin/true")
                child.arguments = [marker, "two words", "", "after the empty one"]
                try? child.run()
                child.waitUntilExit()
            })
        defer { session.close() }
        // bpftrace 0.17 stops at the first empty string.
        #expect(output.contains("/bin/true,\(marker),two words\n"))
    }

    /// `func` names the probed function per attach point; a missing symbol in a list is skipped
    /// (and not counted), as bpftrace does.
    @Test func funcBuiltinAndMissingUprobeSymbolsSkipped() throws {
        let libc = "/lib/x86_64-linux-gnu/libc.so.6"
        guard FileManager.default.fileExists(atPath: libc) else { return }
        let pid = getpid()
        let (session, output) = try runTrace(
            "uprobe:\(libc):strtol, uprobe:\(libc):atoi, uprobe:\(libc):swiftbpf_no_such_symbol /pid == \(pid)/ { @[func] = count(); } interval:ms:300 { exit(); }",
            workload: { _ = strtol("1", nil, 10); _ = strtol("2", nil, 10); _ = atoi("3") })
        defer { session.close() }
        #expect(session.probeCount == 3)
        // glibc's atoi calls strtol, so strtol fires three times.
        #expect(output.hasSuffix("\n\n@[atoi]: 1\n@[strtol]: 3\n"))
    }

    /// system() needs --unsafe (bpftrace's wording otherwise); its output lands in order.
    @Test func systemRunsOnlyWhenUnsafe() throws {
        let script = #"BEGIN { printf("a\n"); system("echo sys %d %s", 7, "x"); printf("b\n"); exit(); }"#
        #expect(throws: TraceError.self) { try TraceSession(text: script) { _ in } }
        final class Sink: @unchecked Sendable { var text = "" }
        let sink = Sink()
        var options = TraceSession.Options()
        options.compile.unsafe = true
        let session = try TraceSession(text: script, options: options) { sink.text += $0 }
        defer { session.close() }
        try session.attach()
        try session.run()
        #expect(sink.text == "a\nsys 7 x\nb\n\n\n")
    }

    /// signal() sends to the process that hit the probe: here this test process, once per getppid.
    @Test func signalReachesTheTracedProcess() throws {
        let pid = getpid()
        let script = #"tracepoint:syscalls:sys_enter_getppid /pid == \#(pid)/ { signal("SIGUSR2"); } interval:ms:300 { exit(); }"#
        #expect(throws: TraceError.self) { try TraceSession(text: script) { _ in } }
        traceTestSignals = 0
        let previous = Glibc.signal(SIGUSR2) { _ in traceTestSignals += 1 }
        defer { Glibc.signal(SIGUSR2, previous) }
        var options = TraceSession.Options()
        options.compile.unsafe = true
        let session = try TraceSession(text: script, options: options) { _ in }
        defer { session.close() }
        try session.attach()
        for _ in 0..<3 { _ = getppid(); usleep(10_000) }
        let deadline = Date().addingTimeInterval(5)
        try session.run { Date() > deadline }
        #expect(traceTestSignals == 3)
    }

    @Test func beginPrintsBuiltinsAndExits() throws {
        let (session, output) = try runTrace(#"BEGIN { printf("pid=%d uid=%u comm-set=%d\n", pid, uid, comm != ""); @x = 5 * 3 - 1; $s = "ab"; @s[$s] = sum(4); exit(); } END { printf("end\n"); }"#)
        defer { session.close() }
        #expect(output == "pid=\(getpid()) uid=\(getuid()) comm-set=1\nend\n\n\n@s[ab]: 4\n@x: 14\n")
    }

    @Test func stringFieldsFromTheTracepointRecord() throws {
        let path = "/tmp/swiftbpf-tracegen-\(getpid())"
        let (session, output) = try runTrace(
            "tracepoint:syscalls:sys_enter_openat /pid == \(getpid())/ { @[str(args->filename)] = count(); } interval:ms:300 { exit(); }",
            workload: { for _ in 0..<3 { let fd = open(path, O_RDONLY | O_CREAT, 0o600); if fd >= 0 { close(fd) } } })
        defer { session.close(); unlink(path) }
        #expect(output.contains("@[\(path)]: 3\n"))
    }

    @Test func histogramsAndAggregationsInTheKernel() throws {
        let (session, output) = try runTrace("BEGIN { @h = hist(0); @h = hist(5); @h = hist(1000); @mn = min(-3); @mn = min(4); @mx = max(-3); @mx = max(4); @a = avg(2); @a = avg(4); @st = stats(10); exit(); }")
        defer { session.close() }
        #expect(output.contains("[0]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n[1]                    0 |"))
        #expect(output.contains("[512, 1K)              1 |"))
        #expect(output.contains("@mn: -3\n@mx: 4\n"))
        #expect(output.contains("@a: 3\n\n"))
        #expect(output.contains("@st: count 1, average 10, total 10\n\n"))
    }

    @Test func uprobeArgumentsAndReturnValue() throws {
        let libc = "/lib/x86_64-linux-gnu/libc.so.6"
        guard FileManager.default.fileExists(atPath: libc) else { return }
        let pid = getpid()
        let (session, output) = try runTrace(
            "uprobe:\(libc):strtol /pid == \(pid)/ { @base[arg2] = count(); } uretprobe:\(libc):strtol /pid == \(pid)/ { @ret[retval] = count(); } interval:ms:300 { exit(); }",
            workload: { for text in ["123", "-77", "123"] { _ = strtol(text, nil, 10) } })
        defer { session.close() }
        #expect(output.contains("@base[10]: 3\n"))
        #expect(output.contains("@ret[-77]: 1\n@ret[123]: 2\n"))
    }

    /// `*ptr` reads 8 bytes of user memory in a uprobe: strtol's first argument, the text.
    @Test func dereferenceReadsUserMemory() throws {
        let libc = "/lib/x86_64-linux-gnu/libc.so.6"
        guard FileManager.default.fileExists(atPath: libc) else { return }
        let (session, output) = try runTrace(
            "uprobe:\(libc):strtol /pid == \(getpid())/ { @v = *arg0; @w = *(arg0 + 4); } interval:ms:300 { exit(); }",
            workload: { _ = strtol("123456789abcdefgh", nil, 10) })
        defer { session.close() }
        // Little-endian bytes "12345678" and "56789abc".
        #expect(output.hasSuffix("\n\n@v: \(Int64(bitPattern: 0x3837_3635_3433_3231))\n@w: \(Int64(bitPattern: 0x6362_6139_3837_3635))\n"))
    }

    /// reg("di") is strtol's first argument (x86-64 SysV), reg("dx") its base; macaddr(arg0)
    /// reads the text's first 6 bytes of user memory and prints them upper-case hex.
    @Test func regAndMacaddrInAUprobe() throws {
        let libc = "/lib/x86_64-linux-gnu/libc.so.6"
        guard FileManager.default.fileExists(atPath: libc) else { return }
        #if arch(x86_64)
        let (session, output) = try runTrace(
            #"uprobe:\#(libc):strtol /pid == \#(getpid())/ { @same = reg("di") == arg0; @base = reg("dx"); @mac = macaddr(arg0); printf("%s\n", macaddr(reg("di"))); } interval:ms:300 { exit(); }"#,
            workload: { _ = strtol("Lin:z?", nil, 16) })
        defer { session.close() }
        #expect(output.hasPrefix("4C:69:6E:3A:7A:3F\n"), "\(output)")
        #expect(output.contains("@base: 16\n") && output.contains("@same: 1\n") && output.contains("@mac: 4C:69:6E:3A:7A:3F\n"), "\(output)")
        #endif
    }

    @Test func profileAndIntervalProbesFire() throws {
        // profile:hz:1000 on every CPU for ~300 ms; the interval probe ends the run after 3 ticks.
        let (session, output) = try runTrace("profile:hz:1000 { @samples = count(); } interval:ms:100 { @ticks = count(); if (@ticks >= 3) { exit(); } }")
        defer { session.close() }
        #expect(try session.value(ofMap: "@ticks") == 3)
        #expect(try (session.value(ofMap: "@samples") ?? 0) > 50)
        #expect(output.contains("@ticks: 3\n"))
    }

    @Test func curtaskMembersFromKernelBTF() throws {
        let (session, output) = try runTrace(#"BEGIN { printf("%d %d %s\n", curtask->pid == tid && curtask->tgid == pid, curtask->real_parent->tgid, curtask->comm); exit(); }"#)
        defer { session.close() }
        // BEGIN runs in the calling thread (BPF_PROG_TEST_RUN), so comm is this thread's name.
        let comm = try String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8).trimmingCharacters(in: .newlines)
        #expect(output == "1 \(getppid()) \(comm)\n\n\n")
        #expect(throws: TraceError.self) { try TraceSession(text: "BEGIN { @ = curtask->nope; }") { _ in } }
    }

    @Test func compileErrorsComeBeforeLoading() throws {
        #expect(throws: TraceError.self) { try TraceSession(text: "kprobe:vfs_read { @ = count(); }") { _ in } }
        do {
            _ = try TraceSession(text: "tracepoint:syscalls:sys_enter_nope { }") { _ in }
        } catch let error as TraceError {
            #expect(error.description.hasPrefix("stdin:1:1-35: ERROR: tracepoint not found: syscalls:sys_enter_nope"))
        }
    }

    /// cgroupid, ntop, pton and macaddr print as bpftrace prints them (reg needs a probe with
    /// registers: bpftrace refuses it in BEGIN; macaddr(0) checks only that a failed read is zeros).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")))
    func networkFunctionsMatchBpftrace() throws {
        let scripts = [
            #"BEGIN { printf("%d %s|%s|%s|%s\n", cgroupid("/sys/fs/cgroup/unified"), ntop(0x0100007f), ntop(2, 0x0201a8c0), ntop(pton("fe80::1:2")), ntop(10, 1)); exit(); }"#,
            #"BEGIN { @x[ntop(0x0100007f)] = 1; @y = ntop(pton("::ffff:102:304")); $a = pton("10.0.0.255"); printf("%s\n", ntop($a)); @p = pton("::2"); exit(); }"#,
            #"BEGIN { printf("%s|%s|%s|\n", macaddr(0), ntop(3, 1), ntop("abc")); $a = pton("1.2.3.4"); if ($a == pton("1.2.3.4")) { printf("eq\n"); } if ($a != pton("1.2.3.5")) { printf("ne\n"); } @m = macaddr(0); @s[ntop(10, pton("::3"))] = count(); exit(); }"#,
        ]
        // JSON: inet values are strings and pton() arrays JSON arrays. (bpftrace writes macaddr
        // values unquoted, which is not JSON; we quote them, so they stay out of this script.)
        let jsonScript = #"BEGIN { @y = ntop(0x0100007f); @k[ntop(0x0100007f)] = 2; @p = pton("1.2.3.4"); printf("%s\n", ntop(1)); exit(); }"#
        try expectSameOutputAsBpftrace(scripts, json: jsonScript)
    }

    /// Runs the same one-liners through /usr/bin/bpftrace and through TraceSession; outputs
    /// must be identical after dropping bpftrace's "Attaching" line.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")))
    func sameOutputAsBpftrace() throws {
        let scripts = [
            #"BEGIN { @a[1] = count(); @a[2] = count(); @a[2] = count(); @b = sum(5); @c["ab", 3] = count(); printf("%d|%5d|%-4s|%x|%s\n", -7, 42, "ab", 255, "z"); exit(); }"#,
            "BEGIN { @h = hist(3); @h = hist(70); @l = lhist(15, 0, 100, 10); @v = avg(7); @s = stats(9); @m = max(3); exit(); }",
            "BEGIN { @x = 3; @y[1] = 2; @y[2] = 1; print(@x); print(@y); delete(@y[1]); zero(@x); @h = hist(3); print(@h); exit(); }",
            #"BEGIN { $a = "abc"; if ($a == "abc") { printf("eq\n"); } if (comm != "x") { printf("ne %s\n", $a); } @s = 1 ? "yes" : "no"; @k["k"] = 1; @k["kk"] = 2; exit(); }"#,
            #"BEGIN { $x = 5; $x++; $x += 3; @c++; @c++; @d = (uint8)300; @e = (int8)255; @f = ~0 & 0xff; @g = !5; @n = -(3 * 4); printf("%d %c %5s|%-3d|%03d|%p\n", $x, 65, "ab", 7, 7, 4096); exit(); }"#,
            "BEGIN { @h = hist(1); clear(@h); @b = 1; clear(@b); @s[1] = avg(1); clear(@s); @c[1] = count(); @c[2] = count(); @c[2] = count(); @c[3] = count(); @c[3] = count(); @c[3] = count(); print(@c, 2); @d[1] = 3000; @d[2] = 7; print(@d, 1, 1000); exit(); }",
            "BEGIN { $x = 1 ? (uint64)5 : -1; @y = $x / 2; $z = 0 ? -1 : (uint64)5; @w = $z / 2; exit(); }",
            #"BEGIN { $p = 0; @t = *$p; cat("/proc/sys/kernel/ostype"); printf("after\n"); exit(); }"#,
            "BEGIN { $i = 0; $s = 0; while ($i < 10) { $i++; if ($i == 3) { continue; } if ($i == 8) { break; } $s += $i; } @s = $s; unroll(3) { @u = count(); } exit(); }",
            #"BEGIN { @x = (1, "abc"); $t = (2, "de", -3); @y[1] = $t; printf("%d %s %d %s\n", $t.0, $t.1, $t.2, strftime("%Y", nsecs)); @w = ((uint8)1, (1, "x")); @v = strftime("%Y", 0); exit(); }"#,
            #"BEGIN { $x = 10; if ($x > 5) { printf("big %d\n", $x % 4); } else { printf("small\n"); } @t = $x > 3 ? 1 : 2; @n = -5 / 2; @z = (1 << 4) | 3; exit(); }"#,
            // Operands nested deeper than the callee-saved registers (spilled to the stack), conditions
            // compiled as jumps (&&, !, string literals on either side), log2 buckets at their edges
            // (below 2^32: bpftrace 0.17's log2 stops there, ours goes on to 2^63).
            #"BEGIN { $a = 7; $b = -3; @r = $a + ($b * ($a - ($b + ($a * ($b - ($a + 1)))))); @q = ($a >= 7) + ($b < 0) * 2 + ($a != $b) * 4 + ($a << 2) + ($a - $b) * ($a + $b); if ($a > $b && !($a == 8)) { printf("and\n"); } if ("abc" != comm) { printf("ne\n"); } if (comm == "nomatch") { printf("bad\n"); } if ($a < 5 || $b <= -3) { printf("or\n"); } @h = hist(1); @h = hist(2); @h = hist(65535); @h = hist(65536); @h = hist(0xffffffff); exit(); }"#,
        ]
        let jsonScript = #"BEGIN { @h[1] = hist(0); @h[1] = hist(-1); @h[2] = hist(3); @l = lhist(35, 0, 100, 10); @c[1, "a"] = count(); @s = stats(2); @v = avg(3); @z = "q\"t"; printf("x %d\n", 1); exit(); }"#
        try expectSameOutputAsBpftrace(scripts, json: jsonScript)
        // Wildcards expand to the same probes: compare the "Attaching N probes..." count.
        for script in ["tracepoint:syscalls:sys_enter_open*, tracepoint:sched:sched_switch { @[probe] = count(); } BEGIN { exit(); }",
                       "tracepoint:sched:sched_wak* { } BEGIN { exit(); }"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/bpftrace")
            process.arguments = ["-e", script]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let theirs = String(decoding: data, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("Attaching ") }
            let session = try TraceSession(text: script) { _ in }
            #expect(theirs.map(String.init) == "Attaching \(session.probeCount) probes...", "\(script)")
        }
    }
}

/// print(value), string functions, printf specifiers, print()'s top/div and per-CPU
/// aggregations: the same scripts through bpftrace 0.17 and through TraceSession.
@Suite(.kernel, .serialized) struct TraceValueFunctionKernelTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")))
    func valuesAndFunctionsPrintAsBpftrace() throws {
        let scripts = [
            #"BEGIN { print(1); print(-5); print((uint8)300); print("abc"); print((1, "x", -2)); $t = (3, "y"); print($t); print(((uint8)1, (2, "y"))); print(ntop(0x0100007f)); print(pton("1.2.3.4")); print(macaddr(0)); print(ksym(0)); print(strerror(2)); print(username); print((int8)-1); print(0xffffffffffffffff); print(strftime("%Y", 0)); @s = "str"; print(@s); exit(); }"#,
            #"BEGIN { printf("%d %d %d %d %d %d\n", strcontains("hello", "ll"), strcontains("hello", ""), strcontains("", ""), strcontains("he", "hello"), strcontains("hello", "lox"), strcontains("hello", "lo")); $h = "a-b-c-d"; @c = strcontains($h, "c-d"); printf("%d %d %d\n", strncmp("hello", "help", 3), strncmp("hello", "help", 4), strncmp("ab", "ab", 10)); print(bswap((uint16)0x1234)); print(bswap((uint32)1)); print(bswap(1)); print(kptr(5)); print(uptr(6)); exit(); }"#,
            #"BEGIN { printf("%-10s|%10s|%.2s|%5.1s|\n", "abc", "de", "xyz", "pq"); printf("%08d|%-8d|%x|%X|%lu|%ld|%hhd|%hd|%lld|%+d|%#x\n", 42, 42, 255, 255, -1, -1, 300, 70000, -5); printf("%5c|%-3c|%%|%10.4d|%-6u|%y|%s\n", 65, 66, 7, 3, strerror(1)); exit(); }"#,
            "BEGIN { @h[2] = hist(5); @h[2] = hist(10); @h[2] = hist(100); @h[2] = hist(100); @h[2] = hist(100); print(@h, 0, 2); @y[1] = avg(10); @y[2] = avg(20); @y[3] = avg(30); print(@y, 2, 3); @z = 5; print(@z, 0, -1); print(@z, -2, 1); @x = 1; print(@x, 1, 0); @s[1] = stats(4); @s[2] = stats(5); print(@s, 1, 2); exit(); }",
        ]
        let jsonScript = #"BEGIN { print(1); print(-3); print("a\"b"); print((1, "x", (2, "y"))); print(pton("1.2.3.4")); print(ntop(0x0100007f)); print(ksym(0)); print(username); @t = (1, "a"); @u[1] = ((int8)-1, "q"); @h[2] = hist(5); @h[2] = hist(10); @h[3] = hist(100); print(@h, 1, 2); @z[1] = 5; @z[2] = 7; print(@z, 1, 2); @v[1] = avg(10); @v[2] = avg(20); print(@v, 1, 3); exit(); }"#
        try expectSameOutputAsBpftrace(scripts, json: jsonScript)
    }

    /// min/max/avg/stats/count/sum on per-CPU maps, with events on CPU 0 and then CPU 1 (the
    /// second CPU meets elements the first created, its own slots zeroed and unset): the printed
    /// results must be bpftrace's.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace") && PossibleCPUs.online.count >= 2))
    func perCPUAggregationsMergeAsBpftrace() throws {
        let workload = "/tmp/sbpf_trace_percpu.py"
        try """
        import os
        with open('/proc/self/comm', 'w') as comm:
            comm.write('sbpf_percpu')
        for cpu, calls in ((0, 1), (1, 2)):
            os.sched_setaffinity(0, {cpu})
            for _ in range(calls):
                os.getppid()
        os.getpgid(0)
        """.write(toFile: workload, atomically: true, encoding: .utf8)
        // max() of negative values is left out: bpftrace 0.17 prints such a map as empty.
        let script = #"tracepoint:syscalls:sys_enter_getppid /comm == "sbpf_percpu"/ { @min = min(10 - cpu * 3); @max = max(cpu * 10 + 3); @avg = avg(cpu * 10); @stats = stats(cpu * 10 + 1); @neg = min(-(int64)cpu - 2); @per[cpu] = count(); @k[cpu] = max(cpu); @sum = sum(cpu + 1); } tracepoint:syscalls:sys_enter_getpgid /comm == "sbpf_percpu"/ { exit(); }"#
        let (ours, theirs) = try traceAlongsideBpftrace(script) { try runToCompletion("/usr/bin/python3", [workload]) }
        #expect(ours == theirs)
        #expect(ours.hasSuffix("\n\n@avg: 6\n\n@k[0]: 0\n@k[1]: 1\n@max: 13\n@min: 7\n@neg: -3\n@per[0]: 1\n@per[1]: 2\n@stats: count 3, average 7, total 23\n\n@sum: 5\n"), "\(ours)")
    }

    /// cat() and time() output in JSON as bpftrace types them; a file cat() cannot open is an
    /// error on stderr (and, in JSON, an empty `cat` event), not output.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")))
    func outputEventsAsBpftrace() throws {
        try expectSameOutputAsBpftrace([#"BEGIN { cat("/nonexistent/sbpf"); printf("x\n"); exit(); }"#],
                                       json: #"BEGIN { cat("/proc/sys/kernel/ostype"); cat("/nonexistent/sbpf"); time("%Y\n"); printf("a\tb\n"); exit(); }"#)
    }

    /// str(ptr, n) keeps n characters (constant or run-time n), as bpftrace 0.17 does; buf()
    /// reads a syscall's user pointer from a tracepoint as bpftrace does (bpf_probe_read).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")))
    func stringLengthsAsBpftrace() throws {
        let workload = "/tmp/sbpf_trace_strlen.py"
        try """
        import os
        with open('/proc/self/comm', 'w') as comm:
            comm.write('sbpf_strlen')
        os.close(os.open('/etc/hostname', os.O_RDONLY))
        os.getpgid(0)
        """.write(toFile: workload, atomically: true, encoding: .utf8)
        let script = #"tracepoint:syscalls:sys_enter_openat /comm == "sbpf_strlen"/ { $n = 3; printf("%s|%s|%s|%s|%s\n", str(args->filename, 5), str(args->filename, 1), str(args->filename), str(args->filename, $n), str(args->filename, 0)); print(buf(args->filename, 4)); printf("%r|\n", buf(args->filename, 3)); } tracepoint:syscalls:sys_enter_getpgid /comm == "sbpf_strlen"/ { exit(); }"#
        let (ours, theirs) = try traceAlongsideBpftrace(script) { try runToCompletion("/usr/bin/python3", [workload]) }
        #expect(ours == theirs)
        #expect(ours.contains("/etc/|/|/etc/hostname|/et|\n/etc\n/et|\n"), "\(ours)")
    }

    /// sargN in a uprobe: stack-passed arguments (the 7th and 8th of a SysV call), as bpftrace.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace") && FileManager.default.isExecutableFile(atPath: "/usr/bin/gcc")))
    func stackArgumentsAsBpftrace() throws {
        let directory = "/tmp/sbpf_trace_sarg_\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
        __attribute__((noinline)) long eight(long a, long b, long c, long d, long e, long f, long g, long h) {
            __asm__ volatile("" ::: "memory");
            return a + b + c + d + e + f + g + h;
        }
        int main(void) { return (int)eight(1, 2, 3, 4, 5, 6, 70, -80) & 1; }
        """.write(toFile: directory + "/eight.c", atomically: true, encoding: .utf8)
        let build = try CommandRunner.run("/usr/bin/gcc", ["-O1", directory + "/eight.c", "-o", directory + "/eight"])
        try #require(build.status == 0, "gcc failed: \(build.stderr)")
        let script = #"uprobe:\#(directory)/eight:eight { printf("%d %d %d\n", arg5, sarg0, (int64)sarg1); exit(); }"#
        let (ours, theirs) = try traceAlongsideBpftrace(script) { try runToCompletion(directory + "/eight", []) }
        #expect(ours == theirs)
        #expect(ours.hasPrefix("6 70 -80\n"), "\(ours)")
    }

    /// unwatch(addr) detaches the address's watchpoint: later writes (100 ms apart, well after
    /// the detach) are not counted, as with bpftrace (whose detach is asynchronous too).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/cc")))
    func unwatchDetachesTheWatchpoint() throws {
        let directory = "/tmp/sbpf_trace_unwatch_\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "#include <unistd.h>\nvolatile long watched;\nint main(void) { usleep(200000); for (int i = 0; i < 5; i++) { watched = i; usleep(100000); } return 0; }\n"
            .write(toFile: directory + "/wp.c", atomically: true, encoding: .utf8)
        let build = try CommandRunner.run("/usr/bin/cc", ["-O0", "-no-pie", directory + "/wp.c", "-o", directory + "/wp"])
        try #require(build.status == 0, "\(build.stderr)")
        let symbols = try CommandRunner.run("/usr/bin/nm", [directory + "/wp"])
        let address = try #require(symbols.stdout.split(separator: "\n").first { $0.hasSuffix(" watched") }?.split(separator: " ").first)
        func count(_ action: String) throws -> Int {
            let result = try CommandRunner.swiftbpf("trace", "-c", directory + "/wp", "-e", "watchpoint:0x\(address):8:w { @c = count(); \(action) }")
            #expect(result.status == 0, "\(result.stderr)")
            return Int(result.stdout.split(separator: "\n").first { $0.hasPrefix("@c: ") }?.dropFirst(4) ?? "") ?? 0
        }
        let all = try count(""), unwatched = try count("unwatch(0x\(address));")
        // main()'s five writes are among the watched ones; after unwatch none of them is seen.
        #expect(all >= 5 && unwatched >= 1 && unwatched <= all - 4, "\(unwatched) of \(all)")
    }

    /// cgroup_path() walks each mounted hierarchy for the cgroup's inode, like bpftrace: a cgroup
    /// of our own (two levels deep) and the root, with and without a hierarchy filter.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace") && FileManager.default.fileExists(atPath: "/sys/fs/cgroup/unified/cgroup.procs")))
    func cgroupPathsAsBpftrace() throws {
        let outer = "/sys/fs/cgroup/unified/sbpf_funcs_cg_\(getpid())"
        try FileManager.default.createDirectory(atPath: outer + "/inner", withIntermediateDirectories: true)
        defer { rmdir(outer + "/inner"); rmdir(outer) }
        var info = stat()
        #expect(stat(outer + "/inner", &info) == 0)
        let script = #"BEGIN { print(cgroup_path(\#(info.st_ino))); print(cgroup_path(\#(info.st_ino), "unif*")); printf("%s|%s\n", cgroup_path(cgroupid("\#(outer)")), cgroup_path(1, "cpu*")); print(cgroup_path(cgroup)); exit(); }"#
        try expectSameOutputAsBpftrace([script], json: #"BEGIN { print(cgroupid("\#(outer)/inner")); exit(); }"#)
        let (session, output) = try runTrace(script)
        session.close()
        #expect(output.contains("unified:/sbpf_funcs_cg_\(getpid())/inner\nunified:/sbpf_funcs_cg_\(getpid())/inner\nunified:/sbpf_funcs_cg_\(getpid())|"), "\(output)")
        // bpftrace 0.17 writes cgroup_path values unquoted in JSON; they are JSON strings here.
        let (jsonSession, json) = try runTrace(#"BEGIN { print(cgroup_path(\#(info.st_ino), "unified")); exit(); }"#, json: true)
        jsonSession.close()
        #expect(json.hasPrefix(#"{"type": "value", "data": "unified:/sbpf_funcs_cg_\#(getpid())/inner"}"#), "\(json)")
    }

    /// debugf() goes to the kernel's trace buffer through bpf_trace_vprintk, read here from a
    /// private tracefs instance (its own copy of every bpf_trace_printk line, so neither the
    /// global trace_pipe's reader nor other tests' printk floods get in the way).
    @Test func debugfWritesTheTraceBuffer() throws {
        let instance = try PrintkTraceInstance(namePrefix: "sbpf_funcs_")
        defer { instance.close() }
        let marker = "sbpf-debugf-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        let (session, _) = try runTrace(#"BEGIN { debugf("\#(marker) %d %s|%x\n", 7, "zz", 255); unwatch(1); exit(); }"#)
        session.close()
        var found: String?
        let deadline = Date().addingTimeInterval(5)
        while found == nil, Date() < deadline, let line = try instance.pipe().readLine(timeout: .milliseconds(500)) {
            if line.contains(marker) { found = line }
        }
        #expect(found?.hasSuffix("bpf_trace_printk: \(marker) 7 zz|ff") == true, "\(found ?? "no line")")
    }

    /// has_key() and nsecs(boot|tai) are later bpftrace's (0.17 lacks them): known values.
    @Test func hasKeyAndClocks() throws {
        let (session, output) = try runTrace(#"BEGIN { @m[1, "a"] = 1; @k[2] = 3; @c[7] = count(); printf("%d %d %d %d ", has_key(@m, (1, "a")), has_key(@m, (1, "b")), has_key(@k, 2), has_key(@c, 7)); delete(@k[2]); printf("%d\n", has_key(@k, 2)); $m = nsecs(monotonic); $b = nsecs(boot); $t = nsecs(tai); printf("%d %d %d %d\n", $b >= $m, $t > $b, nsecs >= $m, jiffies > 0); @tai = $t - $b; exit(); }"#)
        defer { session.close() }
        #expect(output.hasPrefix("1 0 1 1 0\n1 1 1 1\n"), "\(output)")
        // CLOCK_TAI - CLOCK_BOOTTIME in the program and here agree to well within a second.
        var tai = timespec(), boot = timespec()
        clock_gettime(CLOCK_TAI, &tai)
        clock_gettime(CLOCK_BOOTTIME, &boot)
        let expected = (Int64(tai.tv_sec) - Int64(boot.tv_sec)) * 1_000_000_000 + Int64(tai.tv_nsec) - Int64(boot.tv_nsec)
        let measured = try #require(try session.value(ofMap: "@tai"))
        #expect(abs(Int64(bitPattern: measured) - expected) < 500_000_000, "\(measured) vs \(expected)")
    }
}

@Suite(.kernel, .serialized) struct TraceVerifierMappingTests {
    /// A real rejection (reading r2 before it is set) mapped back to the statement that made the
    /// failing instruction.
    @Test func rejectionNamesTheStatement() throws {
        let text = "BEGIN { @x = 1; @y = 2; }"
        let parsed = Parser.parse(text)
        let statements = try #require(parsed.program?.probes.first?.body.statements)
        var asm = Assembler()
        asm.mov(.r0, 0)
        asm.load(.doubleWord, .r0, .r2, 0)   // r2 is uninitialised: "R2 !read_ok"
        asm.exit()
        let instructions = try asm.assemble()
        let probe = CompiledProbe(name: "BEGIN", attachment: .begin, programType: .rawTracepoint, instructions: instructions,
                                  sourceRanges: [statements[0].range, statements[1].range, nil])
        do {
            _ = try BPF.Program(ProgramSpec(name: "trace_bad", type: .rawTracepoint, instructions: instructions))
            Issue.record("the verifier accepted an uninitialised register read")
        } catch BPFError.verifierRejected(let rejection) {
            let message = TraceSession.explain(rejection, probe: probe, source: SourceFile(name: "stdin", text: text))
            #expect(message.contains("stdin:1:17-23: ERROR: the verifier stopped in this statement (instruction 1)"))
            #expect(message.contains("R2 !read_ok"))
        }
    }
}

/// Runs each script (and `json` with `-f json`) through /usr/bin/bpftrace and through
/// TraceSession; the outputs must be identical after dropping bpftrace's "Attaching" line.
func expectSameOutputAsBpftrace(_ scripts: [String], json jsonScript: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    for (script, json) in scripts.map({ ($0, false) }) + [(jsonScript, true)] {
        let bpftrace = try ChildProcess.run("/usr/bin/bpftrace", (json ? ["-f", "json"] : []) + ["-e", script])
        let theirs = bpftrace.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("Attaching ") && !$0.hasPrefix(#"{"type": "attached_probes""#) }.joined(separator: "\n")
        let (session, ours) = try runTrace(script, json: json)
        session.close()
        #expect(ours == theirs, "\(script)", sourceLocation: sourceLocation)
        #expect(!theirs.isEmpty, "bpftrace printed nothing for \(script)", sourceLocation: sourceLocation)
    }
}

extension TraceKernelTests {
    /// Pointer casts and arithmetic, `[i]` and `*p` on typed pointers and kernel arrays,
    /// sizeof, enum constants and pointer map keys, against bpftrace. BEGIN runs in each tool's
    /// own process, so only values alike in every process are read: constants, BTF sizes and
    /// the auxiliary vector's tags (AT_SYSINFO_EHDR, AT_MINSIGSTKSZ, AT_PAGESZ 4096, ...).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")))
    func pointerAndTypeFeaturesMatchBpftrace() throws {
        let scripts = [
            #"BEGIN { $p = (int32 *)0; printf("%d %d %d\n", $p + 1, $p - 1, 3 + $p); $p += 2; $p++; @p = $p; @q = (uint64*)8 + 2; @r = (int16 *)2 - 1; printf("%d\n", (struct task_struct *)0 + 1); @k[(int8*)255, 3] = 2; @t[(struct task_struct *)16] = 1; printf("%d %d\n", (int32 *)8 == (int32 *)8, (int8 *)8 < (int8 *)9); exit(); }"#,
            #"BEGIN { printf("%d %d %d %d %d %d\n", sizeof(struct task_struct), sizeof(uint32), sizeof(union bpf_attr), sizeof(int8), BPF_MAP_TYPE_HASH, PERF_EVENT_STATE_DEAD); @a = sizeof(int8) - 2; @e = PERF_EVENT_STATE_DEAD; @b[BPF_MAP_TYPE_ARRAY] = 1; $t = (struct task_struct *)curtask; printf("%d %d %d %d %d\n", sizeof($t->pid), sizeof($t->comm), sizeof(*$t), sizeof($t->mm->saved_auxv), sizeof("abc")); exit(); }"#,
            #"BEGIN { $t = (struct task_struct *)curtask; printf("%d %d %d %d %d\n", $t->mm->saved_auxv[0], $t->mm->saved_auxv[2], curtask->mm->saved_auxv[6], $t->mm->saved_auxv[7], $t->perf_recursion[1]); @x = $t->perf_recursion; $p = (int32 *)curtask; printf("%d %d %d\n", $p[1] == *($p + 1), $t[0].pid == (*$t).pid, *(int8 *)$t->comm == *(int8 *)curtask->comm); exit(); }"#,
            // Whole int arrays (the network namespace's TCP buffer sysctls: both tools run in the
            // same namespace), an element of an array held in a variable, an anonymous union member.
            #"BEGIN { $n = curtask->nsproxy->net_ns; @w = $n->ipv4.sysctl_tcp_wmem; @k[$n->ipv4.sysctl_tcp_rmem] = 1; $r = $n->ipv4.sysctl_tcp_rmem; printf("%d %d %d\n", $r[0], $n->ipv4.sysctl_tcp_wmem[2], curtask->rcu_read_unlock_special.b.blocked); @f = curtask->numa_faults_locality; exit(); }"#,
        ]
        let jsonScript = #"BEGIN { @k[(int8*)16] = 1; @s = sizeof(struct file); @e = BPF_MAP_TYPE_HASH; @p = (uint32 *)4 + 1; @r = curtask->nsproxy->net_ns->ipv4.sysctl_tcp_rmem; exit(); }"#
        try expectSameOutputAsBpftrace(scripts, json: jsonScript)
    }
}
