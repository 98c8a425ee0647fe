import Foundation
import Testing
import TestSupport
@testable import BPFObject

/// Shared fixtures of the BTF tests: the kernel's BTF, tools, and a small blob with every kind.
enum BTFFixtures {
    static let vmlinuxPath = "/sys/kernel/btf/vmlinux"
    static var hasVmlinux: Bool { FileManager.default.isReadableFile(atPath: vmlinuxPath) }
    static let bpftool = ["/usr/sbin/bpftool", "/usr/bin/bpftool", "/usr/local/sbin/bpftool"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let clang = "/opt/swift/usr/bin/clang"

    static let vmlinux: BTF? = hasVmlinux ? try? BTF(contentsOfFile: vmlinuxPath) : nil

    /// Runs a tool, returning stdout; throws with stderr on failure.
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let result = try ChildProcess.run(tool, arguments)
        guard result.status == 0 else {
            throw BTFError.notFound("successful run of \(tool) \(arguments.joined(separator: " ")): \(result.stderr)")
        }
        return result.stdout
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbpf-btf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A blob using every kind once (ids in comments).
    static func everyKind(bigEndian: Bool = false) -> (BTFBuilder, [UInt8]) {
        var b = BTFBuilder()
        let int = b.addInt("int", size: 4, encoding: .signed)                       // 1
        let char = b.addInt("char", size: 1, encoding: .char)                       // 2
        let ptr = b.addPointer(to: 0)                                               // 3 void *
        let array = b.addArray(of: char, index: int, count: 16)                     // 4 char[16]
        let point = b.addStruct("point", size: 8, members: [                        // 5
            .init("x", int, bitOffset: 0), .init("flags", int, bitOffset: 32, bitfieldSize: 3),
            .init("kind", int, bitOffset: 35, bitfieldSize: 5),
        ])
        let anonymous = b.addComposite(.union, name: "", size: 4, members: [.init("a", int, bitOffset: 0), .init("b", char, bitOffset: 0)])  // 6
        let outer = b.addStruct("outer", size: 32, members: [                       // 7
            .init("p", point, bitOffset: 0), .init("", anonymous, bitOffset: 64), .init("name", array, bitOffset: 96),
        ])
        let color = b.addEnum("color", values: [("RED", 0), ("GREEN", 1), ("NEG", -1)])       // 8 (unsigned bits)
        b.addEnum("big", size: 8, signed: true, values: [("HUGE", 1 << 40), ("SMALL", -5)])  // 9 ENUM64
        b.addForward("later", isUnion: true)                                        // 10
        let u64 = b.addTypedef("u64", to: b.addInt("long long unsigned int", size: 8)) // 11 int, 12 typedef
        let volatileInt = b.addReference(.volatile, to: int)                        // 13
        let constChar = b.addReference(.const, to: char)                            // 14
        b.addReference(.restrict, to: ptr)                                          // 15
        let proto = b.addFunctionProto(returning: int, parameters: [("ctx", ptr), ("size", u64)])  // 16
        b.addFunction("handler", prototype: proto, linkage: .global)                // 17
        let callback = b.addPointer(to: proto)                                      // 18 int (*)(void *, u64)
        let variable = b.addVariable("counter", type: volatileInt, linkage: .global)  // 19
        b.addDataSection(".data", size: 4, variables: [BTFSectionVariable(type: variable, offset: 0, size: 4)])  // 20
        b.addFloat("double", size: 8)                                               // 21
        b.addDeclTag("kfunc", to: outer, componentIndex: 1)                          // 22
        b.addTypeTag("user", to: constChar)                                         // 23
        b.addFunctionProto(returning: 0, parameters: [("fmt", ptr)], variadic: true) // 24
        _ = (color, callback)
        return (b, b.encode(bigEndian: bigEndian))
    }
}

@Suite struct BTFParseTests {
    @Test func parsesEveryKind() throws {
        let (_, bytes) = BTFFixtures.everyKind()
        let btf = try BTF(bytes)
        #expect(btf.typeCount == 25)
        let expectedKinds: [BTFKind] = [.int, .int, .pointer, .array, .struct, .union, .struct, .enum, .enum64, .forward, .int, .typedef,
                                        .volatile, .const, .restrict, .functionProto, .function, .pointer, .variable, .dataSection,
                                        .float, .declTag, .typeTag, .functionProto]
        #expect(try (1...24).map { try btf.kind(of: UInt32($0)) } == expectedKinds)
        let point = try btf.type(5)
        #expect(point.members.map(\.name) == ["x", "flags", "kind"])
        #expect(point.members.map(\.bitfieldSize) == [0, 3, 5])
        #expect(point.members.map(\.bitOffset) == [0, 32, 35])
        #expect(try btf.type(8).enumerators.map(\.name) == ["RED", "GREEN", "NEG"])
        let big = try btf.type(9)
        #expect(big.isSignedEnum)
        #expect(big.enumerators.map(\.signedValue) == [1 << 40, -5])
        #expect(try btf.type(10).isUnionForward)
        #expect(try btf.type(17).linkage == .global)
        #expect(try btf.type(22).componentIndex == 1)
        #expect(try btf.type(24).isVariadic)
        #expect(try btf.type(20).sectionVariables == [BTFSectionVariable(type: 19, offset: 0, size: 4)])
    }

    @Test func bigEndianParsesToTheSameTypes() throws {
        let little = try BTF(BTFFixtures.everyKind().1)
        let big = try BTF(BTFFixtures.everyKind(bigEndian: true).1)
        #expect(big.isBigEndian)
        #expect(!little.isBigEndian)
        #expect(big.rawDump() == little.rawDump())
    }

    /// Borrowed memory is parsed in place and released exactly once: when the BTF goes away,
    /// or at once when it cannot be parsed (foreign byte order included: it cannot be swapped).
    @Test func borrowedBytesAreReleasedOnce() throws {
        final class Releases: @unchecked Sendable { var count = 0 }
        let bytes = BTFFixtures.everyKind().1
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 8)
        defer { buffer.deallocate() }
        buffer.copyBytes(from: bytes)
        let releases = Releases()
        do {
            let borrowed = try BTF(borrowing: UnsafeRawBufferPointer(buffer)) { releases.count += 1 }
            #expect(borrowed.rawDump() == (try BTF(bytes)).rawDump())
            #expect(releases.count == 0)
        }
        #expect(releases.count == 1)
        #expect(throws: BTFError.self) { try BTF(borrowing: UnsafeRawBufferPointer(rebasing: buffer[0..<20])) { releases.count += 1 } }
        #expect(releases.count == 2)
        let big = BTFFixtures.everyKind(bigEndian: true).1
        #expect(throws: BTFError.self) { try big.withUnsafeBytes { try BTF(borrowing: $0) { releases.count += 1 } } }
        #expect(releases.count == 3)
    }

    @Test func rawFormatMatchesBpftoolConventions() throws {
        let btf = try BTF(BTFFixtures.everyKind().1)
        let lines = btf.rawDump().split(separator: "\n").map(String.init)
        #expect(lines[0] == "[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED")
        #expect(lines[1] == "[2] INT 'char' size=1 bits_offset=0 nr_bits=8 encoding=CHAR")
        #expect(lines.contains("[5] STRUCT 'point' size=8 vlen=3"))
        #expect(lines.contains("\t'flags' type_id=1 bits_offset=32 bitfield_size=3"))
        #expect(lines.contains("[9] ENUM64 'big' encoding=SIGNED size=8 vlen=2"))
        #expect(lines.contains("\t'SMALL' val=-5LL"))
        #expect(lines.contains("\t'NEG' val=4294967295"))
        #expect(lines.contains("[10] FWD 'later' fwd_kind=union"))
        #expect(lines.contains("[17] FUNC 'handler' type_id=16 linkage=global"))
        #expect(lines.contains("[19] VAR 'counter' type_id=13, linkage=global"))
        #expect(lines.contains("\ttype_id=19 offset=0 size=4 (VAR 'counter')"))
        #expect(lines.contains("[22] DECL_TAG 'kfunc' type_id=7 component_idx=1"))
        #expect(lines.contains("\t'(anon)' type_id=0"))
    }

    @Test func splitBTFContinuesBaseIdsAndStrings() throws {
        var baseBuilder = BTFBuilder()
        let int = baseBuilder.addInt("int", size: 4, encoding: .signed)
        baseBuilder.addStruct("base_thing", size: 4, members: [.init("value", int, bitOffset: 0)])
        let base = try BTF(baseBuilder.encode())
        #expect(base.typeCount == 3)

        // Split blob: its own strings start after the base's; ids start at 3.
        var split = BTFBuilder()
        let baseStrings = UInt32(base.totalStringLength)
        let nameOffset = split.addString("module_thing") + baseStrings
        let memberName = split.addString("thing") + baseStrings
        split.addRaw([0, BTFBuilder.info(.pointer), 2])  // [3] PTR -> base struct
        split.addRaw([nameOffset, BTFBuilder.info(.struct, vlen: 2), 16, memberName, 3, 0, 1 /* "int" in base */, 1, 64])  // [4]
        let btf = try BTF(split.encode(), base: base)
        #expect(btf.firstTypeID == 3)
        #expect(btf.typeCount == 5)
        #expect(try btf.type(4).name == "module_thing")
        #expect(try btf.type(4).members.map(\.name) == ["thing", "int"])
        #expect(try btf.describe(id: 3) == "struct base_thing *")
        #expect(try btf.typeID(named: "base_thing") == 2)
        #expect(try btf.typeID(named: "module_thing", kind: .struct) == 4)
        #expect(btf.rawDump().hasPrefix("[3] PTR '(anon)' type_id=2\n[4] STRUCT 'module_thing' size=16 vlen=2"))
        // Without its base the same blob is out of range.
        #expect(throws: BTFError.self) { try BTF(split.encode()) }
    }

    @Test func vmlinuxTypeCountAndTaskStructMatchBpftool() throws {
        guard let btf = BTFFixtures.vmlinux, let bpftool = BTFFixtures.bpftool else { return }
        let raw = try BTFFixtures.run(bpftool, ["btf", "dump", "file", BTFFixtures.vmlinuxPath, "format", "raw"])
        let typeLines = raw.split(separator: "\n").filter { $0.hasPrefix("[") }
        #expect(typeLines.count == btf.typeCount - 1)
        let taskStruct = try btf.typeID(named: "task_struct", kind: .struct)
        // The bpftool record of task_struct and its pid member.
        let header = "[\(taskStruct)] STRUCT 'task_struct' size=\(try btf.type(taskStruct).sizeOrType)"
        #expect(raw.contains(header))
        let pid = try btf.field("pid", in: taskStruct)
        let block = raw.components(separatedBy: header)[1].prefix { $0 != "[" }
        #expect(block.contains("\t'pid' type_id=\(pid.type) bits_offset=\(pid.bitOffset)\n"))
        #expect(try btf.size(of: taskStruct) == Int(try btf.type(taskStruct).sizeOrType))
        #expect(try btf.describe(id: btf.field("comm", in: taskStruct).type) == "char[16]")
    }

    @Test func vmlinuxRawDumpEqualsBpftoolLineForLine() throws {
        guard let btf = BTFFixtures.vmlinux, let bpftool = BTFFixtures.bpftool else { return }
        let theirs = try BTFFixtures.run(bpftool, ["btf", "dump", "file", BTFFixtures.vmlinuxPath, "format", "raw"])
        let ours = btf.rawDump()
        if ours != theirs {
            let a = ours.split(separator: "\n", omittingEmptySubsequences: false)
            let b = theirs.split(separator: "\n", omittingEmptySubsequences: false)
            let first = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }
            Issue.record("raw dumps differ at line \(first?.offset ?? min(a.count, b.count)): ours \(first.map { String($0.element.0) } ?? "") theirs \(first.map { String($0.element.1) } ?? "")")
        }
    }

    @Test func moduleBTFParsesAgainstVmlinux() throws {
        guard let base = BTFFixtures.vmlinux else { return }
        let modules = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/kernel/btf")) ?? []).filter { $0 != "vmlinux" }
        for module in modules.prefix(5) {
            let btf = try BTF(contentsOfFile: "/sys/kernel/btf/\(module)", base: base)
            #expect(btf.firstTypeID == UInt32(base.typeCount))
            for id in UInt32(btf.firstTypeID)..<UInt32(btf.typeCount) { _ = try btf.describe(id: id) }
            if let bpftool = BTFFixtures.bpftool {
                let theirs = try BTFFixtures.run(bpftool, ["btf", "dump", "file", "/sys/kernel/btf/\(module)", "format", "raw"])
                #expect(btf.rawDump() == theirs)
            }
        }
    }

    @Test func headerScanAgreesWithViews() throws {
        guard let btf = BTFFixtures.vmlinux else { return }
        for id in stride(from: UInt32(1), to: UInt32(btf.typeCount), by: 97) {
            let head = try btf.head(of: id)
            let view = try btf.type(id)
            #expect(head.kind == view.kind && head.vlen == view.vlen && btf.hasName(head.nameOffset) == !view.isAnonymous)
        }
        #expect(throws: BTFError.invalidTypeID(UInt32(btf.typeCount))) { try btf.head(of: UInt32(btf.typeCount)) }
    }
}
