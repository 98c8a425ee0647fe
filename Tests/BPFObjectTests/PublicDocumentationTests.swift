import Foundation
import Testing

/// Every public type of BPF and BPFObject carries a `///` doc comment, so the DocC archives
/// (scripts/docs.sh) document the whole API. The same check runs in scripts/docs.sh.
@Suite struct PublicDocumentationTests {
    static let sources = BPFHeadersFixture.repositoryRoot.appendingPathComponent("Sources").path

    /// `public struct|class|enum|protocol|actor|typealias NAME` lines, attributes allowed before.
    static func isPublicTypeDeclaration(_ line: Substring) -> Bool {
        var words = line.split(separator: " ", omittingEmptySubsequences: true)[...]
        while let first = words.first, first.hasPrefix("@") { words = words.dropFirst() }
        guard words.first == "public" else { return false }
        words = words.dropFirst()
        if let first = words.first, first == "final" || first == "indirect" { words = words.dropFirst() }
        guard let kind = words.first else { return false }
        return ["struct", "class", "enum", "protocol", "actor", "typealias"].contains(kind) && words.count > 1
    }

    @Test(arguments: ["BPF", "BPFObject"]) func everyPublicTypeHasADocComment(target: String) throws {
        let directory = Self.sources + "/" + target
        let files = (FileManager.default.enumerator(atPath: directory)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".swift") }.sorted()
        #expect(!files.isEmpty)
        var undocumented: [String] = []
        var declarations = 0
        for file in files {
            let lines = try String(contentsOfFile: directory + "/" + file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            for (index, line) in lines.enumerated() where Self.isPublicTypeDeclaration(line) {
                declarations += 1
                var previous = index - 1
                while previous >= 0, lines[previous].trimmingCharacters(in: .whitespaces).hasPrefix("@") { previous -= 1 }
                if previous < 0 || !lines[previous].trimmingCharacters(in: .whitespaces).hasPrefix("///") {
                    undocumented.append("\(target)/\(file):\(index + 1): \(line.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
        #expect(declarations > 50)
        #expect(undocumented.isEmpty, "public types without a /// doc comment:\n\(undocumented.joined(separator: "\n"))")
    }
}
