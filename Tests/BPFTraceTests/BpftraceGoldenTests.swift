import Foundation
import Testing
@testable import BPFTrace

/// Compares with output captured from bpftrace 0.17 itself (Resources/*.json, made with
/// `bpftrace -d -e PROGRAM`): the exact diagnostics for malformed programs, and the exact `-d`
/// parser tree for well-formed ones.
@Suite struct BpftraceGoldenTests {
    @Test(arguments: Golden.cases("syntax-errors.json"))
    func syntaxErrors(_ golden: CapturedCase) {
        let result = Parser.parse(golden.program)
        if golden.parses {
            #expect(result.succeeded, "bpftrace parses this; we said: \(renderedDiagnostics(golden.program))")
            if let program = result.program, let tree = golden.tree {
                #expect(ASTPrinter.bpftraceTree(program) == tree)
            }
        } else {
            #expect(!result.succeeded)
            // The capture trimmed trailing newlines (an empty marker line among them).
            #expect(trimmed(renderedDiagnostics(golden.program)) == trimmed(golden.bpftrace ?? ""))
        }
    }

    func trimmed(_ text: String) -> Substring {
        var text = Substring(text)
        while text.hasSuffix("\n") { text = text.dropLast() }
        return text
    }

    @Test func goldenFilesAreThere() {
        #expect(Golden.cases("syntax-errors.json").count > 100)
        #expect(Golden.cases("one-liners.json").count > 100)
    }

    /// 145 one-liners covering the reference guide's language: all parse; where bpftrace could
    /// finish its parser stage here, our `-d` tree is byte-identical to its.
    @Test(arguments: Golden.cases("one-liners.json"))
    func oneLiner(_ golden: CapturedCase) throws {
        let result = Parser.parse(golden.program)
        #expect(result.diagnostics.isEmpty, "\(renderedDiagnostics(golden.program))")
        let program = try #require(result.program)
        if golden.parses, let tree = golden.tree {
            #expect(ASTPrinter.bpftraceTree(program) == tree)
        }
    }

    @Test func rendersLikeBpftrace() {
        #expect(renderedDiagnostics("BEGIN { @x = 1 +; }") == """
        stdin:1:16-18: ERROR: syntax error, unexpected ;
        BEGIN { @x = 1 +; }
                       ~~

        """)
        // Tabs print as four spaces, their markers as four characters.
        let diagnostic = Diagnostic.warning("careful", at: SourceRange(
            begin: SourcePosition(line: 1, column: 2, offset: 1), end: SourcePosition(line: 1, column: 4, offset: 3)))
        let renderer = DiagnosticRenderer(file: SourceFile(name: "x.bt", text: "\tab c\n"))
        #expect(renderer.render(diagnostic) == "x.bt:1:2-4: WARNING: careful\n    ab c\n    ~~\n")
        // Several lines: only the line range.
        let multi = Diagnostic.error("spans", at: SourceRange(begin: SourcePosition(line: 1, column: 1, offset: 0), end: SourcePosition(line: 2, column: 2, offset: 7)))
        #expect(renderer.render(multi) == "x.bt:1-2: ERROR: spans\n")
    }
}
