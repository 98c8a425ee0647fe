import Foundation

/// Splits a script into tokens the way bpftrace 0.17's lexer does: the same token classes, the same
/// errors (reported and skipped, so the parser's error follows as in bpftrace), and two ranges per
/// token — the exact one and the one bpftrace reports, which starts after the last whitespace.
///
/// Probe specifiers are not tokenised here in the normal stream: the parser asks for them with
/// `scanAttachPoint()`, because their syntax (`uprobe:/bin/bash:readline`, `kprobe:f+0x10`) is
/// not that of expressions.
public struct Lexer {
    public let file: SourceFile
    public private(set) var diagnostics = DiagnosticList()

    private let bytes: [UInt8]
    private var position = SourcePosition.start
    /// bpftrace's `loc.begin`: moved only over whitespace and newlines (its `loc.step()`).
    private var reportBegin = SourcePosition.start
    /// Columns bpftrace's locations run ahead of the text on this line: its lexer counts the
    /// ')' or '*' that ends a `struct name` type twice (it puts it back and reads it again).
    private var reportDrift = 0

    public init(file: SourceFile) {
        self.file = file
        self.bytes = file.bytes
    }

    public var atEnd: Bool { position.offset >= bytes.count }
    public var currentPosition: SourcePosition { position }

    // MARK: Characters

    private func peek(_ ahead: Int = 0) -> UInt8? {
        let index = position.offset + ahead
        return index < bytes.count ? bytes[index] : nil
    }

    private mutating func advance() {
        guard position.offset < bytes.count else { return }
        if bytes[position.offset] == UInt8(ascii: "\n") {
            position.line += 1
            position.column = 1
            reportDrift = 0
        } else {
            position.column += 1
        }
        position.offset += 1
    }

    private mutating func advance(_ count: Int) {
        for _ in 0..<count { advance() }
    }

    /// bpftrace's `loc.step()`.
    private mutating func step() {
        reportBegin = position
        reportBegin.column += reportDrift
    }

    private var reportEnd: SourcePosition {
        var end = position
        end.column += reportDrift
        return end
    }

    private var reportRange: SourceRange { SourceRange(begin: reportBegin, end: reportEnd) }

    private mutating func error(_ message: String) {
        diagnostics.error(message, at: reportRange)
    }

    private func text(from start: SourcePosition) -> String {
        String(decoding: bytes[start.offset..<position.offset], as: UTF8.self)
    }

    private func makeToken(_ kind: Token.Kind, from start: SourcePosition, text: String? = nil) -> Token {
        Token(kind: kind, text: text ?? self.text(from: start),
              range: SourceRange(begin: start, end: position), reportRange: reportRange)
    }

    static func isIdentStart(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || c == UInt8(ascii: "_")
    }

    /// bpftrace's path characters: [_\-./a-zA-Z0-9#*].
    static func isPathCharacter(_ c: UInt8) -> Bool {
        isIdentChar(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: "/")
            || c == UInt8(ascii: "#") || c == UInt8(ascii: "*")
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    static func isIdentChar(_ c: UInt8) -> Bool { isIdentStart(c) || isDigit(c) }
    static func isHexDigit(_ c: UInt8) -> Bool {
        isDigit(c) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
    }
    static func isHorizontalSpace(_ c: UInt8) -> Bool { c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") }
    static func isSpace(_ c: UInt8) -> Bool {
        isHorizontalSpace(c) || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r")
    }

    // MARK: Whitespace and comments

    /// Skips whitespace, comments and `#!` lines. Returns false if a comment ran to end of file.
    private mutating func skipTrivia() {
        while let c = peek() {
            if Lexer.isSpace(c) {
                while let s = peek(), Lexer.isSpace(s) { advance() }
                step()
            } else if c == UInt8(ascii: "#"), peek(1) == UInt8(ascii: "!"), position.column == 1 {
                while let s = peek(), s != UInt8(ascii: "\n") { advance() }
            } else if c == UInt8(ascii: "/"), peek(1) == UInt8(ascii: "/") {
                while let s = peek(), s != UInt8(ascii: "\n") { advance() }
            } else if c == UInt8(ascii: "/"), peek(1) == UInt8(ascii: "*") {
                advance(2)
                var closed = false
                while let s = peek() {
                    if s == UInt8(ascii: "*"), peek(1) == UInt8(ascii: "/") {
                        advance(2)
                        closed = true
                        break
                    }
                    advance()
                    if s == UInt8(ascii: "\n") { step() }
                }
                if !closed { error("end of file during comment") }
            } else {
                return
            }
        }
    }

    // MARK: Tokens

    public mutating func next() -> Token {
        while true {
            skipTrivia()
            let start = position
            guard let c = peek() else {
                return makeToken(.endOfFile, from: start, text: "")
            }
            if let token = lexOne(c, start: start) { return token }
        }
    }

    /// One token starting at `c`, or nil after an error that produced none (bpftrace reports it
    /// and goes on with the next token).
    private mutating func lexOne(_ c: UInt8, start: SourcePosition) -> Token? {
        if Lexer.isIdentStart(c) { return lexWord(start: start) }
        if Lexer.isDigit(c) { return lexNumber(start: start) }
        switch c {
        case UInt8(ascii: "\""):
            return lexString(start: start)
        case UInt8(ascii: "@"):
            advance()
            if let n = peek(), Lexer.isIdentStart(n) { while let n = peek(), Lexer.isIdentChar(n) { advance() } }
            return makeToken(.map, from: start)
        case UInt8(ascii: "$"):
            if let n = peek(1), Lexer.isDigit(n) {
                advance()
                while let d = peek(), Lexer.isDigit(d) { advance() }
                return makeToken(.positionalParameter, from: start)
            }
            if peek(1) == UInt8(ascii: "#") {
                advance(2)
                return makeToken(.parameterCount, from: start)
            }
            if let n = peek(1), Lexer.isIdentStart(n) {
                advance()
                while let n = peek(), Lexer.isIdentChar(n) { advance() }
                return makeToken(.variable, from: start)
            }
            advance()
            error("invalid character '$'")
            return nil
        case UInt8(ascii: "#"):
            if peek(1) == UInt8(ascii: "!") || peek(1) == nil {
                advance()
                error("invalid character '#'")
                return nil
            }
            while let s = peek(), s != UInt8(ascii: "\n") { advance() }
            return makeToken(.preprocessor, from: start)
        default:
            break
        }
        if let kind = lexOperator(c) {
            return makeToken(kind, from: start)
        }
        advance()
        // flex's `.` matches one byte; report it as bpftrace does.
        let character = c < 0x80 ? String(UnicodeScalar(c)) : String(decoding: [c], as: UTF8.self)
        error("invalid character '\(character)'")
        return nil
    }

    private mutating func lexOperator(_ c: UInt8) -> Token.Kind? {
        let n = peek(1)
        let n2 = peek(2)
        func take(_ count: Int, _ kind: Token.Kind) -> Token.Kind {
            advance(count)
            return kind
        }
        switch c {
        case UInt8(ascii: ":"):
            // As in bpftrace, ':' directly followed by path characters is one "path" token, even
            // in expressions: `a ? b:c` is a syntax error there, and so it is here.
            guard let next = n, Lexer.isPathCharacter(next) || next == UInt8(ascii: "\\") else { return take(1, .colon) }
            advance()
            while let c = peek() {
                if c == UInt8(ascii: "\\"), let escaped = peek(1), escaped != UInt8(ascii: "\n") {
                    advance(2)
                } else if Lexer.isPathCharacter(c) {
                    advance()
                } else {
                    break
                }
            }
            return .attachPoint
        case UInt8(ascii: ";"): return take(1, .semicolon)
        case UInt8(ascii: "{"): return take(1, .leftBrace)
        case UInt8(ascii: "}"): return take(1, .rightBrace)
        case UInt8(ascii: "["): return take(1, .leftBracket)
        case UInt8(ascii: "]"): return take(1, .rightBracket)
        case UInt8(ascii: "("): return take(1, .leftParen)
        case UInt8(ascii: ")"): return take(1, .rightParen)
        case UInt8(ascii: ","): return take(1, .comma)
        case UInt8(ascii: "?"): return take(1, .question)
        case UInt8(ascii: "~"): return take(1, .tilde)
        case UInt8(ascii: "."): return take(1, .dot)
        case UInt8(ascii: "/"):
            // A '/' followed (after optional whitespace) by '/' or '{' closes a predicate.
            var ahead = 1
            while let s = peek(ahead), Lexer.isSpace(s) { ahead += 1 }
            if ahead > 1 || peek(1) != UInt8(ascii: "/") {
                if let s = peek(ahead), s == UInt8(ascii: "/") || s == UInt8(ascii: "{") { return take(1, .endPredicate) }
            }
            return n == UInt8(ascii: "=") ? take(2, .slashAssign) : take(1, .slash)
        case UInt8(ascii: "="): return n == UInt8(ascii: "=") ? take(2, .equal) : take(1, .assign)
        case UInt8(ascii: "!"): return n == UInt8(ascii: "=") ? take(2, .notEqual) : take(1, .bang)
        case UInt8(ascii: "<"):
            if n == UInt8(ascii: "<") { return n2 == UInt8(ascii: "=") ? take(3, .shiftLeftAssign) : take(2, .shiftLeft) }
            return n == UInt8(ascii: "=") ? take(2, .lessEqual) : take(1, .less)
        case UInt8(ascii: ">"):
            if n == UInt8(ascii: ">") { return n2 == UInt8(ascii: "=") ? take(3, .shiftRightAssign) : take(2, .shiftRight) }
            return n == UInt8(ascii: "=") ? take(2, .greaterEqual) : take(1, .greater)
        case UInt8(ascii: "&"):
            if n == UInt8(ascii: "&") { return take(2, .logicalAnd) }
            return n == UInt8(ascii: "=") ? take(2, .ampersandAssign) : take(1, .ampersand)
        case UInt8(ascii: "|"):
            if n == UInt8(ascii: "|") { return take(2, .logicalOr) }
            return n == UInt8(ascii: "=") ? take(2, .pipeAssign) : take(1, .pipe)
        case UInt8(ascii: "^"): return n == UInt8(ascii: "=") ? take(2, .caretAssign) : take(1, .caret)
        case UInt8(ascii: "%"): return n == UInt8(ascii: "=") ? take(2, .percentAssign) : take(1, .percent)
        case UInt8(ascii: "*"): return n == UInt8(ascii: "=") ? take(2, .starAssign) : take(1, .star)
        case UInt8(ascii: "+"):
            if n == UInt8(ascii: "+") { return take(2, .increment) }
            return n == UInt8(ascii: "=") ? take(2, .plusAssign) : take(1, .plus)
        case UInt8(ascii: "-"):
            if n == UInt8(ascii: "-") { return take(2, .decrement) }
            if n == UInt8(ascii: ">") { return take(2, .arrow) }
            return n == UInt8(ascii: "=") ? take(2, .minusAssign) : take(1, .minus)
        default:
            return nil
        }
    }

    private mutating func lexWord(start: SourcePosition) -> Token? {
        while let c = peek(), Lexer.isIdentChar(c) { advance() }
        let word = text(from: start)
        switch word {
        case "struct", "union", "enum":
            return lexStructOrType(keyword: word, start: start)
        case "if": return makeToken(.kwIf, from: start)
        case "else": return makeToken(.kwElse, from: start)
        case "unroll": return makeToken(.kwUnroll, from: start)
        case "while": return makeToken(.kwWhile, from: start)
        case "for": return makeToken(.kwFor, from: start)
        case "return": return makeToken(.kwReturn, from: start)
        case "continue": return makeToken(.kwContinue, from: start)
        case "break": return makeToken(.kwBreak, from: start)
        default:
            return makeToken(BPFTraceLanguage.tokenKind(ofWord: word), from: start)
        }
    }

    /// After `struct`/`union`/`enum`, as bpftrace's lexer does: text up to the first '{', ')' or
    /// '*'. A '{' makes it a definition (kept whole, to the matching brace and a `;` right after
    /// it, for the C side); ')' or '*' makes it a type name in a cast or sizeof (`struct x`).
    private mutating func lexStructOrType(keyword: String, start: SourcePosition) -> Token? {
        // bpftrace does not step its location over the spaces in here, only over newlines.
        while let c = peek(), c != UInt8(ascii: ")"), c != UInt8(ascii: "*"), c != UInt8(ascii: "{") {
            let wasNewline = c == UInt8(ascii: "\n")
            advance()
            if wasNewline { step() }
        }
        guard let end = peek() else {
            // bpftrace's lexer ends the input here without a message.
            return makeToken(.endOfFile, from: position, text: "")
        }
        if end == UInt8(ascii: "{") {
            var depth = 0
            while let c = peek() {
                advance()
                if c == UInt8(ascii: "\n") { step() }
                if c == UInt8(ascii: "{") { depth += 1 }
                if c == UInt8(ascii: "}") {
                    depth -= 1
                    if depth == 0 { break }
                }
            }
            if depth != 0 { return makeToken(.endOfFile, from: position, text: "") }
            if peek() == UInt8(ascii: ";") { advance() }
            return makeToken(.cDefinition, from: start)
        }
        // The ')' or '*' is read twice by bpftrace, which puts its columns one ahead.
        let written = String(decoding: bytes[(start.offset + keyword.utf8.count)..<position.offset], as: UTF8.self)
        let typeName = written.trimmingCharacters(in: .whitespacesAndNewlines)
        reportDrift += 1
        var token = makeToken(.structTypeName, from: start, text: typeName.isEmpty ? keyword : keyword + " " + typeName)
        // The exact range ends at the name.
        let trailing = written.utf8.reversed().prefix { Lexer.isSpace($0) }.count
        if trailing > 0, !written.utf8.contains(UInt8(ascii: "\n")) {
            token.range.end.offset -= trailing
            token.range.end.column -= trailing
        }
        return token
    }

    private mutating func lexNumber(start: SourcePosition) -> Token? {
        // hex: 0[xX][0-9a-fA-F]+
        if peek() == UInt8(ascii: "0"), let x = peek(1), x == UInt8(ascii: "x") || x == UInt8(ascii: "X"), let h = peek(2), Lexer.isHexDigit(h) {
            advance(2)
            while let h = peek(), Lexer.isHexDigit(h) { advance() }
            return integerToken(from: start)
        }
        scanDecimalDigits()
        // exponent: {int}[eE]{int}
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E"), let d = peek(1), Lexer.isDigit(d) {
            advance()
            scanDecimalDigits()
            return integerToken(from: start)
        }
        // size suffix: u, l, ll, ul, ull (any case), as C allows.
        var suffix = 0
        if let u = peek(), u == UInt8(ascii: "u") || u == UInt8(ascii: "U") { suffix = 1 }
        if let l = peek(suffix), l == UInt8(ascii: "l") || l == UInt8(ascii: "L") {
            suffix += 1
            if let l2 = peek(suffix), l2 == UInt8(ascii: "l") || l2 == UInt8(ascii: "L") { suffix += 1 }
        }
        advance(suffix)
        return integerToken(from: start)
    }

    /// [0-9]([0-9_]*[0-9])? — underscores only between digits.
    private mutating func scanDecimalDigits() {
        guard let first = peek(), Lexer.isDigit(first) else { return }
        advance()
        while true {
            var ahead = 0
            while peek(ahead) == UInt8(ascii: "_") { ahead += 1 }
            guard let d = peek(ahead), Lexer.isDigit(d) else { return }
            advance(ahead + 1)
        }
    }

    private mutating func integerToken(from start: SourcePosition) -> Token? {
        let spelling = text(from: start)
        switch IntegerLiteral.parse(spelling) {
        case .success(let value):
            var token = makeToken(.integer, from: start)
            token.integerValue = value
            return token
        case .failure(let failure):
            error(failure.message)
            return nil
        }
    }

    private mutating func lexString(start: SourcePosition) -> Token? {
        advance()
        var value: [UInt8] = []
        while let c = peek() {
            switch c {
            case UInt8(ascii: "\""):
                advance()
                var token = makeToken(.string, from: start)
                token.stringValue = value
                token.text = String(decoding: value, as: UTF8.self)
                return token
            case UInt8(ascii: "\n"):
                let driftBeforeNewline = reportDrift
                advance()
                // bpftrace counts the newline into the location before reporting it.
                diagnostics.error("unterminated string", at: SourceRange(begin: reportBegin, end: SourcePosition(line: position.line - 1, column: columnAfterNewline() + driftBeforeNewline, offset: position.offset)))
                step()
                return nil
            case UInt8(ascii: "\\"):
                guard let e = peek(1), e != UInt8(ascii: "\n") else {
                    advance()
                    error("invalid character")
                    return nil
                }
                switch e {
                case UInt8(ascii: "n"): value.append(0x0A); advance(2)
                case UInt8(ascii: "t"): value.append(0x09); advance(2)
                case UInt8(ascii: "r"): value.append(0x0D); advance(2)
                case UInt8(ascii: "\""): value.append(0x22); advance(2)
                case UInt8(ascii: "\\"): value.append(0x5C); advance(2)
                case UInt8(ascii: "x"), UInt8(ascii: "X"):
                    guard let h = peek(2), Lexer.isHexDigit(h) else {
                        advance(2)
                        error("invalid escape character '\\\(String(UnicodeScalar(e)))'")
                        continue
                    }
                    var count = 1
                    if let h2 = peek(3), Lexer.isHexDigit(h2) { count = 2 }
                    let digits = String(decoding: bytes[(position.offset + 2)..<(position.offset + 2 + count)], as: UTF8.self)
                    value.append(UInt8(digits, radix: 16) ?? 0)
                    advance(2 + count)
                case UInt8(ascii: "0")...UInt8(ascii: "7"):
                    var count = 1
                    while count < 3, let o = peek(1 + count), o >= UInt8(ascii: "0"), o <= UInt8(ascii: "7") { count += 1 }
                    let digits = String(decoding: bytes[(position.offset + 1)..<(position.offset + 1 + count)], as: UTF8.self)
                    let octal = Int(digits, radix: 8) ?? 0
                    advance(1 + count)
                    if octal > 255 { error("octal escape sequence out of range '\\\(digits)'") }
                    value.append(UInt8(truncatingIfNeeded: octal))
                default:
                    let escaped = e < 0x80 ? String(UnicodeScalar(e)) : String(decoding: [e], as: UTF8.self)
                    advance(2)
                    error("invalid escape character '\\\(escaped)'")
                }
            default:
                value.append(c)
                advance()
            }
        }
        error("unterminated string")
        return nil
    }

    /// The column just past a newline on the line it ends (for bpftrace's string error range).
    private func columnAfterNewline() -> Int {
        var index = position.offset - 1
        var column = 1
        while index > 0, bytes[index - 1] != UInt8(ascii: "\n") {
            index -= 1
            column += 1
        }
        return column + 1
    }

    // MARK: Probe specifiers

    /// Reads one probe specifier (an attach point) as raw text, on the parser's request at the
    /// start of a probe or after a ',' between attach points. Returns nil when the next text
    /// cannot start one. Accepted: names, `:`-separated fields, paths after a ':' (which may hold
    /// '/' and '-'), quoted strings, wildcards `*` `?` `[...]`, `+offset`, `$N` parameters.
    public mutating func scanAttachPoint() -> Token? {
        skipTrivia()
        let start = position
        // Inside a bpftrace PATH token (':' and the path characters after it).
        var inPath = false
        var text: [UInt8] = []
        scan: while let c = peek() {
            switch c {
            case _ where Lexer.isSpace(c):
                // bpftrace joins the tokens of a specifier across whitespace (`kprobe: f`); stop
                // where the next text cannot continue one.
                var ahead = 0
                while let s = peek(ahead), Lexer.isSpace(s) { ahead += 1 }
                guard let next = peek(ahead), Lexer.continuesAttachPoint(next, following: peek(ahead + 1)) else { break scan }
                while let s = peek(), Lexer.isSpace(s) { advance() }
                step()
            case UInt8(ascii: "$"):
                // Only positional parameters (`uprobe:$1:f`); `$name` ends the specifier.
                guard let d = peek(1), Lexer.isDigit(d) else { break scan }
                text.append(c)
                advance()
                while let d = peek(), Lexer.isDigit(d) {
                    text.append(d)
                    advance()
                }
            case UInt8(ascii: ":"):
                inPath = true
                text.append(c)
                advance()
                continue scan
            case UInt8(ascii: "\""):
                // A quoted field (USDT paths with spaces): keep quotes in the raw text.
                text.append(c)
                advance()
                while let s = peek(), s != UInt8(ascii: "\""), s != UInt8(ascii: "\n") {
                    if s == UInt8(ascii: "\\"), let n = peek(1), n != UInt8(ascii: "\n") {
                        text.append(s)
                        advance()
                        text.append(n)
                        advance()
                        continue
                    }
                    text.append(s)
                    advance()
                }
                if peek() == UInt8(ascii: "\n") {
                    // As bpftrace: the string is dropped, its error counts the newline, and the
                    // specifier goes on on the next line.
                    let drift = reportDrift
                    advance()
                    diagnostics.error("unterminated string", at: SourceRange(begin: reportBegin, end: SourcePosition(line: position.line - 1, column: columnAfterNewline() + drift, offset: position.offset)))
                    step()
                    text.removeLast()
                    continue scan
                }
                guard peek() == UInt8(ascii: "\"") else {
                    error("unterminated string")
                    break scan
                }
                text.append(UInt8(ascii: "\""))
                advance()
            case UInt8(ascii: "\\") where inPath:
                guard let n = peek(1), !Lexer.isSpace(n) else { break scan }
                text.append(c)
                text.append(n)
                advance(2)
            case UInt8(ascii: "/"), UInt8(ascii: "-"), UInt8(ascii: "#"):
                // Only inside a path (`uprobe:/bin/sh`, right after a ':'); elsewhere '/' opens
                // a predicate.
                guard inPath else { break scan }
                text.append(c)
                advance()
            case UInt8(ascii: "*"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "["), UInt8(ascii: "]"):
                // `++`, `+=`, `*=` are operator tokens in bpftrace and end the specifier.
                if c == UInt8(ascii: "+") || c == UInt8(ascii: "*"), let n = peek(1),
                   n == UInt8(ascii: "=") || (c == UInt8(ascii: "+") && n == UInt8(ascii: "+")), !(inPath && c == UInt8(ascii: "*")) {
                    break scan
                }
                text.append(c)
                advance()
            default:
                guard Lexer.isIdentChar(c) else { break scan }
                if !inPath, Lexer.isIdentStart(c) {
                    // A word outside a path is a token of its own: keywords end the specifier.
                    var end = 0
                    while let w = peek(end), Lexer.isIdentChar(w) { end += 1 }
                    let word = String(decoding: bytes[position.offset..<(position.offset + end)], as: UTF8.self)
                    if Lexer.keywords.contains(word) { break scan }
                    text.append(contentsOf: bytes[position.offset..<(position.offset + end)])
                    advance(end)
                    continue scan
                }
                text.append(c)
                advance()
            }
            if !(inPath && (Lexer.isPathCharacter(c) || c == UInt8(ascii: "\\"))) { inPath = false }
        }
        guard position.offset > start.offset else { return nil }
        return makeToken(.attachPoint, from: start, text: String(decoding: text, as: UTF8.self))
    }

    static let keywords: Set<String> = ["if", "else", "unroll", "while", "for", "return", "continue", "break", "struct", "union", "enum"]

    static func continuesAttachPoint(_ c: UInt8, following: UInt8?) -> Bool {
        if isIdentChar(c) { return true }
        switch c {
        case UInt8(ascii: ":"), UInt8(ascii: "*"), UInt8(ascii: "."), UInt8(ascii: "+"),
             UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "\""):
            return true
        case UInt8(ascii: "$"):
            return following.map(isDigit) ?? false
        default:
            return false
        }
    }

    /// Saves and restores the lexer, for the parser's one-token lookahead across modes.
    public struct Checkpoint {
        fileprivate var position: SourcePosition
        fileprivate var reportBegin: SourcePosition
        fileprivate var reportDrift: Int
        fileprivate var diagnosticCount: Int
    }

    public var checkpoint: Checkpoint {
        Checkpoint(position: position, reportBegin: reportBegin, reportDrift: reportDrift, diagnosticCount: diagnostics.all.count)
    }

    public mutating func restore(_ checkpoint: Checkpoint) {
        position = checkpoint.position
        reportBegin = checkpoint.reportBegin
        reportDrift = checkpoint.reportDrift
        diagnostics.truncate(to: checkpoint.diagnosticCount)
    }
}

/// Integer literal values, parsed as bpftrace does (C `strtoull` with base 0 after removing
/// underscores: leading `0x` hex, leading `0` octal; `NeM` scientific with N in 0...9, M ≤ 16).
public enum IntegerLiteral {
    public struct Failure: Error, Equatable {
        public var message: String
    }

    public static func parse(_ spelling: String) -> Result<UInt64, Failure> {
        let digits = spelling.filter { $0 != "_" }
        let lower = digits.lowercased()
        if lower.hasPrefix("0x") {
            guard let value = UInt64(lower.dropFirst(2), radix: 16) else { return .failure(Failure(message: "stoull")) }
            return .success(value)
        }
        if let e = lower.firstIndex(of: "e") {
            let coefficient = String(lower[..<e])
            let exponent = String(lower[lower.index(after: e)...])
            guard let c = UInt64(coefficient) else {
                return .failure(Failure(message: "Coefficient part of scientific literal is not a valid number: \(coefficient): stoull"))
            }
            guard let x = UInt64(exponent) else {
                return .failure(Failure(message: "Exponent part of scientific literal is not a valid number: \(exponent): stoull"))
            }
            if c > 9 { return .failure(Failure(message: "Coefficient part of scientific literal must be in range (0,9), got: \(coefficient)")) }
            if x > 16 { return .failure(Failure(message: "Exponent will overflow integer range: \(exponent)")) }
            var power: UInt64 = 1
            for _ in 0..<x { power *= 10 }
            return .success(c * power)
        }
        // Strip a C size suffix (u, l, ll, ul, ull).
        var body = Substring(lower)
        while let last = body.last, last == "u" || last == "l" { body = body.dropLast() }
        if body.count > 1, body.hasPrefix("0") {
            // Octal: digits up to the first non-octal one; anything after is trailing garbage.
            let octalDigits = body.prefix { $0 >= "0" && $0 <= "7" }
            guard octalDigits.count == body.count else { return .failure(Failure(message: "Found trailing non-numeric characters")) }
            guard let value = UInt64(octalDigits, radix: 8) else { return .failure(Failure(message: "stoull")) }
            return .success(value)
        }
        guard let value = UInt64(body) else { return .failure(Failure(message: "stoull")) }
        return .success(value)
    }
}
