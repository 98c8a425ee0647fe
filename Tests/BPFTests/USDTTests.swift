@testable import BPF
import BPFObject
import Foundation
import Testing

/// The USDT fixtures (Fixtures/usdt): the traced C program built three ways, so its probe
/// arguments come out in every operand form (gcc -O2: registers and base + index × scale;
/// gcc -O0 non-PIE: %rbp-relative memory; clang -O2: %rsp-relative memory).
enum USDTFixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/usdt").path
    static let output: String = {
        let path = NSTemporaryDirectory() + "swiftbpf-usdt-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()
    static let hasSDTHeader = ["/usr/include/sys/sdt.h", "/usr/include/x86_64-linux-gnu/sys/sdt.h", "/usr/include/aarch64-linux-gnu/sys/sdt.h"]
        .contains { FileManager.default.fileExists(atPath: $0) }

    struct Build: CustomStringConvertible, Sendable {
        var name: String
        var compiler: String
        var flags: [String]
        var description: String { name }
    }

    static let builds = [
        Build(name: "gcc-O2-pie", compiler: "/usr/bin/gcc", flags: ["-O2", "-fPIE", "-pie"]),
        Build(name: "gcc-O0-nopie", compiler: "/usr/bin/gcc", flags: ["-O0", "-fno-pie", "-no-pie"]),
        Build(name: "clang-O2", compiler: "/opt/swift/usr/bin/clang", flags: ["-O2"]),
    ]

    /// Builds the traced program; returns its path.
    static func traced(_ build: Build) throws -> String {
        let binary = output + "/probes-\(build.name)"
        let result = try CommandRunner.run(build.compiler, build.flags + [directory + "/probes.c", directory + "/semaphore.c", "-o", binary])
        try #require(result.status == 0, "\(build.compiler) failed: \(result.stderr)")
        return binary
    }

    /// Compiles usdt.bpf.c for `binary` with our bpf/include headers.
    static func object(for binary: String, defines: [String] = []) throws -> String {
        let vmlinux = try LoaderFixtures.vmlinuxHeader.get()
        let object = binary + (defines.isEmpty ? "" : "-" + String(defines.joined().hashValue, radix: 36)) + ".bpf.o"
        let include = URL(fileURLWithPath: directory).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("bpf/include").path
        #if arch(x86_64)
        let targetArch = "-D__TARGET_ARCH_x86"
        #else
        let targetArch = "-D__TARGET_ARCH_arm64"
        #endif
        let result = try CommandRunner.run(LoaderFixtures.clang, [
            "-target", "bpf", targetArch, "-g", "-O2", "-Wall", "-Werror", "-I", include,
            "-I", (vmlinux as NSString).deletingLastPathComponent, "-DUSDT_BINARY=\"\(binary)\"",
            "-c", directory + "/usdt.bpf.c", "-o", object] + defines.map { "-D" + $0 })
        try #require(result.status == 0, "clang: \(result.stderr)")
        return object
    }

    /// `struct seen` of usdt.bpf.c: hits, count, cookie, missing, sizes, value[4].
    struct Seen: Equatable, CustomStringConvertible {
        var hits: Int64, count: Int64, cookie: Int64, missing: Int64, sizes: Int64
        var values: [Int64]
        init(hits: Int64, count: Int64, cookie: Int64, missing: Int64, sizes: Int64, values: [Int64]) {
            (self.hits, self.count, self.cookie, self.missing, self.sizes, self.values) = (hits, count, cookie, missing, sizes, values)
        }
        init(_ bytes: [UInt8]) {
            let words = (0..<9).map { index in bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index * 8, as: Int64.self) } }
            (hits, count, cookie, missing, sizes) = (words[0], words[1], words[2], words[3], words[4])
            values = Array(words[5...])
        }
        var description: String { "hits \(hits) count \(count) cookie \(cookie) missing \(missing) sizes \(sizes) values \(values)" }
    }
}

@Suite(.kernel, .serialized, .enabled(if: USDTFixture.hasSDTHeader, "needs <sys/sdt.h> (apt-get install systemtap-sdt-dev)"))
struct USDTTests {
    /// Every argument form reaches the program with its exact value, the semaphore gates the
    /// probe that checks it, and the auto-attached and explicitly attached programs both run.
    @Test(arguments: USDTFixture.builds)
    func argumentsArriveExactly(build: USDTFixture.Build) throws {
        let binary = try USDTFixture.traced(build)
        let object = try ObjectLoader(path: try USDTFixture.object(for: binary)).load()
        let (links, skipped) = try object.attachAll()
        #expect(Set(links.keys) == ["on_deref", "on_sema"])
        #expect(skipped.keys.contains("on_args"), "a bare usdt section is left for an explicit attach")
        let explicit = try object.attachUSDT(program: "on_args", binary: binary, provider: "swiftbpf_test", name: "args", cookie: 0xC0FFEE)
        #expect(explicit.sites.count == 1)

        let calls = 4
        let run = try CommandRunner.run(binary, [String(calls)])
        try #require(run.status == 0)
        let args = USDTFixture.Seen(try object.readGlobal("args_seen"))
        let deref = USDTFixture.Seen(try object.readGlobal("deref_seen"))
        let sema = USDTFixture.Seen(try object.readGlobal("sema_seen"))
        // The last call has i = 3: n = 103.
        #expect(args == USDTFixture.Seen(hits: 4, count: 4, cookie: 0xC0FFEE, missing: -2, sizes: 4821, values: [103, -1234567890123, 7, 103]), "\(build): \(args)")
        #expect(deref == USDTFixture.Seen(hits: 4, count: 3, cookie: 0, missing: -2, sizes: 484, values: [-42, 40, 5, 0]), "\(build): \(deref)")
        #expect(sema == USDTFixture.Seen(hits: 4, count: 1, cookie: 0, missing: -2, sizes: 4, values: [206, 0, 0, 0]), "\(build): \(sema)")

        // Detached: no more hits, and the semaphore is back to 0 (the probe body is skipped).
        for (_, link) in links { try link.close() }
        try explicit.close()
        _ = try CommandRunner.run(binary, ["2"])
        #expect(USDTFixture.Seen(try object.readGlobal("args_seen")).hits == 4)
        #expect(USDTFixture.Seen(try object.readGlobal("sema_seen")).hits == 4)
    }

    /// Spec slots are returned on close: attach/detach more times than the map has slots (4
    /// here), and a full map is a clear error.
    @Test func specSlotsAreReused() throws {
        let binary = try USDTFixture.traced(USDTFixture.builds[0])
        let object = try ObjectLoader(path: try USDTFixture.object(for: binary, defines: ["BPF_USDT_MAX_SPEC_CNT=4"])).load()
        #expect(try object.map(named: "__bpf_usdt_specs").maxEntries == 4)
        for _ in 0..<10 {
            let link = try object.attachUSDT(program: "on_deref", binary: binary, provider: "swiftbpf_test", name: "deref")
            try link.close()
        }
        let kept = try (0..<4).map { _ in try object.attachUSDT(program: "on_args", binary: binary, provider: "swiftbpf_test", name: "args") }
        #expect(Set(kept.flatMap(\.specIDs)) == [0, 1, 2, 3])
        #expect {
            try object.attachUSDT(program: "on_args", binary: binary, provider: "swiftbpf_test", name: "args")
        } throws: { error in
            "\(error)".contains("BPF_USDT_MAX_SPEC_CNT")
        }
    }

    @Test func unknownProbeNamesTheProbesThere() throws {
        let binary = try USDTFixture.traced(USDTFixture.builds[0])
        let object = try ObjectLoader(path: try USDTFixture.object(for: binary)).load()
        #expect {
            try object.attachUSDT(program: "on_args", binary: binary, provider: "swiftbpf_test", name: "nope")
        } throws: { error in
            "\(error)".contains("swiftbpf_test:args") && "\(error)".contains("swiftbpf_test:with_sema")
        }
        #expect(throws: BPFError.self) {
            try object.attachUSDT(program: "on_args", binary: "/bin/true", provider: "swiftbpf_test", name: "args")
        }
    }

    /// libbpf-tools' javagc (a USDT tool built by Debian with libbpf's usdt.bpf.h): its GC
    /// start/end programs attached to our test probes send one perf event per start/end pair,
    /// carrying the traced process's pid.
    @Test func libbpfToolsJavagcObjectAttaches() throws {
        let objects = try RealWorldObjectTests.objects.get()
        let path = try #require(objects.first { $0.hasSuffix("/libbpf-tools-javagc.bpf.o") }, "no javagc object collected")
        let object = try ObjectLoader(path: path).load()
        // Its libbpf 1.x spec record has no members for base + index × scale operands, which
        // gcc -O2 emits for `deref`: refused, saying why, with nothing left attached.
        let optimized = try USDTFixture.traced(USDTFixture.builds[0])
        #expect {
            try object.attachUSDT(program: "handle_gc_end", binary: optimized, provider: "swiftbpf_test", name: "deref")
        } throws: { error in
            "\(error)".contains("idx_reg_off")
        }
        let binary = try USDTFixture.traced(USDTFixture.builds[1])
        let start = try object.attachUSDT(program: "handle_gc_start", binary: binary, provider: "swiftbpf_test", name: "args")
        let end = try object.attachUSDT(program: "handle_gc_end", binary: binary, provider: "swiftbpf_test", name: "deref")
        defer { try? start.close(); try? end.close() }
        var pids: [UInt32] = []
        let buffer = try PerfBuffer(try object.map(named: "perf_map"), onSample: { _, data in
            if data.count >= 8 { pids.append(data.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) }
        })
        defer { buffer.close() }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: binary)
        child.arguments = ["3"]
        try child.run()
        child.waitUntilExit()
        let deadline = ContinuousClock.now + .seconds(5)
        while pids.count < 3 && ContinuousClock.now < deadline { _ = try buffer.poll(timeout: .milliseconds(100)) }
        #expect(pids == Array(repeating: UInt32(child.processIdentifier), count: 3))
    }

    /// A program written for libbpf (its own usdt.bpf.h from libbpf-dev) loads and reads its
    /// arguments through our loader: the spec layout comes from the object's BTF.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/include/bpf/usdt.bpf.h"), "needs libbpf-dev"))
    func libbpfHeaderObjectsWork() throws {
        let binary = try USDTFixture.traced(USDTFixture.builds[1])
        let source = USDTFixture.output + "/libbpf_usdt.bpf.c"
        try """
            #include <linux/types.h>
            #include <linux/bpf.h>
            typedef _Bool bool;
            #include <linux/ptrace.h>
            #include <bpf/bpf_helpers.h>
            #include <bpf/bpf_tracing.h>
            #include <bpf/usdt.bpf.h>
            char LICENSE[] SEC("license") = "GPL";
            long seen[5];
            SEC("usdt")
            int BPF_USDT(on_args, int n, long a, short c, char small)
            {
                seen[0]++; seen[1] = n; seen[2] = a; seen[3] = c; seen[4] = bpf_usdt_cookie(ctx);
                return 0;
            }
            """.write(toFile: source, atomically: true, encoding: .utf8)
        let objectPath = USDTFixture.output + "/libbpf_usdt.bpf.o"
        #if arch(x86_64)
        let arch = ["-D__TARGET_ARCH_x86", "-I", "/usr/include/x86_64-linux-gnu"]
        #else
        let arch = ["-D__TARGET_ARCH_arm64", "-I", "/usr/include/aarch64-linux-gnu"]
        #endif
        let compiled = try CommandRunner.run(LoaderFixtures.clang, ["-target", "bpf", "-g", "-O2"] + arch + ["-c", source, "-o", objectPath])
        try #require(compiled.status == 0, "\(compiled.stderr)")
        let object = try ObjectLoader(path: objectPath).load()
        let link = try object.attachUSDT(program: "on_args", binary: binary, provider: "swiftbpf_test", name: "args", cookie: 77)
        defer { try? link.close() }
        try #require(try CommandRunner.run(binary, ["3"]).status == 0)
        let bytes = try object.readGlobal("seen")
        let seen = (0..<5).map { index in bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index * 8, as: Int64.self) } }
        #expect(seen == [3, 102, -1234567890123, 7, 77])
    }
}
