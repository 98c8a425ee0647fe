import BPFObject
import Foundation
import Testing
import TestSupport

/// Deterministic pseudo-random numbers (SplitMix64), so corruption tests repeat exactly.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

enum ELFTestFiles {
    static func bytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static var libcPath: String? {
        ["/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/aarch64-linux-gnu/libc.so.6",
         "/lib64/libc.so.6", "/usr/lib64/libc.so.6"].first { FileManager.default.fileExists(atPath: $0) }
    }

    static let clang = ["/opt/swift/usr/bin/clang", "/usr/bin/clang"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Compiles `source` with clang for `target` into a temporary object file and returns its bytes.
    static func compile(_ source: String, target: String, name: String) throws -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbpf-elf-\(getpid())-\(name)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let sourceURL = directory.appendingPathComponent("\(name).c")
        let objectURL = directory.appendingPathComponent("\(name).o")
        try source.write(to: sourceURL, atomically: true, encoding: .utf8)
        let compile = try ChildProcess.run(try #require(clang), ["-target", target, "-O2", "-g0", "-c", sourceURL.path, "-o", objectURL.path])
        try #require(compile.status == 0, "clang -target \(target) failed: \(compile.stderr)")
        return try bytes(objectURL.path)
    }

    /// Reads everything a caller could ask of `bytes`; only `ELFError` may come out.
    static func readEverything(_ bytes: [UInt8]) {
        do {
            let file = try ELFFile(bytes: bytes)
            for section in file.sections {
                _ = try? file.data(of: section)
                if section.type == .symtab || section.type == .dynsym { _ = try? file.symbols(in: section) }
                if section.type == .note { _ = try? file.notes(in: section) }
                if section.type == .rel || section.type == .rela { _ = try? file.relocations(in: section) }
            }
            for symbol in ((try? file.dynamicSymbols()) ?? []) + ((try? file.symbols()) ?? []) {
                _ = file.fileOffset(ofVirtualAddress: symbol.value)
                _ = try? file.fileOffset(of: symbol, plus: UInt64.max)
            }
            _ = try? file.definedSymbol(named: "malloc")
            for segment in file.segments { _ = file.fileOffset(ofVirtualAddress: segment.virtualAddress &+ segment.fileSize &- 1) }
        } catch is ELFError {
        } catch {
            Issue.record("unexpected error type \(type(of: error)): \(error)")
        }
    }
}

struct ELFReaderTests {
    @Test func readsSystemExecutable() throws {
        let file = try ELFFile(bytes: ELFTestFiles.bytes("/bin/ls"))
        #expect(file.header.isLittleEndian)
        #expect([ELFFileType.executable, .sharedObject].contains(file.header.type))
        #if arch(x86_64)
        #expect(file.header.machine == ELFHeader.machineX86_64)
        #endif
        #expect(file.section(named: ".text")?.isExecutable == true)
        #expect(file.section(named: ".dynsym") != nil)
        #expect(file.segments.contains { $0.type == .load && $0.isExecutable })
        let imports = try file.dynamicSymbols().filter { !$0.isDefined && $0.type == .function }
        #expect(imports.contains { $0.name == "malloc" })
        // The build id note: owner "GNU", type NT_GNU_BUILD_ID = 3, a 20-byte SHA-1 (or similar).
        let buildID = try file.notes().first { $0.name == "GNU" && $0.type == 3 }
        #expect((buildID?.descriptor.count ?? 0) >= 8)
    }

    @Test func readsSharedLibrarySymbolsAndOffsets() throws {
        let path = try #require(ELFTestFiles.libcPath, "no libc.so.6 found")
        let file = try ELFFile(bytes: ELFTestFiles.bytes(path))
        #expect(file.header.type == .sharedObject)
        let symbols = try file.dynamicSymbols()
        #expect(symbols.first?.name == "" && symbols.first?.index == 0)
        let getppid = try #require(symbols.first { $0.name == "getppid" && $0.isDefined })
        #expect(getppid.type == .function)
        #expect([ELFSymbolBinding.global, .weak].contains(getppid.binding))
        let offset = try #require(file.fileOffset(ofVirtualAddress: getppid.value))
        // The offset lands in the executable PT_LOAD segment, within the file.
        let text = try #require(file.segments.first { $0.type == .load && $0.isExecutable })
        #expect(offset >= text.offset && offset < text.offset + text.fileSize)
        #expect(file.fileOffset(ofVirtualAddress: UInt64.max - 1) == nil)
        let relocationSections = file.sections.filter { $0.type == .rela }
        #expect(!relocationSections.isEmpty)
        for section in relocationSections {
            let relocations = try file.relocations(in: section)
            #expect(relocations.count == Int(section.size / 24))
            #expect(relocations.allSatisfy { $0.addend != nil })
        }
    }

    static let bpfSource = """
        struct { int type; int max_entries; } counts __attribute__((section(".maps"), used));
        static long (*lookup)(void *map, const void *key) = (void *)1;
        __attribute__((section("tracepoint/syscalls/sys_enter_getppid"), used))
        int count_calls(void *ctx) { int key = 0; return lookup(&counts, &key) != 0; }
        char LICENSE[] __attribute__((section("license"), used)) = "GPL";
        """

    @Test(arguments: ["bpfel", "bpfeb"])
    func readsRelocatableBPFObjectInBothByteOrders(target: String) throws {
        try #require(ELFTestFiles.clang != nil, "no clang to build a BPF object")
        let file = try ELFFile(bytes: ELFTestFiles.compile(Self.bpfSource, target: target, name: target))
        #expect(file.header.isLittleEndian == (target == "bpfel"))
        #expect(file.header.type == .relocatable)
        #expect(file.header.machine == ELFHeader.machineBPF)
        let program = try #require(file.section(named: "tracepoint/syscalls/sys_enter_getppid"))
        let symbols = try file.symbols()
        let function = try #require(symbols.first { $0.name == "count_calls" })
        #expect(function.type == .function && function.binding == .global && Int(function.sectionIndex) == program.index)
        // BPF objects use REL (no addend); the map reference is an R_BPF_64_64 on `counts`.
        let relocationSection = try #require(file.sections.first { $0.type == .rel && Int($0.info) == program.index })
        #expect(relocationSection.name == ".reltracepoint/syscalls/sys_enter_getppid")
        let relocations = try file.relocations(in: relocationSection)
        let mapRelocation = try #require(relocations.first { symbols[Int($0.symbolIndex)].name == "counts" })
        #expect(mapRelocation.type == 1 && mapRelocation.addend == nil)
        #expect(try Array(file.data(of: try #require(file.section(named: "license")))).starts(with: Array("GPL".utf8)))
    }

    @Test func rejectsNonELFAndUnsupported() {
        #expect(throws: ELFError.notELF) { try ELFFile(bytes: []) }
        #expect(throws: ELFError.notELF) { try ELFFile(bytes: Array("#!/bin/sh\n".utf8)) }
        var header32 = [UInt8](repeating: 0, count: 64)
        header32[0...3] = [0x7f, 0x45, 0x4c, 0x46]
        header32[4] = 1
        header32[5] = 1
        header32[6] = 1
        #expect(throws: ELFError.self) { try ELFFile(bytes: header32) }
        #expect(throws: ELFError.self) { try ELFFile(bytes: [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]) }
    }

    @Test func truncatedCopiesThrowNeverTrap() throws {
        let original = try ELFTestFiles.bytes("/bin/ls")
        var failures = 0
        for length in stride(from: 0, to: original.count, by: 211) + [original.count - 1] {
            let truncated = Array(original.prefix(length))
            ELFTestFiles.readEverything(truncated)
            if (try? ELFFile(bytes: truncated)) == nil { failures += 1 }
        }
        // The section header table sits at the end: every strict prefix must be refused.
        #expect(failures == (original.count / 211 + 1) + 1)
        do {
            _ = try ELFFile(bytes: Array(original.prefix(original.count - 1)))
        } catch let error as ELFError {
            #expect(error.description.contains("section header table"))
        }
    }

    @Test func corruptedCopiesThrowNeverTrap() throws {
        let original = try ELFTestFiles.bytes("/bin/ls")
        let file = try ELFFile(bytes: original)
        // Aim at the structures offsets come from: the header, program and section headers, and
        // the dynamic symbol table.
        var hotRanges: [Range<Int>] = [0..<64]
        hotRanges.append(Int(file.header.programHeaderOffset)..<Int(file.header.programHeaderOffset) + 56 * Int(file.header.programHeaderCount))
        hotRanges.append(Int(file.header.sectionHeaderOffset)..<original.count)
        if let dynsym = file.section(named: ".dynsym") { hotRanges.append(Int(dynsym.offset)..<Int(dynsym.offset + dynsym.size)) }
        var random = SeededGenerator(state: 0x5eed)
        for _ in 0..<1000 {
            var copy = original
            let range = hotRanges.randomElement(using: &random)!
            for _ in 0..<Int.random(in: 1...8, using: &random) {
                let index = Int.random(in: range, using: &random)
                copy[index] = [0, 0xff, 0x7f, 0x80, UInt8.random(in: 0...255, using: &random)].randomElement(using: &random)!
            }
            ELFTestFiles.readEverything(copy)
        }
    }
}

struct ELFDynamicLinkerCacheTests {
    @Test func parsesSystemCache() throws {
        let bytes = try ELFTestFiles.bytes("/etc/ld.so.cache")
        let cache = try DynamicLinkerCache(bytes: bytes)
        #expect(cache.entries.count > 10)
        let libc = cache.paths(for: "libc.so.6", abi: DynamicLinkerCache.nativeABI)
        #expect(libc.contains { $0.hasSuffix("/libc.so.6") })
        #expect(cache.paths(for: "c", abi: DynamicLinkerCache.nativeABI) == libc)
        #expect(cache.paths(for: "libc", abi: DynamicLinkerCache.nativeABI) == libc)
        #expect(cache.paths(for: "libdefinitely-not-here").isEmpty)
    }

    @Test func corruptCachesThrowNeverTrap() throws {
        let original = try ELFTestFiles.bytes("/etc/ld.so.cache")
        #expect(throws: ELFError.self) { try DynamicLinkerCache(bytes: Array(original.prefix(40))) }
        #expect(throws: ELFError.self) { try DynamicLinkerCache(bytes: Array("not a cache".utf8)) }
        var random = SeededGenerator(state: 42)
        for _ in 0..<500 {
            var copy = Array(original.prefix(Int.random(in: 0...original.count, using: &random)))
            if !copy.isEmpty {
                for _ in 0..<4 { copy[Int.random(in: 0..<min(copy.count, 4096), using: &random)] = UInt8.random(in: 0...255, using: &random) }
            }
            _ = try? DynamicLinkerCache(bytes: copy)
        }
    }
}
