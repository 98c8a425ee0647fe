import BPF
import BPFObject
import BPFTrace
import Foundation
import Testing

/// nanosleep(2) through the raw system call: glibc's nanosleep() enters clock_nanosleep, so
/// sys_enter_nanosleep (what naptime.bt traces) only sees direct calls.
/// Swift cannot call the variadic syscall(3) directly; with integer arguments only, the x86-64
/// calling convention of a fixed-argument pointer to it is the same.
private func rawNanosleep(seconds: Int, nanoseconds: Int) {
    typealias Syscall = @convention(c) (Int, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Int
    let call = unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syscall"), to: Syscall.self)
    var request = timespec(tv_sec: seconds, tv_nsec: nanoseconds)
    // __NR_nanosleep is 35 on x86-64 (arch/x86/entry/syscalls/syscall_64.tbl).
    _ = withUnsafeMutablePointer(to: &request) { call(35, UnsafeMutableRawPointer($0), nil) }
}

@Suite(.kernel, .serialized) struct TraceStructKernelTests {
    /// Debian's naptime.bt (struct cast of curtask, `->` chains, the user-memory struct behind a
    /// syscall argument) against bpftrace on the same two sleeps; the time column is masked.
    @Test(.enabled(if: FileManager.default.isReadableFile(atPath: "/usr/sbin/naptime.bt") && FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")))
    func naptimeMatchesBpftrace() throws {
        let tool = try String(contentsOfFile: "/usr/sbin/naptime.bt", encoding: .utf8)
        let script = tool + "\ntracepoint:syscalls:sys_enter_nanosleep /pid == \(getpid())/ { @n++; if (@n == 2) { exit(); } }\n"
        let (ours, theirs) = try traceAlongsideBpftrace(script) {
            rawNanosleep(seconds: 0, nanoseconds: 120_000_000)
            rawNanosleep(seconds: 1, nanoseconds: 5_000_000)
        }
        func masked(_ text: String) -> String {
            text.replacingOccurrences(of: #"(?m)^\d\d:\d\d:\d\d "#, with: "HH:MM:SS ", options: .regularExpression)
        }
        #expect(ours.contains(" \(getpid())"), "\(ours)")
        #expect(ours.contains("0.120\n") && ours.contains("1.005\n"), "\(ours)")
        #expect(masked(ours) == masked(theirs))
    }

    /// Casts, chains through kernel pointers, a pointer kept in a variable and printed as bpftrace
    /// prints pointers, against bpftrace.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")))
    func structCastsMatchBpftrace() throws {
        let script = #"tracepoint:syscalls:sys_enter_nanosleep /pid == \#(getpid())/ { $t = (struct task_struct *)curtask; $p = $t->real_parent; printf("%d %s %d %d %d\n", $p->pid, $p->comm, $t->pid == tid, $t->mm->map_count > 0, args->rqtp->tv_nsec); @parent[$p->tgid] = count(); @n++; if (@n == 2) { exit(); } }"#
        let (ours, theirs) = try traceAlongsideBpftrace(script) {
            rawNanosleep(seconds: 0, nanoseconds: 1_000_000)
            rawNanosleep(seconds: 0, nanoseconds: 2_000_000)
        }
        // A thread's real_parent is its creator's parent: the process that started the tests.
        #expect(ours.contains("@parent[\(getppid())]: 2\n"), "\(ours)")
        #expect(ours.contains(" 1 1 2000000\n"), "\(ours)")
        #expect(ours == theirs)
    }

    /// buf() and %r (bpftrace's \xNN escapes) on the text strtol receives, against bpftrace.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")))
    func bufferEscapesMatchBpftrace() throws {
        let script = #"uprobe:libc:strtol /pid == \#(getpid())/ { printf("%r|%r\n", buf(arg0, 8), buf(arg0, 3)); @b = buf(arg0, 5); @n++; if (@n == 1) { exit(); } }"#
        let (ours, theirs) = try traceAlongsideBpftrace(script) {
            _ = strtol("12ab\u{1}\u{7f}\u{1b}z", nil, 10)
        }
        #expect(ours.hasPrefix("12ab\\x01\\x7f\\x1bz|12a\n"), "\(ours)")
        #expect(ours == theirs)
    }

    /// A one-page ring buffer and a flood of 200 records from one BEGIN: the records that did not
    /// fit are counted by the programs and reported as bpftrace's "Lost N events".
    @Test func lostEventsAreReported() throws {
        final class Sink: @unchecked Sendable { var text = "" }
        let sink = Sink()
        var options = TraceSession.Options()
        options.eventBufferSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let session = try TraceSession(text: #"BEGIN { $i = 0; while ($i < 200) { printf("%s %d\n", "0123456789012345678901234567890123456789", $i); $i++; } exit(); }"#, options: options) { sink.text += $0 }
        defer { session.close() }
        try session.attach()
        try session.run()
        let printed = sink.text.split(separator: "\n").filter { $0.hasPrefix("0123") }.count
        let lost = sink.text.split(separator: "\n").first { $0.hasPrefix("Lost ") }
        #expect(printed > 0 && printed < 200, "\(sink.text)")
        #expect(lost == "Lost \(200 - printed) events", "\(sink.text)")
    }

    /// `-v`: each program's id (a real, loaded program) and the verifier's statistics line.
    @Test func verboseReportShowsVerifierStatistics() throws {
        var options = TraceSession.Options()
        options.verifierStatistics = true
        let session = try TraceSession(text: #"BEGIN { printf("hi\n"); exit(); } interval:s:10 { @ = count(); }"#, options: options) { _ in }
        defer { session.close() }
        try session.attach()
        let report = session.verboseReport
        let ids = report.split(separator: "\n").filter { $0.hasPrefix("Program ID: ") }.compactMap { UInt32($0.dropFirst(12)) }
        #expect(ids.count == 2, "\(report)")
        for id in ids { #expect(try KernelObjects.ids(of: .program).contains(id)) }
        #expect(report.components(separatedBy: "\nThe verifier log: \nprocessed ").count == 3, "\(report)")
        #expect(report.contains("\nAttaching BEGIN\n") && report.contains("\nAttaching interval:s:10\n"))
    }

    /// count() and sum() live in per-CPU hash maps; printing adds every CPU's share, so calls
    /// from threads on different CPUs are all counted.
    @Test func perCPUAggregationsAddUp() throws {
        final class Sink: @unchecked Sendable { var text = "" }
        let sink = Sink()
        let session = try TraceSession(text: "tracepoint:syscalls:sys_enter_getppid /pid == \(getpid())/ { @c = count(); @s = sum(3); @k[cpu >= 0] = count(); }") { sink.text += $0 }
        defer { session.close() }
        #expect(session.script.maps.allSatisfy { $0.spec(maxEntries: 16).type == .percpuHash })
        try session.attach()
        let threads = 4, calls = 500
        DispatchQueue.concurrentPerform(iterations: threads) { _ in for _ in 0..<calls { _ = getppid() } }
        let deadline = Date().addingTimeInterval(0.3)
        try session.run { Date() > deadline }
        #expect(try session.value(ofMap: "@c") == UInt64(threads * calls))
        #expect(sink.text.hasSuffix("@c: \(threads * calls)\n@k[1]: \(threads * calls)\n@s: \(3 * threads * calls)\n"), "\(sink.text)")
    }
}

/// lseek(2) through the raw system call, so its three arguments reach sys_enter as given.
private func rawLseek(_ fd: Int, _ offset: Int, _ whence: Int) {
    typealias Syscall = @convention(c) (Int, Int, Int, Int) -> Int
    let call = unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syscall"), to: Syscall.self)
    // __NR_lseek is 8 on x86-64.
    _ = call(8, fd, offset, whence)
}

/// prctl(2) with one integer argument (variadic in C, so called through a fixed-argument pointer).
private func prctl(_ option: Int32, _ value: UInt) {
    typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
    let call = unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "prctl"), to: Prctl.self)
    _ = call(option, value, 0, 0, 0)
}

extension TraceStructKernelTests {
    /// `[i]` and `*` on typed pointers into user memory (a uprobe's argument), signed and
    /// unsigned elements, against bpftrace reading the same strtol call.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")))
    func userMemoryIndexingMatchesBpftrace() throws {
        let script = #"tracepoint:syscalls:sys_enter_openat /pid == \#(getpid()) && str(args->filename) == "/nonexistent-sbpf-types"/ { printf("%c%c %d\n", *(uint8 *)args->filename, ((int8 *)uptr(args->filename))[1], *kptr((int8 *)curtask->comm) != 0); } uprobe:libc:strtol /pid == \#(getpid())/ { $u = (uint8 *)arg0; $s = (int8 *)arg0; $w = (int32 *)arg0; printf("%d %d %d %d %d %d\n", $u[0], $u[4], $s[4], *($u + 1), $w[1], *(uint16 *)arg0); @n++; if (@n == 1) { exit(); } }"#
        let (ours, theirs) = try traceAlongsideBpftrace(script) {
            // A syscall tracepoint's pointer cast to an integer pointer still reads user memory.
            _ = open("/nonexistent-sbpf-types", O_RDONLY)
            _ = strtol("12ab\u{ff}xyz", nil, 10)
        }
        // "12ab" then U+00FF as UTF-8 (0xC3 0xBF): $u[4] is 195, as int8 -61.
        let word = Int32(bitPattern: 0xC3 | 0xBF << 8 | UInt32(UInt8(ascii: "x")) << 16 | UInt32(UInt8(ascii: "y")) << 24)
        #expect(ours.hasPrefix("/n 1\n49 195 -61 50 \(word) \(0x3231)\n"), "\(ours)")
        #expect(ours == theirs)
    }

    /// Bitfield members (signal_struct's is_child_subreaper, set and cleared by prctl) and
    /// tracepoint array fields with constant and variable indexes, against bpftrace.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")))
    func bitfieldsAndTracepointArraysMatchBpftrace() throws {
        let pid = getpid()
        let script = #"tracepoint:syscalls:sys_enter_getppid /pid == \#(pid)/ { printf("%d %d %d %d\n", curtask->signal->is_child_subreaper, curtask->signal->has_child_subreaper, curtask->in_execve, curtask->sched_reset_on_fork); } tracepoint:raw_syscalls:sys_enter /pid == \#(pid) && args->id == 8/ { $a = args->args; printf("%d %d %d %d %d\n", args->args[0], args->args[1], args->args[2], (int64)args->args[0], $a[1]); @n++; if (@n == 2) { exit(); } }"#
        let (ours, theirs) = try traceAlongsideBpftrace(script) {
            // PR_SET_CHILD_SUBREAPER is 36 (include/uapi/linux/prctl.h); cleared again at once.
            prctl(36, 1)
            _ = getppid()
            prctl(36, 0)
            _ = getppid()
            rawLseek(-1, 12345, 7)
            rawLseek(-9, 1, 2)
        }
        #expect(ours.hasPrefix("1 "), "\(ours)")
        #expect(ours.contains("\n0 "), "\(ours)")
        #expect(ours.contains("-1 12345 7 -1 12345\n") && ours.contains("-9 1 2 -9 1\n"), "\(ours)")
        #expect(ours == theirs)

        // A variable index (bpftrace 0.17 accepts literals only) reads the same elements.
        final class Sink: @unchecked Sendable { var text = "" }
        let sink = Sink()
        let session = try TraceSession(text: #"tracepoint:raw_syscalls:sys_enter /pid == \#(pid) && args->id == 8/ { $i = 0; while ($i < 3) { printf("%d ", (int64)args->args[$i]); $i++; } printf("\n"); }"#) { sink.text += $0 }
        defer { session.close() }
        try session.attach()
        rawLseek(-3, 42, 1)
        let deadline = Date().addingTimeInterval(0.3)
        try session.run { Date() > deadline }
        #expect(sink.text.hasPrefix("-3 42 1 \n"), "\(sink.text.debugDescription)")
    }
}

extension TraceStructKernelTests {
    /// Signed and unsigned bitfields, including one that crosses a byte and one ending at bit 63,
    /// read by the kernel from this process's memory through a struct described by BTF of our
    /// own (the kernel's own BTF has no signed bitfield a script can reach), compared with the
    /// values C's rules give.
    @Test func bitfieldsAreShiftedMaskedAndSignExtended() throws {
        var builder = BTFBuilder()
        let int = builder.addInt("int", size: 4, encoding: .signed)
        let unsigned = builder.addInt("unsigned int", size: 4)
        builder.addStruct("sbpf_bits", size: 8, members: [
            .init("a", int, bitOffset: 5, bitfieldSize: 3),
            .init("b", unsigned, bitOffset: 10, bitfieldSize: 12),
            .init("c", int, bitOffset: 40, bitfieldSize: 20),
            .init("d", int, bitOffset: 60, bitfieldSize: 4),
            .init("e", unsigned, bitOffset: 32, bitfieldSize: 8),
        ])
        let types = try BTF(builder.encode())
        let value: UInt64 = 0xF1E2_D3C4_B5A6_9788
        func field(_ offset: UInt64, _ bits: UInt64, signed: Bool) -> Int64 {
            let raw = (value >> offset) & ((1 << bits) - 1)
            guard signed, raw >> (bits - 1) == 1 else { return Int64(raw) }
            return Int64(raw) - (1 << Int64(bits))
        }
        let expected = [field(5, 3, signed: true), field(10, 12, signed: false), field(40, 20, signed: true),
                        field(60, 4, signed: true), field(32, 8, signed: false)].map(String.init).joined(separator: " ")

        final class Sink: @unchecked Sendable { var text = "" }
        let sink = Sink()
        var options = TraceSession.Options()
        options.kernelTypes = { types }
        let script = #"uprobe:libc:strtol /pid == \#(getpid())/ { $s = (struct sbpf_bits *)arg0; printf("%d %d %d %d %d\n", $s->a, $s->b, $s->c, $s->d, $s->e); }"#
        let session = try TraceSession(text: script, options: options) { sink.text += $0 }
        defer { session.close() }
        try session.attach()
        // The struct's bytes, then a NUL so strtol stops.
        var bytes = withUnsafeBytes(of: value.littleEndian) { [UInt8]($0) } + [0]
        _ = bytes.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { strtol($0, nil, 10) }
        }
        let deadline = Date().addingTimeInterval(0.3)
        try session.run { Date() > deadline }
        #expect(expected.contains("-"), "the chosen bits should make some signed field negative")
        #expect(sink.text.hasPrefix(expected + "\n"), "\(sink.text.debugDescription) != \(expected)")
    }
}
