import Testing
@testable import BPFObject

@Suite struct BTFSanitizerTests {
    @Test func rewritesEveryNewerKindKeepingIdsAndSizes() throws {
        let btf = try BTF(BTFFixtures.everyKind().1)
        #expect(BTFSanitizer.needsSanitizing(btf, for: []))
        #expect(!BTFSanitizer.needsSanitizing(btf, for: .all))
        let old = try BTF(BTFSanitizer.sanitize(btf, for: []))
        let newerKinds: Set<BTFKind> = [.function, .functionProto, .variable, .dataSection, .float, .declTag, .typeTag, .enum64]
        for id in old.allTypeIDs { #expect(!newerKinds.contains(try old.kind(of: id))) }
        #expect(old.typeCount == btf.typeCount + 1)  // one 8-byte int for the ENUM64 union
        #expect(try old.kind(of: 9) == .union)
        #expect(try old.size(of: 9) == 8)
        #expect(try old.size(of: 21) == 8)  // FLOAT became an empty 8-byte struct
        #expect(try old.type(20).name == "_data")  // DATASEC .data became struct _data
        #expect(try old.type(20).members.map(\.name) == ["counter"])
        #expect(try old.kind(of: 23) == .const)
        #expect(try old.kind(of: 16) == .enum && old.type(16).vlen == 2)
        #expect(try old.kind(of: 17) == .typedef)
        #expect(try !old.type(8).kindFlag)

        let noGlobals = try BTF(BTFSanitizer.sanitize(btf, for: BTFKernelFeatures.all.subtracting(.globalFunctions)))
        #expect(try noGlobals.type(17).linkage == .static)
        #expect(noGlobals.typeCount == btf.typeCount)
    }
}
