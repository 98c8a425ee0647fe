import Foundation

/// The integer constants a script gets from its `#include`s and `#define`s: bpftrace runs the C
/// preprocessor over them; we read object-like `#define NAME VALUE` lines ourselves, following
/// includes (with `#if`/`#ifdef`/`#ifndef`/`#else`/`#endif`) through the headers that exist, and
/// evaluate the values that are integer expressions (`AF_INET` → `PF_INET` → 2). Function-like
/// macros and anything that is not an integer expression are left out.
///
/// Pure: headers are read through `readHeader`, so tests need no file system.
public struct HeaderMacros {
    /// Where `<...>` headers are looked up, in order (glibc's multiarch directory first).
    public static let systemIncludeDirectories = ["/usr/local/include", "/usr/include/x86_64-linux-gnu", "/usr/include/aarch64-linux-gnu", "/usr/include"]

    /// Macros bpftrace defines for scripts (we have kernel BTF, so scripts take their BTF branch).
    public static let predefined: [String: String] = ["BPFTRACE_HAVE_BTF": "1", "__x86_64__": "1", "__linux__": "1", "__GNUC__": "4"]

    /// Macro bodies by name (text after the name), as the preprocessor saw them.
    public private(set) var definitions: [String: String]
    private let readHeader: (String) -> String?
    private var visited: Set<String> = []
    private static let maxIncludeDepth = 32
    private static let maxEvaluationDepth = 32

    /// `readHeader` returns a header's text for a path, or nil when it does not exist.
    public init(readHeader: @escaping (String) -> String?) {
        self.readHeader = readHeader
        self.definitions = Self.predefined
    }

    /// Runs the script's preprocessor lines (in order).
    public mutating func process(scriptLines: [String]) {
        run(scriptLines, directory: nil, depth: 0)
    }

    /// The integer value of macro `name`, or nil when it is unknown or not an integer expression.
    public func value(of name: String) -> Int64? {
        evaluate(name, depth: 0)
    }

    // MARK: Directives

    private mutating func run(_ lines: [String], directory: String?, depth: Int) {
        // Each open conditional: whether its current branch is taken, and whether any was.
        var conditions: [(active: Bool, taken: Bool)] = []
        var isActive: Bool { conditions.allSatisfy(\.active) }
        for line in lines {
            let directive = line.drop { $0 == " " || $0 == "\t" }
            guard directive.first == "#" else { continue }
            let body = directive.dropFirst().drop { $0 == " " || $0 == "\t" }
            let keyword = String(body.prefix { $0.isLetter })
            let rest = String(body.dropFirst(keyword.count)).trimmingSpaces()
            switch keyword {
            case "ifdef", "ifndef":
                let defined = definitions[rest.prefix { !$0.isWhitespace }.description] != nil
                let active = keyword == "ifdef" ? defined : !defined
                conditions.append((active, active))
            case "if":
                let active = isActive && condition(rest)
                conditions.append((active, active))
            case "elif":
                guard let last = conditions.popLast() else { continue }
                let active = !last.taken && conditions.allSatisfy(\.active) && condition(rest)
                conditions.append((active, last.taken || active))
            case "else":
                guard let last = conditions.popLast() else { continue }
                conditions.append((!last.taken, true))
            case "endif":
                _ = conditions.popLast()
            case "define" where isActive:
                define(rest)
            case "undef" where isActive:
                definitions[rest] = nil
            case "include" where isActive:
                include(rest, from: directory, depth: depth)
            default:
                break
            }
        }
    }

    private mutating func define(_ text: String) {
        let name = String(text.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
        guard !name.isEmpty else { return }
        let after = text.dropFirst(name.count)
        // `NAME(` is a function-like macro: not a constant.
        guard after.first != "(" else { return }
        definitions[name] = Self.withoutComments(String(after)).trimmingSpaces()
    }

    private mutating func include(_ text: String, from directory: String?, depth: Int) {
        guard depth < Self.maxIncludeDepth, let open = text.first, open == "<" || open == "\"" else { return }
        let close: Character = open == "<" ? ">" : "\""
        let name = text.dropFirst().prefix { $0 != close }
        var candidates = Self.systemIncludeDirectories.map { $0 + "/" + name }
        if open == "\"", let directory { candidates.insert(directory + "/" + name, at: 0) }
        for path in candidates {
            guard let contents = readHeader(path) else { continue }
            guard visited.insert(path).inserted else { return }
            let directoryOfHeader = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
            run(Self.logicalLines(contents), directory: directoryOfHeader, depth: depth + 1)
            return
        }
    }

    /// `#if` conditions: `defined(X)`, `!defined X`, integers and macros, `&&`, `||`; anything
    /// else counts as false, as an unknown identifier does for the C preprocessor.
    private func condition(_ text: String) -> Bool {
        var expression = Self.withoutComments(text)
        // Replace defined(X) / defined X by 1 or 0 first.
        while let range = expression.range(of: "defined") {
            var rest = expression[range.upperBound...].drop { $0 == " " }
            let parenthesized = rest.first == "("
            if parenthesized { rest = rest.dropFirst().drop { $0 == " " } }
            let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            var end = name.endIndex
            if parenthesized, let closing = expression[end...].firstIndex(of: ")") { end = expression.index(after: closing) }
            expression.replaceSubrange(range.lowerBound..<end, with: definitions[String(name)] != nil ? "1" : "0")
        }
        var parsed = IntegerExpression(expression, lookup: { evaluate($0, depth: 1) })
        return (parsed.value() ?? 0) != 0
    }

    private func evaluate(_ name: String, depth: Int) -> Int64? {
        guard depth < Self.maxEvaluationDepth, let body = definitions[name], !body.isEmpty else { return nil }
        var parsed = IntegerExpression(body, lookup: { evaluate($0, depth: depth + 1) })
        return parsed.value()
    }

    // MARK: Text

    /// Lines with backslash continuations joined.
    static func logicalLines(_ text: String) -> [String] {
        var lines: [String] = []
        var pending = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasSuffix("\\") {
                pending += line.dropLast() + " "
            } else {
                lines.append(pending + line)
                pending = ""
            }
        }
        if !pending.isEmpty { lines.append(pending) }
        return lines
    }

    static func withoutComments(_ text: String) -> String {
        var result = text
        while let start = result.range(of: "/*") {
            let end = result.range(of: "*/", range: start.upperBound..<result.endIndex)?.upperBound ?? result.endIndex
            result.replaceSubrange(start.lowerBound..<end, with: " ")
        }
        if let lineComment = result.range(of: "//") { result = String(result[..<lineComment.lowerBound]) }
        return result
    }
}

/// A C integer constant expression: literals (decimal, hex, octal, with U/L suffixes), macro
/// names, parentheses, integer casts (`(int)`, `(unsigned long)`), unary `- ~ !` and binary
/// `* / % + - << >> & ^ | && ||` and comparisons, with C precedence.
struct IntegerExpression {
    private var tokens: [String]
    private var position = 0
    private let lookup: (String) -> Int64?

    init(_ text: String, lookup: @escaping (String) -> Int64?) {
        self.lookup = lookup
        tokens = Self.tokenize(text)
    }

    mutating func value() -> Int64? {
        guard !tokens.isEmpty, let result = parse(precedence: 0), position == tokens.count else { return nil }
        return result
    }

    private static let binaryPrecedence: [String: Int] = [
        "||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6, "<": 7, ">": 7, "<=": 7, ">=": 7,
        "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10,
    ]

    private mutating func parse(precedence minimum: Int) -> Int64? {
        guard var left = unary() else { return nil }
        while position < tokens.count, let precedence = Self.binaryPrecedence[tokens[position]], precedence > minimum {
            let op = tokens[position]
            position += 1
            guard let right = parse(precedence: precedence) else { return nil }
            switch op {
            case "||": left = (left != 0 || right != 0) ? 1 : 0
            case "&&": left = (left != 0 && right != 0) ? 1 : 0
            case "|": left |= right
            case "^": left ^= right
            case "&": left &= right
            case "==": left = left == right ? 1 : 0
            case "!=": left = left != right ? 1 : 0
            case "<": left = left < right ? 1 : 0
            case ">": left = left > right ? 1 : 0
            case "<=": left = left <= right ? 1 : 0
            case ">=": left = left >= right ? 1 : 0
            case "<<": left = right >= 0 && right < 64 ? left << right : 0
            case ">>": left = right >= 0 && right < 64 ? left >> right : 0
            case "+": left = left &+ right
            case "-": left = left &- right
            case "*": left = left &* right
            case "/": guard right != 0 else { return nil }; left = left == .min && right == -1 ? left : left / right
            case "%": guard right != 0 else { return nil }; left = right == -1 ? 0 : left % right
            default: return nil
            }
        }
        return left
    }

    private static let castWords: Set<String> = ["int", "unsigned", "signed", "long", "short", "char", "__u32", "__u64", "__s32", "__s64", "u32", "u64", "s32", "s64", "size_t"]

    private mutating func unary() -> Int64? {
        guard position < tokens.count else { return nil }
        let token = tokens[position]
        position += 1
        switch token {
        case "-": return unary().map { 0 &- $0 }
        case "+": return unary()
        case "~": return unary().map { ~$0 }
        case "!": return unary().map { $0 == 0 ? 1 : 0 }
        case "(":
            // A cast: `(unsigned int)X`.
            var end = position
            while end < tokens.count, Self.castWords.contains(tokens[end]) { end += 1 }
            if end > position, end < tokens.count, tokens[end] == ")" {
                position = end + 1
                return unary()
            }
            guard let inner = parse(precedence: 0), position < tokens.count, tokens[position] == ")" else { return nil }
            position += 1
            return inner
        default:
            if let first = token.first, first.isNumber { return Self.literal(token) }
            if let first = token.first, first.isLetter || first == "_" { return lookup(token) }
            return nil
        }
    }

    static func literal(_ token: String) -> Int64? {
        var digits = Substring(token)
        while let last = digits.last, "uUlL".contains(last) { digits = digits.dropLast() }
        let text = String(digits).lowercased()
        if text.hasPrefix("0x") { return UInt64(text.dropFirst(2), radix: 16).map { Int64(bitPattern: $0) } }
        if text.count > 1, text.hasPrefix("0") { return UInt64(text.dropFirst(), radix: 8).map { Int64(bitPattern: $0) } }
        return UInt64(text).map { Int64(bitPattern: $0) }
    }

    static func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        let characters = Array(text)
        var index = 0
        let twoCharacter: Set<String> = ["<<", ">>", "&&", "||", "==", "!=", "<=", ">="]
        while index < characters.count {
            let character = characters[index]
            if character.isWhitespace { index += 1; continue }
            if character.isLetter || character.isNumber || character == "_" {
                var end = index
                while end < characters.count, characters[end].isLetter || characters[end].isNumber || characters[end] == "_" { end += 1 }
                tokens.append(String(characters[index..<end]))
                index = end
                continue
            }
            if index + 1 < characters.count, twoCharacter.contains(String(characters[index...index + 1])) {
                tokens.append(String(characters[index...index + 1]))
                index += 2
                continue
            }
            tokens.append(String(character))
            index += 1
        }
        return tokens
    }
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
