import Foundation
import Testing
@testable import BPFObject

@Suite struct BTFExtTests {
    static let source = """
        #define SEC(name) __attribute__((section(name), used))
        struct event { int pid; long value; };
        static __attribute__((noinline)) int helper(struct event *e)
        {
            return e->pid * 2;
        }
        SEC("socket")
        int first(void *ctx)
        {
            struct event e = { .pid = 1, .value = 2 };
            return helper(&e);
        }
        SEC("socket")
        int second(struct event *e)
        {
            return __builtin_preserve_access_index(e->value) > 3;
        }
        char LICENSE[] SEC("license") = "GPL";
        """

    @Test func clangObjectFunctionLineAndCOREInfo() throws {
        let directory = try BTFFixtures.temporaryDirectory()
        let file = directory.appendingPathComponent("ext_probe.bpf.c")
        try Self.source.write(to: file, atomically: true, encoding: .utf8)
        let object = directory.appendingPathComponent("ext_probe.bpf.o")
        _ = try BTFFixtures.run(BTFFixtures.clang, ["-target", "bpf", "-g", "-O2", "-c", file.path, "-o", object.path])
        let elf = [UInt8](try Data(contentsOf: object))
        let btf = try BTF(try BTFTestELF.section(".BTF", in: elf))
        let ext = try BTFExt(try BTFTestELF.section(".BTF.ext", in: elf))

        #expect(try ext.functionInfo.map { try ext.sectionName($0, in: btf) }.sorted() == [".text", "socket"])
        let functions = try ext.functionInfo.flatMap(\.records).map { try btf.type($0.typeID).name }.sorted()
        #expect(functions == ["first", "helper", "second"])
        #expect(ext.functionInfoRecordSize == 8 && ext.lineInfoRecordSize == 16)

        let lines = ext.lineInfo.flatMap(\.records)
        #expect(!lines.isEmpty)
        let sourceLines = Self.source.split(separator: "\n", omittingEmptySubsequences: false)
        for line in lines {
            #expect(try btf.string(at: line.fileNameOffset).hasSuffix("ext_probe.bpf.c"))
            #expect(line.line >= 1 && Int(line.line) <= sourceLines.count)
            let text = try btf.string(at: line.lineTextOffset)
            #expect(text == String(sourceLines[Int(line.line) - 1]).trimmingCharacters(in: .whitespaces) || sourceLines[Int(line.line) - 1].contains(text))
        }
        let relocation = try #require(ext.coreRelocations.first?.records.first)
        #expect(relocation.kind == .fieldByteOffset)
        #expect(try btf.type(relocation.typeID).name == "event")
        #expect(try btf.string(at: relocation.accessStringOffset) == "0:1")
        #expect(try ext.sectionName(ext.coreRelocations[0], in: btf) == "socket")
    }

    @Test func malformedExtThrows() throws {
        // Header + func_info area holding a record size and one section claiming 1000 records.
        var bytes: [UInt8] = [0x9f, 0xeb, 1, 0]
        func append(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        append(32); append(0); append(20); append(0); append(0); append(0); append(0)
        append(8); append(1); append(1000); append(0); append(0)
        #expect(throws: BTFError.self) { try BTFExt(bytes) }
        for length in 0..<bytes.count {
            #expect(throws: BTFError.self) { try BTFExt(Array(bytes.prefix(length))) }
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var mutated = bytes
            mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            _ = try? BTFExt(mutated)
        }
    }
}
