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

    /// The runtime test's program and runner; the plugin finds the event type from the comment.
    static let bpfSource = "// swiftbpf:event-type event\n" + SkeletonRuntimeTests.bpfSource
    static let mainSource = SkeletonRuntimeTests.runnerSource

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
                    exclude: ["bpf"],
                    plugins: [.plugin(name: "BPFBuildPlugin", package: "\(identity)")]
                ),
                .executableTarget(
                    name: "pinned",
                    dependencies: [.product(name: "BPF", package: "\(identity)"), .product(name: "BPFObject", package: "\(identity)")],
                    exclude: ["bpf"],
                    plugins: [.plugin(name: "BPFBuildPlugin", package: "\(identity)")]
                ),
            ],
            swiftLanguageModes: [.v5]
        )
        """
    }

    /// A checked-in vmlinux.h (reproducible builds): just what the program needs, plus a type the
    /// generated header lacks, so the build only succeeds if the plugin used this file. x86's
    /// pt_regs with the kernel's names and arm64's user_pt_regs, for BPF_KPROBE.
    static let pinnedVmlinux = """
        #ifndef __VMLINUX_H__
        #define __VMLINUX_H__
        typedef unsigned long long __u64; typedef long long __s64; typedef unsigned int __u32; typedef int __s32;
        typedef unsigned short __u16; typedef short __s16; typedef unsigned char __u8; typedef signed char __s8;
        typedef __u16 __be16; typedef __u32 __be32; typedef __u32 __wsum; typedef unsigned long size_t;
        typedef _Bool bool;
        struct pt_regs { unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss; }
            __attribute__((preserve_access_index));
        struct user_pt_regs { __u64 regs[31]; __u64 sp; __u64 pc; __u64 pstate; } __attribute__((preserve_access_index));
        struct sbpf_pinned_vmlinux_marker { __u32 calls; __u32 arch; };
        #endif

        """

    /// Counts getppid() in a struct whose type only the checked-in vmlinux.h has; `arch` records
    /// which __TARGET_ARCH_* the plugin passed. BPF_KPROBE fails to compile without one.
    static let pinnedSource = #"""
        #include "vmlinux.h"
        #include <bpf/bpf_helpers.h>
        #include <bpf/bpf_tracing.h>

        struct sbpf_pinned_vmlinux_marker counts = {};
        const volatile __u32 target_pid = 0;

        #if defined(__TARGET_ARCH_x86)
        #define ARCH_ID 1
        #elif defined(__TARGET_ARCH_arm64)
        #define ARCH_ID 2
        #else
        #define ARCH_ID 0
        #endif

        SEC("tracepoint/syscalls/sys_enter_getppid")
        int on_getppid(void *ctx)
        {
        	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != target_pid)
        		return 0;
        	__sync_fetch_and_add(&counts.calls, 1);
        	counts.arch = ARCH_ID;
        	return 0;
        }

        SEC("kprobe/do_sys_openat2")
        int BPF_KPROBE(on_openat2, int dfd, const char *filename)
        {
        	return dfd + PT_REGS_RC(ctx) + (filename != 0);
        }

        char LICENSE[] SEC("license") = "GPL";
        """#

    static let pinnedMain = """
        import BPF
        import Foundation

        var opened = try PinnedSkeleton.open()
        opened.rodata.target_pid = UInt32(getpid())
        opened.autoload.on_openat2 = false   // compiled to prove the register macros work; kprobes may be absent
        let loaded = try opened.load()
        let attached = try loaded.attach()
        for _ in 0..<3 { _ = getppid() }
        try attached.close()
        let counts = try loaded.bss.counts
        print("pinned calls=\\(counts.calls) arch=\\(counts.arch)")

        """

    static func swiftBuild() throws -> SkeletonRuntimeTests.Output {
        try SkeletonRuntimeTests.run("/opt/swift/usr/bin/swift", ["build", "--package-path", package])
    }

    @Test func pluginBuildsSkeletonAndProgramRuns() throws {
        // The documented layout: Swift at the top of the target, BPF C under bpf/ (excluded once).
        let demo = Self.package + "/Sources/demo"
        let sources = demo + "/bpf"
        try? FileManager.default.removeItem(atPath: demo + "/count.bpf.c")   // the layout of earlier runs
        try FileManager.default.createDirectory(atPath: sources, withIntermediateDirectories: true)
        try Self.manifest().write(toFile: Self.package + "/Package.swift", atomically: true, encoding: .utf8)
        try Self.bpfSource.write(toFile: sources + "/count.bpf.c", atomically: true, encoding: .utf8)
        try Self.mainSource.write(toFile: demo + "/Demo.swift", atomically: true, encoding: .utf8)
        let pinned = Self.package + "/Sources/pinned"
        try FileManager.default.createDirectory(atPath: pinned + "/bpf", withIntermediateDirectories: true)
        try Self.pinnedVmlinux.write(toFile: pinned + "/bpf/vmlinux.h", atomically: true, encoding: .utf8)
        try Self.pinnedSource.write(toFile: pinned + "/bpf/pinned.bpf.c", atomically: true, encoding: .utf8)
        try Self.pinnedMain.write(toFile: pinned + "/main.swift", atomically: true, encoding: .utf8)

        let build = try Self.swiftBuild()
        try #require(build.status == 0, "\(build.text)")
        let result = try SkeletonRuntimeTests.run(Self.package + "/.build/debug/demo", [])
        #expect(result.status == 0, "\(result.text)")
        #expect(result.text.contains("events=5 seqs=[0, 1, 2, 3, 4] own=true"), "\(result.text)")
        #expect(result.text.contains("comm=demo matched=5 calls=5 max=32"), "\(result.text)")

        // The checked-in vmlinux.h was used (its marker type compiled) and the host's
        // architecture define reached clang (x86 is 1, arm64 2).
        let pinnedRun = try SkeletonRuntimeTests.run(Self.package + "/.build/debug/pinned", [])
        #expect(pinnedRun.status == 0, "\(pinnedRun.text)")
        #if arch(x86_64)
        #expect(pinnedRun.text.contains("pinned calls=3 arch=1"), "\(pinnedRun.text)")
        #elseif arch(arm64)
        #expect(pinnedRun.text.contains("pinned calls=3 arch=2"), "\(pinnedRun.text)")
        #endif

        // The generated vmlinux.h is cached per kernel (release and BTF hash) in the demo
        // target's plugin directory; the pinned target never generated one.
        let outputs = try Self.pluginOutputs()
        let demoCache = try #require(outputs["demo"]) + "/vmlinux"
        let cached = (try? FileManager.default.contentsOfDirectory(atPath: demoCache)) ?? []
        let release = try String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(cached.count == 1 && cached[0].hasPrefix(release + "-"), "\(cached)")
        #expect(!FileManager.default.fileExists(atPath: try #require(outputs["pinned"]) + "/vmlinux"))
        // Touching the source re-runs the command, which reuses the cached header.
        let header = demoCache + "/" + (cached.first ?? "") + "/vmlinux.h"
        let before = try FileManager.default.attributesOfItem(atPath: header)[.modificationDate] as? Date
        try Self.bpfSource.write(toFile: sources + "/count.bpf.c", atomically: true, encoding: .utf8)
        let rebuilt = try Self.swiftBuild()
        #expect(rebuilt.status == 0, "\(rebuilt.text)")
        #expect(rebuilt.text.contains("Compiling BPF count.bpf.c"), "\(rebuilt.text)")
        #expect(try FileManager.default.attributesOfItem(atPath: header)[.modificationDate] as? Date == before)
        // Headers in the target are inputs: editing the checked-in vmlinux.h recompiles its object.
        try (Self.pinnedVmlinux + "/* edited */\n").write(toFile: pinned + "/bpf/vmlinux.h", atomically: true, encoding: .utf8)
        let afterHeaderEdit = try Self.swiftBuild()
        #expect(afterHeaderEdit.status == 0, "\(afterHeaderEdit.text)")
        #expect(afterHeaderEdit.text.contains("Compiling BPF pinned.bpf.c"), "\(afterHeaderEdit.text)")
        #expect(!afterHeaderEdit.text.contains("Compiling BPF count.bpf.c"), "\(afterHeaderEdit.text)")

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

    /// Plugin work directories by target name (`.build/plugins/outputs/<package>/<target>/.../BPFBuildPlugin`).
    static func pluginOutputs() throws -> [String: String] {
        let root = Self.package + "/.build/plugins/outputs"
        var result: [String: String] = [:]
        for path in (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []) where path.hasSuffix("/BPFBuildPlugin") {
            let components = path.split(separator: "/")
            guard components.count >= 3 else { continue }
            result[String(components[1])] = root + "/" + path
        }
        return result
    }
}
