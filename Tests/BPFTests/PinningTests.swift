import BPF
import BPFObject
import Foundation
import Testing

/// Pinning maps and programs in the real bpffs.
@Suite(.kernel, .serialized)
struct PinningTests {
    /// A directory of our own inside /sys/fs/bpf, removed with everything in it afterwards.
    static func withPinDirectory(_ body: (String) throws -> Void) throws {
        let directory = "\(BPFFileSystem.defaultMountPoint)/sbpf_maps_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }

    static func returnTwo(_ name: String) throws -> Program {
        try Program(ProgramSpec(name: name, type: .xdp, instructions: [
            Instruction(opcode: 0xb7, dst: 0, immediate: 2), Instruction(opcode: 0x95),
        ]))
    }

    @Test func mapPinReopenUnpin() throws {
        try Self.withPinDirectory { directory in
            let path = "\(directory)/nested/deeper/counts"
            let map = try HashMap<UInt32, UInt64>(name: "maps_pinned", maxEntries: 8)
            try map.update(1, 100)
            try map.map.pin(at: path) // creates directory/nested/deeper inside bpffs
            #expect(FileManager.default.fileExists(atPath: path))

            let reopened = try HashMap<UInt32, UInt64>(Map(pinnedAt: path))
            #expect(reopened.map.name == "maps_pinned")
            #expect(try reopened.map.info().id == map.map.info().id)
            #expect(try reopened.lookup(1) == 100)
            try reopened.update(2, 200) // the same kernel map
            #expect(try map.lookup(2) == 200)

            // Read-only open refuses writes.
            let readOnly = try Map(pinnedAt: path, readOnly: true)
            #expect(readOnly.isDescriptorReadOnly && !reopened.map.isDescriptorReadOnly)
            let denied = #expect(throws: BPFError.self) { try readOnly.update([3, 0, 0, 0], [UInt8](repeating: 0, count: 8)) }
            #expect("\(denied!)".contains("opened read-only"))

            let again = #expect(throws: BPFError.self) { try map.map.pin(at: path) }
            #expect(again?.errno == .EEXIST)

            try Pinning.unpin(path)
            #expect(!FileManager.default.fileExists(atPath: path))
            let gone = #expect(throws: BPFError.self) { try Map(pinnedAt: path) }
            guard case .notFound = gone else { Issue.record("expected notFound, got \(String(describing: gone))"); return }
            let unpinTwice = #expect(throws: BPFError.self) { try Pinning.unpin(path) }
            guard case .notFound = unpinTwice else { Issue.record("expected notFound, got \(String(describing: unpinTwice))"); return }
            // Directories of pins are removed the same way once empty.
            try Pinning.unpin("\(directory)/nested/deeper")
            #expect(!FileManager.default.fileExists(atPath: "\(directory)/nested/deeper"))
        }
    }

    @Test func programPinReopenAndKindCheck() throws {
        try Self.withPinDirectory { directory in
            let program = try Self.returnTwo("maps_pinprog")
            let path = "\(directory)/prog"
            try program.pin(at: path)
            let reopened = try Program(pinnedAt: path)
            #expect(try reopened.info().id == program.info().id)
            #expect(reopened.type == .xdp)
            #expect(try reopened.testRun(TestRunInput(data: [UInt8](repeating: 0, count: 64))).returnValue == 2)
            let notAMap = #expect(throws: BPFError.self) { try Map(pinnedAt: path) }
            #expect("\(notAMap!)".contains("holds a program, not a map"))

            let map = try Map(MapSpec(name: "maps_pinmap2", type: .array, keySize: 4, valueSize: 4, maxEntries: 1))
            try map.pin(at: "\(directory)/map")
            let notAProgram = #expect(throws: BPFError.self) { try Program(pinnedAt: "\(directory)/map") }
            #expect("\(notAProgram!)".contains("holds a map, not a program"))
            try Pinning.unpin(path)
            try Pinning.unpin("\(directory)/map")
        }
    }

    @Test func pinningOutsideBPFFSIsRefusedClearly() throws {
        let map = try Map(MapSpec(name: "maps_pinbad", type: .array, keySize: 4, valueSize: 4, maxEntries: 1))
        let base = NSTemporaryDirectory() + "sbpf_maps_notbpffs_\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let missingParent = #expect(throws: BPFError.self) { try map.pin(at: "\(base)/sub/map") }
        #expect("\(missingParent!)".contains("not inside a BPF file system"))
        #expect(!FileManager.default.fileExists(atPath: base), "no directories may be created outside bpffs")
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let wrongFS = #expect(throws: BPFError.self) { try map.pin(at: "\(base)/map") }
        #expect(wrongFS?.errno == .EPERM)
        #expect("\(wrongFS!)".contains("bpffs"))
    }

    @Test func mountsAPrivateBPFFS() throws {
        #expect(BPFFileSystem.mountPoints().contains(BPFFileSystem.defaultMountPoint))
        try BPFFileSystem.mountIfNeeded() // already mounted: nothing happens
        let mountPoint = NSTemporaryDirectory() + "sbpf_maps_bpffs_\(getpid())"
        try BPFFileSystem.mountIfNeeded(at: mountPoint)
        defer {
            umount2(mountPoint, 2 /* MNT_DETACH */)
            rmdir(mountPoint)
        }
        #expect(BPFFileSystem.mountPoints().contains(mountPoint))
        #expect(BPFFileSystem.contains(mountPoint + "/a/b"))
        let map = try ArrayMap<UInt32>(name: "maps_privfs", maxEntries: 1)
        try map.update(0, 31)
        try map.map.pin(at: "\(mountPoint)/dir/map")
        #expect(try ArrayMap<UInt32>(Map(pinnedAt: "\(mountPoint)/dir/map")).lookup(0) == 31)
        try BPFFileSystem.mountIfNeeded(at: mountPoint + "/") // recognised despite the slash
        #expect(BPFFileSystem.mountPoints().filter { $0 == mountPoint }.count == 1)
    }

    @Test func mountInfoParsing() {
        let text = """
        42 23 0:22 /fs/bpf /sys/fs/bpf rw,relatime - sysfs sysfs rw
        43 42 0:39 / /sys/fs/bpf rw,relatime - bpf bpf rw,mode=700
        44 42 0:40 / /tmp/with\\040space rw shared:5 master:1 - bpf bpf rw
        broken line
        45 1 0:41 / /mnt - tmpfs tmpfs rw
        """
        #expect(BPFFileSystem.mountPoints(ofType: "bpf", inMountInfo: text) == ["/sys/fs/bpf", "/tmp/with space"])
        #expect(BPFFileSystem.mountPoints(ofType: "bpf", inMountInfo: "") == [])
    }
}
