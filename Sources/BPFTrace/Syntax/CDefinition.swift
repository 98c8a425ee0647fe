import Foundation

/// A C definition at the top of a script (`struct X { int a; char *p; long v[4]; };`). The text is
/// kept whole for a C parser or BTF lookup; `parsed` holds the simple cases this front end
/// understands itself: one struct, union or enum with plain fields.
public struct CDefinition: Sendable, Equatable {
    /// The definition as written, with its closing `;` if it had one directly after the brace.
    public var text: String
    public var range: SourceRange

    public init(text: String, range: SourceRange) {
        self.text = text
        self.range = range
    }

    public enum Keyword: String, Sendable, Equatable {
        case `struct`, union, `enum`
    }

    public struct Field: Sendable, Equatable {
        /// The type as written, without the array part: `char *`, `unsigned long`, `struct foo`.
        public var type: String
        public var name: String
        /// Array dimension, if the field is an array.
        public var arrayLength: Int?
        public var pointerDepth: Int
        public var bitWidth: Int?
    }

    public struct Enumerator: Sendable, Equatable {
        public var name: String
        public var value: Int64
    }

    public struct Parsed: Sendable, Equatable {
        public var keyword: Keyword
        public var name: String
        public var fields: [Field]
        public var enumerators: [Enumerator]
    }

    /// The definition's fields, or nil when it uses C this front end does not read (nested
    /// definitions, function pointers, macros); callers then hand `text` to a full C parser.
    public var parsed: Parsed? {
        CDefinition.parse(text)
    }

    static func parse(_ text: String) -> Parsed? {
        guard let open = text.firstIndex(of: "{"), let close = text.lastIndex(of: "}"), open < close else { return nil }
        let head = text[..<open].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        guard head.count == 2 || head.count == 1, let keyword = Keyword(rawValue: String(head[0])) else { return nil }
        let name = head.count == 2 ? String(head[1]) : ""
        let body = text[text.index(after: open)..<close]
        if keyword == .enum {
            var enumerators: [Enumerator] = []
            var next: Int64 = 0
            for item in body.split(separator: ",") {
                let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                guard let enumeratorName = parts.first, !enumeratorName.isEmpty else { continue }
                guard enumeratorName.utf8.allSatisfy(Lexer.isIdentChar) else { return nil }
                if parts.count == 2 {
                    guard case .success(let value) = IntegerLiteral.parse(parts[1].hasPrefix("-") ? String(parts[1].dropFirst()) : parts[1]) else { return nil }
                    next = parts[1].hasPrefix("-") ? -Int64(bitPattern: value) : Int64(bitPattern: value)
                }
                enumerators.append(Enumerator(name: enumeratorName, value: next))
                next &+= 1
            }
            return Parsed(keyword: keyword, name: name, fields: [], enumerators: enumerators)
        }
        if body.contains("{") || body.contains("(") || body.contains("#") { return nil }
        var fields: [Field] = []
        for declaration in body.split(separator: ";") {
            let trimmed = declaration.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            guard let field = parseField(trimmed) else { return nil }
            fields.append(contentsOf: field)
        }
        return Parsed(keyword: keyword, name: name, fields: fields, enumerators: [])
    }

    /// `unsigned long a, *b[4] : 3` → fields.
    private static func parseField(_ declaration: String) -> [Field]? {
        var text = declaration
        var bitWidth: Int?
        if let colon = text.firstIndex(of: ":") {
            bitWidth = Int(text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            guard bitWidth != nil else { return nil }
            text = String(text[..<colon])
        }
        let declarators = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard let first = declarators.first else { return nil }
        // The base type is the words before the first declarator's name.
        var words = first.replacingOccurrences(of: "*", with: " * ").split(separator: " ").map(String.init)
        guard words.count >= 2 else { return nil }
        var firstDeclarator = words.removeLast()
        while words.last == "*" {
            firstDeclarator = "*" + firstDeclarator
            words.removeLast()
        }
        let baseType = words.joined(separator: " ")
        guard !baseType.isEmpty else { return nil }
        var fields: [Field] = []
        for declarator in [firstDeclarator] + declarators.dropFirst() {
            var name = declarator.replacingOccurrences(of: " ", with: "")
            var depth = 0
            while name.hasPrefix("*") {
                depth += 1
                name.removeFirst()
            }
            var length: Int?
            if let bracket = name.firstIndex(of: "[") {
                guard name.hasSuffix("]") else { return nil }
                let inner = name[name.index(after: bracket)..<name.index(before: name.endIndex)]
                if case .success(let value) = IntegerLiteral.parse(String(inner)), value <= UInt64(Int.max) {
                    length = Int(value)
                } else if inner.isEmpty {
                    length = 0
                } else {
                    return nil
                }
                name = String(name[..<bracket])
            }
            guard !name.isEmpty, name.utf8.allSatisfy(Lexer.isIdentChar) else { return nil }
            fields.append(Field(type: baseType + String(repeating: " *", count: depth), name: name,
                                arrayLength: length, pointerDepth: depth, bitWidth: bitWidth))
        }
        return fields
    }
}
