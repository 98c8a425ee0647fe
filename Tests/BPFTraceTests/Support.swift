import Foundation
import Testing
@testable import BPFTrace

/// Golden data captured by running bpftrace 0.17 (`bpftrace -d -e PROGRAM`) on these programs.
struct CapturedCase: Decodable, CustomTestStringConvertible, Sendable {
    var program: String
    /// bpftrace's parser accepted it (it printed "AST after: parser").
    var parses: Bool
    /// Its parser-stage tree, when it parsed (types stripped).
    var tree: String?
    /// Its diagnostics on stderr, when it did not.
    var bpftrace: String?

    var testDescription: String { program.replacingOccurrences(of: "\n", with: "\\n") }
}

enum Golden {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources")

    static func cases(_ name: String) -> [CapturedCase] {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent(name)),
              let cases = try? JSONDecoder().decode([CapturedCase].self, from: data) else { return [] }
        return cases
    }
}

/// Parses and renders diagnostics as `bpftrace -e` prints them.
func renderedDiagnostics(_ program: String, fileName: String = "stdin") -> String {
    let file = SourceFile(name: fileName, text: program)
    return DiagnosticRenderer(file: file).render(Parser.parse(file).diagnostics)
}

func sExpression(_ program: String) -> String? {
    guard let parsed = Parser.parse(program).program else { return nil }
    return ASTPrinter.sExpression(parsed)
}

/// The compact form of the only statement of `BEGIN { <body> }`.
func statement(_ body: String) -> String? {
    guard let program = Parser.parse("BEGIN { \(body) }").program, let first = program.probes.first?.body.statements.first else { return nil }
    return ASTPrinter.sExpression(first)
}
