import BPF
import BPFObject
import CBPFSys
import Foundation
import Testing

/// Creating and releasing many kernel objects — and failing half-way — leaves no descriptor
/// open in this process and no object alive in the kernel.
///
/// Descriptor counts are exact only when no other suite opens descriptors meanwhile, so run
/// with `swift test --no-parallel`; the kernel-side checks (our object ids are gone) hold either
/// way.
@Suite(.kernel, .serialized)
struct ResourceLeakTests {
    /// All open descriptors, and those of BPF objects (maps, programs, links, BTF).
    static func openDescriptors() throws -> (all: Int, bpf: Int) {
        let entries = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")
        let bpf = entries.filter { entry in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(entry)") else { return false }
            return target.hasPrefix("anon_inode:bpf") || target == "anon_inode:btf"
        }
        return (entries.count, bpf.count)
    }

    static func assertNoLeak(_ what: String, _ body: () throws -> Void) throws {
        let before = try openDescriptors()
        try body()
        let after = try openDescriptors()
        #expect(after.bpf == before.bpf, "\(what): \(after.bpf - before.bpf) BPF object descriptors leaked")
        // Other descriptors may close meanwhile (Foundation pipes of earlier tests), never open.
        #expect(after.all <= before.all, "\(what): \(after.all - before.all) descriptors leaked")
    }

    @Test func tenThousandMapsCreatedAndReleased() throws {
        var ids: [UInt32] = []
        try Self.assertNoLeak("maps") {
            for index in 0..<10_000 {
                let map = try Map(MapSpec(name: "maps_leak", type: index % 2 == 0 ? .hash : .array, keySize: 4, valueSize: 8, maxEntries: 4))
                if index % 100 == 0 { ids.append(try map.info().id) }
            }
        }
        let alive = Set(try KernelObjects.ids(of: .map))
        #expect(alive.isDisjoint(with: ids), "released maps still exist in the kernel")
    }

    @Test func tenThousandProgramsLoadedAndReleased() throws {
        let spec = ProgramSpec(name: "maps_leakprog", type: .xdp, instructions: [
            Instruction(opcode: 0xb7, dst: 0, immediate: 2), Instruction(opcode: 0x95),
        ])
        var ids: [UInt32] = []
        try Self.assertNoLeak("programs") {
            for index in 0..<10_000 {
                let program = try Program(spec)
                if index % 100 == 0 { ids.append(try program.info().id) }
            }
        }
        let alive = Set(try KernelObjects.ids(of: .program))
        #expect(alive.isDisjoint(with: ids), "released programs still exist in the kernel")
    }

    @Test func rawTracepointLinksCreatedAndReleased() throws {
        let program = try Program(ProgramSpec(name: "maps_leaklink", type: .rawTracepoint, instructions: [
            Instruction(opcode: 0xb7, dst: 0, immediate: 0), Instruction(opcode: 0x95),
        ]))
        var ids: [UInt32] = []
        try Self.assertNoLeak("links") {
            // Each detach waits for an RCU grace period (~15 ms), so 200 rather than 10 000.
            for index in 0..<200 {
                let link = try openRawTracepointLink(program, tracepoint: "sched_process_free")
                if index % 10 == 0 { ids.append(try linkID(link)) }
                try link.close()
                #expect(throws: BPFError.self) { try link.close() }
            }
        }
        let alive = Set(try KernelObjects.ids(of: .link))
        #expect(alive.isDisjoint(with: ids), "released links still exist in the kernel")
    }

    @Test func failuresHalfWayLeakNothing() throws {
        let innerSpec = MapSpec(name: "maps_leakin", type: .array, keySize: 4, valueSize: 4, maxEntries: 1)
        let program = try Program(ProgramSpec(name: "maps_leakpin", type: .xdp, instructions: [
            Instruction(opcode: 0xb7, dst: 0, immediate: 2), Instruction(opcode: 0x95),
        ]))
        let directory = "\(BPFFileSystem.defaultMountPoint)/sbpf_maps_leak_\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try program.pin(at: "\(directory)/prog")
        try Self.assertNoLeak("failed creations") {
            for _ in 0..<500 {
                // The inner map is created, then the outer one is refused (bad key size).
                #expect(throws: BPFError.self) {
                    try Map(MapSpec(name: "maps_leakout", type: .arrayOfMaps, keySize: 3, valueSize: 4, maxEntries: 1, innerMap: innerSpec))
                }
                // The map is created, then the typed view refuses its value size.
                #expect(throws: BPFError.self) {
                    try HashMap<UInt32, UInt16>(Map(MapSpec(name: "maps_leakview", type: .hash, keySize: 4, valueSize: 8, maxEntries: 1)))
                }
                // The pin is opened, then found to be a program, not a map.
                #expect(throws: BPFError.self) { try Map(pinnedAt: "\(directory)/prog") }
                // The verifier refuses a program.
                #expect(throws: BPFError.self) { try Program(ProgramSpec(name: "maps_leakbad", type: .xdp, instructions: [Instruction(opcode: 0x95)])) }
                // A mapping is refused after the map exists.
                #expect(throws: BPFError.self) { try ArrayMap<UInt32>(name: "maps_leakmm", maxEntries: 1).memoryMap() }
            }
            // Local storage BTF is released with its map.
            for _ in 0..<200 { _ = try LocalStorageMap<UInt32>(kind: .task, name: "maps_leakls") }
        }
    }
}

/// A raw-tracepoint link (BPF_RAW_TRACEPOINT_OPEN), the cheapest real `bpf_link` to make.
/// The tracing helper owns the real raw tracepoint attachment; this is only for counting.
func openRawTracepointLink(_ program: Program, tracepoint: String) throws -> KernelLink {
    var attr = sbpf_raw_tracepoint_attr()
    attr.prog_fd = UInt32(bitPattern: try program.fd.value())
    let fd = try tracepoint.withCString { name in
        attr.name = UInt64(UInt(bitPattern: name))
        return try BPFSyscall.callReturningFD(.rawTracepointOpen, &attr, label: "raw tracepoint \(tracepoint)")
    }
    return KernelLink(fd: fd, description: "raw tracepoint \(tracepoint)")
}

/// The kernel id of a link (`struct bpf_link_info`).
func linkID(_ link: KernelLink) throws -> UInt32 {
    var info = sbpf_link_info()
    let descriptor = try link.fd.value()
    try withUnsafeMutableBytes(of: &info) { buffer in
        var attr = sbpf_info_attr()
        attr.bpf_fd = UInt32(bitPattern: descriptor)
        attr.info_len = UInt32(buffer.count)
        attr.info = UInt64(UInt(bitPattern: buffer.baseAddress))
        try BPFSyscall.call(.objGetInfoByFD, &attr, subject: link.description)
    }
    return info.id
}
