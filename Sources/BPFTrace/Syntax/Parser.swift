import Foundation

/// The result of parsing: the program when the syntax was complete, and every diagnostic (lexer
/// errors, then at most one syntax error, as bpftrace stops at its first).
public struct ParseResult: Sendable {
    public var program: Program?
    public var diagnostics: [Diagnostic]
    public var succeeded: Bool { program != nil && !diagnostics.contains { $0.severity == .error } }
}

/// A recursive-descent parser for bpftrace 0.17's grammar (C precedence and associativity), with
/// its quirks kept where scripts rely on them (`-1` is a literal; `(name)` before an operand is a
/// cast; an `if`/`while` block takes no `;` after it) and syntax errors worded as bison words
/// them. It also accepts a few later additions: `config = {}`, `offsetof(struct s, f)`.
public struct Parser {
    /// Nesting deeper than this is refused with "too deeply nested" (bpftrace's bison stack would
    /// say "memory exhausted"). Real scripts stay far below it; it keeps the recursion within a
    /// thread's stack even in debug and AddressSanitizer builds, where one level of parentheses
    /// costs tens of kilobytes of stack.
    public static let maximumNesting = 64

    private var lexer: Lexer
    private var lookahead: Token?
    private var lookaheadCheckpoint: Lexer.Checkpoint?
    /// End of the last consumed token: bison locates empty rules there.
    private var previousEnd = SourcePosition.start
    private var nesting = 0
    private var syntaxError: Diagnostic?

    private struct Abort: Error {}

    public init(file: SourceFile) {
        self.lexer = Lexer(file: file)
    }

    public static func parse(_ text: String, fileName: String = "stdin") -> ParseResult {
        var parser = Parser(file: SourceFile(name: fileName, text: text))
        return parser.parse()
    }

    public static func parse(_ file: SourceFile) -> ParseResult {
        var parser = Parser(file: file)
        return parser.parse()
    }

    public mutating func parse() -> ParseResult {
        let program = try? parseProgram()
        var diagnostics = lexer.diagnostics.all
        if let syntaxError { diagnostics.append(syntaxError) }
        return ParseResult(program: syntaxError == nil ? program : nil, diagnostics: diagnostics)
    }

    // MARK: Token stream

    private mutating func peek() -> Token {
        if let lookahead { return lookahead }
        lookaheadCheckpoint = lexer.checkpoint
        let token = lexer.next()
        lookahead = token
        return token
    }

    private var kind: Token.Kind {
        mutating get { lookahead?.kind ?? peek().kind }
    }

    @discardableResult
    private mutating func consume() -> Token {
        let token = peek()
        lookahead = nil
        previousEnd = token.range.end
        return token
    }

    /// Un-reads the lookahead so the lexer can read the same text in another mode.
    private mutating func rewindLookahead() {
        if lookahead != nil, let checkpoint = lookaheadCheckpoint {
            lexer.restore(checkpoint)
        }
        lookahead = nil
    }

    /// Looks at the token after the lookahead without consuming anything.
    private mutating func peekSecond() -> Token {
        _ = peek() // the lookahead must be read before the lexer can go past it
        let saved = lexer.checkpoint
        let second = lexer.next()
        lexer.restore(saved)
        return second
    }

    private mutating func peekThird() -> Token {
        _ = peek()
        let saved = lexer.checkpoint
        _ = lexer.next()
        let third = lexer.next()
        lexer.restore(saved)
        return third
    }

    // MARK: Errors

    private mutating func fail(_ message: String, at range: SourceRange) -> Abort {
        if syntaxError == nil { syntaxError = .error(message, at: range) }
        return Abort()
    }

    /// bison's message: "syntax error, unexpected X[, expecting A or B ...]" (the list only when it
    /// has at most four entries, in the grammar's token order).
    private mutating func unexpected(expecting: [Token.Kind] = []) -> Abort {
        let token = peek()
        var message = "syntax error, unexpected \(token.kind.displayName)"
        let names = Parser.ordered(expecting)
        if !names.isEmpty && names.count <= 4 { message += ", expecting " + names.joined(separator: " or ") }
        return fail(message, at: token.reportRange)
    }

    private mutating func expect(_ expected: Token.Kind, orAlso others: [Token.Kind] = []) throws -> Token {
        guard kind == expected else { throw unexpected(expecting: [expected] + others) }
        return consume()
    }

    /// The order bison lists expected tokens in: their declaration order in bpftrace's grammar.
    private static let declarationOrder: [Token.Kind] = [
        .endOfFile, .colon, .semicolon, .leftBrace, .rightBrace, .leftBracket, .rightBracket, .leftParen,
        .rightParen, .question, .endPredicate, .comma, .parameterCount, .assign, .equal, .notEqual,
        .lessEqual, .greaterEqual, .shiftLeft, .shiftRight, .less, .greater, .logicalAnd, .logicalOr,
        .plus, .increment, .shiftLeftAssign, .shiftRightAssign, .plusAssign, .minusAssign, .starAssign,
        .slashAssign, .percentAssign, .ampersandAssign, .pipeAssign, .caretAssign, .minus, .decrement,
        .star, .slash, .percent, .ampersand, .pipe, .caret, .bang, .tilde, .dot, .arrow, .kwIf, .kwElse,
        .kwUnroll, .kwWhile, .kwFor, .kwReturn, .kwContinue, .kwBreak, .builtin, .call,
        .callBuiltin, .identifier, .attachPoint, .preprocessor, .cDefinition, .string, .map,
        .variable, .positionalParameter, .integer, .stackMode,
    ]

    private static func ordered(_ kinds: [Token.Kind]) -> [String] {
        var seen = Set<String>()
        return kinds.sorted { (declarationOrder.firstIndex(of: $0) ?? 999) < (declarationOrder.firstIndex(of: $1) ?? 999) }
            .map(\.displayName).filter { seen.insert($0).inserted }
    }

    private mutating func enterNesting(at range: SourceRange) throws {
        nesting += 1
        if nesting > Parser.maximumNesting {
            throw fail("too deeply nested: more than \(Parser.maximumNesting) levels of blocks or parentheses", at: range)
        }
    }

    private mutating func leaveNesting() { nesting -= 1 }

    // MARK: Program

    private mutating func parseProgram() throws -> Program {
        var preprocessorLines: [PreprocessorLine] = []
        var definitions: [CDefinition] = []
        while true {
            let token = peek()
            if token.kind == .preprocessor {
                consume()
                preprocessorLines.append(PreprocessorLine(text: token.text, range: token.range))
            } else if token.kind == .cDefinition {
                consume()
                definitions.append(CDefinition(text: token.text, range: token.range))
            } else {
                break
            }
        }
        var config: [ConfigAssignment] = []
        if peek().kind == .identifier, peek().text == "config", peekSecond().kind == .assign {
            config = try parseConfig()
        }
        var probes: [Probe] = []
        repeat {
            probes.append(try parseProbe())
        } while peek().kind != .endOfFile
        let begin = SourcePosition.start
        return Program(preprocessorLines: preprocessorLines, cDefinitions: definitions, config: config,
                       probes: probes, range: SourceRange(begin: begin, end: peek().range.end))
    }

    private mutating func parseConfig() throws -> [ConfigAssignment] {
        consume() // config
        consume() // =
        _ = try expect(.leftBrace)
        var assignments: [ConfigAssignment] = []
        while kind != .rightBrace {
            let name = peek()
            guard name.kind.isIdentLike else { throw unexpected(expecting: [.rightBrace, .identifier]) }
            consume()
            _ = try expect(.assign)
            let value = try parseExpression()
            assignments.append(ConfigAssignment(name: name.text, value: value, range: name.range.union(value.range)))
            if kind == .semicolon { consume() } else if kind != .rightBrace { throw unexpected(expecting: [.semicolon, .rightBrace]) }
        }
        consume()
        return assignments
    }

    private mutating func parseProbe() throws -> Probe {
        rewindLookahead()
        let probeBegin = previousEnd
        var attachPoints: [AttachPoint] = []
        var firstRange: SourceRange?
        while true {
            let apBegin = previousEnd
            if let raw = lexer.scanAttachPoint() {
                previousEnd = raw.range.end
                firstRange = firstRange ?? raw.range
                var point = AttachPoint(raw: raw.text, range: raw.range)
                point.reportRange = SourceRange(begin: apBegin, end: raw.range.end)
                attachPoints.append(point)
            }
            if kind == .comma {
                consume()
                rewindLookahead()
                continue
            }
            break
        }
        let start = firstRange?.begin ?? peek().range.begin
        if kind == .endOfFile {
            let eof = peek()
            throw fail("unexpected end of file, expected {", at: SourceRange(begin: probeBegin, end: eof.reportRange.end))
        }
        var predicate: Expression?
        if kind == .slash {
            consume()
            let condition = try parseExpression()
            guard kind == .endPredicate else { throw unexpected(expecting: [.endPredicate]) }
            consume()
            predicate = condition
        }
        guard kind == .leftBrace else { throw unexpected(expecting: [.leftBrace]) }
        if attachPoints.isEmpty {
            throw fail("No attach points for probe", at: SourceRange(begin: probeBegin, end: probeBegin))
        }
        let body = try parseBlock()
        return Probe(attachPoints: attachPoints, predicate: predicate, body: body,
                     range: SourceRange(begin: start, end: body.range.end))
    }

    // MARK: Statements

    private mutating func parseBlock() throws -> Block {
        let open = try expect(.leftBrace)
        try enterNesting(at: open.reportRange)
        defer { leaveNesting() }
        var statements: [Statement] = []
        while true {
            switch kind {
            case .rightBrace:
                let close = consume()
                return Block(statements: statements, range: SourceRange(begin: open.range.begin, end: close.range.end))
            case .kwIf, .kwWhile, .kwUnroll:
                // Block statements take no ';' after them.
                statements.append(try parseBlockStatement())
            case _ where !Parser.canStartStatement(kind):
                // bison reduces the statement list first, so only '}' is expected here.
                throw unexpected(expecting: [.rightBrace])
            default:
                statements.append(try parseSimpleStatement())
                if kind == .semicolon {
                    consume()
                } else if kind != .rightBrace {
                    throw unexpected(expecting: [.rightBrace])
                }
            }
        }
    }

    static func canStartStatement(_ kind: Token.Kind) -> Bool {
        switch kind {
        case .kwBreak, .kwContinue, .kwReturn, .integer, .string, .builtin, .call, .callBuiltin, .stackMode,
             .identifier, .structTypeName, .map, .variable, .positionalParameter, .parameterCount, .leftParen,
             .minus, .star, .tilde, .bang, .increment, .decrement:
            return true
        default:
            return false
        }
    }

    private mutating func parseBlockStatement() throws -> Statement {
        let keyword = peek()
        switch keyword.kind {
        case .kwIf:
            return try parseIf()
        case .kwWhile:
            consume()
            _ = try expect(.leftParen)
            let condition = try parseExpression()
            _ = try expect(.rightParen)
            let body = try parseBlock()
            return Statement(.while(condition: condition, body: body), range: keyword.range.union(body.range))
        case .kwUnroll:
            consume()
            _ = try expect(.leftParen)
            let count: Expression
            let countToken = peek()
            switch countToken.kind {
            case .integer:
                consume()
                count = Expression(.integer(Int64(bitPattern: countToken.integerValue)), range: countToken.range)
            case .minus where peekSecond().kind == .integer:
                consume()
                let value = consume()
                count = Expression(.integer(Int64(bitPattern: 0 &- value.integerValue)), range: countToken.range.union(value.range))
            case .positionalParameter, .parameterCount:
                count = try parsePrimary()
            default:
                throw unexpected(expecting: [.parameterCount, .minus, .positionalParameter, .integer])
            }
            _ = try expect(.rightParen)
            let body = try parseBlock()
            return Statement(.unroll(count: count, body: body), range: keyword.range.union(body.range))
        default:
            throw unexpected()
        }
    }

    private mutating func parseIf() throws -> Statement {
        let keyword = consume()
        _ = try expect(.leftParen)
        let condition = try parseExpression()
        _ = try expect(.rightParen)
        let then = try parseBlock()
        var elseBlock: Block?
        var end = then.range.end
        if kind == .kwElse {
            consume()
            if kind == .kwIf {
                let nested = try enterNestedIf()
                elseBlock = Block(statements: [nested], range: nested.range)
                end = nested.range.end
            } else if kind == .leftBrace {
                let block = try parseBlock()
                elseBlock = block
                end = block.range.end
            } else {
                throw unexpected(expecting: [.leftBrace, .kwIf])
            }
        }
        return Statement(.if(condition: condition, then: then, else: elseBlock),
                         range: SourceRange(begin: keyword.range.begin, end: end))
    }

    private mutating func enterNestedIf() throws -> Statement {
        try enterNesting(at: peek().reportRange)
        defer { leaveNesting() }
        return try parseIf()
    }

    /// expr_stmt: an expression, a jump, or an assignment.
    private mutating func parseSimpleStatement() throws -> Statement {
        let first = peek()
        switch first.kind {
        case .kwBreak:
            consume()
            return Statement(.jump(.break), range: first.range)
        case .kwContinue:
            consume()
            return Statement(.jump(.continue), range: first.range)
        case .kwReturn:
            consume()
            return Statement(.jump(.return), range: first.range)
        default:
            break
        }
        let target = try parseExpression()
        let operatorToken = peek()
        let compound: BinaryOperator?
        switch operatorToken.kind {
        case .assign: compound = nil
        case .plusAssign: compound = .add
        case .minusAssign: compound = .subtract
        case .starAssign: compound = .multiply
        case .slashAssign: compound = .divide
        case .percentAssign: compound = .modulo
        case .ampersandAssign: compound = .bitAnd
        case .pipeAssign: compound = .bitOr
        case .caretAssign: compound = .bitXor
        case .shiftLeftAssign: compound = .shiftLeft
        case .shiftRightAssign: compound = .shiftRight
        default:
            return Statement(.expression(target), range: target.range)
        }
        switch target.kind {
        case .map, .variable:
            break
        case .tupleIndex where compound == nil:
            consume()
            let value = try parseExpression()
            throw fail("Tuples are immutable once created. Consider creating a new tuple and assigning it instead.",
                       at: SourceRange(begin: target.range.begin, end: value.range.end).reported(from: lexer.file))
        default:
            throw unexpected(expecting: [.rightBrace])
        }
        consume()
        var value = try parseExpression()
        if let compound {
            // As bpftrace: `x op= v` is `x = x op v`, the operation located at the operator.
            value = Expression(.binary(compound, target, value), range: target.range.union(value.range), operatorRange: operatorToken.range)
        }
        let range = target.range.union(value.range)
        if case .map = target.kind {
            return Statement(.assignMap(map: target, value: value, compound: compound), range: range, operatorRange: operatorToken.range)
        }
        return Statement(.assignVariable(variable: target, value: value, compound: compound), range: range, operatorRange: operatorToken.range)
    }

    // MARK: Expressions

    public mutating func parseExpression() throws -> Expression {
        try enterNesting(at: peek().reportRange)
        defer { leaveNesting() }
        return try parseConditional()
    }

    private mutating func parseConditional() throws -> Expression {
        let condition = try parseBinary(level: 0)
        guard kind == .question else { return condition }
        consume()
        let then = try parseExpression()
        _ = try expect(.colon)
        let otherwise = try parseConditionalNested()
        return Expression(.ternary(condition: condition, then: then, else: otherwise), range: condition.range.union(otherwise.range))
    }

    private mutating func parseConditionalNested() throws -> Expression {
        try enterNesting(at: peek().reportRange)
        defer { leaveNesting() }
        return try parseConditional()
    }

    /// The binding level of a binary operator (C's, loosest first); all are left-associative.
    private static func binaryOperator(_ kind: Token.Kind) -> (level: Int, op: BinaryOperator)? {
        switch kind {
        case .logicalOr: return (0, .logicalOr)
        case .logicalAnd: return (1, .logicalAnd)
        case .pipe: return (2, .bitOr)
        case .caret: return (3, .bitXor)
        case .ampersand: return (4, .bitAnd)
        case .equal: return (5, .equal)
        case .notEqual: return (5, .notEqual)
        case .lessEqual: return (6, .lessEqual)
        case .greaterEqual: return (6, .greaterEqual)
        case .less: return (6, .less)
        case .greater: return (6, .greater)
        case .shiftLeft: return (7, .shiftLeft)
        case .shiftRight: return (7, .shiftRight)
        case .plus: return (8, .add)
        case .minus: return (8, .subtract)
        case .star: return (9, .multiply)
        case .slash: return (9, .divide)
        case .percent: return (9, .modulo)
        default: return nil
        }
    }

    /// Precedence climbing: one frame per operator of rising binding instead of one per C level.
    private mutating func parseBinary(level minimum: Int) throws -> Expression {
        var left = try parseCast()
        // Each operator applied deepens the tree's left spine; count it so that destroying or
        // printing the tree cannot overflow the stack either.
        var deepened = 0
        defer { nesting -= deepened }
        while let (level, op) = Parser.binaryOperator(kind), level >= minimum {
            let token = consume()
            try enterNesting(at: token.reportRange)
            deepened += 1
            let right = try parseBinary(level: level + 1)
            left = Expression(.binary(op, left, right), range: left.range.union(right.range), operatorRange: token.range)
        }
        return left
    }

    /// cast_expr: `(name) e`, `(name *) e`, `(name **) e`, or a unary expression.
    private mutating func parseCast() throws -> Expression {
        guard kind == .leftParen, let (open, type) = try parseCastPrefix() else { return try parseUnary() }
        try enterNesting(at: open)
        defer { leaveNesting() }
        let operand = try parseCast()
        return Expression(.cast(type, operand), range: SourceRange(begin: open.begin, end: operand.range.end))
    }

    /// `(name)`, `(name *)`, `(name **)` before an operand. As in bpftrace's grammar, `(` followed
    /// by a plain name and `)` or `*` is always a cast.
    private mutating func parseCastPrefix() throws -> (SourceRange, TypeName)? {
        let second = peekSecond()
        guard second.kind == .identifier || second.kind == .structTypeName else { return nil }
        let third = peekThird()
        guard third.kind == .rightParen || third.kind == .star else { return nil }
        let open = consume()
        consume()
        var pointerDepth = 0
        while kind == .star, pointerDepth < 2 {
            consume()
            pointerDepth += 1
        }
        guard kind == .rightParen else {
            throw unexpected(expecting: pointerDepth == 1 ? [.rightParen, .star] : [.rightParen])
        }
        consume()
        return (open.range, TypeName(name: second.text, pointerDepth: pointerDepth))
    }

    private static func prefixOperator(_ kind: Token.Kind) -> UnaryOperator? {
        switch kind {
        case .star: return .dereference
        case .tilde: return .bitNot
        case .bang: return .logicalNot
        case .minus: return .negate
        default: return nil
        }
    }

    private mutating func parseUnary() throws -> Expression {
        switch kind {
        case .minus where peekSecond().kind == .integer:
            return try parseLeaf()  // `-N` is a literal in bpftrace's grammar (it wins over unary minus)
        case .increment, .decrement:
            return try parsePrefixIncrement()
        default:
            break
        }
        guard let op = Parser.prefixOperator(kind) else { return try parsePostfix() }
        let token = consume()
        try enterNesting(at: token.reportRange)
        defer { leaveNesting() }
        let operand = try parseCast()
        return Expression(.unary(op, operand, postfix: false), range: token.range.union(operand.range), operatorRange: token.range)
    }

    private mutating func parsePrefixIncrement() throws -> Expression {
        let token = consume()
        let isIncrement = token.kind == .increment
        let target = peek()
        switch target.kind {
        case .map, .variable:
            let operand = try parsePrimary()
            return Expression(.unary(isIncrement ? .increment : .decrement, operand, postfix: false),
                              range: token.range.union(operand.range), operatorRange: token.range)
        case _ where target.kind.isIdentLike:
            throw fail("The \(isIncrement ? "++" : "--") operator must be applied to a map or variable", at: token.reportRange)
        default:
            throw unexpected()
        }
    }

    private mutating func parsePostfix() throws -> Expression {
        let first = peek()
        var expression = try parsePrimary()
        var canIncrement: Bool
        switch expression.kind {
        case .map, .variable: canIncrement = true
        default: canIncrement = false
        }
        var deepened = 0
        defer { nesting -= deepened }
        while true {
            switch kind {
            case .dot, .arrow, .leftBracket, .increment, .decrement:
                try enterNesting(at: peek().reportRange)
                deepened += 1
            default:
                return expression
            }
            guard let applied = try parsePostfixOperator(on: expression, first: first, canIncrement: canIncrement) else {
                return expression
            }
            expression = applied
            canIncrement = false
        }
    }

    /// One of `.field`, `.0`, `->field`, `[index]`, `++`, `--` applied to `expression`, or nil
    /// when `++`/`--` does not apply (bpftrace allows them on maps and variables only).
    private mutating func parsePostfixOperator(on expression: Expression, first: Token, canIncrement: Bool) throws -> Expression? {
        let token = peek()
        switch token.kind {
        case .dot:
            consume()
            let field = peek()
            if field.kind == .integer {
                consume()
                let index = Int(clamping: field.integerValue)
                return Expression(.tupleIndex(expression, index), range: expression.range.union(field.range), operatorRange: field.range)
            }
            guard field.kind.isIdentLike else { throw unexpected() }
            consume()
            return Expression(.field(expression, name: field.text, arrow: false), range: expression.range.union(field.range), operatorRange: token.range)
        case .arrow:
            consume()
            let field = peek()
            guard field.kind.isIdentLike else { throw unexpected() }
            consume()
            let dereference = Expression(.unary(.dereference, expression, postfix: false), range: expression.range, operatorRange: token.range)
            return Expression(.field(dereference, name: field.text, arrow: true), range: expression.range.union(field.range), operatorRange: token.range)
        case .leftBracket:
            return try parseIndex(on: expression)
        default:
            guard canIncrement else {
                if first.kind.isIdentLike, expression.range == first.range {
                    throw fail("The \(token.kind == .increment ? "++" : "--") operator must be applied to a map or variable", at: first.reportRange)
                }
                return nil
            }
            consume()
            return Expression(.unary(token.kind == .increment ? .increment : .decrement, expression, postfix: true),
                              range: expression.range.union(token.range), operatorRange: token.range)
        }
    }

    private mutating func parseIndex(on expression: Expression) throws -> Expression {
        let open = consume()
        let index = try parseExpression()
        let close = try expect(.rightBracket)
        return Expression(.index(expression, index), range: expression.range.union(close.range), operatorRange: open.range)
    }

    /// The recursive descent keeps each function on the nesting path small: debug builds give a
    /// function one stack slot per local of every branch, so leaf cases live apart.
    private mutating func parsePrimary() throws -> Expression {
        switch kind {
        case .leftParen: return try parseParenthesized()
        case .map: return try parseMap()
        case .call, .callBuiltin: return try parseCallOrStackBuiltin()
        default: return try parseLeaf()
        }
    }

    private mutating func parseCallOrStackBuiltin() throws -> Expression {
        let token = consume()
        if token.kind == .callBuiltin {
            if kind == .leftParen { return try parseCallArguments(name: token) }
            return Expression(.builtin(token.text), range: token.range)
        }
        guard kind == .leftParen else {
            if kind == .increment || kind == .decrement {
                throw fail("The \(kind == .increment ? "++" : "--") operator must be applied to a map or variable", at: token.reportRange)
            }
            throw unexpected(expecting: [.increment, .decrement])
        }
        return try parseCallArguments(name: token)
    }

    private mutating func parseMap() throws -> Expression {
        let token = consume()
        guard kind == .leftBracket else { return Expression(.map(name: token.text, keys: []), range: token.range) }
        consume()
        var keys: [Expression] = []
        repeat {
            if !keys.isEmpty { consume() }
            keys.append(try parseExpression())
        } while kind == .comma
        let close = try expect(.rightBracket, orAlso: [.comma])
        return Expression(.map(name: token.text, keys: keys), range: token.range.union(close.range))
    }

    private mutating func parseParenthesized() throws -> Expression {
        let token = consume()
        var first = try parseExpression()
        guard kind == .comma else {
            let close = try expect(.rightParen, orAlso: [.comma])
            first.range = token.range.union(close.range)
            return first
        }
        var elements = [first]
        while kind == .comma {
            consume()
            elements.append(try parseExpression())
        }
        let close = try expect(.rightParen, orAlso: [.comma])
        return Expression(.tuple(elements), range: token.range.union(close.range))
    }

    /// bpftrace reports an unknown function once its arguments have parsed (errors inside them,
    /// and unknown functions nested in them, come first).
    private mutating func unknownFunction(_ name: Token) throws -> Abort {
        _ = try parseCallArguments(name: name)
        return fail("Unknown function: \(name.text)", at: name.reportRange)
    }

    private mutating func parseLeaf() throws -> Expression {
        let token = peek()
        switch token.kind {
        case .integer:
            consume()
            return Expression(.integer(Int64(bitPattern: token.integerValue)), range: token.range)
        case .minus where peekSecond().kind == .integer:
            consume()
            let literal = consume()
            return Expression(.integer(Int64(bitPattern: 0 &- literal.integerValue)), range: token.range.union(literal.range))
        case .string:
            consume()
            return Expression(.string(token.stringValue), range: token.range)
        case .stackMode:
            consume()
            if kind == .leftParen { throw try unknownFunction(token) }
            return Expression(.stackMode(token.text), range: token.range)
        case .builtin:
            consume()
            if kind == .leftParen { throw try unknownFunction(token) }
            return Expression(.builtin(token.text), range: token.range)
        case .identifier, .structTypeName:
            consume()
            if kind == .leftParen { throw try unknownFunction(token) }
            return Expression(.identifier(token.text), range: token.range)
        case .positionalParameter:
            consume()
            let digits = token.text.dropFirst()
            guard let number = Int(digits), number > 0 else {
                throw fail("param \(token.text) is out of integer range [1, \(Int.max)]", at: token.reportRange)
            }
            return Expression(.positionalParameter(number), range: token.range)
        case .parameterCount:
            consume()
            return Expression(.parameterCount, range: token.range)
        case .variable:
            consume()
            return Expression(.variable(token.text), range: token.range)
        default:
            throw unexpected()
        }
    }

    private mutating func parseCallArguments(name: Token) throws -> Expression {
        let open = consume() // (
        try enterNesting(at: open.reportRange)
        defer { leaveNesting() }
        var arguments: [Expression] = []
        if kind == .rightParen {
            let close = consume()
            return Expression(.call(name: name.text, arguments: []), range: Self.callRange(name, close))
        }
        // sizeof(struct x) and offsetof(struct x, a.b) take a type.
        if name.text == "sizeof" || name.text == "offsetof", peek().kind == .structTypeName {
            let typeToken = consume()
            var type = TypeName(name: typeToken.text)
            // bpftrace's lexer reads `struct x, a.b` up to the ')' as one type name; split it.
            if name.text == "offsetof", let comma = typeToken.text.firstIndex(of: ",") {
                type.name = typeToken.text[..<comma].trimmingCharacters(in: .whitespacesAndNewlines)
                let fields = typeToken.text[typeToken.text.index(after: comma)...]
                    .split(separator: ".", omittingEmptySubsequences: false)
                    .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                guard !fields.isEmpty, fields.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(Lexer.isIdentChar) }) else {
                    throw fail("offsetof expects a struct type and a field name", at: typeToken.reportRange)
                }
                let close = try expect(.rightParen)
                return Expression(.offsetof(type, fields: fields), range: name.range.union(close.range))
            }
            while kind == .star {
                consume()
                type.pointerDepth += 1
            }
            if name.text == "sizeof" {
                let close = try expect(.rightParen)
                return Expression(.sizeofType(type), range: name.range.union(close.range))
            }
            _ = try expect(.comma)
            var fields: [String] = []
            repeat {
                if !fields.isEmpty { consume() }
                let field = peek()
                guard field.kind.isIdentLike else { throw unexpected() }
                consume()
                fields.append(field.text)
            } while kind == .dot
            let close = try expect(.rightParen, orAlso: [.dot])
            return Expression(.offsetof(type, fields: fields), range: name.range.union(close.range))
        }
        repeat {
            if !arguments.isEmpty { consume() }
            arguments.append(try parseExpression())
        } while kind == .comma
        let close = try expect(.rightParen, orAlso: [.comma])
        return Expression(.call(name: name.text, arguments: arguments), range: Self.callRange(name, close))
    }

    /// A call's range as bpftrace reports it: from the end of the whitespace before its name, so
    /// `print(str(0, -1))`'s inner call starts at `print` (bpftrace's lexer moves a location's
    /// start only at whitespace), up to the closing parenthesis.
    private static func callRange(_ name: Token, _ close: Token) -> SourceRange {
        SourceRange(begin: name.reportRange.begin, end: close.range.end)
    }
}

extension SourceRange {
    /// This range as bpftrace would report it: from the end of the whitespace before it.
    func reported(from file: SourceFile) -> SourceRange {
        var begin = self.begin
        while begin.offset > 0 {
            let previous = file.bytes[begin.offset - 1]
            if Lexer.isSpace(previous) { break }
            begin.offset -= 1
            begin.column -= 1
            if begin.column < 1 { begin.column = 1; break }
        }
        return SourceRange(begin: begin, end: end)
    }
}
