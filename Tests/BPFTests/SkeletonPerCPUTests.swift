import BPF
import Foundation
import Testing

/// The generated per-CPU views (`PerCPUArrayMap`, `PerCPUHashMap` of a BTF struct) against the
/// kernel: the runner pins itself to each possible CPU in turn and triggers the program a
/// different number of times on each, so every CPU's slot holds values only that CPU wrote.
/// The value struct is 12 bytes: the kernel pads each CPU's copy to 8 bytes (round_up(value_size,
/// 8) in bpf_map_value_size), so a wrong stride shows as wrong values on CPU 1 and later.
@Suite(.kernel, .serialized) struct SkeletonPerCPUTests {
    static let bpfSource = #"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct cpu_stats { __u32 cpu; __u32 hits; __u16 seed; __u16 tag; };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct cpu_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, struct cpu_stats);
} stats_by_key SEC(".maps");

const volatile __u32 target_pid = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 seed_index = 0, counter_index = 1, key = 7;
	/* Index 0 holds what user space wrote for this CPU; index 1 what this program writes. */
	struct cpu_stats *seed = bpf_map_lookup_elem(&stats, &seed_index);
	struct cpu_stats *mine = bpf_map_lookup_elem(&stats, &counter_index);
	if (!seed || !mine)
		return 0;
	mine->cpu = cpu;
	mine->hits += 1;
	mine->seed = seed->seed;
	mine->tag = 0xc000 | cpu;

	struct cpu_stats *entry = bpf_map_lookup_elem(&stats_by_key, &key);
	if (entry) {
		entry->hits += 1;
	} else {
		/* From BPF, an update of a per-CPU hash sets this CPU's copy and zeroes the others. */
		struct cpu_stats first = { .cpu = cpu, .hits = 1, .seed = 0, .tag = 0xd000 | cpu };
		bpf_map_update_elem(&stats_by_key, &key, &first, BPF_NOEXIST);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""#

    /// Runs on each possible CPU (online ones; an offline CPU's slot must stay zero), calling
    /// getppid() cpu + 2 times there, then prints every CPU's values from both views.
    static let runnerSource = #"""
import BPF
import Foundation
import Glibc

@main struct PerCPURunner {
    // glibc's GNU extensions are not in Swift's Glibc module; look them up by name.
    typealias SetAffinity = @convention(c) (pid_t, Int, UnsafeRawPointer) -> Int32
    typealias GetCPU = @convention(c) () -> Int32
    static let setAffinity = unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_setaffinity")!, to: SetAffinity.self)
    static let getCPU = unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_getcpu")!, to: GetCPU.self)

    static func pin(to cpu: Int) -> Bool {
        var mask = [UInt64](repeating: 0, count: 16)   // a cpu_set_t of 1024 CPUs
        mask[cpu / 64] |= 1 << UInt64(cpu % 64)
        return mask.withUnsafeBytes { setAffinity(0, $0.count, $0.baseAddress!) } == 0 && getCPU() == Int32(cpu)
    }

    static func main() throws {
        var opened = try PercpuSkeleton.open()
        opened.rodata.target_pid = UInt32(getpid())
        let loaded = try opened.load()
        let possible = PossibleCPUs.count
        // Seeds written from Swift, one per CPU; the program copies its CPU's seed.
        var seeds: [PercpuSkeleton.cpu_stats] = []
        for cpu in 0..<possible {
            var seed = PercpuSkeleton.cpu_stats()
            seed.seed = UInt16(0x5100 + cpu)
            seeds.append(seed)
        }
        try loaded.stats.update(0, seeds)
        let attached = try loaded.attach()
        var ran: [Int] = []
        for cpu in 0..<possible where pin(to: cpu) {
            ran.append(cpu)
            for _ in 0..<(cpu + 2) { _ = getppid() }
        }
        try attached.close()
        let counters = try loaded.stats.lookup(1)
        let hashed = try loaded.stats_by_key.lookup(7) ?? []
        print("possible=\(possible) ran=\(ran) array=\(counters.count) hash=\(hashed.count)")
        for cpu in 0..<possible {
            let a = counters[cpu], h = hashed[cpu]
            print("cpu \(cpu): array cpu=\(a.cpu) hits=\(a.hits) seed=\(String(a.seed, radix: 16)) tag=\(String(a.tag, radix: 16)) hash cpu=\(h.cpu) hits=\(h.hits) tag=\(String(h.tag, radix: 16))")
        }
        let keys = try loaded.stats_by_key.keys()
        print("keys=\(keys)")
    }
}
"""#

    @Test func perCPUViewsReadEveryCPUsValues() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sbpf-skeleton-percpu-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let runner = try SkeletonRuntimeTests.buildRunner(name: "percpu", bpfSource: Self.bpfSource, runner: Self.runnerSource, in: directory)
        let result = try SkeletonRuntimeTests.run(runner, [])
        try #require(result.status == 0, "\(result.text)")
        let possible = PossibleCPUs.count
        let online = Set(try String(contentsOfFile: "/sys/devices/system/cpu/online", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").flatMap { range -> [Int] in
                let bounds = range.split(separator: "-").compactMap { Int($0) }
                return bounds.count == 2 ? Array(bounds[0]...bounds[1]) : bounds
            })
        #expect(result.text.contains("possible=\(possible) ran=\((0..<possible).filter(online.contains)) array=\(possible) hash=\(possible)"), "\(result.text)")
        // The hash entry was created on the first CPU that ran; every other CPU's copy started at zero.
        let first = (0..<possible).first(where: online.contains) ?? 0
        for cpu in 0..<possible {
            let line: String
            if online.contains(cpu) {
                func hex(_ value: Int) -> String { String(value, radix: 16) }
                line = "cpu \(cpu): array cpu=\(cpu) hits=\(cpu + 2) seed=\(hex(0x5100 + cpu)) tag=\(hex(0xc000 + cpu)) "
                    + "hash cpu=\(cpu == first ? cpu : 0) hits=\(cpu + 2) tag=\(cpu == first ? hex(0xd000 + cpu) : "0")"
            } else {
                line = "cpu \(cpu): array cpu=0 hits=0 seed=0 tag=0 hash cpu=0 hits=0 tag=0"
            }
            #expect(result.text.contains(line), "expected '\(line)' in:\n\(result.text)")
        }
        #expect(result.text.contains("keys=[7]"), "\(result.text)")
    }
}
