import Foundation
import Testing
import TestSupport
@testable import BPFTrace

/// The tools the Debian bpftrace package installs as /usr/sbin/*.bt: every one parses, and its
/// `-d` tree matches the one bpftrace itself prints for it (run live, `-d` is a dry run).
/// Needs the `bpftrace` package (scripts/setup.sh installs it); skipped with the reason otherwise.
@Suite struct ToolCorpusTests {
    static let tools: [String] = {
        let directory = "/usr/sbin"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".bt") }.sorted().map { directory + "/" + $0 }
    }()

    static let bpftrace: String? = ["/usr/bin/bpftrace", "/usr/sbin/bpftrace"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: !tools.isEmpty, "no /usr/sbin/*.bt: install the bpftrace package (scripts/setup.sh does)"))
    func everyToolParses() throws {
        #expect(Self.tools.count >= 30)
        for path in Self.tools {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let result = Parser.parse(SourceFile(name: path, text: text))
            #expect(result.succeeded, "\(path): \(DiagnosticRenderer(file: SourceFile(name: path, text: text)).render(result.diagnostics))")
        }
    }

    @Test(.enabled(if: !tools.isEmpty && bpftrace != nil, "bpftrace is not installed (scripts/setup.sh installs it)"))
    func treesMatchBpftrace() throws {
        var compared = 0
        for path in Self.tools {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            guard let program = Parser.parse(SourceFile(name: path, text: text)).program,
                  let theirs = try Self.bpftraceTree(path) else { continue }
            let ours = ASTPrinter.bpftraceTree(program)
            let difference = Self.firstDifference(ours: ours, theirs: theirs)
            #expect(difference == nil, "\(path): \(difference ?? "")")
            compared += 1
        }
        #expect(compared >= 30)
    }

    /// Runs `bpftrace -d FILE` and cuts the "AST after: parser" tree out of its output.
    static func bpftraceTree(_ path: String) throws -> String? {
        let text = try ChildProcess.run(bpftrace!, ["-d", path]).stdout
        guard let start = text.range(of: "AST after: parser\n-------------------\n") else { return nil }
        var tree = String(text[start.upperBound...])
        if let end = tree.range(of: "\nAST after") { tree = String(tree[..<end.lowerBound]) }
        tree = tree.replacingOccurrences(of: " :: type[none, ctx: 0]", with: "")
        while tree.hasSuffix("\n") { tree.removeLast() }
        return tree + "\n"
    }

    /// The first line that differs, allowing what bpftrace does beyond parsing: it resolves a
    /// library name to a path (`uprobe:libc:f` → `uprobe:/lib/.../libc.so.6:f`) and replaces
    /// macros from included headers by their values (`AF_INET` → `2`); those belong to later passes.
    static func firstDifference(ours: String, theirs: String) -> String? {
        let a = ours.split(separator: "\n", omittingEmptySubsequences: false)
        let b = theirs.split(separator: "\n", omittingEmptySubsequences: false)
        guard a.count == b.count else { return "line count \(a.count) vs bpftrace's \(b.count)" }
        for (mine, expected) in zip(a, b) where mine != expected {
            let m = mine.trimmingCharacters(in: .whitespaces)
            let e = expected.trimmingCharacters(in: .whitespaces)
            if m.hasPrefix("identifier: "), e.hasPrefix("int: "),
               m.dropFirst("identifier: ".count).allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }) {
                continue
            }
            let mineFields = m.split(separator: ":", omittingEmptySubsequences: false)
            let expectedFields = e.split(separator: ":", omittingEmptySubsequences: false)
            if mineFields.count == 3, expectedFields.count == 3, mineFields[0] == expectedFields[0], mineFields[2] == expectedFields[2],
               expectedFields[1].hasPrefix("/"), expectedFields[1].contains(mineFields[1].hasPrefix("lib") ? mineFields[1] : "lib" + mineFields[1]) {
                continue
            }
            return "ours: \(mine)\nbpftrace: \(expected)"
        }
        return nil
    }
}
