@testable import BPFObject
import Foundation
import Testing

/// Compiles BPF C at test time and type-checks the generated skeleton with swiftc.
enum SkeletonFixture {
    static let repositoryRoot = BPFHeadersFixture.repositoryRoot.path
    static let modules = repositoryRoot + "/.build/debug/Modules"
    static let cModuleMap = repositoryRoot + "/.build/debug/CBPFSys.build/module.modulemap"
    static let swiftc = "/opt/swift/usr/bin/swiftc"

    /// Every BTF kind the generator maps: ints of each size and sign, bool, enums (one signed
    /// and one byte-sized), nested and anonymous structs, a union, arrays, a char array,
    /// bitfields (signed and unsigned), maps of each typed view, all data sections.
    static let kindsSource = #"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

enum color { RED = 0, GREEN = 7, BLUE = 0xffffffff };
enum small_signed : signed char { NEG = -3, POS = 4 };

struct inner { __u16 port; __u8 proto; };
union value_union { __u32 word; __u8 bytes[4]; struct inner in; };

struct kinds {
	__u8 u8v; __s8 s8v; __u16 u16v; __s16 s16v; __u32 u32v; __s32 s32v; __u64 u64v; __s64 s64v;
	bool flag;
	enum color color;
	struct inner nested;
	union value_union either;
	__u32 numbers[3];
	char comm[16];
	unsigned int low : 3, mid : 9, high : 20;
	int negative : 5;
	struct { int a; char b; } anonymous;
	__u8 tail;
};

struct event { __u32 pid; __u64 ts; char comm[16]; enum small_signed sign; };
/* Ring buffer records have no map type; a typed global puts the struct in BTF. */
struct event event_layout;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct kinds);
} kinds_by_id SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, union value_union);
} unions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

const volatile __u32 filter_pid = 0;
const volatile struct inner default_inner = { .port = 80, .proto = 6 };
__u64 counter = 0;
struct kinds last_kinds = {};
int initialized = 5;

SEC("tracepoint/syscalls/sys_enter_getpid")
int on_getpid(void *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ts = filter_pid;
	e->sign = NEG;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	__sync_fetch_and_add(&counter, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""#

    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("sbpf-skeleton-\(getpid())-\(name)").path
    }

    static func compile(_ source: String, name: String) throws -> [UInt8] {
        let sourcePath = temporaryPath("\(name).bpf.c"), objectPath = temporaryPath("\(name).bpf.o")
        try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
        let result = try BPFHeadersFixture.compile(source: sourcePath, include: BPFHeadersFixture.includeDirectory, output: objectPath)
        guard result.status == 0 else { throw BPFHeadersFixture.CompileFailure(program: name, headers: BPFHeadersFixture.includeDirectory, diagnostics: result.output) }
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: objectPath)))
    }

    /// `swiftc -typecheck` of the generated file plus `extra` against the package's modules;
    /// returns swiftc's combined output (empty when there is no warning).
    static func typecheck(_ generated: String, extra: String = "", name: String) throws -> BPFHeadersFixture.CommandResult {
        let generatedPath = temporaryPath("\(name).skeleton.swift"), extraPath = temporaryPath("\(name).use.swift")
        try generated.write(toFile: generatedPath, atomically: true, encoding: .utf8)
        try extra.write(toFile: extraPath, atomically: true, encoding: .utf8)
        return try BPFHeadersFixture.run(swiftc, ["-typecheck", "-swift-version", "5", "-warnings-as-errors", "-parse-as-library", "-I", modules,
                                                  "-Xcc", "-fmodule-map-file=" + cModuleMap, "-Xcc", "-I", "-Xcc", repositoryRoot + "/Sources/CBPFSys/include",
                                                  generatedPath, extraPath])
    }
    /// Compiles the generated file with `main` (a `@main` type), links them with this package's
    /// built objects and runs the result (no kernel: it may only parse); -warnings-as-errors.
    static func buildAndRun(skeleton: String, main: String, name: String) throws -> BPFHeadersFixture.CommandResult {
        let directory = temporaryPath(name)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try skeleton.write(toFile: directory + "/skeleton.swift", atomically: true, encoding: .utf8)
        try main.write(toFile: directory + "/main.swift", atomically: true, encoding: .utf8)
        let build = repositoryRoot + "/.build/debug"
        var objects: [String] = []
        for target in ["BPF", "BPFObject", "CBPFSys"] {
            // Only objects of sources that still exist: an incremental build directory keeps the
            // objects of renamed or deleted files, which would clash at link time.
            let sources = Set((FileManager.default.enumerator(atPath: repositoryRoot + "/Sources/\(target)")?.allObjects as? [String] ?? [])
                .map { ($0 as NSString).lastPathComponent })
            objects += try FileManager.default.contentsOfDirectory(atPath: "\(build)/\(target).build")
                .filter { $0.hasSuffix(".o") && sources.contains(String($0.dropLast(2))) }
                .map { "\(build)/\(target).build/\($0)" }
        }
        let compile = try BPFHeadersFixture.run(swiftc, ["-parse-as-library", "-swift-version", "5", "-warnings-as-errors", "-I", modules,
            "-Xcc", "-fmodule-map-file=" + cModuleMap, "-Xcc", "-I", "-Xcc", repositoryRoot + "/Sources/CBPFSys/include",
            directory + "/skeleton.swift", directory + "/main.swift"] + objects + ["-o", directory + "/runner"])
        guard compile.status == 0 else { return compile }
        return try BPFHeadersFixture.run(directory + "/runner", [])
    }
}

@Suite struct SkeletonGeneratorTests {
    let bytes: [UInt8]
    let source: String

    init() throws {
        bytes = try SkeletonFixture.compile(SkeletonFixture.kindsSource, name: "kinds")
        source = try SkeletonGenerator(objectBytes: bytes, name: "kinds", eventTypes: ["event"]).generate()
    }

    @Test func generatesTypesForEveryKind() {
        #expect(source.contains("struct KindsSkeleton {"))
        #expect(source.contains("struct kinds: Sendable, BitwiseCopyable {"))
        #expect(source.contains("var u8v: UInt8"))
        #expect(source.contains("var s64v: Int64"))
        #expect(source.contains("var flag: Bool"))
        #expect(source.contains("var color: color"))
        #expect(source.contains("static let BLUE = color(rawValue: 4294967295)"))
        #expect(source.contains("static let NEG = small_signed(rawValue: -3)"))
        #expect(source.contains("var numbers: (UInt32, UInt32, UInt32)"))
        #expect(source.contains("var commString: String"))
        #expect(source.contains("/// Bitfield: 3 bits at bit"))
        #expect(source.contains("var negative: Int32"))
        #expect(source.contains("struct value_union: Sendable, BitwiseCopyable {"))
        #expect(source.contains("let kinds_by_id: HashMap<UInt32, kinds>"))
        #expect(source.contains("let unions: ArrayMap<value_union>"))
        #expect(source.contains("let events: Map"))
        #expect(source.contains("func events(_ handler: @escaping (event) throws -> Void) throws -> RingBufferReader"))
        #expect(source.contains("var filter_pid: UInt32"))
        #expect(source.contains("func set(counter value: UInt64) throws"))
        #expect(!source.contains("func set(filter_pid"), "read-only .rodata has no setter after load")
    }

    /// The generated source compiles with no warning, and the stages only offer their own
    /// operations (a use of each stage type-checks).
    @Test func generatedSourceTypeChecksWithoutWarnings() throws {
        let use = """
        import BPF
        func useKindsSkeleton() throws {
            var opened = try KindsSkeleton.open()
            opened.rodata.filter_pid = 42
            opened.rodata.default_inner.port = 8080
            opened.maxEntries.kinds_by_id = 128
            opened.autoload.on_getpid = true
            let loaded = try opened.load()
            var value = KindsSkeleton.kinds()
            value.low = 5
            value.negative = -2
            value.color = .GREEN
            value.either.word = 1
            value.commString = "demo"
            try loaded.kinds_by_id.update(1, value)
            let total: UInt64 = try loaded.bss.counter
            try loaded.bss.set(counter: total + 1)
            let reader = try loaded.events { event in _ = event.commString }
            _ = try reader.poll(timeout: .milliseconds(1))
            let attached = try loaded.attach()
            try attached.close()
        }
        """
        let result = try SkeletonFixture.typecheck(source, extra: use, name: "kinds")
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.isEmpty, "warnings: \(result.output)")
    }

    /// Linked and run (no kernel needed: `open()` only parses): every generated type has its
    /// BTF size, and bitfields, unions, enums and char arrays read back what was written.
    @Test func generatedLayoutsAndAccessorsWorkAtRunTime() throws {
        let main = """
        import Foundation
        @main struct LayoutRunner {
            static func main() throws {
                _ = try KindsSkeleton.open()
                for check in KindsSkeleton.layoutChecks where check.swiftSize != check.btfSize { print("MISMATCH \\(check)") }
                var value = KindsSkeleton.kinds()
                value.low = 5; value.mid = 300; value.high = 0xfffff; value.negative = -2; value.tail = 9
                value.either.word = 0x0102_0304
                value.commString = "a-rather-long-command-name"
                value.color = .BLUE
                let bytes = withUnsafeBytes(of: value) { Array($0) }
                print("bits", value.low, value.mid, value.high, value.negative, "tail", value.tail)
                print("union", value.either.bytes.0, value.either.`in`.port, "comm", value.commString, "color", value.color == .BLUE)
                print("size", bytes.count, MemoryLayout<KindsSkeleton.event>.size)
            }
        }
        """
        let run = try SkeletonFixture.buildAndRun(skeleton: source, main: main, name: "layout")
        #expect(run.status == 0, "\(run.output)")
        #expect(!run.output.contains("MISMATCH"), "\(run.output)")
        #expect(run.output.contains("bits 5 300 1048575 -2 tail 9"), "\(run.output)")
        // Little-endian: the union's first byte is the word's low byte; the struct view shares it.
        #expect(run.output.contains("union 4 772 comm a-rather-long-c color true"), "\(run.output)")
        #expect(run.output.contains("size 96 40"), "\(run.output)")
    }

    /// Calling attach() on the opened stage does not compile.
    @Test func attachBeforeLoadDoesNotCompile() throws {
        let misuse = """
        func attachTooEarly() throws { _ = try KindsSkeleton.open().attach() }
        """
        let result = try SkeletonFixture.typecheck(source, extra: misuse, name: "kinds-misuse")
        #expect(result.status != 0)
        #expect(result.output.contains("has no member 'attach'"), "\(result.output)")
    }

    /// `.rodata` is settable only before load: after load its variables are get-only and have
    /// no setter, while `.bss` keeps one.
    @Test func rodataWriteAfterLoadDoesNotCompile() throws {
        let misuse = """
        func writeTooLate() throws {
            let loaded = try KindsSkeleton.open().load()
            loaded.rodata.filter_pid = 1
            try loaded.rodata.set(filter_pid: 2)
        }
        """
        let result = try SkeletonFixture.typecheck(source, extra: misuse, name: "kinds-rodata")
        #expect(result.status != 0)
        #expect(result.output.contains("'filter_pid' is a get-only property"), "\(result.output)")
        #expect(result.output.contains("has no member 'set'"), "\(result.output)")
    }

    @Test func objectWithoutBTFIsRefused() throws {
        let source = "#include \"vmlinux.h\"\n#include <bpf/bpf_helpers.h>\nSEC(\"xdp\") int pass(void *ctx) { return 2; }\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n"
        let path = SkeletonFixture.temporaryPath("nobtf.bpf.c"), object = SkeletonFixture.temporaryPath("nobtf.bpf.o")
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        let vmlinux = try BPFHeadersFixture.vmlinuxDirectory.get()
        let result = try BPFHeadersFixture.run(BPFHeadersFixture.clang, ["-target", "bpf", "-O2", "-I", BPFHeadersFixture.includeDirectory, "-I", vmlinux, "-c", path, "-o", object])
        #expect(result.status == 0, "\(result.output)")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: object)))
        #expect(throws: SkeletonError.noBTF) { try SkeletonGenerator(objectBytes: bytes, name: "nobtf").generate() }
    }

    @Test func unknownEventTypeIsNamed() {
        #expect(throws: SkeletonError.unknownEventType("no_such_event")) {
            try SkeletonGenerator(objectBytes: bytes, name: "kinds", eventTypes: ["no_such_event"]).generate()
        }
    }

    @Test func truncatedObjectThrows() {
        #expect(throws: (any Error).self) { try SkeletonGenerator(objectBytes: Array(bytes.prefix(200)), name: "kinds").generate() }
    }

    @Test func enumLiteralsAreTruncatedAndSignExtended() {
        #expect(SwiftTypeEmitter.literal(UInt64(bitPattern: -3), size: 1, signed: true) == "-3")
        #expect(SwiftTypeEmitter.literal(0xffff_ffff, size: 4, signed: false) == "4294967295")
        #expect(SwiftTypeEmitter.literal(UInt64(bitPattern: -1), size: 8, signed: true) == "-1")
    }
}
