import Foundation

/// The syntax tree of a tracing script. Every node carries its exact source range; nodes that
/// bpftrace locates at an operator (binary operations, assignments) also keep `operatorRange`,
/// so later passes can report where bpftrace does.
public struct Program: Sendable, Equatable {
    /// `#include` and other preprocessor lines, in order.
    public var preprocessorLines: [PreprocessorLine]
    /// Top-level C definitions (`struct X { ... };`).
    public var cDefinitions: [CDefinition]
    /// `config = { name = value; ... }` (a later bpftrace addition; empty when absent).
    public var config: [ConfigAssignment]
    public var probes: [Probe]
    public var range: SourceRange

    public init(preprocessorLines: [PreprocessorLine] = [], cDefinitions: [CDefinition] = [], config: [ConfigAssignment] = [], probes: [Probe], range: SourceRange) {
        self.preprocessorLines = preprocessorLines
        self.cDefinitions = cDefinitions
        self.config = config
        self.probes = probes
        self.range = range
    }

    /// The C text bpftrace hands to its C parser: directives and definitions in source order.
    public var cDefinitionsText: String {
        var items: [(Int, String)] = preprocessorLines.map { ($0.range.begin.offset, $0.text + "\n") }
        items += cDefinitions.map { ($0.range.begin.offset, $0.text + ";\n") }
        return items.sorted { $0.0 < $1.0 }.map(\.1).joined()
    }
}

public struct PreprocessorLine: Sendable, Equatable {
    public var text: String
    public var range: SourceRange
    /// The header of an `#include <x>` / `#include "x"` line.
    public var includedHeader: String? {
        let trimmed = text.dropFirst().drop { $0 == " " || $0 == "\t" }
        guard trimmed.hasPrefix("include") else { return nil }
        let rest = trimmed.dropFirst("include".count).drop { $0 == " " || $0 == "\t" }
        guard let open = rest.first, open == "<" || open == "\"" else { return nil }
        let close: Character = open == "<" ? ">" : "\""
        let body = rest.dropFirst()
        guard let end = body.firstIndex(of: close) else { return nil }
        return String(body[..<end])
    }
}

public struct ConfigAssignment: Sendable, Equatable {
    public var name: String
    public var value: Expression
    public var range: SourceRange
}

public struct Probe: Sendable, Equatable {
    public var attachPoints: [AttachPoint]
    public var predicate: Expression?
    public var body: Block
    public var range: SourceRange
}

public struct Block: Sendable, Equatable {
    public var statements: [Statement]
    public var range: SourceRange
}

public struct Statement: Sendable, Equatable {
    public indirect enum Kind: Sendable, Equatable {
        case expression(Expression)
        /// `@m[k] = v`, `@m += v` (compound: the operator; the value is then `@m op v`, as bpftrace builds it).
        case assignMap(map: Expression, value: Expression, compound: BinaryOperator?)
        /// `$x = v`, `$x -= v`.
        case assignVariable(variable: Expression, value: Expression, compound: BinaryOperator?)
        case `if`(condition: Expression, then: Block, else: Block?)
        case `while`(condition: Expression, body: Block)
        case unroll(count: Expression, body: Block)
        case jump(JumpKind)
    }

    public var kind: Kind
    public var range: SourceRange
    /// For assignments: the `=`/`+=` token.
    public var operatorRange: SourceRange?

    public init(_ kind: Kind, range: SourceRange, operatorRange: SourceRange? = nil) {
        self.kind = kind
        self.range = range
        self.operatorRange = operatorRange
    }
}

public enum JumpKind: String, Sendable, Equatable {
    case `break`, `continue`, `return`
}

public enum BinaryOperator: String, Sendable, Equatable, CaseIterable {
    case logicalOr = "||", logicalAnd = "&&"
    case bitOr = "|", bitXor = "^", bitAnd = "&"
    case equal = "==", notEqual = "!="
    case less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    case shiftLeft = "<<", shiftRight = ">>"
    case add = "+", subtract = "-"
    case multiply = "*", divide = "/", modulo = "%"
}

public enum UnaryOperator: String, Sendable, Equatable {
    case logicalNot = "!"
    case bitNot = "~"
    case negate = "-"
    case dereference = "dereference"
    case increment = "++"
    case decrement = "--"
}

/// A type named in a cast or sizeof: a name (`uint32`, `struct task_struct`) and a pointer depth.
public struct TypeName: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var pointerDepth: Int

    public init(name: String, pointerDepth: Int = 0) {
        self.name = name
        self.pointerDepth = pointerDepth
    }

    public var description: String { name + String(repeating: "*", count: pointerDepth) }
}

public struct Expression: Sendable, Equatable {
    public indirect enum Kind: Sendable, Equatable {
        /// A literal (`-N` is folded into the literal, as bpftrace does; values above Int64.max wrap).
        case integer(Int64)
        case string([UInt8])
        case identifier(String)
        case builtin(String)
        case stackMode(String)
        case positionalParameter(Int)
        case parameterCount
        case variable(String)
        /// `@name` or `@name[keys]`; bare `@` has name "@".
        case map(name: String, keys: [Expression])
        case call(name: String, arguments: [Expression])
        case binary(BinaryOperator, Expression, Expression)
        /// Prefix operators, and postfix `++`/`--` when `postfix` is true.
        case unary(UnaryOperator, Expression, postfix: Bool)
        case ternary(condition: Expression, then: Expression, else: Expression)
        /// `e.field`; `e->field` is `(*e).field` as in bpftrace, with `arrow` set.
        case field(Expression, name: String, arrow: Bool)
        /// `tuple.0`
        case tupleIndex(Expression, Int)
        case index(Expression, Expression)
        case cast(TypeName, Expression)
        case tuple([Expression])
        /// `sizeof(struct x)` (the expression form is a call).
        case sizeofType(TypeName)
        /// `offsetof(struct x, field.sub)`.
        case offsetof(TypeName, fields: [String])
    }

    public var kind: Kind
    public var range: SourceRange
    /// The operator token of a binary/unary/field node, where bpftrace locates it.
    public var operatorRange: SourceRange?

    public init(_ kind: Kind, range: SourceRange, operatorRange: SourceRange? = nil) {
        self.kind = kind
        self.range = range
        self.operatorRange = operatorRange
    }
}
