import Foundation
import Testing
@testable import BPFTrace

/// Malformed and hostile input gives diagnostics, never a trap or a stack overflow.
@Suite struct RobustnessTests {
    static let seeds = [
        "kprobe:vfs_read /pid == 1 && comm != \"x\"/ { @[kstack(perf, 3)] = count(); $x = (struct task_struct *)curtask; printf(\"%d\\n\", $x->pid); }",
        "#include <linux/sched.h>\nstruct s { int a; };\nBEGIN { if ($1 > 0) { @x = 1 } else if (2) { @y[1, \"a\"]++ } while ($i < 3) { $i++ } unroll(2) { @z = (1, 2).0 } }",
        "uprobe:/bin/bash:readline, t:syscalls:sys_enter_* { @s = hist(retval); delete(@s); $t = 0x10 << 2 ? -1 : ~0; }",
    ]

    @Test func everyPrefixOfValidScripts() {
        for seed in Self.seeds {
            let bytes = Array(seed.utf8)
            for length in 0...bytes.count {
                let text = String(decoding: bytes[..<length], as: UTF8.self)
                let result = Parser.parse(text)
                if length < bytes.count, result.succeeded {
                    // A prefix may be complete; then it must print.
                    _ = ASTPrinter.bpftraceTree(result.program!)
                }
                _ = renderedDiagnostics(text)
            }
        }
    }

    @Test func randomMutationsNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("{}()[]/;:,.@$#\"\\*+-<>=!~&|^?%0123456789abcxyz_ \n\t".utf8) + [0x00, 0xFF, 0xC3]
        for seed in Self.seeds {
            for _ in 0..<400 {
                var bytes = Array(seed.utf8)
                for _ in 0..<Int.random(in: 1...6, using: &generator) {
                    let position = Int.random(in: 0...bytes.count, using: &generator)
                    switch Int.random(in: 0..<3, using: &generator) {
                    case 0 where position < bytes.count: bytes.remove(at: position)
                    case 1: bytes.insert(alphabet.randomElement(using: &generator)!, at: position)
                    default: if position < bytes.count { bytes[position] = alphabet.randomElement(using: &generator)! }
                    }
                }
                let text = String(decoding: bytes, as: UTF8.self)
                let result = Parser.parse(text)
                if let program = result.program {
                    _ = ASTPrinter.bpftraceTree(program)
                    _ = ASTPrinter.sExpression(program)
                }
                _ = DiagnosticRenderer(file: SourceFile(name: "stdin", text: text)).render(result.diagnostics)
            }
        }
    }

    /// Hostile input, named briefly so test output stays readable.
    struct Hostile: CustomTestStringConvertible, Sendable {
        var text: String
        var testDescription: String { String(text.prefix(24)) + "… (\(text.utf8.count) bytes)" }
    }

    @Test(arguments: [
        String(repeating: "(", count: 100_000) + "1",
        "BEGIN { $x = " + String(repeating: "(", count: 100_000) + "1" + String(repeating: ")", count: 100_000) + "}",
        "BEGIN { $x = " + String(repeating: "-", count: 100_000) + "$y }",
        "BEGIN { $x = " + String(repeating: "!", count: 100_000) + "1 }",
        "BEGIN { $x = " + String(repeating: "*", count: 100_000) + "arg0 }",
        "BEGIN " + String(repeating: "{ if (1) ", count: 50_000) + "{}",
        "BEGIN { " + String(repeating: "if (1) {} else ", count: 50_000) + "{} }",
        "BEGIN { $x = " + String(repeating: "1 ? ", count: 50_000) + "1 }",
        "BEGIN { $x = 1 ? 2 : " + String(repeating: "1 ? 2 : ", count: 50_000) + "3 }",
        "BEGIN { $x = " + String(repeating: "(uint8)", count: 50_000) + "1 }",
        "BEGIN { $x = " + String(repeating: "f(", count: 50_000) + " }",
        "BEGIN { $x = " + String(repeating: "printf(", count: 50_000) + " }",
        "BEGIN { $x = " + String(repeating: "@m[", count: 50_000) + " }",
        "BEGIN { $x = @t" + String(repeating: ".0", count: 100_000) + " }",
        "BEGIN { $x = 1" + String(repeating: " + 1", count: 100_000) + " }",
    ].map(Hostile.init))
    func deepNestingIsRefused(_ input: Hostile) {
        let result = Parser.parse(input.text)
        if !result.succeeded {
            let message = result.diagnostics.last?.message ?? ""
            #expect(message.contains("too deeply nested") || message.hasPrefix("syntax error") || message.hasPrefix("Unknown function"), "\(message)")
        }
    }

    @Test func deepNestingMessage() {
        let text = "BEGIN { $x = " + String(repeating: "(", count: 1000) + "1" + String(repeating: ")", count: 1000) + "; }"
        let result = Parser.parse(text)
        #expect(result.diagnostics.count == 1)
        #expect(result.diagnostics.first?.message.hasPrefix("too deeply nested") == true)
        // Just under the limit is fine.
        let fine = "BEGIN { $x = " + String(repeating: "(", count: 50) + "1" + String(repeating: ")", count: 50) + "; }"
        #expect(Parser.parse(fine).succeeded)
    }

    @Test func hugeAndOddLiterals() {
        #expect(renderedDiagnostics("BEGIN { @x = 18446744073709551616 }").contains("ERROR: stoull"))
        #expect(renderedDiagnostics("BEGIN { @x = 0x1ffffffffffffffff }").contains("ERROR: stoull"))
        #expect(renderedDiagnostics("BEGIN { @x = " + String(repeating: "9", count: 10_000) + " }").contains("ERROR: stoull"))
        #expect(renderedDiagnostics("BEGIN { @x = $99999999999999999999 }").contains("is out of integer range"))
        #expect(renderedDiagnostics("BEGIN { @x = \"" + String(repeating: "a", count: 100_000)).contains("unterminated string"))
        #expect(renderedDiagnostics("BEGIN { /* " + String(repeating: "x", count: 100_000)).contains("end of file during comment"))
        #expect(renderedDiagnostics("struct x { int a;").contains("ERROR"))
        // 0xffffffffffffffff is -1 in bpftrace's signed literal.
        #expect(statement("$x = 0xffffffffffffffff") == "(= $x -1)")
    }

    @Test func emptyAndBlankInput() {
        for text in ["", " ", "\n\n", "// only a comment", "/* */", "#include <x.h>"] {
            let result = Parser.parse(text)
            #expect(!result.succeeded)
            #expect(!result.diagnostics.isEmpty)
        }
    }
}
