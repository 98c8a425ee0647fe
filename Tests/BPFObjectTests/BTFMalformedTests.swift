import Foundation
import Testing
@testable import BPFObject

/// Malformed BTF must end in a thrown BTFError, never a trap or a hang.
@Suite struct BTFMalformedTests {
    /// Exercises everything that reads types, so an unchecked read would trap here.
    static func useEverything(_ btf: BTF) {
        _ = btf.rawDump()
        for id in btf.allTypeIDs {
            _ = try? btf.describe(id: id)
            _ = try? btf.size(of: id)
            _ = try? btf.alignment(of: id)
            _ = try? btf.skipTypedefs(id)
            _ = try? btf.prototype(of: id)
            if let type = try? btf.type(id) {
                _ = type.members.map { try? btf.bitfieldLayout($0) }
                _ = type.enumerators
                _ = type.sectionVariables
            }
        }
        _ = try? BTFCHeaderWriter(btf: btf).header()
        _ = try? BTFSanitizer.sanitize(btf, for: [])
    }

    @Test func everyTruncationThrows() throws {
        let (_, bytes) = BTFFixtures.everyKind()
        for length in 0..<bytes.count {
            let prefix = Array(bytes.prefix(length))
            #expect(throws: BTFError.self, "prefix of \(length) bytes") { try BTF(prefix) }
        }
        #expect(try BTF(bytes).typeCount == 25)
    }

    @Test func randomByteFlipsNeverTrap() throws {
        let (_, bytes) = BTFFixtures.everyKind()
        var generator = SystemRandomNumberGenerator()
        var parsed = 0, rejected = 0
        for _ in 0..<3000 {
            var mutated = bytes
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<mutated.count, using: &generator)
                mutated[index] = UInt8.random(in: 0...255, using: &generator)
            }
            do {
                let btf = try BTF(mutated)
                parsed += 1
                Self.useEverything(btf)
            } catch is BTFError {
                rejected += 1
            }
        }
        #expect(parsed + rejected == 3000)
        #expect(rejected > 0)
    }

    @Test func selfReferentialPointersAndTypedefCyclesThrowInsteadOfHanging() throws {
        var b = BTFBuilder()
        b.addRaw([0, BTFBuilder.info(.pointer), 2])  // [1] PTR -> [2]
        b.addRaw([0, BTFBuilder.info(.pointer), 1])  // [2] PTR -> [1]
        b.addRaw([0, BTFBuilder.info(.pointer), 3])  // [3] PTR -> itself
        let name = b.addString("loop")
        b.addRaw([name, BTFBuilder.info(.typedef), 5])  // [4] typedef -> [5]
        b.addRaw([name, BTFBuilder.info(.typedef), 4])  // [5] typedef -> [4]
        b.addRaw([0, BTFBuilder.info(.const), 6])  // [6] const -> itself
        b.addRaw([0, BTFBuilder.info(.array), 0, 7, 7, 2])  // [7] array of itself
        b.addRaw([name, BTFBuilder.info(.struct, vlen: 1), 4, name, 8, 0])  // [8] struct containing itself
        let btf = try BTF(b.encode())
        #expect(try btf.size(of: 1) == 8)  // a pointer's size does not follow the pointer
        #expect(throws: BTFError.resolutionLoop(id: 1, walk: "writing the C declaration")) { try btf.describe(id: 1) }
        #expect(throws: BTFError.self) { try btf.describe(id: 3) }
        #expect(throws: BTFError.resolutionLoop(id: 4, walk: "skipping typedefs and qualifiers")) { try btf.skipTypedefs(4) }
        #expect(throws: BTFError.self) { try btf.size(of: 4) }
        #expect(throws: BTFError.self) { try btf.skipModifiers(6) }
        #expect(throws: BTFError.self) { try btf.size(of: 7) }
        #expect(throws: BTFError.self) { try btf.alignment(of: 8) }
        Self.useEverything(btf)
    }

    @Test func hugeVlenAndBadReferencesAreNamed() throws {
        var b = BTFBuilder()
        b.addRaw([0, BTFBuilder.info(.struct, vlen: 0xffff), 8])  // members missing
        #expect(throws: BTFError.truncated(what: "type [1] (kind STRUCT, vlen 65535)", offset: 24, needed: 12 + 12 * 0xffff, available: 12)) {
            try BTF(b.encode())
        }
        var dangling = BTFBuilder()
        dangling.addPointer(to: 99)
        #expect(throws: BTFError.malformedType(id: 1, reason: "its type refers to type [99] but the last type is [1]")) {
            try BTF(dangling.encode())
        }
        var badName = BTFBuilder()
        badName.addRaw([1000, BTFBuilder.info(.int), 4, 32])
        #expect(throws: BTFError.badString(offset: 1000, context: "the name of type [1]")) { try BTF(badName.encode()) }
        var unknown = BTFBuilder()
        unknown.addRaw([0, 25 << 24, 0])
        #expect(throws: BTFError.malformedType(id: 1, reason: "unknown kind 25")) { try BTF(unknown.encode()) }
    }

    @Test func headerProblems() throws {
        var bytes = BTFFixtures.everyKind().1
        bytes[0] = 0
        #expect(throws: BTFError.self) { try BTF(bytes) }
        bytes = BTFFixtures.everyKind().1
        bytes[2] = 2
        #expect(throws: BTFError.unsupportedVersion(2)) { try BTF(bytes) }
        bytes = BTFFixtures.everyKind().1
        bytes[bytes.count - 1] = UInt8(ascii: "x")  // unterminated last string
        #expect(throws: BTFError.badHeader("string section does not end with a NUL byte")) { try BTF(bytes) }
        bytes = BTFFixtures.everyKind().1
        bytes[12] = 0xff; bytes[13] = 0xff; bytes[14] = 0xff; bytes[15] = 0x7f  // type_len huge
        #expect(throws: BTFError.self) { try BTF(bytes) }
    }
}
