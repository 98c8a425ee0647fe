import Testing
@testable import BPFTrace

@Suite struct LexerTests {
    func tokens(_ text: String) -> [Token] {
        var lexer = Lexer(file: SourceFile(name: "t", text: text))
        var tokens: [Token] = []
        while true {
            let token = lexer.next()
            if token.kind == .endOfFile { break }
            tokens.append(token)
        }
        return tokens
    }

    func kinds(_ text: String) -> [Token.Kind] { tokens(text).map(\.kind) }

    @Test func classifiesWordsLikeBpftrace() {
        #expect(kinds("pid comm arg0 arg9 sarg3 arg10 printf count kstack ustack perf bpftrace foo") == [
            .builtin, .builtin, .builtin, .builtin, .builtin, .identifier, .call, .call, .callBuiltin, .callBuiltin,
            .stackMode, .stackMode, .identifier,
        ])
        #expect(kinds("if else unroll while for return continue break") == [.kwIf, .kwElse, .kwUnroll, .kwWhile, .kwFor, .kwReturn, .kwContinue, .kwBreak])
        #expect(kinds("$x $1 $42 $# @ @map @_m2") == [.variable, .positionalParameter, .positionalParameter, .parameterCount, .map, .map, .map])
        #expect(tokens("pidx")[0].kind == .identifier)
    }

    @Test func readsEveryOperator() {
        let text = "+ - * / % & | ^ ~ ! << >> && || == != < <= > >= = += -= *= /= %= &= |= ^= <<= >>= ++ -- -> . ? : , ; ( ) [ ] { }"
        let expected: [Token.Kind] = [
            .plus, .minus, .star, .slash, .percent, .ampersand, .pipe, .caret, .tilde, .bang, .shiftLeft, .shiftRight,
            .logicalAnd, .logicalOr, .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual, .assign, .plusAssign,
            .minusAssign, .starAssign, .slashAssign, .percentAssign, .ampersandAssign, .pipeAssign, .caretAssign,
            .shiftLeftAssign, .shiftRightAssign, .increment, .decrement, .arrow, .dot, .question, .colon, .comma,
            .semicolon, .leftParen, .rightParen, .leftBracket, .rightBracket, .leftBrace, .rightBrace,
        ]
        #expect(kinds(text) == expected)
    }

    @Test func slashBeforeBraceEndsAPredicate() {
        #expect(kinds("/pid/ {") == [.slash, .builtin, .endPredicate, .leftBrace])
        #expect(kinds("a / b") == [.identifier, .slash, .identifier])
        #expect(kinds("a /= b") == [.identifier, .slashAssign, .identifier])
    }

    @Test func integerLiterals() {
        func value(_ text: String) -> UInt64? {
            let all = tokens(text)
            guard all.count == 1, all[0].kind == .integer else { return nil }
            return all[0].integerValue
        }
        #expect(value("0") == 0)
        #expect(value("42") == 42)
        #expect(value("0x1F") == 31)
        #expect(value("0XfF") == 255)
        #expect(value("0777") == 511)
        #expect(value("1_000_000") == 1_000_000)
        #expect(value("1e6") == 1_000_000)
        #expect(value("9e16") == 90_000_000_000_000_000)
        #expect(value("100u") == 100)
        #expect(value("100UL") == 100)
        #expect(value("100ull") == 100)
        #expect(value("100ll") == 100)
        #expect(value("18446744073709551615") == UInt64.max)
        #expect(value("0xffffffffffffffff") == UInt64.max)
    }

    @Test func integerErrorsMatchBpftrace() {
        #expect(IntegerLiteral.parse("18446744073709551616") == .failure(.init(message: "stoull")))
        #expect(IntegerLiteral.parse("09") == .failure(.init(message: "Found trailing non-numeric characters")))
        #expect(IntegerLiteral.parse("1e17") == .failure(.init(message: "Exponent will overflow integer range: 17")))
        #expect(IntegerLiteral.parse("12e2") == .failure(.init(message: "Coefficient part of scientific literal must be in range (0,9), got: 12")))
    }

    @Test func stringEscapes() {
        let all = tokens(#""a\tb\nc\\d\"e\x41\101\x7""#)
        #expect(all.count == 1)
        #expect(all[0].stringValue == Array("a\tb\nc\\d\"eAA".utf8) + [7])
        let high = tokens(#""\xff\377""#)
        #expect(high[0].stringValue == [0xFF, 0xFF])
    }

    @Test func commentsAndShebangAreSkipped() {
        #expect(kinds("#!/usr/bin/bpftrace\n// line\nBEGIN /* block\n comment */ {}") == [.identifier, .leftBrace, .rightBrace])
    }

    @Test func preprocessorLinesAndDefinitionsAreTokens() {
        let all = tokens("#include <linux/sched.h>\nstruct foo { int a; struct { int b; } c; };\n(struct foo *)")
        #expect(all.map(\.kind) == [.preprocessor, .cDefinition, .leftParen, .structTypeName, .star, .rightParen])
        #expect(all[0].text == "#include <linux/sched.h>")
        #expect(all[1].text == "struct foo { int a; struct { int b; } c; };")
        #expect(all[3].text == "struct foo")
    }

    @Test func exactAndReportedRanges() {
        let all = tokens("BEGIN {\n  @x = 1+;\n}")
        let semicolon = all.first { $0.kind == .semicolon }!
        #expect(semicolon.range.begin == SourcePosition(line: 2, column: 10, offset: 17))
        #expect(semicolon.range.end.column == 11)
        #expect(semicolon.range.bytes == 17..<18)
        // bpftrace reports from the end of the last whitespace: "1+;" here.
        #expect(semicolon.reportRange.begin.column == 8)
        let map = all.first { $0.kind == .map }!
        #expect(map.range.begin.line == 2 && map.range.begin.column == 3 && map.text == "@x")
    }

    @Test func attachPointsAreScannedRaw() {
        func scan(_ text: String) -> [String] {
            var lexer = Lexer(file: SourceFile(name: "t", text: text))
            var out: [String] = []
            while let point = lexer.scanAttachPoint() {
                out.append(point.text)
                if lexer.next().kind != .comma { break }
            }
            return out
        }
        #expect(scan("kprobe:vfs_read { }") == ["kprobe:vfs_read"])
        #expect(scan("uprobe:/bin/bash:readline /pid/ {}") == ["uprobe:/bin/bash:readline"])
        #expect(scan("tracepoint:syscalls:sys_enter_*,kprobe:f+0x10 {") == ["tracepoint:syscalls:sys_enter_*", "kprobe:f+0x10"])
        #expect(scan("software:cpu-clock:1000{") == ["software:cpu-clock:1000"])
        #expect(scan("usdt:\"/opt/my app/bin\":prov:probe {") == ["usdt:\"/opt/my app/bin\":prov:probe"])
        #expect(scan("BEGIN/1/{") == ["BEGIN"])
    }
}
