import Foundation

extension Program {
    /// The number of AST nodes as bpftrace 0.17 counts them for `-v`'s "INFO: node count: N":
    /// the program, each probe, attach point, predicate, statement and expression (`a->b` is
    /// `(*a).b` and `x += y` is `x = x + y` in both parsers' trees).
    public var nodeCount: Int {
        1 + probes.reduce(0) { total, probe in
            total + 1 + probe.attachPoints.count + (probe.predicate.map { 1 + $0.nodeCount } ?? 0) + probe.body.nodeCount
        }
    }
}

extension Block {
    var nodeCount: Int { statements.reduce(0) { $0 + $1.nodeCount } }
}

extension Statement {
    var nodeCount: Int {
        switch kind {
        case .expression(let expression): 1 + expression.nodeCount
        case .assignMap(let target, let value, _), .assignVariable(let target, let value, _):
            1 + target.nodeCount + value.nodeCount
        case .if(let condition, let then, let otherwise): 1 + condition.nodeCount + then.nodeCount + (otherwise?.nodeCount ?? 0)
        case .while(let condition, let body): 1 + condition.nodeCount + body.nodeCount
        case .unroll(let count, let body): 1 + count.nodeCount + body.nodeCount
        case .jump: 1
        }
    }
}

extension Expression {
    var nodeCount: Int {
        switch kind {
        case .integer, .string, .identifier, .builtin, .stackMode, .positionalParameter, .parameterCount, .variable,
             .sizeofType, .offsetof:
            1
        case .map(_, let keys): 1 + keys.reduce(0) { $0 + $1.nodeCount }
        case .call(_, let arguments): 1 + arguments.reduce(0) { $0 + $1.nodeCount }
        case .tuple(let elements): 1 + elements.reduce(0) { $0 + $1.nodeCount }
        case .binary(_, let lhs, let rhs), .index(let lhs, let rhs): 1 + lhs.nodeCount + rhs.nodeCount
        case .unary(_, let operand, _), .tupleIndex(let operand, _), .cast(_, let operand): 1 + operand.nodeCount
        case .field(let base, _, _): 1 + base.nodeCount
        case .ternary(let condition, let then, let otherwise): 1 + condition.nodeCount + then.nodeCount + otherwise.nodeCount
        }
    }
}
