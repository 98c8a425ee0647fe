import BPFObject
import Foundation
import Testing

/// Inputs Fuzz/run-object.sh found, kept in Fuzz/corpus/object as regression- files: each must
/// now end in a clear ObjectError instead of a crash or a runaway allocation.
struct RealWorldObjectFuzzRegressionTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/object")

    /// A .bss whose section header claims ~4 GiB made the parser allocate that many zeros.
    @Test func forgedHugeBSSIsRefused() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.corpus.appendingPathComponent("regression-huge-bss")))
        #expect {
            _ = try ObjectSpec(elf: bytes, name: "fuzz")
        } throws: { error in
            "\(error)".contains("global data maps are limited to")
        }
    }

    /// Every seed (our own small clang objects) still parses.
    @Test func seedsParse() throws {
        for seed in ["core_fields", "maps_globals", "subprog"] {
            let bytes = [UInt8](try Data(contentsOf: Self.corpus.appendingPathComponent(seed)))
            let spec = try ObjectSpec(elf: bytes, name: seed)
            #expect(!spec.programs.isEmpty, "\(seed)")
        }
    }
}
