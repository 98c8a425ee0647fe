@testable import BPFObject
import Foundation
import Testing

/// The name table behind `typeIDs(named:)` and CO-RE's flavored candidates agrees with a
/// plain scan over every type's name.
struct BTFNameTableTests {
    /// Reference answers: every named type by full name, and by essential name when the name
    /// carries a flavor.
    static func reference(_ btf: BTF) -> (byName: [String: [UInt32]], byEssential: [String: [UInt32]]) {
        var byName: [String: [UInt32]] = [:]
        var byEssential: [String: [UInt32]] = [:]
        for id in btf.allTypeIDs {
            guard let type = try? btf.type(id), !type.isAnonymous else { continue }
            let name = type.name
            byName[name, default: []].append(id)
            let essential = CORETypeRules.essentialName(name)
            if essential != name { byEssential[essential, default: []].append(id) }
        }
        return (byName, byEssential)
    }

    @Test func flavorsAndEdgeCases() throws {
        var builder = BTFBuilder()
        let int = builder.addInt("int", size: 4, encoding: .signed)
        let names = ["task_struct", "task_struct___v1", "task_struct___v2", "a___b___c", "a___b", "a____b", "x___", "___y",
                     "_a___b", "q___r_", "task_struct", "t",
                     // Separators across the 8-byte words the table hashes, and long runs.
                     "abcdefg___hij", "abcdefgh___x", "abcdef___ghijklmnopq", "a_b_c_d_e_f___g", "x______y",
                     "sixteen_bytes_ab", "sixteen_bytes_ab___flavor", String(repeating: "_", count: 17) + "z"]
        var ids: [String: [UInt32]] = [:]
        for name in names {
            ids[name, default: []].append(builder.addStruct(name, size: 4, members: [.init("v", int, bitOffset: 0)]))
        }
        let btf = try BTF(builder.encode())
        #expect(btf.typeIDs(named: "task_struct") == ids["task_struct"])
        #expect(btf.typeIDs(named: "task_struct___v1") == ids["task_struct___v1"])
        #expect(btf.typeIDs(named: "nope").isEmpty)
        #expect(btf.typeIDs(named: "").isEmpty)
        #expect(btf.flavoredTypeIDs(essentialName: "task_struct") == ids["task_struct___v1"]! + ids["task_struct___v2"]!)
        // The last separator counts: a___b___c is a flavor of a___b, not of a.
        #expect(btf.flavoredTypeIDs(essentialName: "a___b") == ids["a___b___c"])
        #expect(btf.flavoredTypeIDs(essentialName: "a") == ids["a___b"])
        #expect(btf.flavoredTypeIDs(essentialName: "_a") == ids["_a___b"])
        #expect(btf.flavoredTypeIDs(essentialName: "q") == ids["q___r_"])
        #expect(btf.flavoredTypeIDs(essentialName: "abcdefg") == ids["abcdefg___hij"])
        #expect(btf.flavoredTypeIDs(essentialName: "abcdefgh") == ids["abcdefgh___x"])
        #expect(btf.flavoredTypeIDs(essentialName: "sixteen_bytes_ab") == ids["sixteen_bytes_ab___flavor"])
        #expect(btf.typeIDs(named: "sixteen_bytes_ab") == ids["sixteen_bytes_ab"])
        // Not separators: four underscores, nothing after, nothing before.
        #expect(btf.flavoredTypeIDs(essentialName: "x").isEmpty)
        #expect(btf.flavoredTypeIDs(essentialName: "").isEmpty)
        let (byName, byEssential) = Self.reference(btf)
        for (name, expected) in byName { #expect(btf.typeIDs(named: name) == expected, "\(name)") }
        for (name, expected) in byEssential { #expect(btf.flavoredTypeIDs(essentialName: name) == expected, "\(name)") }
    }

    /// Every name of the running kernel's BTF (~130 000 types) is found, with exactly its ids.
    @Test(.enabled(if: FileManager.default.isReadableFile(atPath: "/sys/kernel/btf/vmlinux")))
    func agreesWithAScanOfVmlinux() throws {
        let btf = try BTF(contentsOfFile: "/sys/kernel/btf/vmlinux")
        let (byName, byEssential) = Self.reference(btf)
        var mismatches: [String] = []
        for (name, expected) in byName where btf.typeIDs(named: name) != expected { mismatches.append(name) }
        for (name, expected) in byEssential where btf.flavoredTypeIDs(essentialName: name) != expected { mismatches.append(name + " (flavor)") }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(20))")
        #expect(byName.count > 1000)
    }

    /// Split BTF answers with the base's ids first.
    @Test func splitBTFIncludesItsBase() throws {
        var baseBuilder = BTFBuilder()
        let int = baseBuilder.addInt("int", size: 4, encoding: .signed)
        let baseID = baseBuilder.addStruct("shared", size: 4, members: [.init("v", int, bitOffset: 0)])
        let base = try BTF(baseBuilder.encode())
        var split = BTFBuilder()
        let baseStrings = UInt32(base.totalStringLength)
        let shared = split.addString("shared") + baseStrings
        let flavored = split.addString("shared___m") + baseStrings
        split.addRaw([shared, BTFBuilder.info(.struct, vlen: 0), 4])     // [3]
        split.addRaw([flavored, BTFBuilder.info(.struct, vlen: 0), 4])   // [4]
        let btf = try BTF(split.encode(), base: base)
        #expect(btf.typeIDs(named: "shared") == [baseID, 3])
        #expect(btf.flavoredTypeIDs(essentialName: "shared") == [4])
    }
}
