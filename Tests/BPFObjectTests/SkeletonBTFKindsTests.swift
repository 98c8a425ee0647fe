@testable import BPFObject
import Foundation
import Testing

/// Skeleton generation over an object whose BTF holds every kind the format defines (1-19):
/// the generated source maps each kind that can carry data, skips the rest, and compiles with
/// `-warnings-as-errors`.
@Suite struct SkeletonBTFKindsTests {
    static let source = #"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __user __attribute__((btf_type_tag("user")))

struct opaque;                                             /* FWD (only behind a pointer) */
enum level { LEVEL_LOW = 1, LEVEL_HIGH = 9 };               /* ENUM */
enum wide { WIDE_SMALL = 1, WIDE_BIG = 0x1234567890ULL };   /* ENUM64: a value over 32 bits */
enum wide_signed { WIDE_NEGATIVE = -0x100000000LL, WIDE_POSITIVE = 5 };

struct all_kinds {
	__u32 id __tag("identifier");                          /* INT; DECL_TAG on a member */
	float ratio;                                           /* FLOAT */
	double mean;
	struct opaque *handle;                                 /* PTR to FWD */
	int __user *user_pointer;                              /* TYPE_TAG */
	char *restrict text;                                   /* RESTRICT */
	volatile __u64 ticks;                                  /* VOLATILE */
	const __u16 fixed;                                     /* CONST */
	enum level level;
	enum wide wide;
	enum wide_signed wide_signed;
	union { __u32 word; float real; } either;              /* UNION */
	__u8 bytes[3];                                         /* ARRAY */
	__u8 tail;
} __tag("a_struct");                                        /* DECL_TAG on a type */

typedef struct all_kinds all_kinds_t;                       /* TYPEDEF */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, all_kinds_t);
} by_id SEC(".maps");

all_kinds_t last __tag("global");                           /* VAR in DATASEC .bss */
double scale = 1.5;                                         /* VAR in DATASEC .data */
enum wide mode = WIDE_BIG;
const volatile float threshold = 0.25f;                     /* .rodata */

static __noinline int twice(int x __tag("argument")) __tag("function")   /* FUNC, FUNC_PROTO */
{
	return x * 2;
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int on_getpid(void *ctx)
{
	__u32 key = 0;
	all_kinds_t *value = bpf_map_lookup_elem(&by_id, &key);
	if (value)
		value->id = twice(value->id);
	last.tail = 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""#

    let bytes: [UInt8]
    let generated: String

    init() throws {
        bytes = try SkeletonFixture.compile(Self.source, name: "allkinds")
        generated = try SkeletonGenerator(objectBytes: bytes, name: "allkinds").generate()
    }

    @Test func objectHoldsEveryBTFKind() throws {
        let elf = try ELFFile(bytes: bytes)
        let btf = try BTF(Array(elf.data(of: try #require(elf.section(named: ".BTF")))))
        let kinds = Set(try btf.allTypeIDs.map { try btf.kind(of: $0) })
        let missing = BTFKind.allCases.filter { $0 != .void && !kinds.contains($0) }
        #expect(missing.isEmpty, "kinds not in the object: \(missing)")
    }

    @Test func eachKindHasItsSwiftSpelling() {
        #expect(generated.contains("var id: UInt32"))
        #expect(generated.contains("var ratio: Float"))
        #expect(generated.contains("var mean: Double"))
        #expect(generated.contains("var handle: UInt64"), "pointer to a forward declaration")
        #expect(generated.contains("var user_pointer: UInt64"), "type-tagged pointer")
        #expect(generated.contains("var text: UInt64"), "restrict pointer")
        #expect(generated.contains("var ticks: UInt64"), "volatile")
        #expect(generated.contains("var fixed: UInt16"), "const")
        #expect(generated.contains("var level: level"))
        #expect(generated.contains("static let LEVEL_HIGH = level(rawValue: 9)"))
        #expect(generated.contains("struct wide: RawRepresentable"))
        #expect(generated.contains("var rawValue: UInt64"))
        #expect(generated.contains("static let WIDE_BIG = wide(rawValue: 78187493520)"))
        #expect(generated.contains("static let WIDE_NEGATIVE = wide_signed(rawValue: -4294967296)"))
        #expect(generated.contains("var bytes: (UInt8, UInt8, UInt8)"))
        #expect(generated.contains("let by_id: HashMap<UInt32, all_kinds>"), "typedef resolved to the struct")
        #expect(generated.contains("var last: all_kinds"))
        #expect(generated.contains("var scale: Double"))
        #expect(generated.contains("var mode: wide"))
        #expect(generated.contains("var threshold: Float"))
        #expect(generated.contains("var on_getpid: Program"))
        #expect(!generated.contains("twice"), "a static subprogram is no program of its own")
    }

    /// The generated source and a use of it compile with warnings as errors.
    @Test func generatedSourceCompilesWithWarningsAsErrors() throws {
        let use = """
        import BPF
        func useAllKinds() throws {
            var opened = try AllkindsSkeleton.open()
            opened.rodata.threshold = 0.5
            opened.data.scale = 2
            opened.data.mode = .WIDE_SMALL
            let loaded = try opened.load()
            var value = AllkindsSkeleton.all_kinds()
            value.ratio = 0.5
            value.wide = .WIDE_BIG
            value.either.real = 1.5
            try loaded.by_id.update(0, value)
            let last: AllkindsSkeleton.all_kinds = try loaded.bss.last
            _ = last.either.word
        }
        """
        let result = try SkeletonFixture.typecheck(generated, extra: use, name: "allkinds")
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.isEmpty, "\(result.output)")
    }

    /// Linked and run: `open()` passes its check that every generated type has its BTF size,
    /// the initial `.data`/`.rodata` values come out of the object (a double, a float, an
    /// enum64 value), and a value built in Swift has its fields at the C offsets.
    @Test func layoutsAndInitialValuesAtRunTime() throws {
        let spec = try ObjectSpec(elf: bytes, name: "allkinds")
        let btf = try #require(spec.btf)
        let id = try btf.typeID(named: "all_kinds", kind: .struct)
        #expect(generated.contains("(\"all_kinds\", MemoryLayout<all_kinds>.size, \(try btf.size(of: id)))"))
        let wideOffset = try #require(btf.type(id).members.first { $0.name == "wide" }).bitOffset / 8
        let main = """
        @main struct AllKindsRunner {
            static func main() throws {
                let opened = try AllkindsSkeleton.open()
                for check in AllkindsSkeleton.layoutChecks where check.swiftSize != check.btfSize { print("MISMATCH \\(check)") }
                print("scale", opened.data.scale, "mode", opened.data.mode == .WIDE_BIG, "threshold", opened.rodata.threshold)
                var value = AllkindsSkeleton.all_kinds()
                value.wide = .WIDE_BIG
                let wide = withUnsafeBytes(of: value) { $0.loadUnaligned(fromByteOffset: \(wideOffset), as: UInt64.self) }
                print("wide", String(wide, radix: 16), "size", MemoryLayout<AllkindsSkeleton.all_kinds>.size)
            }
        }
        """
        let run = try SkeletonFixture.buildAndRun(skeleton: generated, main: main, name: "allkinds-run")
        #expect(run.status == 0, "\(run.output)")
        #expect(!run.output.contains("MISMATCH"), "\(run.output)")
        #expect(run.output.contains("scale 1.5 mode true threshold 0.25"), "\(run.output)")
        #expect(run.output.contains("wide 1234567890 size \(try btf.size(of: id))"), "\(run.output)")
    }
}
