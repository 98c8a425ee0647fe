import BPF
import BPFObject
import Foundation
import Testing

/// Compiles the loader's C fixtures (Tests/BPFTests/Fixtures/objects) with the toolchain's clang
/// against a vmlinux.h that our BTFCHeaderWriter generates from the running kernel's BTF, once
/// per test run.
enum LoaderFixtures {
    static let clang = "/opt/swift/usr/bin/clang"
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/objects").path
    static let output: String = {
        let path = NSTemporaryDirectory() + "swiftbpf-loader-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()
    static let vmlinuxHeader: Result<String, Error> = Result {
        let path = output + "/vmlinux.h"
        try BTFCHeaderWriter(btf: try KernelBTF.vmlinux()).header().write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Compiles fixture `name` and returns the object's path.
    static func compile(_ name: String) throws -> String {
        _ = try vmlinuxHeader.get()
        let object = output + "/" + name.replacingOccurrences(of: ".bpf.c", with: ".bpf.o")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: clang)
        process.arguments = ["-target", "bpf", "-g", "-O2", "-I", directory, "-I", output, "-c", directory + "/" + name, "-o", object]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BPFError.invalidArgument("clang failed for \(name): \(message)") }
        return object
    }

    static func u32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    static func u64(_ bytes: [UInt8]?) -> UInt64? { bytes.map { $0.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } } }
}

@Suite(.kernel, .serialized)
struct LoaderTests {
    @Test func loadsAndRunsEveryFeatureOfTheObject() throws {
        let loader = try ObjectLoader(path: try LoaderFixtures.compile("features.bpf.c"))
        try loader.setGlobal("multiplier", to: UInt64(3))
        let object = try loader.load()
        #expect(object.warnings.isEmpty, "\(object.warnings)")
        #expect(Set(object.programs.keys) == ["count_calls", "tail_target", "jump", "use_inner"])

        // count_calls: static subprogram reads .rodata (set before load), global subprogram,
        // hash + legacy map updates, bpf_loop callback, kconfig externs.
        let run = try object.program(named: "count_calls").testRun(TestRunInput(context: [UInt8](repeating: 0, count: 8)))
        #expect(run.returnValue == 0)
        #expect(try object.global("counter", as: UInt64.self) == 3)
        #expect(try object.global("data_value", as: UInt64.self) == 8)
        #expect(try object.global("loop_sum", as: UInt64.self) == 0 + 1 + 2 + 3)
        #expect(LoaderFixtures.u64(try object.map(named: "counts").lookup(LoaderFixtures.u32(1))) == 1)
        #expect(LoaderFixtures.u64(try object.map(named: "legacy_array").lookup(LoaderFixtures.u32(1))) == 1)
        #expect(try object.global("kconfig_hz", as: UInt64.self) >= 100)
        #expect(try object.global("kconfig_bpf", as: UInt64.self) == 1)
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        #expect(try object.global("kversion", as: UInt64.self) == UInt64(KconfigValues.kernelVersion(release: release)))

        // The program array's initial slot holds tail_target: jump tail-calls it (+100).
        let jumped = try object.program(named: "jump").testRun(TestRunInput(context: [UInt8](repeating: 0, count: 8)))
        #expect(jumped.returnValue == 0)
        #expect(try object.global("counter", as: UInt64.self) == 103)

        // The outer map's initial slot 1 holds inner_a.
        _ = try object.program(named: "use_inner").testRun(TestRunInput(context: [UInt8](repeating: 0, count: 8)))
        #expect(LoaderFixtures.u64(try object.map(named: "inner_a").lookup(LoaderFixtures.u32(0))) == 42)
        #expect(LoaderFixtures.u64(try object.map(named: "inner_b").lookup(LoaderFixtures.u32(0))) == 0)

        // .bss/.data are writable through the mapping; .rodata is frozen.
        try object.writeGlobal("counter", LoaderFixtures.u32(0) + LoaderFixtures.u32(0))
        #expect(try object.global("counter", as: UInt64.self) == 0)
        #expect(throws: BPFError.self) { try object.writeGlobal("multiplier", [0, 0, 0, 0, 0, 0, 0, 0]) }
        #expect(try object.map(named: "features.rodata").isFrozen)
    }

    @Test func sectionsAutoAttachAndCountThroughBss() throws {
        let loader = try ObjectLoader(path: try LoaderFixtures.compile("tracing.bpf.c"))
        try loader.setGlobal("target_pid", to: Int32(getpid()))
        let object = try loader.load()
        let (links, skipped) = try object.attachAll()
        // tp_btf, tracepoint and raw_tp attach by section name; xdp needs an interface.
        #expect(Set(links.keys) == ["on_sys_enter", "on_getppid", "on_sys_exit"])
        #expect(Set(skipped.keys) == ["pass_all"])
        #expect(throws: BPFError.self) { try object.attach(program: "pass_all") }
        for _ in 0..<20 { _ = getppid() }
        #expect(try object.global("hits", as: UInt64.self) >= 20)
        #expect(try object.global("getppid_calls", as: UInt64.self) == 20)
        // Links detach when released: no more counting.
        for (_, link) in links { try link.close() }
        for _ in 0..<5 { _ = getppid() }
        #expect(try object.global("getppid_calls", as: UInt64.self) == 20)
    }

    @Test func kernelVariablesResolveThroughBTF() throws {
        let path = try LoaderFixtures.compile("ksym.bpf.c")
        // A __weak ksym the kernel lacks reads as NULL.
        let weakLoader = try ObjectLoader(path: path)
        try weakLoader.selectPrograms(["read_weak"])
        let weak = try weakLoader.load()
        _ = try weak.program(named: "read_weak").testRun(TestRunInput(context: [UInt8](repeating: 0, count: 8)))
        #expect(try weak.global("weak_absent", as: UInt64.self) == 1)
        // bpf_prog_active (per-CPU int) gets its vmlinux BTF VAR id; the kernel then needs its
        // address from kallsyms, which has data symbols only with CONFIG_KALLSYMS_ALL.
        let strongLoader = try ObjectLoader(path: path)
        try strongLoader.selectPrograms(["read_strong"])
        do {
            let strong = try strongLoader.load()
            _ = try strong.program(named: "read_strong").testRun(TestRunInput(context: [UInt8](repeating: 0, count: 8)))
            #expect(try strong.global("active_seen", as: UInt64.self) >= 1)
        } catch BPFError.verifierRejected(let rejection) {
            #expect(rejection.log.contains("failed to find the address for kernel symbol 'bpf_prog_active'"), "\(rejection)")
        }
    }

    @Test func kfuncCallsResolveThroughBTF() throws {
        let loader = try ObjectLoader(path: try LoaderFixtures.compile("ksym.bpf.c"))
        try loader.selectPrograms(["call_kfuncs"])
        let object = try loader.load()
        let link = try object.attach(program: "call_kfuncs")
        for _ in 0..<10 { _ = getppid() }
        try link.close()
        #expect(try object.global("kfunc_calls", as: UInt64.self) >= 10)
    }

    /// CO-RE: the task->tgid field offset is relocated against the running kernel.
    @Test func coreRelocatedFieldRead() throws {
        let path = try LoaderFixtures.compile("core.bpf.c")
        let loader = try ObjectLoader(path: path)
        #expect(loader.spec.program(named: "read_tgid")?.coreRelocations.isEmpty == false)
        try loader.setGlobal("target_pid", to: Int32(getpid()))
        let object = try loader.load()
        let link = try object.attach(program: "read_tgid")
        _ = getppid()
        try link.close()
        #expect(try object.global("seen_tgid", as: Int32.self) == getpid())
    }

    @Test func fentryIsRefusedClearly() throws {
        let loader = try ObjectLoader(path: try LoaderFixtures.compile("fentry.bpf.c"))
        do {
            let object = try loader.load()
            // A kernel with trampolines: then attaching must work.
            _ = try object.attachAll()
        } catch let error as BPFError {
            #expect(error.errno == .EPERM, "\(error)")
            #expect("\(error)".contains("fentry"), "\(error)")
        }
    }

    @Test func verifierRejectionNamesTheSourceLine() throws {
        let loader = try ObjectLoader(path: try LoaderFixtures.compile("rejected.bpf.c"))
        do {
            _ = try loader.load()
            Issue.record("the verifier should have rejected 'unchecked'")
        } catch BPFError.verifierRejected(let rejection) {
            let line = try #require(rejection.sourceLine)
            #expect(line.contains("rejected.bpf.c:"), "\(line)")
            #expect(line.contains("UNCHECKED-DEREFERENCE"), "\(line)")
        }
    }

    @Test func mapsPinnedByNameAreReused() throws {
        let source = """
            #include "objtest.h"
            char LICENSE[] SEC("license") = "GPL";
            struct {
                __uint(type, BPF_MAP_TYPE_HASH);
                __uint(max_entries, 4);
                __type(key, __u32);
                __type(value, __u64);
                __uint(pinning, LIBBPF_PIN_BY_NAME);
            } objloader_pinned SEC(".maps");
            SEC("raw_tp/sys_enter") int touch(void *ctx) {
                __u32 key = 0; __u64 one = 1;
                bpf_map_update_elem(&objloader_pinned, &key, &one, 0);
                return 0;
            }
            """
        let root = "/sys/fs/bpf/objloader-test-\(getpid())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = LoaderFixtures.output + "/pinned.bpf.c"
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        var options = ObjectLoadOptions()
        options.pinRoot = root
        let objectPath = try compileOutside(path)
        let first = try ObjectLoader(path: objectPath, options: options).load()
        _ = try first.program(named: "touch").testRun(TestRunInput(context: [UInt8](repeating: 0, count: 8)))
        #expect(FileManager.default.fileExists(atPath: root + "/objloader_pinned"))
        let second = try ObjectLoader(path: objectPath, options: options).load()
        #expect(LoaderFixtures.u64(try second.map(named: "objloader_pinned").lookup(LoaderFixtures.u32(0))) == 1)
        #expect(try first.map(named: "objloader_pinned").info().id == second.map(named: "objloader_pinned").info().id)
    }

    /// A load that fails half-way (here: the verifier rejects the object's second program)
    /// leaves no new pins behind; a pin that existed before the load stays, holding its map.
    @Test func failedLoadLeavesNoNewPins() throws {
        let source = """
            #include "objtest.h"
            char LICENSE[] SEC("license") = "GPL";
            struct {
                __uint(type, BPF_MAP_TYPE_ARRAY);
                __uint(max_entries, 1);
                __type(key, __u32);
                __type(value, __u64);
                __uint(pinning, LIBBPF_PIN_BY_NAME);
            } objloader_existing SEC(".maps");
            struct {
                __uint(type, BPF_MAP_TYPE_HASH);
                __uint(max_entries, 4);
                __type(key, __u32);
                __type(value, __u64);
                __uint(pinning, LIBBPF_PIN_BY_NAME);
            } objloader_fresh SEC(".maps");
            SEC("raw_tp/sys_enter") int good(void *ctx) {
                __u32 key = 0; __u64 one = 1;
                bpf_map_update_elem(&objloader_fresh, &key, &one, 0);
                bpf_map_update_elem(&objloader_existing, &key, &one, 0);
                return 0;
            }
            SEC("raw_tp/sys_exit") int bad(void *ctx) {
                __u32 key = 0;
                __u64 *value = bpf_map_lookup_elem(&objloader_fresh, &key);
                return *value; /* no NULL check: rejected */
            }
            """
        let root = "/sys/fs/bpf/objloader-failpin-\(getpid())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = LoaderFixtures.output + "/failpin.bpf.c"
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        let objectPath = try compileOutside(path)
        var options = ObjectLoadOptions()
        options.pinRoot = root
        // The pin that exists before: made by a load of only the good program.
        let first = try ObjectLoader(path: objectPath, options: options)
        try first.selectPrograms(["good"])
        let existingID = try first.load().map(named: "objloader_existing").info().id
        try FileManager.default.removeItem(atPath: root + "/objloader_fresh")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["objloader_existing"])

        #expect(throws: BPFError.self) { try ObjectLoader(path: objectPath, options: options).load() }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["objloader_existing"], "the new pin was removed, the old one kept")
        #expect(try Map(pinnedAt: root + "/objloader_existing").info().id == existingID)

        // Loading everything that verifies pins both.
        let loader = try ObjectLoader(path: objectPath, options: options)
        try loader.setAutoload("bad", false)
        _ = try loader.load()
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: root)) == ["objloader_existing", "objloader_fresh"])
    }

    func compileOutside(_ path: String) throws -> String {
        let object = path.replacingOccurrences(of: ".bpf.c", with: ".bpf.o")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: LoaderFixtures.clang)
        process.arguments = ["-target", "bpf", "-g", "-O2", "-I", LoaderFixtures.directory, "-c", path, "-o", object]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BPFError.invalidArgument("clang failed for \(path)") }
        return object
    }

    /// libbpf (through bpftool) and we agree on what loads.
    @Test func bpftoolLoadsWhatWeLoad() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/bpftool") else { return }
        // (features.bpf.c has a legacy "maps" section, which libbpf 1.0+ refuses and we accept.)
        for fixture in ["tracing.bpf.c", "ksym.bpf.c", "rejected.bpf.c", "fentry.bpf.c"] {
            let object = try LoaderFixtures.compile(fixture)
            let pin = "/sys/fs/bpf/objloader-bpftool-\(getpid())"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/bpftool")
            process.arguments = ["prog", "loadall", object, pin]
            process.standardError = Pipe()
            process.standardOutput = Pipe()
            try process.run()
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: pin)
            let ours = Result { try ObjectLoader(path: object).load() }
            #expect((process.terminationStatus == 0) == ((try? ours.get()) != nil), "\(fixture): bpftool \(process.terminationStatus), ours \(ours)")
        }
    }
}
