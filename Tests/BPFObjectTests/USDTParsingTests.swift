import BPFObject
import Foundation
import Testing

/// The traced program of the kernel USDT tests (Tests/BPFTests/Fixtures/usdt), built here with
/// gcc; its notes are compared with `readelf -n`.
enum USDTTestBinary {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("BPFTests/Fixtures/usdt").path
    static let available = FileManager.default.isExecutableFile(atPath: "/usr/bin/gcc")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/readelf")
        && ["/usr/include/sys/sdt.h", "/usr/include/x86_64-linux-gnu/sys/sdt.h", "/usr/include/aarch64-linux-gnu/sys/sdt.h"]
        .contains { FileManager.default.fileExists(atPath: $0) }

    static func build(_ flags: [String], name: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbpf-usdt-notes-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let binary = directory + "/" + name
        let result = try BPFHeadersFixture.run("/usr/bin/gcc", flags + [sources + "/probes.c", sources + "/semaphore.c", "-o", binary])
        try #require(result.status == 0, "\(result.output)")
        return binary
    }

    /// `readelf -n` notes of owner stapsdt: provider, name, location, base, semaphore, arguments.
    static func readelfNotes(_ binary: String) throws -> [USDTNote] {
        let result = try BPFHeadersFixture.run("/usr/bin/readelf", ["-n", binary])
        try #require(result.status == 0)
        var notes: [USDTNote] = []
        var current: USDTNote?
        func hex(_ text: Substring) -> UInt64 { UInt64(text.trimmingCharacters(in: .whitespaces).dropFirst(2), radix: 16) ?? .max }
        for line in result.output.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.hasPrefix("Provider: ") {
                current = USDTNote(provider: String(line.dropFirst(10)), name: "", address: 0, base: 0, semaphore: 0, arguments: "")
            } else if line.hasPrefix("Name: ") {
                current?.name = String(line.dropFirst(6))
            } else if line.hasPrefix("Location: ") {
                // Location: 0x..., Base: 0x..., Semaphore: 0x...
                let fields = line.split(separator: ",").map { $0.split(separator: ":").last ?? "" }
                current?.address = hex(fields[0])
                current?.base = hex(fields[1])
                current?.semaphore = hex(fields[2])
            } else if line.hasPrefix("Arguments:") {
                current?.arguments = line.dropFirst(10).trimmingCharacters(in: .whitespaces)
                if let note = current { notes.append(note) }
                current = nil
            }
        }
        return notes
    }
}

struct USDTNoteTests {
    @Test(.enabled(if: USDTTestBinary.available, "needs gcc, readelf and <sys/sdt.h> (systemtap-sdt-dev)"),
          arguments: [["-O2", "-fPIE", "-pie"], ["-O0", "-fno-pie", "-no-pie"]])
    func notesMatchReadelf(flags: [String]) throws {
        let binary = try USDTTestBinary.build(flags, name: "probes\(flags.joined())")
        let file = try ELFFile(bytes: ELFTestFiles.bytes(binary))
        let ours = try file.usdtNotes()
        let readelf = try USDTTestBinary.readelfNotes(binary)
        #expect(ours.count == 3)
        #expect(ours == readelf)

        // Sites: file offsets through the text and .probes sections holding the addresses.
        let text = try #require(file.section(named: ".text"))
        let probes = try #require(file.section(named: ".probes"))
        let sites = try file.usdtProbeSites(provider: "swiftbpf_test", name: "with_sema")
        let site = try #require(sites.first)
        #expect(sites.count == 1)
        #expect(site.fileOffset == text.offset + (site.note.address - text.address))
        #expect(site.semaphoreFileOffset == probes.offset + (site.note.semaphore - probes.address))
        #expect(try file.usdtProbeSites(provider: "swiftbpf_test", name: "args").first?.semaphoreFileOffset == 0)
        #expect(try file.usdtProbeSites(provider: "swiftbpf_test", name: "absent").isEmpty)

        // Every argument list parses for this machine.
        let architecture = try #require(USDTArchitecture(machine: file.header.machine))
        for note in ours { _ = try USDTArgument.parseList(note.arguments, architecture: architecture) }
    }

    /// A prelinked file: the notes still hold the addresses of before the move, `.stapsdt.base`
    /// the new one. Shifting the notes' recorded addresses back must give the same sites.
    @Test(.enabled(if: USDTTestBinary.available, "needs gcc, readelf and <sys/sdt.h> (systemtap-sdt-dev)"))
    func stapsdtBaseCompensatesPrelink() throws {
        let binary = try USDTTestBinary.build(["-O2", "-fPIE", "-pie"], name: "probes-prelink")
        var bytes = try ELFTestFiles.bytes(binary)
        let original = try ELFFile(bytes: bytes)
        let expected = try original.usdtProbeSites(provider: "swiftbpf_test", name: "with_sema")
        let note = try #require(expected.first?.note)
        // Find the descriptor's three addresses and move them 0x10000 down.
        let pattern = [note.address, note.base, note.semaphore].flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        let at = try #require((0...(bytes.count - pattern.count)).first { bytes[$0..<$0 + pattern.count].elementsEqual(pattern) })
        let moved = [note.address &- 0x10000, note.base &- 0x10000, note.semaphore &- 0x10000].flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        bytes.replaceSubrange(at..<at + moved.count, with: moved)
        let prelinked = try ELFFile(bytes: bytes).usdtProbeSites(provider: "swiftbpf_test", name: "with_sema")
        #expect(prelinked.map(\.fileOffset) == expected.map(\.fileOffset))
        #expect(prelinked.map(\.semaphoreFileOffset) == expected.map(\.semaphoreFileOffset))
        #expect(prelinked.first?.note.address == note.address &- 0x10000)
    }

    @Test func descriptorDecodesBothByteOrders() throws {
        func descriptor(littleEndian: Bool) -> [UInt8] {
            [UInt64(0x401136), 0x402010, 0x404028].flatMap { value in
                withUnsafeBytes(of: littleEndian ? value.littleEndian : value.bigEndian) { Array($0) }
            } + Array("prov\0probe\0-4@%edi 8@$1\0".utf8)
        }
        let expected = USDTNote(provider: "prov", name: "probe", address: 0x401136, base: 0x402010, semaphore: 0x404028, arguments: "-4@%edi 8@$1")
        #expect(try USDTNote(descriptor: descriptor(littleEndian: true), isLittleEndian: true) == expected)
        #expect(try USDTNote(descriptor: descriptor(littleEndian: false), isLittleEndian: false) == expected)
        // No argument string at all (old sdt.h) reads as no arguments.
        let bare = Array(descriptor(littleEndian: true).prefix(24)) + Array("p\0n\0".utf8)
        #expect(try USDTNote(descriptor: bare, isLittleEndian: true).arguments == "")
    }

    @Test func malformedDescriptorsThrowNeverTrap() {
        let valid = [UInt8](repeating: 0x11, count: 24) + Array("prov\0probe\0-4@%edi\0".utf8)
        for length in 0..<valid.count {
            let prefix = Array(valid.prefix(length))
            do {
                let note = try USDTNote(descriptor: prefix, isLittleEndian: true)
                #expect(length >= 24 + 11, "a descriptor cut at \(length) bytes decoded as \(note)")
            } catch {
                #expect(error is USDTError)
            }
        }
        var random = SeededGenerator(state: 0x05d7)
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...64, using: &random)).map { _ in [0, 0x40, 0x25, UInt8.random(in: 0...255, using: &random)].randomElement(using: &random)! }
            if let note = try? USDTNote(descriptor: bytes, isLittleEndian: true) {
                _ = try? USDTArgument.parseList(note.arguments, architecture: .x86_64)
                _ = try? USDTArgument.parseList(note.arguments, architecture: .arm64)
            }
        }
    }

    @Test(.enabled(if: USDTTestBinary.available, "needs gcc and <sys/sdt.h> (systemtap-sdt-dev)"))
    func corruptedNoteSectionsThrowNeverTrap() throws {
        let binary = try USDTTestBinary.build(["-O2"], name: "probes-corrupt")
        let original = try ELFTestFiles.bytes(binary)
        let section = try #require(try ELFFile(bytes: original).section(named: ".note.stapsdt"))
        let range = Int(section.offset)..<Int(section.offset + section.size)
        var random = SeededGenerator(state: 0xbad5d7)
        for _ in 0..<500 {
            var copy = original
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                copy[Int.random(in: range, using: &random)] = [0, 0xff, 0x7f, 0x40, UInt8.random(in: 0...255, using: &random)].randomElement(using: &random)!
            }
            do {
                let file = try ELFFile(bytes: copy)
                for note in try file.usdtNotes() {
                    _ = try? file.usdtProbeSites(provider: note.provider, name: note.name)
                    _ = try? USDTArgument.parseList(note.arguments, architecture: .x86_64)
                }
            } catch {
                #expect(error is USDTError || error is ELFError, "\(error)")
            }
        }
    }
}

struct USDTArgumentTests {
    typealias Location = USDTArgument.Location
    static let x86 = USDTArchitecture.x86_64
    static func x86(_ name: String) -> USDTRegister { x86.register(named: name)! }

    @Test func x86Operands() throws {
        func parse(_ text: String) throws -> USDTArgument { try USDTArgument.parse(text, architecture: .x86_64) }
        #expect(try parse("-4@%edi") == USDTArgument(size: 4, isSigned: true, location: .register(USDTRegister(name: "rdi", ptRegsOffset: 112))))
        #expect(try parse("8@-8(%rbp)") == USDTArgument(size: 8, isSigned: false, location: .memory(base: USDTRegister(name: "rbp", ptRegsOffset: 32), offset: -8)))
        #expect(try parse("4@$5") == USDTArgument(size: 4, isSigned: false, location: .constant(5)))
        #expect(try parse("8@$-1") == USDTArgument(size: 8, isSigned: false, location: .constant(-1)))
        #expect(try parse("8@$0x10") == USDTArgument(size: 8, isSigned: false, location: .constant(16)))
        #expect(try parse("-8@(%rax)") == USDTArgument(size: 8, isSigned: true, location: .memory(base: Self.x86("rax"), offset: 0)))
        #expect(try parse("8@(%rax,%rdx,8)") == USDTArgument(size: 8, isSigned: false,
                                                             location: .indexed(base: USDTRegister(name: "rax", ptRegsOffset: 80), index: USDTRegister(name: "rdx", ptRegsOffset: 96), scale: 8, offset: 0)))
        #expect(try parse("-2@16(%rsi,%rcx)") == USDTArgument(size: 2, isSigned: true, location: .indexed(base: Self.x86("rsi"), index: Self.x86("rcx"), scale: 1, offset: 16)))
        #expect(try parse("-1@%cl").location == .register(USDTRegister(name: "rcx", ptRegsOffset: 88)))
        #expect(try parse("2@%r10w").location == .register(USDTRegister(name: "r10", ptRegsOffset: 56)))
        #expect(try parse("8@%r15").location == .register(USDTRegister(name: "r15", ptRegsOffset: 0)))
        #expect(try parse("8@%rsp").location == .register(USDTRegister(name: "rsp", ptRegsOffset: 152)))
    }

    @Test(arguments: ["", "4", "@%eax", "3@%eax", "16@%eax", "4@%xmm0", "4@%ah", "4@foo(%rip)", "4@8(%rip)",
                      "4@(%rax,%rbx,3)", "4@(,%rax,8)", "4@$abc", "4@$", "99999999999999999999@%eax", "4@(%rax",
                      "4@%", "4@12", "4@(%rax,%rbx,8,1)", "4@$99999999999999999999", "4@$--1", "4@-(%rax)"])
    func x86RejectsWithReason(spec: String) {
        #expect {
            try USDTArgument.parse(spec, architecture: .x86_64)
        } throws: { error in
            guard let error = error as? USDTError, case .badArgument = error else { return false }
            return !error.description.isEmpty
        }
    }

    @Test func arm64Operands() throws {
        func parse(_ text: String) throws -> USDTArgument { try USDTArgument.parse(text, architecture: .arm64) }
        #expect(try parse("8@x0") == USDTArgument(size: 8, isSigned: false, location: .register(USDTRegister(name: "x0", ptRegsOffset: 0))))
        #expect(try parse("-4@[sp, 12]") == USDTArgument(size: 4, isSigned: true, location: .memory(base: USDTRegister(name: "sp", ptRegsOffset: 248), offset: 12)))
        #expect(try parse("-8@[x29, -16]").location == .memory(base: USDTRegister(name: "x29", ptRegsOffset: 232), offset: -16))
        #expect(try parse("4@[x1]").location == .memory(base: USDTRegister(name: "x1", ptRegsOffset: 8), offset: 0))
        #expect(try parse("4@[x1, #8]").location == .memory(base: USDTRegister(name: "x1", ptRegsOffset: 8), offset: 8))
        #expect(try parse("4@5").location == .constant(5))
        #expect(try parse("-4@w3").location == .register(USDTRegister(name: "x3", ptRegsOffset: 24)))
        for bad in ["4@x31", "4@[x1, x2]", "4@q0", "4@[x1", "4@x", "4@x+1", "4@[, 8]", "4@[x1, 8, 9]"] {
            #expect(throws: USDTError.self, "\(bad)") { try parse(bad) }
        }
    }

    @Test func listsSplitOutsideBrackets() throws {
        #expect(try USDTArgument.parseList("-4@[sp, 12]  8@x0", architecture: .arm64).count == 2)
        #expect(try USDTArgument.parseList("-4@%esi -4@-24(%rbp) -4@%ecx 2@%ax 8@%rdx", architecture: .x86_64).count == 5)
        #expect(try USDTArgument.parseList("", architecture: .x86_64).isEmpty)
        #expect {
            try USDTArgument.parseList("-4@%esi 4@%bogus", architecture: .x86_64)
        } throws: { error in
            guard case .badArgument(_, let index, _) = error as? USDTError else { return false }
            return index == 1
        }
    }
}

struct USDTSpecLayoutTests {
    static func word(_ bytes: [UInt8], _ at: Int, _ size: Int) -> UInt64 {
        (0..<size).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }

    /// libbpf 1.x's fixed layout: 16-byte argument records, cookie at 192, count at 200.
    @Test func encodesLibbpfLayout() throws {
        let arguments = try USDTArgument.parseList("-4@%edi 8@-8(%rbp) 2@$7", architecture: .x86_64)
        let value = try USDTSpecLayout.libbpf.encode(arguments, cookie: 0xdead_beef, spec: "")
        #expect(value.count == 208)
        #expect(Self.word(value, 192, 8) == 0xdead_beef)
        #expect(Self.word(value, 200, 2) == 3)
        // arg 0: register rdi, signed, 4 bytes.
        #expect(Self.word(value, 0, 8) == 0 && Self.word(value, 8, 4) == 1 && Self.word(value, 12, 2) == 112)
        #expect(value[14] == 1 && value[15] == 32)
        // arg 1: memory rbp - 8, unsigned 8 bytes.
        #expect(Int64(bitPattern: Self.word(value, 16, 8)) == -8 && Self.word(value, 24, 4) == 2 && Self.word(value, 28, 2) == 32)
        #expect(value[30] == 0 && value[31] == 0)
        // arg 2: constant 7, 2 bytes.
        #expect(Self.word(value, 32, 8) == 7 && Self.word(value, 40, 4) == 0 && value[47] == 48)
        // base + index × scale needs a header that has the members for it.
        #expect(throws: USDTError.self) {
            try USDTSpecLayout.libbpf.encode(try USDTArgument.parseList("8@(%rax,%rdx,8)", architecture: .x86_64), cookie: 0)
        }
        // More arguments than the record holds.
        #expect(throws: USDTError.self) {
            try USDTSpecLayout.libbpf.encode(Array(repeating: arguments[0], count: 13), cookie: 0)
        }
    }

    /// Our usdt.bpf.h, compiled: the layout comes from its BTF and encodes scaled-index operands.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: BPFHeadersFixture.clang)
                   && FileManager.default.isReadableFile(atPath: "/sys/kernel/btf/vmlinux")))
    func readsLayoutFromOurHeader() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbpf-usdt-layout-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = directory + "/layout.bpf.c"
        try """
            #include "vmlinux.h"
            #include <bpf/usdt.bpf.h>
            char LICENSE[] SEC("license") = "GPL";
            long seen;
            SEC("usdt") int BPF_USDT(probe, long a) { seen = a; return 0; }
            """.write(toFile: source, atomically: true, encoding: .utf8)
        let result = try BPFHeadersFixture.compile(source: source, include: BPFHeadersFixture.includeDirectory, output: directory + "/layout.bpf.o")
        try #require(result.status == 0, "\(result.output)")
        let spec = try ObjectSpec(elf: ELFTestFiles.bytes(directory + "/layout.bpf.o"))
        let map = try #require(spec.map(named: "__bpf_usdt_specs"))
        #expect(map.spec.maxEntries == 256 && map.spec.valueSize == 208)
        let layout = try USDTSpecLayout(btf: try #require(spec.btf), valueTypeID: try #require(map.valueTypeID))
        #expect(layout.maxArguments == 12 && layout.argumentStride == 16 && layout.valueSize == 208)
        #expect(layout.kind == .init(bitOffset: 64, bitSize: 8))
        #expect(layout.scaleShift == .init(bitOffset: 72, bitSize: 8))
        #expect(layout.indexRegisterOffset == .init(bitOffset: 80, bitSize: 16))
        #expect(layout.registerOffset == .init(bitOffset: 96, bitSize: 16))
        let value = try layout.encode(try USDTArgument.parseList("-8@16(%rsi,%rdx,4)", architecture: .x86_64), cookie: 1)
        #expect(Self.word(value, 0, 8) == 16 && value[8] == 3 && value[9] == 2 && Self.word(value, 10, 2) == 96)
        #expect(Self.word(value, 12, 2) == 104 && value[14] == 1 && value[15] == 0)
        #expect(spec.program(named: "probe")?.section.autoAttach == .usdt)
    }
}
