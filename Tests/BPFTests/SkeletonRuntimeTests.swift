import BPF
import BPFObject
import Foundation
import Testing
import TestSupport

/// End to end: BPF C compiled with clang, `SkeletonGenerator` output compiled with swiftc into a
/// small program linked against this package's built objects, run against the kernel.
@Suite(.kernel, .serialized) struct SkeletonRuntimeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let build = root + "/.build/debug"

    static let bpfSource = #"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct event { __u32 pid; __u32 seq; __u64 filter; char comm[16]; };
/* Ring buffer records have no map type; a typed global puts the struct in BTF. */
struct event event_layout;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} calls_by_pid SEC(".maps");

const volatile __u32 target_pid = 0;
__u64 matched = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	if (pid != target_pid)
		return 0;
	__u64 one = 1, *calls = bpf_map_lookup_elem(&calls_by_pid, &pid);
	if (calls)
		__sync_fetch_and_add(calls, 1);
	else
		bpf_map_update_elem(&calls_by_pid, &pid, &one, BPF_ANY);
	__u64 seq = __sync_fetch_and_add(&matched, 1);
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	e->seq = seq;
	e->filter = target_pid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""#

    static let runnerSource = #"""
import BPF
import Foundation

@main struct SkeletonRunner {
    static func main() throws {
        var opened = try CountSkeleton.open()
        opened.rodata.target_pid = UInt32(getpid())
        opened.maxEntries.calls_by_pid = 32
        let loaded = try opened.load()
        var seen: [CountSkeleton.event] = []
        let reader = try loaded.events { seen.append($0) }
        let attached = try loaded.attach()
        for _ in 0..<5 { _ = getppid() }
        while seen.count < 5, try reader.poll(timeout: .seconds(2)) > 0 {}
        try attached.close()
        for _ in 0..<3 { _ = getppid() }
        let calls = try loaded.calls_by_pid.lookup(UInt32(getpid())) ?? 0
        print("events=\(seen.count) seqs=\(seen.map(\.seq)) own=\(seen.allSatisfy { $0.pid == UInt32(getpid()) && $0.filter == UInt64(getpid()) })")
        print("comm=\(seen.first?.commString ?? "") matched=\(try loaded.bss.matched) calls=\(calls) max=\(loaded.calls_by_pid.map.maxEntries)")
    }
}
"""#

    struct Output { var status: Int32; var text: String }

    /// Runs a command to completion with standard error merged into the text.
    static func run(_ executable: String, _ arguments: [String]) throws -> Output {
        let result = try ChildProcess.run(executable, arguments, mergingErrors: true)
        return Output(status: result.status, text: result.stdout)
    }

    static func objectFiles(_ target: String) throws -> [String] {
        // Only objects of sources that still exist: an incremental build directory keeps the
        // objects of renamed or deleted files, which would clash at link time.
        let sources = Set((FileManager.default.enumerator(atPath: root + "/Sources/\(target)")?.allObjects as? [String] ?? [])
            .map { ($0 as NSString).lastPathComponent })
        return try FileManager.default.contentsOfDirectory(atPath: "\(build)/\(target).build")
            .filter { $0.hasSuffix(".o") && sources.contains(String($0.dropLast(2))) }
            .map { "\(build)/\(target).build/\($0)" }
    }

    /// Compiles `bpfSource` with the toolchain's clang, generates its skeleton (`<Name>Skeleton`)
    /// and links it with `runner` and this package's objects into `directory/runner`.
    static func buildRunner(name: String, bpfSource: String, eventTypes: [String] = [], runner: String, in directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let header = try BTFCHeaderWriter(btf: BTF(contentsOfFile: "/sys/kernel/btf/vmlinux")).header()
        try header.write(toFile: directory + "/vmlinux.h", atomically: true, encoding: .utf8)
        try bpfSource.write(toFile: directory + "/\(name).bpf.c", atomically: true, encoding: .utf8)
        let clang = try run("/opt/swift/usr/bin/clang", ["-target", "bpf", "-D__TARGET_ARCH_x86", "-g", "-O2", "-Wall", "-Werror",
            "-I", root + "/bpf/include", "-I", directory, "-c", directory + "/\(name).bpf.c", "-o", directory + "/\(name).bpf.o"])
        guard clang.status == 0 else { throw BPFError.invalidArgument("clang: \(clang.text)") }
        let object = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/\(name).bpf.o")))
        let skeleton = try SkeletonGenerator(objectBytes: object, name: name, eventTypes: eventTypes).generate()
        try skeleton.write(toFile: directory + "/\(name).skeleton.swift", atomically: true, encoding: .utf8)
        try runner.write(toFile: directory + "/runner.swift", atomically: true, encoding: .utf8)
        let objects = try objectFiles("BPF") + objectFiles("BPFObject") + objectFiles("CBPFSys")
        let swiftc = try run("/opt/swift/usr/bin/swiftc", ["-parse-as-library", "-swift-version", "5", "-warnings-as-errors", "-I", build + "/Modules",
            "-Xcc", "-fmodule-map-file=" + build + "/CBPFSys.build/module.modulemap", "-Xcc", "-I", "-Xcc", root + "/Sources/CBPFSys/include",
            directory + "/\(name).skeleton.swift", directory + "/runner.swift"] + objects + ["-o", directory + "/runner"])
        guard swiftc.status == 0 else { throw BPFError.invalidArgument("swiftc: \(swiftc.text)") }
        return directory + "/runner"
    }

    @Test func generatedSkeletonLoadsFiltersCountsAndStreamsEvents() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sbpf-skeleton-run-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let header = try BTFCHeaderWriter(btf: BTF(contentsOfFile: "/sys/kernel/btf/vmlinux")).header()
        try header.write(toFile: directory + "/vmlinux.h", atomically: true, encoding: .utf8)
        try Self.bpfSource.write(toFile: directory + "/count.bpf.c", atomically: true, encoding: .utf8)
        let clang = try Self.run("/opt/swift/usr/bin/clang", ["-target", "bpf", "-D__TARGET_ARCH_x86", "-g", "-O2", "-Wall", "-Werror",
            "-I", Self.root + "/bpf/include", "-I", directory, "-c", directory + "/count.bpf.c", "-o", directory + "/count.bpf.o"])
        try #require(clang.status == 0, "\(clang.text)")

        let object = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/count.bpf.o")))
        let skeleton = try SkeletonGenerator(objectBytes: object, name: "count", eventTypes: ["event"]).generate()
        try skeleton.write(toFile: directory + "/count.skeleton.swift", atomically: true, encoding: .utf8)
        // The CLI prints the same source (bpftool gen skeleton's shape: object in, source out).
        let cli = try CommandRunner.swiftbpf("gen", "skeleton", directory + "/count.bpf.o", "--event-type", "event")
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect(cli.stdout == skeleton + "\n")
        let missing = try CommandRunner.swiftbpf("gen", "skeleton", directory + "/count.bpf.o", "--event-type", "no_such_struct")
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no struct, union or typedef named 'no_such_struct'"), "\(missing.stderr)")
        try Self.runnerSource.write(toFile: directory + "/runner.swift", atomically: true, encoding: .utf8)
        let objects = try Self.objectFiles("BPF") + Self.objectFiles("BPFObject") + Self.objectFiles("CBPFSys")
        let swiftc = try Self.run("/opt/swift/usr/bin/swiftc", ["-parse-as-library", "-swift-version", "5", "-I", Self.build + "/Modules",
            "-Xcc", "-fmodule-map-file=" + Self.build + "/CBPFSys.build/module.modulemap", "-Xcc", "-I", "-Xcc", Self.root + "/Sources/CBPFSys/include",
            directory + "/count.skeleton.swift", directory + "/runner.swift"] + objects + ["-o", directory + "/runner"])
        try #require(swiftc.status == 0, "\(swiftc.text)")
        #expect(!swiftc.text.contains("warning:"), "\(swiftc.text)")

        let result = try Self.run(directory + "/runner", [])
        #expect(result.status == 0, "\(result.text)")
        // Five getppid() calls while attached: five events in order, all from this pid with the
        // .rodata filter seen by the program; three after close() are not counted.
        #expect(result.text.contains("events=5 seqs=[0, 1, 2, 3, 4] own=true"), "\(result.text)")
        #expect(result.text.contains("comm=runner matched=5 calls=5 max=32"), "\(result.text)")
    }
}

/// A record shorter than the skeleton's event struct is a clear error from `poll`, naming both
/// sizes, not a read past the record.
@Suite(.kernel, .serialized) struct SkeletonShortRecordTests {
    static let bpfSource = #"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct event { __u64 first; __u64 second; __u64 third; };
struct event event_layout;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

const volatile __u32 target_pid = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	__u64 only_one = 7;
	bpf_ringbuf_output(&events, &only_one, sizeof(only_one), 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""#

    static let runnerSource = #"""
import BPF
import Foundation

@main struct ShortRecordRunner {
    static func main() throws {
        var opened = try ShortSkeleton.open()
        opened.rodata.target_pid = UInt32(getpid())
        let loaded = try opened.load()
        var decoded = 0
        let reader = try loaded.events { _ in decoded += 1 }
        let attached = try loaded.attach()
        _ = getppid()
        do {
            _ = try reader.poll(timeout: .seconds(2))
            print("no error, decoded=\(decoded)")
        } catch {
            print("error: \(error) decoded=\(decoded)")
        }
        try attached.close()
    }
}
"""#

    @Test func shortRecordIsAnError() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sbpf-skeleton-short-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let runner = try SkeletonRuntimeTests.buildRunner(name: "short", bpfSource: Self.bpfSource, eventTypes: ["event"],
                                                          runner: Self.runnerSource, in: directory)
        let result = try SkeletonRuntimeTests.run(runner, [])
        #expect(result.status == 0, "\(result.text)")
        #expect(result.text.contains("a record of 8 bytes from ring buffer 'events' is shorter than event (24 bytes)"), "\(result.text)")
        #expect(result.text.contains("decoded=0"), "\(result.text)")
    }
}
