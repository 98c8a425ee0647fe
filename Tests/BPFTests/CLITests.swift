@testable import BPF
import BPFObject
import Foundation
import Testing
import TestSupport

/// What a command printed, and its status.
typealias CommandResult = ChildProcess.Result

enum CommandRunner {
    static func run(_ executable: String, _ arguments: [String]) throws -> CommandResult {
        try ChildProcess.run(executable, arguments)
    }

    static func bpftool(_ arguments: String...) throws -> CommandResult {
        try run("/usr/sbin/bpftool", arguments)
    }

    static func swiftbpf(_ arguments: String...) throws -> CommandResult {
        try run(try swiftbpfPath(), arguments)
    }

    static func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    /// The built `swiftbpf` next to the test bundle (both live in the build products
    /// directory); built with `swift build --product swiftbpf` when missing.
    static func swiftbpfPath() throws -> String {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("swiftbpf").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let build = try run("/usr/bin/env", ["swift", "build", "--package-path", packageRoot.path, "--product", "swiftbpf"])
        guard build.status == 0 else { throw BPFError.invalidArgument("building swiftbpf failed: \(build.stderr)") }
        let built = packageRoot.appendingPathComponent(".build/debug/swiftbpf").path
        guard FileManager.default.isExecutableFile(atPath: built) else { throw BPFError.notFound(what: built, detail: "not built") }
        return built
    }
}

/// A map created and pinned by bpftool, removed at the end. A descriptor is held too, so the
/// map outlives its pin should anything else on the machine remove pins meanwhile.
final class BPFToolMap {
    let path: String
    let id: UInt32
    let fd: OwnedFileDescriptor

    init(name: String, type: String, key: Int, value: Int, entries: Int) throws {
        path = "/sys/fs/bpf/sbpf_inspect_\(name)_\(getpid())"
        unlink(path)
        let created = try CommandRunner.bpftool("map", "create", path, "type", type, "key", "\(key)", "value", "\(value)",
                                                "entries", "\(entries)", "name", name)
        guard created.status == 0 else { throw BPFError.invalidArgument("bpftool map create: \(created.stderr)") }
        fd = try Pinning.open(path)
        id = try MapInfo(fd: fd).id
    }

    func update(key: [String], value: [String]) throws {
        let result = try CommandRunner.run("/usr/sbin/bpftool", ["map", "update", "pinned", path, "key"] + key + ["value"] + value)
        guard result.status == 0 else { throw BPFError.invalidArgument("bpftool map update: \(result.stderr)") }
    }

    deinit { unlink(path) }
}

@Suite(.kernel, .serialized)
struct CLIMapTests {
    @Test func mapListAgreesWithBPFTool() throws {
        let map = try BPFToolMap(name: "insp_list", type: "hash", key: 4, value: 8, entries: 16)
        let ours = try CommandRunner.swiftbpf("map", "list", "--json")
        #expect(ours.status == 0, "\(ours.stderr)")
        let theirs = try CommandRunner.bpftool("map", "list", "--json")
        func entry(_ text: String) throws -> [String: Any]? {
            (try CommandRunner.json(text) as? [[String: Any]])?.first { ($0["id"] as? Int) == Int(map.id) }
        }
        let mine = try #require(try entry(ours.stdout))
        let reference = try #require(try entry(theirs.stdout))
        for field in ["id", "type", "name", "flags", "bytes_key", "bytes_value", "max_entries", "bytes_memlock", "frozen"] {
            #expect("\(mine[field] ?? "missing")" == "\(reference[field] ?? "missing")", "field \(field)")
        }
        #expect(mine["name"] as? String == "insp_list")
        #expect(mine["type"] as? String == "hash")
        #expect(mine["bytes_key"] as? Int == 4 && mine["bytes_value"] as? Int == 8)
    }

    @Test func mapShowTextIsBPFTools() throws {
        let map = try BPFToolMap(name: "insp_show", type: "array", key: 4, value: 40, entries: 2)
        let ours = try CommandRunner.swiftbpf("map", "show", "pinned", map.path)
        let theirs = try CommandRunner.bpftool("map", "show", "pinned", map.path)
        #expect(ours.status == 0)
        #expect(ours.stdout == theirs.stdout)
        #expect(ours.stdout.hasPrefix("\(map.id): array  name insp_show  flags 0x0\n\tkey 4B  value 40B  max_entries 2  memlock "))
    }

    @Test func dumpShowsExactlyWhatBPFToolWrote() throws {
        let map = try BPFToolMap(name: "insp_dump", type: "hash", key: 4, value: 8, entries: 16)
        try map.update(key: ["0x01", "0", "0", "0"], value: ["hex", "2a", "00", "00", "00", "00", "00", "00", "00"])
        try map.update(key: ["2", "0", "0", "0"], value: ["7", "0", "0", "0", "0", "0", "0", "1"])
        let ours = try CommandRunner.swiftbpf("map", "dump", "id", "\(map.id)")
        let theirs = try CommandRunner.bpftool("map", "dump", "id", "\(map.id)")
        #expect(ours.status == 0)
        #expect(ours.stdout == theirs.stdout)
        #expect(ours.stdout.contains("key: 01 00 00 00  value: 2a 00 00 00 00 00 00 00\n"))
        #expect(ours.stdout.contains("key: 02 00 00 00  value: 07 00 00 00 00 00 00 01\n"))
        #expect(ours.stdout.hasSuffix("Found 2 elements\n"))
        let oursJSON = try CommandRunner.swiftbpf("map", "dump", "id", "\(map.id)", "-j")
        let theirsJSON = try CommandRunner.bpftool("map", "dump", "id", "\(map.id)", "-j")
        #expect(oursJSON.stdout == theirsJSON.stdout)
        let pretty = try CommandRunner.swiftbpf("map", "dump", "id", "\(map.id)", "--pretty")
        #expect(pretty.stdout == (try CommandRunner.bpftool("map", "dump", "id", "\(map.id)", "-p")).stdout)
    }

    @Test func wideAndPerCPUValuesUseBPFToolsLayout() throws {
        let wide = try BPFToolMap(name: "insp_wide", type: "hash", key: 8, value: 17, entries: 2)
        try wide.update(key: (1...8).map(String.init), value: (0...16).map(String.init))
        #expect(try CommandRunner.swiftbpf("map", "dump", "id", "\(wide.id)").stdout
                == CommandRunner.bpftool("map", "dump", "id", "\(wide.id)").stdout)
        // Neither side over 16 bytes but 26 together: two lines, names inline.
        let twoLines = try BPFToolMap(name: "insp_2line", type: "hash", key: 10, value: 16, entries: 2)
        try twoLines.update(key: (1...10).map(String.init), value: (0...15).map(String.init))
        let twoLinesText = try CommandRunner.swiftbpf("map", "dump", "id", "\(twoLines.id)").stdout
        #expect(twoLinesText == (try CommandRunner.bpftool("map", "dump", "id", "\(twoLines.id)").stdout))
        #expect(twoLinesText.hasPrefix("key: 01 02 03 04 05 06 07 08  09 0a\nvalue: 00 01"))
        let widePerCPU = try BPFToolMap(name: "insp_wpcpu", type: "percpu_array", key: 4, value: 20, entries: 1)
        try widePerCPU.update(key: ["0", "0", "0", "0"], value: (1...20).map(String.init))
        #expect(try CommandRunner.swiftbpf("map", "dump", "id", "\(widePerCPU.id)").stdout
                == CommandRunner.bpftool("map", "dump", "id", "\(widePerCPU.id)").stdout)
        let perCPU = try BPFToolMap(name: "insp_pcpu", type: "percpu_hash", key: 4, value: 4, entries: 4)
        try perCPU.update(key: ["1", "0", "0", "0"], value: ["5", "0", "0", "0"])
        for flags in [[], ["-j"]] as [[String]] {
            let ours = try CommandRunner.run(try CommandRunner.swiftbpfPath(), ["map", "dump", "id", "\(perCPU.id)"] + flags)
            let theirs = try CommandRunner.run("/usr/sbin/bpftool", ["map", "dump", "id", "\(perCPU.id)"] + flags)
            #expect(ours.stdout == theirs.stdout)
        }
    }

    @Test func updateLookupDeleteRoundTrip() throws {
        let map = try BPFToolMap(name: "insp_edit", type: "hash", key: 4, value: 8, entries: 4)
        let update = try CommandRunner.swiftbpf("map", "update", "pinned", map.path, "key", "hex", "03", "00", "00", "00",
                                                "value", "0x10", "0x20", "0", "0", "0", "0", "0", "0xff")
        #expect(update.status == 0, "\(update.stderr)")
        // bpftool sees what swiftbpf wrote.
        let theirs = try CommandRunner.bpftool("map", "lookup", "pinned", map.path, "key", "3", "0", "0", "0")
        #expect(theirs.stdout == "key: 03 00 00 00  value: 10 20 00 00 00 00 00 ff\n")
        let ours = try CommandRunner.swiftbpf("map", "lookup", "id", "\(map.id)", "key", "3", "0", "0", "0", "-j")
        #expect(ours.stdout == "{\"key\":[\"0x03\",\"0x00\",\"0x00\",\"0x00\"],\"value\":[\"0x10\",\"0x20\",\"0x00\",\"0x00\",\"0x00\",\"0x00\",\"0x00\",\"0xff\"]}\n")
        #expect(try CommandRunner.swiftbpf("map", "delete", "id", "\(map.id)", "key", "3", "0", "0", "0").status == 0)
        let missing = try CommandRunner.swiftbpf("map", "lookup", "id", "\(map.id)", "key", "3", "0", "0", "0")
        #expect(missing.status != 0)
        #expect(missing.stdout == "key:\n03 00 00 00\n\nNot found\n")
        let deleteAgain = try CommandRunner.swiftbpf("map", "delete", "id", "\(map.id)", "key", "3", "0", "0", "0")
        #expect(deleteAgain.status != 0)
    }

    @Test func pinnedPathsAndLeadingFlagsLikeBPFTool() throws {
        let map = try BPFToolMap(name: "insp_pins", type: "hash", key: 4, value: 4, entries: 2)
        for arguments in [["-f", "map", "show", "id", "\(map.id)"], ["-j", "-f", "map", "show", "id", "\(map.id)"],
                          ["map", "show", "pinned", map.path, "--bpffs", "-p"]] {
            let ours = try CommandRunner.run(try CommandRunner.swiftbpfPath(), arguments)
            let theirs = try CommandRunner.run("/usr/sbin/bpftool", arguments)
            #expect(ours.status == 0, "\(ours.stderr)")
            #expect(ours.stdout == theirs.stdout, "\(arguments)")
        }
        #expect(try CommandRunner.swiftbpf("-f", "map", "show", "id", "\(map.id)").stdout.contains("\tpinned \(map.path)\n"))
        #expect(PinnedPaths.discover(.map)[map.id] == [map.path])
    }

    @Test func keylessMapsCannotBeDumped() throws {
        let queue = try BPFToolMap(name: "insp_queue", type: "queue", key: 0, value: 4, entries: 2)
        let result = try CommandRunner.swiftbpf("map", "dump", "id", "\(queue.id)")
        #expect(result.status == 255)
        #expect(result.stderr.contains("queue maps have no keys to iterate"))
    }

    @Test func createPinFreezeAndQueueCommandsLikeBPFTool() throws {
        let path = "/sys/fs/bpf/sbpf_inspect_created_\(getpid())"
        let second = "/sys/fs/bpf/sbpf_inspect_created_too_\(getpid())"
        unlink(path)
        unlink(second)
        defer { unlink(path); unlink(second) }
        let create = try CommandRunner.swiftbpf("-j", "map", "create", path, "type", "array", "key", "4", "value", "12",
                                                "entries", "3", "name", "insp_created", "flags", "0x400")
        #expect(create.status == 0, "\(create.stderr)")
        #expect(create.stdout == "null\n")
        let shown = try CommandRunner.swiftbpf("map", "show", "pinned", path)
        #expect(shown.stdout == (try CommandRunner.bpftool("map", "show", "pinned", path)).stdout)
        #expect(shown.stdout.contains("array  name insp_created  flags 0x400\n\tkey 4B  value 12B  max_entries 3"))
        #expect(try CommandRunner.swiftbpf("map", "pin", "pinned", path, second).status == 0)
        #expect(try MapInfo(fd: Pinning.open(second)).id == (try MapInfo(fd: Pinning.open(path)).id))
        #expect(try CommandRunner.swiftbpf("map", "freeze", "pinned", path).status == 0)
        #expect(try CommandRunner.bpftool("map", "show", "pinned", path).stdout.hasSuffix("\tfrozen\n"))
        let refused = try CommandRunner.swiftbpf("map", "update", "pinned", path, "key", "0", "0", "0", "0", "value", "hex",
                                                 "00", "00", "00", "00", "00", "00", "00", "00", "00", "00", "00", "01")
        #expect(refused.status == 255 && refused.stderr.contains("BPF_MAP_UPDATE_ELEM"))
        let badType = try CommandRunner.swiftbpf("map", "create", path + "x", "type", "nosuch", "key", "4", "value", "4", "entries", "1", "name", "x")
        #expect(badType.status == 255 && badType.stderr.contains("unrecognized map type: nosuch"))

        let queue = try BPFToolMap(name: "insp_fifo", type: "queue", key: 0, value: 4, entries: 4)
        #expect(try CommandRunner.swiftbpf("map", "push", "id", "\(queue.id)", "value", "1", "2", "3", "4").status == 0)
        #expect(try CommandRunner.swiftbpf("map", "enqueue", "id", "\(queue.id)", "value", "5", "6", "7", "8").status == 0)
        #expect(try CommandRunner.bpftool("map", "peek", "id", "\(queue.id)").stdout == "value: 01 02 03 04\n")
        #expect(try CommandRunner.swiftbpf("map", "peek", "id", "\(queue.id)", "-j").stdout
                == "{\"key\":[],\"value\":[\"0x01\",\"0x02\",\"0x03\",\"0x04\"]}\n")
        #expect(try CommandRunner.swiftbpf("map", "pop", "id", "\(queue.id)").stdout == "value: 01 02 03 04\n")
        #expect(try CommandRunner.swiftbpf("map", "dequeue", "id", "\(queue.id)").stdout == "value: 05 06 07 08\n")
        let empty = try CommandRunner.swiftbpf("map", "pop", "id", "\(queue.id)")
        #expect(empty.status == 254 && empty.stderr == "Error: empty map\n")

        let hash = try BPFToolMap(name: "insp_next", type: "hash", key: 4, value: 4, entries: 4)
        try hash.update(key: ["1", "0", "0", "0"], value: ["1", "0", "0", "0"])
        try hash.update(key: ["2", "0", "0", "0"], value: ["2", "0", "0", "0"])
        for arguments in [["map", "getnext", "id", "\(hash.id)"], ["map", "getnext", "id", "\(hash.id)", "key", "1", "0", "0", "0", "-j"],
                          ["map", "getnext", "id", "\(hash.id)", "key", "2", "0", "0", "0"]] {
            let ours = try CommandRunner.run(try CommandRunner.swiftbpfPath(), arguments)
            let theirs = try CommandRunner.run("/usr/sbin/bpftool", arguments)
            #expect(ours.status == theirs.status, "\(arguments)")
            if theirs.status == 0 { #expect(ours.stdout == theirs.stdout, "\(arguments)") }
        }
    }

    /// Maps with BTF key/value types (an integer, a struct with an array, an enum and a bool, a
    /// per-CPU long), created by libbpf through bpftool and kept alive by the program using them.
    static let typedMapsProgram = """
    #define SEC(n) __attribute__((section(n), used))
    #define __uint(name, val) int (*name)[val]
    #define __type(name, val) typeof(val) *name
    typedef unsigned int __u32;
    typedef unsigned long long __u64;
    enum sbpf_state { SBPF_IDLE = 0, SBPF_BUSY = 7 };
    struct sbpf_stats { __u64 packets; int delta; short small[3]; enum sbpf_state state; _Bool seen; };
    struct { __uint(type, 1); __uint(max_entries, 4); __type(key, __u32); __type(value, struct sbpf_stats); } sbpf_insp_stats SEC(".maps");
    struct { __uint(type, 6); __uint(max_entries, 1); __type(key, __u32); __type(value, long); } sbpf_insp_pcpu SEC(".maps");
    struct sbpf_named { char comm[8]; __u32 pid; };
    struct { __uint(type, 1); __uint(max_entries, 4); __type(key, __u32); __type(value, struct sbpf_named); } sbpf_insp_named SEC(".maps");
    static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;
    SEC("socket") int sbpf_insp_typed(void *ctx) {
        __u32 zero = 0;
        struct sbpf_named *named = bpf_map_lookup_elem(&sbpf_insp_named, &zero);
        if (named)
            named->pid = 1;
        struct sbpf_stats *stats = bpf_map_lookup_elem(&sbpf_insp_stats, &zero);
        if (stats)
            stats->delta = -1;
        long *perCPU = bpf_map_lookup_elem(&sbpf_insp_pcpu, &zero);
        if (perCPU)
            *perCPU += 1;
        return 0;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

    @Test func mapsWithBTFAreDecodedLikeBPFTool() throws {
        let directory = NSTemporaryDirectory() + "sbpf_inspect_typed_\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.typedMapsProgram.write(toFile: directory + "/typed.bpf.c", atomically: true, encoding: .utf8)
        let compiled = try CommandRunner.run("/opt/swift/usr/bin/clang",
                                             ["-O2", "-g", "-target", "bpf", "-c", directory + "/typed.bpf.c", "-o", directory + "/typed.o"])
        try #require(compiled.status == 0, "clang -target bpf failed: \(compiled.stderr)")
        let pin = "/sys/fs/bpf/sbpf_inspect_typed_\(getpid())"
        unlink(pin)
        defer { unlink(pin) }
        let loaded = try CommandRunner.bpftool("prog", "load", directory + "/typed.o", pin)
        try #require(loaded.status == 0, "bpftool prog load failed: \(loaded.stderr)")
        let program = try Pinning.open(pin)
        let mapIDs = try ProgramInfo(fd: program).mapIDs
        let maps = try mapIDs.map { try MapInfo(fd: KernelObjects.open(.map, id: $0)) }
        let stats = try #require(maps.first { $0.name == "sbpf_insp_stats" })
        let perCPU = try #require(maps.first { $0.name == "sbpf_insp_pcpu" })
        let named = try #require(maps.first { $0.name == "sbpf_insp_named" })
        // A C string with junk after its NUL, a full array without NUL, one with a tab.
        for (key, comm) in [("1", "62 61 73 68 00 01 00 00"), ("2", "61 62 63 64 65 66 67 68"), ("3", "61 09 63 00 00 00 00 00")] {
            let result = try CommandRunner.run("/usr/sbin/bpftool", ["map", "update", "id", "\(named.id)", "key", key, "0", "0", "0", "value", "hex"]
                                               + (comm + " 2a 00 00 00").split(separator: " ").map(String.init))
            try #require(result.status == 0, "\(result.stderr)")
        }
        // packets 5, delta -2, small {1, 2, -1}, state SBPF_BUSY, seen true, then padding.
        let value = "05 00 00 00 00 00 00 00 fe ff ff ff 01 00 02 00 ff ff 00 00 07 00 00 00 01 00 00 00 00 00 00 00"
        let update = try CommandRunner.run("/usr/sbin/bpftool", ["map", "update", "id", "\(stats.id)", "key", "1", "0", "0", "0", "value", "hex"]
                                           + value.split(separator: " ").map(String.init))
        try #require(update.status == 0, "\(update.stderr)")
        _ = try CommandRunner.bpftool("map", "update", "id", "\(perCPU.id)", "key", "0", "0", "0", "0", "value", "hex",
                                      "ff", "ff", "ff", "ff", "ff", "ff", "ff", "ff")
        for arguments in [["map", "dump", "id", "\(stats.id)"], ["map", "dump", "id", "\(stats.id)", "-j"],
                          ["map", "lookup", "id", "\(stats.id)", "key", "1", "0", "0", "0"],
                          ["map", "dump", "id", "\(perCPU.id)"], ["map", "dump", "id", "\(perCPU.id)", "-p"],
                          ["map", "dump", "id", "\(named.id)"], ["map", "dump", "id", "\(named.id)", "-j"]] {
            let ours = try CommandRunner.run(try CommandRunner.swiftbpfPath(), arguments)
            let theirs = try CommandRunner.run("/usr/sbin/bpftool", arguments)
            #expect(ours.status == 0, "\(ours.stderr)")
            #expect(ours.stdout == theirs.stdout, "\(arguments)")
        }
        let text = try CommandRunner.swiftbpf("map", "lookup", "id", "\(stats.id)", "key", "1", "0", "0", "0").stdout
        #expect(text.contains("\"delta\": -2"))
        #expect(text.contains("\"state\": \"SBPF_BUSY\""))
        #expect(text.contains("\"seen\": true"))
        #expect(try CommandRunner.swiftbpf("map", "lookup", "id", "\(named.id)", "key", "1", "0", "0", "0").stdout.contains("\"comm\": \"bash\""))
    }

    @Test func badInputFailsClearly() throws {
        let map = try BPFToolMap(name: "insp_bad", type: "hash", key: 4, value: 8, entries: 4)
        let malformed = try CommandRunner.swiftbpf("map", "update", "id", "\(map.id)", "key", "0xzz", "0", "0", "0",
                                                   "value", "0", "0", "0", "0", "0", "0", "0", "0")
        #expect(malformed.status == 255)
        #expect(malformed.stderr == "Error: error parsing byte: 0xzz\n")
        let badHex = try CommandRunner.swiftbpf("map", "lookup", "id", "\(map.id)", "key", "hex", "0g", "00", "00", "00")
        #expect(badHex.status == 255 && badHex.stderr.contains("error parsing byte: 0g"))
        let short = try CommandRunner.swiftbpf("map", "lookup", "id", "\(map.id)", "key", "1", "0")
        #expect(short.status == 255 && short.stderr.contains("key expected 4 bytes, got 2"))
        let tooMuch = try CommandRunner.swiftbpf("map", "lookup", "id", "\(map.id)", "key", "1", "0", "0", "0", "extra")
        #expect(tooMuch.status == 255 && tooMuch.stderr.contains("unexpected argument 'extra'"))
        let unknownPin = try CommandRunner.swiftbpf("map", "show", "pinned", "/sys/fs/bpf/sbpf_inspect_does_not_exist")
        #expect(unknownPin.status == 255 && unknownPin.stderr.contains("nothing is pinned at this path"))
        let unknownName = try CommandRunner.swiftbpf("map", "show", "name", "sbpf_no_such_map")
        #expect(unknownName.status == 255 && unknownName.stderr.contains("not found"))
        let badID = try CommandRunner.swiftbpf("map", "show", "id", "notanumber")
        #expect(badID.status == 255 && badID.stderr.contains("can't parse notanumber as ID"))
        let jsonError = try CommandRunner.swiftbpf("map", "show", "id", "4294967295", "-j")
        #expect(jsonError.status == 255)
        let decoded = try CommandRunner.json(jsonError.stdout) as? [String: Any]
        #expect((decoded?["error"] as? String)?.contains("no map with id 4294967295") == true)
    }
}

@Suite(.kernel, .serialized)
struct CLIProgramTests {
    /// r0 = 0; r1 = map; r2 = fp-4 key; call lookup; if r0 == 0 goto out; r0 = 1; out: exit —
    /// a program with a map reference, a helper call and a jump.
    static func loadProgramWithMap() throws -> (Program, Map) {
        let map = try Map(MapSpec(name: "sbpf_insp_pm", type: .array, keySize: 4, valueSize: 8, maxEntries: 1))
        var asm = Assembler()
        asm.store(.word, .r10, -4, immediate: 0)
        asm.loadMapFD(.r1, try map.fd.value())
        asm.mov(.r2, .r10)
        asm.add(.r2, -4)
        asm.call(.mapLookupElem)
        asm.mov(.r6, 0)
        asm.jump(.eq, .r0, 0, to: "out")
        asm.mov(.r6, 1)
        asm.label("out")
        asm.mov(.r0, .r6)
        asm.exit()
        let program = try Program(ProgramSpec(name: "sbpf_insp_prog", type: .socketFilter, instructions: try asm.assemble()))
        return (program, map)
    }

    @Test func progListAgreesWithBPFTool() throws {
        let (program, map) = try Self.loadProgramWithMap()
        let id = try program.info().id
        let mapID = try map.info().id
        let ours = try CommandRunner.swiftbpf("prog", "list", "--json")
        let theirs = try CommandRunner.bpftool("prog", "list", "--json")
        func entry(_ text: String) throws -> [String: Any]? {
            (try CommandRunner.json(text) as? [[String: Any]])?.first { ($0["id"] as? Int) == Int(id) }
        }
        let mine = try #require(try entry(ours.stdout))
        let reference = try #require(try entry(theirs.stdout))
        for field in ["id", "type", "name", "tag", "gpl_compatible", "uid", "bytes_xlated", "jited", "bytes_jited", "bytes_memlock", "map_ids"] {
            #expect("\(mine[field] ?? "missing")" == "\(reference[field] ?? "missing")", "field \(field)")
        }
        #expect(mine["name"] as? String == "sbpf_insp_prog")
        #expect(mine["type"] as? String == "socket_filter")
        #expect(mine["map_ids"] as? [Int] == [Int(mapID)])
        let loadedAt = try #require(mine["loaded_at"] as? Int)
        #expect(abs(loadedAt - (reference["loaded_at"] as? Int ?? 0)) <= 1)
    }

    @Test func progShowTextIsBPFTools() throws {
        let (program, _) = try Self.loadProgramWithMap()
        let id = try program.info().id
        let ours = try CommandRunner.swiftbpf("prog", "show", "id", "\(id)")
        let theirs = try CommandRunner.bpftool("prog", "show", "id", "\(id)")
        #expect(ours.status == 0)
        #expect(ours.stdout == theirs.stdout)
        #expect(ours.stdout.hasPrefix("\(id): socket_filter  name sbpf_insp_prog  tag \(try program.info().tagHex)  gpl\n\tloaded_at "))
        // Selection by name and by tag finds the same program.
        #expect(try CommandRunner.swiftbpf("prog", "show", "name", "sbpf_insp_prog").stdout.contains("\(id): socket_filter"))
        #expect(try CommandRunner.swiftbpf("prog", "show", "tag", try program.info().tagHex).stdout.contains("\(id): socket_filter"))
    }

    @Test func xlatedDumpEqualsBPFTools() throws {
        let (program, map) = try Self.loadProgramWithMap()
        let id = try program.info().id
        for flags in [[], ["-j"], ["-p"], ["opcodes"], ["opcodes", "-j"]] as [[String]] {
            let ours = try CommandRunner.run(try CommandRunner.swiftbpfPath(), ["prog", "dump", "xlated", "id", "\(id)"] + flags)
            let theirs = try CommandRunner.run("/usr/sbin/bpftool", ["prog", "dump", "xlated", "id", "\(id)"] + flags)
            #expect(ours.status == 0, "\(ours.stderr)")
            #expect(ours.stdout == theirs.stdout, "flags \(flags)")
        }
        let text = try CommandRunner.swiftbpf("prog", "dump", "xlated", "id", "\(id)").stdout
        #expect(text.contains("r1 = map[id:\(try map.info().id)]"))
        #expect(text.contains("if r0 == 0x0 goto pc+"))
    }

    @Test func xlatedDumpNamesSubprogramCallsLikeBPFTool() throws {
        var asm = Assembler()
        asm.mov(.r1, 3)
        asm.call(subprogram: "double")
        asm.exit()
        asm.label("double")
        asm.mov(.r0, .r1)
        asm.add(.r0, .r1)
        asm.exit()
        let program = try Program(ProgramSpec(name: "sbpf_insp_sub", type: .socketFilter, instructions: try asm.assemble()))
        let id = try program.info().id
        let ours = try CommandRunner.swiftbpf("prog", "dump", "xlated", "id", "\(id)")
        let theirs = try CommandRunner.bpftool("prog", "dump", "xlated", "id", "\(id)")
        #expect(ours.stdout == theirs.stdout)
        #expect(ours.stdout.contains("call pc+"))
    }

    /// A C program with BTF (function prototypes, source lines), a map lookup, an atomic add and
    /// a global subprogram, built with the toolchain's clang and loaded by bpftool.
    static let sourceProgram = """
    #define SEC(n) __attribute__((section(n), used))
    #define __uint(name, val) int (*name)[val]
    #define __type(name, val) typeof(val) *name
    typedef unsigned int __u32;
    typedef unsigned long long __u64;
    struct xdp_md { __u32 data; __u32 data_end; __u32 data_meta; __u32 ingress_ifindex; __u32 rx_queue_index; };
    struct { __uint(type, 1); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } sbpf_insp_counts SEC(".maps");
    static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;
    __attribute__((noinline)) int twice(int x) { return x * 2 + 1; }
    SEC("xdp") int sbpf_insp_src(struct xdp_md *ctx) {
        __u32 key = ctx->ingress_ifindex;
        __u64 *value = bpf_map_lookup_elem(&sbpf_insp_counts, &key);
        if (value)
            __sync_fetch_and_add(value, 1);
        return twice(key) & 3;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

    @Test func xlatedDumpWithSourceLinesEqualsBPFTools() throws {
        let directory = NSTemporaryDirectory() + "sbpf_inspect_src_\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.sourceProgram.write(toFile: directory + "/prog.bpf.c", atomically: true, encoding: .utf8)
        let clang = "/opt/swift/usr/bin/clang"
        let compiled = try CommandRunner.run(clang, ["-O2", "-g", "-target", "bpf", "-c", directory + "/prog.bpf.c", "-o", directory + "/prog.o"])
        try #require(compiled.status == 0, "clang -target bpf failed: \(compiled.stderr)")
        let pin = "/sys/fs/bpf/sbpf_inspect_src_\(getpid())"
        unlink(pin)
        defer { unlink(pin) }
        let loaded = try CommandRunner.bpftool("prog", "load", directory + "/prog.o", pin)
        try #require(loaded.status == 0, "bpftool prog load failed: \(loaded.stderr)")
        let held = try Pinning.open(pin) // keeps the program should the pin go
        for flags in [[], ["opcodes"], ["-p"], ["-j", "opcodes"]] as [[String]] {
            let arguments = ["prog", "dump", "xlated", "pinned", pin] + flags
            let ours = try CommandRunner.run(try CommandRunner.swiftbpfPath(), arguments)
            let theirs = try CommandRunner.run("/usr/sbin/bpftool", arguments)
            #expect(ours.status == 0, "\(ours.stderr)")
            #expect(ours.stdout == theirs.stdout, "\(flags)")
        }
        let text = try CommandRunner.swiftbpf("prog", "dump", "xlated", "id", "\(try ProgramInfo(fd: held).id)").stdout
        #expect(text.hasPrefix("int sbpf_insp_src(struct xdp_md * ctx):\n; __u32 key = ctx->ingress_ifindex;\n"))
        #expect(text.contains("\nint twice(int x):\n"))
        #expect(text.contains("call pc+"))
    }

    @Test func unknownProgramFailsClearly() throws {
        let byID = try CommandRunner.swiftbpf("prog", "show", "id", "4294967295")
        #expect(byID.status == 255)
        #expect(byID.stderr.hasPrefix("Error: ") && byID.stderr.contains("no program with id 4294967295"))
        let byName = try CommandRunner.swiftbpf("prog", "show", "name", "sbpf_no_such_prog")
        #expect(byName.status == 255 && byName.stderr.contains("not found"))
        let byTag = try CommandRunner.swiftbpf("prog", "show", "tag", "xyz")
        #expect(byTag.status == 255 && byTag.stderr.contains("a tag is 16 hex digits"))
        let byPin = try CommandRunner.swiftbpf("prog", "dump", "xlated", "pinned", "/sys/fs/bpf/sbpf_inspect_nothing")
        #expect(byPin.status == 255 && byPin.stderr.contains("nothing is pinned"))
        let badKind = try CommandRunner.swiftbpf("prog", "dump", "jited-nope", "id", "1")
        #expect(badKind.status == 255 && badKind.stderr.contains("unknown dump kind"))
    }
}

@Suite(.kernel, .serialized)
struct CLILinkTests {
    @Test func rawTracepointLinkAgreesWithBPFTool() throws {
        let link = try InspectionTests.rawTracepointLink()
        let id = try link.info().id
        let ours = try CommandRunner.swiftbpf("link", "show", "id", "\(id)")
        let theirs = try CommandRunner.bpftool("link", "show", "id", "\(id)")
        #expect(ours.status == 0)
        #expect(ours.stdout == theirs.stdout)
        #expect(ours.stdout.contains("tp 'sched_switch'"))
        let oursJSON = try CommandRunner.swiftbpf("link", "show", "id", "\(id)", "-j")
        let theirsJSON = try CommandRunner.bpftool("link", "show", "id", "\(id)", "-j")
        #expect(oursJSON.stdout == theirsJSON.stdout)
        let list = try CommandRunner.swiftbpf("link", "list", "--json")
        let listed = try CommandRunner.json(list.stdout) as? [[String: Any]]
        #expect(listed?.contains { ($0["id"] as? Int) == Int(id) && ($0["tp_name"] as? String) == "sched_switch" } == true,
                "\(list.stdout) \(list.stderr)")
    }

    @Test func pinAndDetachACgroupLink() throws {
        let testCgroup = try TestCgroup()
        defer { testCgroup.remove() }
        let directory = testCgroup.path
        let cgroup = open(directory, O_RDONLY | O_DIRECTORY)
        try #require(cgroup >= 0)
        defer { close(cgroup) }
        let program = try Program(ProgramSpec(name: "sbpf_insp_cgl", type: .cgroupSkb, expectedAttachType: .cgroupInetIngress,
                                              instructions: [Instruction(opcode: 0xb7, dst: 0, immediate: 1), Instruction(opcode: 0x95)]))
        let link = try KernelLink.create(program: program, targetFD: cgroup, attachType: .cgroupInetIngress, description: "cgroup ingress")
        let id = try link.info().id
        let path = "/sys/fs/bpf/sbpf_inspect_link_\(getpid())"
        unlink(path)
        defer { unlink(path) }
        let pin = try CommandRunner.swiftbpf("link", "pin", "id", "\(id)", path)
        #expect(pin.status == 0, "\(pin.stderr)")
        for arguments in [["-f", "link", "show", "id", "\(id)"], ["-j", "-f", "link", "show", "pinned", path]] {
            let ours = try CommandRunner.run(try CommandRunner.swiftbpfPath(), arguments)
            let theirs = try CommandRunner.run("/usr/sbin/bpftool", arguments)
            #expect(ours.stdout == theirs.stdout, "\(arguments)")
        }
        #expect(try CommandRunner.swiftbpf("-f", "link", "show", "id", "\(id)").stdout.contains("attach_type cgroup_inet_ingress  \n\tpinned \(path)\n"))
        let detach = try CommandRunner.swiftbpf("link", "detach", "pinned", path)
        #expect(detach.status == 0, "\(detach.stderr)")
        // The link object lives on (pinned, and held here) but no longer attaches the program.
        let after = try link.info()
        #expect(after.id == id)
        #expect(try CommandRunner.swiftbpf("link", "show", "id", "\(id)").stdout == (try CommandRunner.bpftool("link", "show", "id", "\(id)")).stdout)
    }

    @Test func unknownLinkFailsClearly() throws {
        let result = try CommandRunner.swiftbpf("link", "show", "id", "4294967295")
        #expect(result.status == 255 && result.stderr.contains("no link with id 4294967295"))
    }
}
