import BPF
import BPFObject
import Foundation
import Testing

/// Programs compiled with SwiftBPF's BPF-side headers (bpf/include) loaded into the running
/// kernel and run. libbpf's loader (bpftool prog loadall) is the loader here: SwiftBPF's own
/// ELF loader is a separate branch, and this checks the headers, not a loader.
@Suite("BPF-side headers: programs load and work in the kernel", .kernel, .serialized,
       .enabled(if: BPFHeadersLoad.toolsAvailable))
struct BPFHeadersLoadTests {
    @Test(arguments: ["task_core", "tp_btf", "kprobes", "uprobe", "xdp_count", "loops", "features"])
    func loadsIntoTheKernel(program: String) throws {
        let loaded = try BPFHeadersLoad.load(program)
        defer { loaded.remove() }
        let expected: [String: Set<String>] = [
            "task_core": ["on_sched_switch"], "tp_btf": ["on_switch_btf"],
            "kprobes": ["on_unlinkat", "on_unlinkat_return", "on_openat"],
            "uprobe": ["on_call", "on_return"], "xdp_count": ["count_protocols"], "loops": ["run_loops"],
            "features": ["features", "tail_target", "dump_task"],
        ]
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: loaded.programs)) == expected[program])
    }

    /// bpf_for / bpf_repeat (open-coded iterator kfuncs) and BPF_SNPRINTF, observed in .bss.
    @Test func loopsAndSnprintfRun() throws {
        let loaded = try BPFHeadersLoad.load("loops")
        defer { loaded.remove() }
        let program = try Program(adopting: Pinning.open(loaded.programs + "/run_loops"))
        #expect(try program.testRun().returnValue == 0)
        let bss = try Map(adopting: Pinning.open(try loaded.map(endingWith: "_bss")))
        let value = try #require(try bss.lookup([0, 0, 0, 0]))
        func int32(at offset: Int) -> Int32 {
            Int32(bitPattern: UInt32(value[offset]) | UInt32(value[offset + 1]) << 8
                | UInt32(value[offset + 2]) << 16 | UInt32(value[offset + 3]) << 24)
        }
        // Variables in declaration order: loop_sum, repeat_count, formatted[32] (clang keeps it).
        #expect(int32(at: 0) == 45)
        #expect(int32(at: 4) == 5)
        let text = value[8..<40].prefix { $0 != 0 }
        #expect(String(decoding: text, as: UTF8.self) == "sum=45 n=5")
    }

    /// bpf_tail_call_static into a prog array filled from its `__array` initialiser, weak ksym
    /// checks, bpf_core_cast, kernel type ids, type_matches, container_of, __arg_ctx.
    @Test func tailCallAndKernelSymbolChecksRun() throws {
        let loaded = try BPFHeadersLoad.load("features")
        defer { loaded.remove() }
        let program = try Program(adopting: Pinning.open(loaded.programs + "/features"))
        let run = try program.testRun(TestRunInput(data: [UInt8](repeating: 0, count: 64)))
        #expect(run.returnValue == 1, "tail_target returns 1; features alone would return 0")
        let bss = try Map(adopting: Pinning.open(try loaded.map(endingWith: "_bss")))
        let value = try #require(try bss.lookup([0, 0, 0, 0]))
        let results = (0..<8).map { index in
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(value[index * 8 + $1]) << (8 * UInt64($1)) }
        }
        // [0] set by the tail-called program; [1] bpf_rdonly_cast exists; [2] a missing weak
        // kfunc does not; [3]-[7] task pid via bpf_core_cast, type ids, type_matches,
        // container_of, __arg_ctx call (KERNEL_VERSION saturating at sublevel 255 adds 0).
        #expect(results == [42, 1, 0, 1, 1, 1, 1, 1])
    }

    /// bpf_htons/bpf_ntohs/bpf_ntohl decide the verdict for real packets.
    @Test func xdpEndianClassification() throws {
        let loaded = try BPFHeadersLoad.load("xdp_count")
        defer { loaded.remove() }
        let program = try Program(adopting: Pinning.open(loaded.programs + "/count_protocols"))
        func udpPacket(to address: [UInt8], port: UInt16) -> [UInt8] {
            var packet = [UInt8](repeating: 0, count: 12) + [0x08, 0x00] // Ethernet, EtherType IPv4
            packet += [0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1] + address // IPv4, UDP
            packet += [0x30, 0x39, UInt8(port >> 8), UInt8(port & 0xff), 0, 8, 0, 0]
            return packet
        }
        let xdpDrop: UInt32 = 1, xdpPass: UInt32 = 2
        #expect(try program.testRun(TestRunInput(data: udpPacket(to: [127, 0, 0, 1], port: 9))).returnValue == xdpDrop)
        #expect(try program.testRun(TestRunInput(data: udpPacket(to: [127, 0, 0, 1], port: 10))).returnValue == xdpPass)
        #expect(try program.testRun(TestRunInput(data: udpPacket(to: [10, 0, 0, 1], port: 9))).returnValue == xdpPass)
        var notIPv4 = udpPacket(to: [127, 0, 0, 1], port: 9)
        notIPv4[12] = 0x86; notIPv4[13] = 0xdd
        #expect(try program.testRun(TestRunInput(data: notIPv4)).returnValue == xdpPass)
    }

    /// The CO-RE tracepoint program, attached: its hash map counts this process's switches and
    /// its .bss counter moves.
    @Test func coreTracepointCountsSwitches() throws {
        let loaded = try BPFHeadersLoad.load("task_core")
        defer { loaded.remove() }
        let program = try Program(adopting: Pinning.open(loaded.programs + "/on_sched_switch"))
        let link = try program.attachTracepoint(category: "sched", name: "sched_switch")
        for _ in 0..<20 { usleep(1_000) }
        try link.close()
        let switches = try Map(adopting: Pinning.open(loaded.maps + "/sbpf_hdr_switches"))
        let key = withUnsafeBytes(of: UInt32(getpid()).littleEndian, Array.init)
        let count = try #require(try switches.lookup(key))
        #expect(count.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) } >= 1)
        let bss = try Map(adopting: Pinning.open(try loaded.map(endingWith: "_bss")))
        #expect(try #require(try bss.lookup([0, 0, 0, 0])).contains { $0 != 0 })
    }
}

enum BPFHeadersLoad {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let clang = "/opt/swift/usr/bin/clang"
    static let bpftool = ["/usr/sbin/bpftool", "/usr/bin/bpftool", "/usr/local/sbin/bpftool"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    static var toolsAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: clang) && bpftool != nil
            && FileManager.default.isReadableFile(atPath: "/sys/kernel/btf/vmlinux")
    }

    struct Loaded {
        var programs: String
        var maps: String

        func map(endingWith suffix: String) throws -> String {
            let name = try #require(try FileManager.default.contentsOfDirectory(atPath: maps).first { $0.hasSuffix(suffix) })
            return maps + "/" + name
        }

        /// Unpins everything (the kernel frees programs and maps with their last reference).
        func remove() {
            try? FileManager.default.removeItem(atPath: programs)
            try? FileManager.default.removeItem(atPath: maps)
        }
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// vmlinux.h from our BTFCHeaderWriter, rewritten once per process at a fixed path; objects
    /// get the pid in their names.
    static let vmlinuxDirectory: Result<String, Error> = Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sbpf-headers-load").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "/sys/kernel/btf/vmlinux")))
        try BTFCHeaderWriter(btf: BTF(bytes)).header().write(toFile: directory + "/vmlinux.h", atomically: true, encoding: .utf8)
        return directory
    }

    /// Compiles bpf/include/tests/<name>.bpf.c with our headers and loads every program with
    /// `bpftool prog loadall`, pinning programs and maps under /sys/fs/bpf/sbpf_headers_<pid>_<name>.
    static func load(_ name: String) throws -> Loaded {
        let vmlinux = try vmlinuxDirectory.get()
        let object = vmlinux + "/\(name)-\(getpid()).o"
        defer { try? FileManager.default.removeItem(atPath: object) }
        let compiled = try run(clang, ["-target", "bpf", "-D__TARGET_ARCH_x86", "-g", "-O2", "-Wall", "-Werror",
                                       "-I", repositoryRoot.appendingPathComponent("bpf/include").path, "-I", vmlinux,
                                       "-c", repositoryRoot.appendingPathComponent("bpf/include/tests/\(name).bpf.c").path,
                                       "-o", object])
        try #require(compiled.status == 0, "\(compiled.output)")
        let loaded = Loaded(programs: "/sys/fs/bpf/sbpf_headers_\(getpid())_\(name)",
                            maps: "/sys/fs/bpf/sbpf_headers_\(getpid())_\(name)_maps")
        loaded.remove()
        let result = try run(try #require(bpftool), ["prog", "loadall", object, loaded.programs, "pinmaps", loaded.maps])
        if result.status != 0 {
            loaded.remove()
            try #require(result.status == 0, "bpftool prog loadall \(name): \(result.output.suffix(3000))")
        }
        return loaded
    }
}
