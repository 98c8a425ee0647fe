import Foundation
import Testing
@testable import BPFObject

@Suite struct BTFTypeGraphTests {
    @Test func sizesAndAlignments() throws {
        let btf = try BTF(BTFFixtures.everyKind().1)
        #expect(try btf.size(of: 1) == 4)
        #expect(try btf.size(of: 3) == 8)  // pointer
        #expect(try btf.size(of: 4) == 16)  // char[16]
        #expect(try btf.size(of: 7) == 32)
        #expect(try btf.size(of: 8) == 4)  // enum
        #expect(try btf.size(of: 12) == 8)  // typedef u64
        #expect(try btf.size(of: 19) == 4)  // var of volatile int
        #expect(try btf.alignment(of: 7) == 4)
        #expect(try btf.alignment(of: 12) == 8)
        #expect(try btf.alignment(of: 4) == 1)
        #expect(throws: BTFError.self) { try btf.size(of: 16) }  // a prototype has no size
        #expect(try btf.skipModifiers(13) == 1)
        #expect(try btf.skipTypedefs(12) == 11)
    }

    @Test func descriptionsInCSyntax() throws {
        let btf = try BTF(BTFFixtures.everyKind().1)
        #expect(try btf.describe(id: 3) == "void *")
        #expect(try btf.describe(id: 4) == "char[16]")
        #expect(try btf.describe(id: 5) == "struct point")
        #expect(try btf.describe(id: 18) == "int (*)(void *, u64)")
        #expect(try btf.describe(id: 17) == "int handler(void *, u64)")
        #expect(try btf.describe(id: 23) == "const char __attribute__((btf_type_tag(\"user\")))")
        #expect(try btf.describe(id: 15) == "void *restrict")
        #expect(try btf.describe(id: 24) == "void (void *, ...)")
        #expect(try btf.describe(id: 10) == "union later")
    }

    @Test func memberLookupThroughAnonymousMembersAndBitfields() throws {
        let btf = try BTF(BTFFixtures.everyKind().1)
        let b = try btf.field("b", in: 7)
        #expect(b.bitOffset == 64)
        #expect(b.path.count == 2 && b.path[0].isAnonymous)
        let kind = try btf.field("p.kind", in: 7)
        #expect(kind.bitOffset == 35 && kind.bitfieldSize == 5 && kind.isBitfield)
        #expect(try btf.field("name", in: 7).byteOffset == 12)
        #expect(throws: BTFError.self) { try btf.field("missing", in: 7) }
        #expect(throws: BTFError.self) { try btf.field("x.y", in: 5) }
    }

    @Test func oldBitfieldEncodingThroughIntBits() throws {
        var b = BTFBuilder()
        let narrow = b.addInt("unsigned int", size: 4, bits: 3, bitOffset: 2)
        let s = b.addStruct("old", size: 4, members: [.init("f", narrow, bitOffset: 8)])
        let btf = try BTF(b.encode())
        let layout = try btf.bitfieldLayout(try btf.type(s).members[0])
        #expect(layout.bitOffset == 10 && layout.bitSize == 3)
    }

    @Test func prototypesEnumsAndDataSections() throws {
        let btf = try BTF(BTFFixtures.everyKind().1)
        let proto = try btf.prototype(of: 17)
        #expect(proto.returnType == 1)
        #expect(proto.parameters == [BTFParameter(name: "ctx", type: 3), BTFParameter(name: "size", type: 12)])
        #expect(!proto.isVariadic)
        #expect(try btf.prototype(of: 24).isVariadic)
        let variables = try btf.sectionVariables(".data")
        #expect(variables.map(\.name) == ["counter"])
        #expect(try btf.typeIDs(named: "color", kind: .enum) == [8])
        #expect(btf.typeIDs(of: .functionProto) == [16, 24])
    }

    /// The first lookups scan records instead of building the name table; both must give the
    /// same ids for every named type of every kind, and for names that do not exist.
    @Test func scannedLookupsMatchTheNameTable() throws {
        let fixture = try BTF(BTFFixtures.everyKind().1)
        var samples = try fixture.allTypeIDs.map { id in (try fixture.type(id).name, try fixture.kind(of: id)) }
        samples += [("", .struct), ("no_such_type", .struct), ("color", .struct)]
        let scanned = samples.map { fixture.scanTypeIDs(named: $0.0, kind: $0.1) }
        // Past the threshold the index answers.
        for _ in 0...BTF.lookupsBeforeIndexing { _ = fixture.typeIDs(named: "color", kind: .enum) }
        for (sample, ids) in zip(samples, scanned) where !sample.0.isEmpty {
            #expect(ids == fixture.typeIDs(named: sample.0, kind: sample.1), "\(sample)")
        }
        #expect(fixture.typeIDs(named: "", kind: .struct).isEmpty)

        guard let vmlinux = BTFFixtures.vmlinux else { return }
        let names = ["task_struct", "sk_buff", "bpf_map_type", "list_head", "__x64_sys_getpid", "no_such_type_at_all"]
        for name in names {
            for kind in [BTFKind.struct, .enum, .function, .typedef] {
                #expect(vmlinux.scanTypeIDs(named: name, kind: kind) == vmlinux.typeIDs(named: name).filter { (try? vmlinux.kind(of: $0)) == kind })
            }
        }
    }

    @Test func vmlinuxKnownLayouts() throws {
        guard let btf = BTFFixtures.vmlinux else { return }
        let mapType = try btf.typeID(named: "bpf_map_type", kind: .enum)
        #expect(try btf.type(mapType).enumerators.first { $0.name == "BPF_MAP_TYPE_HASH" }?.value == 1)
        let skb = try btf.typeID(named: "sk_buff", kind: .struct)
        let next = try btf.field("next", in: skb)  // inside an anonymous union and struct
        #expect(next.path.first?.isAnonymous == true)
        #expect(next.byteOffset == 0)
        #expect(try btf.describe(id: next.type) == "struct sk_buff *")
        #expect(try btf.field("len", in: skb).bitOffset % 8 == 0)
        let listHead = try btf.typeID(named: "list_head", kind: .struct)
        #expect(try btf.size(of: listHead) == 16 && btf.alignment(of: listHead) == 8)
        // Every type answers describe, and every sized type has a size, without error.
        for id in btf.allTypeIDs {
            _ = try btf.describe(id: id)
        }
        let percpu = try btf.sectionVariables(".data..percpu")
        #expect(!percpu.isEmpty)
    }
}
