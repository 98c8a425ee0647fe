import Foundation

/// A token of the tracing language. Kinds mirror bpftrace 0.17's lexer so parse behaviour and
/// error messages (which name tokens by `displayName`) match it.
public struct Token: Sendable, Equatable {
    public enum Kind: Sendable, Hashable {
        case endOfFile
        case identifier          // plain name: a type in casts, a struct field, an enum value
        case structTypeName      // `struct task_struct`, `union u`, `enum e` used as a type
        case builtin             // pid, comm, arg0, ...
        case call                // printf, count, ...
        case callBuiltin         // kstack and ustack: both a builtin and a function
        case stackMode           // bpftrace, perf
        case integer
        case string
        case map                 // @name or bare @
        case variable            // $name
        case positionalParameter // $1
        case parameterCount      // $#
        case preprocessor        // #include <...>
        case cDefinition         // struct/union/enum definition text
        case attachPoint         // raw probe specifier text, produced on the parser's request
        // keywords
        case kwIf, kwElse, kwUnroll, kwWhile, kwFor, kwReturn, kwContinue, kwBreak
        // punctuation and operators
        case colon, semicolon, leftBrace, rightBrace, leftBracket, rightBracket, leftParen, rightParen
        case question, endPredicate, comma
        case assign, equal, notEqual, lessEqual, greaterEqual, shiftLeft, shiftRight, less, greater
        case logicalAnd, logicalOr, plus, increment, minus, decrement, star, slash, percent
        case ampersand, pipe, caret, bang, tilde, dot, arrow
        case shiftLeftAssign, shiftRightAssign, plusAssign, minusAssign, starAssign, slashAssign
        case percentAssign, ampersandAssign, pipeAssign, caretAssign

        /// The name bpftrace's (bison) syntax errors use for this token.
        public var displayName: String {
            switch self {
            case .endOfFile: return "end of file"
            case .identifier, .structTypeName: return "identifier"
            case .builtin: return "builtin"
            case .call: return "call"
            case .callBuiltin: return "call_builtin"
            case .stackMode: return "stack_mode"
            case .integer: return "integer"
            case .string: return "string"
            case .map: return "map"
            case .variable: return "variable"
            case .positionalParameter: return "positional parameter"
            case .parameterCount: return "$#"
            case .preprocessor: return "preprocessor directive"
            case .cDefinition: return "struct definition"
            case .attachPoint: return "path"
            case .kwIf: return "if"
            case .kwElse: return "else"
            case .kwUnroll: return "unroll"
            case .kwWhile: return "while"
            case .kwFor: return "for"
            case .kwReturn: return "return"
            case .kwContinue: return "continue"
            case .kwBreak: return "break"
            case .colon: return ":"
            case .semicolon: return ";"
            case .leftBrace: return "{"
            case .rightBrace: return "}"
            case .leftBracket: return "["
            case .rightBracket: return "]"
            case .leftParen: return "("
            case .rightParen: return ")"
            case .question: return "?"
            case .endPredicate: return "end predicate"
            case .comma: return "\",\""  // bison keeps the quotes on ","
            case .assign: return "="
            case .equal: return "=="
            case .notEqual: return "!="
            case .lessEqual: return "<="
            case .greaterEqual: return ">="
            case .shiftLeft: return "<<"
            case .shiftRight: return ">>"
            case .less: return "<"
            case .greater: return ">"
            case .logicalAnd: return "&&"
            case .logicalOr: return "||"
            case .plus: return "+"
            case .increment: return "++"
            case .minus: return "-"
            case .decrement: return "--"
            case .star: return "*"
            case .slash: return "/"
            case .percent: return "%"
            case .ampersand: return "&"
            case .pipe: return "|"
            case .caret: return "^"
            case .bang: return "!"
            case .tilde: return "~"
            case .dot: return "."
            case .arrow: return "->"
            case .shiftLeftAssign: return "<<="
            case .shiftRightAssign: return ">>="
            case .plusAssign: return "+="
            case .minusAssign: return "-="
            case .starAssign: return "*="
            case .slashAssign: return "/="
            case .percentAssign: return "%="
            case .ampersandAssign: return "&="
            case .pipeAssign: return "|="
            case .caretAssign: return "^="
            }
        }

        /// Names usable where bpftrace's grammar accepts an `ident` (struct fields, attach points).
        public var isIdentLike: Bool {
            switch self {
            case .identifier, .builtin, .call, .callBuiltin, .stackMode: return true
            default: return false
            }
        }
    }

    public var kind: Kind
    /// The source spelling; for strings the decoded bytes are in `stringValue`, for
    /// `structTypeName` the canonical "struct name".
    public var text: String
    /// Exact range of the token's own characters.
    public var range: SourceRange
    /// The range bpftrace reports for this token (from the end of the last whitespace).
    public var reportRange: SourceRange
    /// The value of an integer literal (bpftrace stores it as a 64-bit two's complement value).
    public var integerValue: UInt64 = 0
    /// The decoded bytes of a string literal (escapes such as `\xff` may make them invalid UTF-8).
    public var stringValue: [UInt8] = []

    public init(kind: Kind, text: String, range: SourceRange, reportRange: SourceRange) {
        self.kind = kind
        self.text = text
        self.range = range
        self.reportRange = reportRange
    }
}
