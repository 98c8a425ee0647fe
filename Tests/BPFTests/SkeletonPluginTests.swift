import BPF
import Foundation
import Testing

/// The SwiftPM round trip: a temporary package depending on this one by path, with one
/// `.bpf.c` and a `main` using the skeleton BPFBuildPlugin generates, built with `swift build`
/// and run against the kernel. The package lives at a fixed path so repeated runs build
/// incrementally (the first run builds this package's library targets: minutes).
@Suite(.kernel, .serialized) struct SkeletonPluginTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let package = FileManager.default.temporaryDirectory.appendingPathComponent("sbpf-skeleton-plugin-package").path

    static let bpfSource = #"""
// swiftbpf:event-type event
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

    static let mainSource = #"""
import BPF
import Foundation

@main struct Demo {
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

    static func manifest() -> String {
        let identity = URL(fileURLWithPath: root).lastPathComponent.lowercased()
        return """
        // swift-tools-version:6.0
        import PackageDescription

        let package = Package(
            name: "SkeletonPluginDemo",
            dependencies: [.package(path: "\(root)")],
            targets: [
                .executableTarget(
                    name: "demo",
                    dependencies: [.product(name: "BPF", package: "\(identity)"), .product(name: "BPFObject", package: "\(identity)")],
                    exclude: ["count.bpf.c"],
                    plugins: [.plugin(name: "BPFBuildPlugin", package: "\(identity)")]
                ),
            ],
            swiftLanguageModes: [.v5]
        )
        """
    }

    static func swiftBuild() throws -> SkeletonRuntimeTests.Output {
        try SkeletonRuntimeTests.run("/opt/swift/usr/bin/swift", ["build", "--package-path", package])
    }

    @Test func pluginBuildsSkeletonAndProgramRuns() throws {
        let sources = Self.package + "/Sources/demo"
        try FileManager.default.createDirectory(atPath: sources, withIntermediateDirectories: true)
        try Self.manifest().write(toFile: Self.package + "/Package.swift", atomically: true, encoding: .utf8)
        try Self.bpfSource.write(toFile: sources + "/count.bpf.c", atomically: true, encoding: .utf8)
        try Self.mainSource.write(toFile: sources + "/Demo.swift", atomically: true, encoding: .utf8)

        let build = try Self.swiftBuild()
        try #require(build.status == 0, "\(build.text)")
        let result = try SkeletonRuntimeTests.run(Self.package + "/.build/debug/demo", [])
        #expect(result.status == 0, "\(result.text)")
        #expect(result.text.contains("events=5 seqs=[0, 1, 2, 3, 4] own=true"), "\(result.text)")
        #expect(result.text.contains("comm=demo matched=5 calls=5 max=32"), "\(result.text)")

        // A C error reaches the build output with its file and line.
        let broken = Self.bpfSource.replacingOccurrences(of: "e->seq = seq;", with: "e->seq = undeclared_name;")
        try broken.write(toFile: sources + "/count.bpf.c", atomically: true, encoding: .utf8)
        defer { try? Self.bpfSource.write(toFile: sources + "/count.bpf.c", atomically: true, encoding: .utf8) }
        let failed = try Self.swiftBuild()
        #expect(failed.status != 0)
        let line = Self.bpfSource.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("e->seq = seq;") }.map { $0 + 1 } ?? 0
        #expect(failed.text.contains("count.bpf.c:\(line):"), "\(failed.text)")
        #expect(failed.text.contains("undeclared_name"), "\(failed.text)")
    }
}
