import Foundation

/// Text renderings of the syntax tree: bpftrace 0.17's `-d` tree (one node a line, one space of
/// indent a level) and a compact s-expression for tests.
public enum ASTPrinter {
    /// The tree as `bpftrace -d` prints it after parsing (without its "AST after: parser" header),
    /// quirks included so the output can be compared line by line: postfix operators print after
    /// their operand, `->` prints as `.` over `dereference`, a cast prints one `*` whatever its
    /// depth, and statements after a `while` stay two levels deeper.
    public static func bpftraceTree(_ program: Program) -> String {
        var printer = TreePrinter()
        let definitions = program.cDefinitionsText
        if !definitions.isEmpty { printer.out += definitions + "\n" }
        printer.line("Program")
        printer.depth += 1
        for probe in program.probes {
            for point in probe.attachPoints { printer.line(point.name) }
            printer.depth += 1
            if let predicate = probe.predicate {
                printer.line("pred")
                printer.depth += 1
                printer.expression(predicate)
                printer.depth -= 1
            }
            printer.statements(probe.body.statements)
            printer.depth -= 1
        }
        return printer.out
    }

    /// Compact form, e.g. `(probe (kprobe:f) (= $x (+ 1 (* 2 3))))`.
    public static func sExpression(_ program: Program) -> String {
        program.probes.map { probe in
            var parts = ["(" + probe.attachPoints.map(\.name).joined(separator: " ") + ")"]
            if let predicate = probe.predicate { parts.append("(pred " + sExpression(predicate) + ")") }
            parts += probe.body.statements.map(sExpression)
            return "(probe " + parts.joined(separator: " ") + ")"
        }.joined(separator: "\n")
    }

    public static func sExpression(_ statement: Statement) -> String {
        switch statement.kind {
        case .expression(let expression):
            return sExpression(expression)
        case .assignMap(let target, let value, let compound), .assignVariable(let target, let value, let compound):
            if let compound, case .binary(_, _, let right) = value.kind {
                return "(\(compound.rawValue)= \(sExpression(target)) \(sExpression(right)))"
            }
            return "(= \(sExpression(target)) \(sExpression(value)))"
        case .if(let condition, let then, let otherwise):
            var text = "(if \(sExpression(condition)) \(sExpression(then))"
            if let otherwise { text += " " + sExpression(otherwise) }
            return text + ")"
        case .while(let condition, let body):
            return "(while \(sExpression(condition)) \(sExpression(body)))"
        case .unroll(let count, let body):
            return "(unroll \(sExpression(count)) \(sExpression(body)))"
        case .jump(let kind):
            return "(\(kind.rawValue))"
        }
    }

    static func sExpression(_ block: Block) -> String {
        "{" + block.statements.map(sExpression).joined(separator: " ") + "}"
    }

    public static func sExpression(_ expression: Expression) -> String {
        switch expression.kind {
        case .integer(let value): return String(value)
        case .string(let bytes): return "\"" + escaped(bytes) + "\""
        case .identifier(let name), .builtin(let name), .stackMode(let name), .variable(let name): return name
        case .positionalParameter(let number): return "$\(number)"
        case .parameterCount: return "$#"
        case .map(let name, let keys):
            return keys.isEmpty ? name : "(\(name) " + keys.map(sExpression).joined(separator: " ") + ")"
        case .call(let name, let arguments):
            return "(\(name)" + arguments.map { " " + sExpression($0) }.joined() + ")"
        case .binary(let op, let left, let right):
            return "(\(op.rawValue) \(sExpression(left)) \(sExpression(right)))"
        case .unary(let op, let operand, let postfix):
            let name = op == .dereference ? "*" : op.rawValue
            return postfix ? "(post\(name) \(sExpression(operand)))" : "(\(name) \(sExpression(operand)))"
        case .ternary(let condition, let then, let otherwise):
            return "(? \(sExpression(condition)) \(sExpression(then)) \(sExpression(otherwise)))"
        case .field(let base, let name, let arrow):
            if arrow, case .unary(.dereference, let pointer, _) = base.kind {
                return "(-> \(sExpression(pointer)) \(name))"
            }
            return "(. \(sExpression(base)) \(name))"
        case .tupleIndex(let base, let index): return "(. \(sExpression(base)) \(index))"
        case .index(let base, let index): return "([] \(sExpression(base)) \(sExpression(index)))"
        case .cast(let type, let operand): return "(cast \(type) \(sExpression(operand)))"
        case .tuple(let elements): return "(tuple " + elements.map(sExpression).joined(separator: " ") + ")"
        case .sizeofType(let type): return "(sizeof \(type))"
        case .offsetof(let type, let fields): return "(offsetof \(type) \(fields.joined(separator: ".")))"
        }
    }

    /// bpftrace's escaping of strings in dumps: printable ASCII as is (with `\\` and `\"`), `\n`
    /// `\t` `\r`, anything else `\xNN`.
    static func escaped(_ bytes: [UInt8]) -> String {
        var out = ""
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\\"): out += "\\\\"
            case UInt8(ascii: "\""): out += "\\\""
            case 0x0A: out += "\\n"
            case 0x09: out += "\\t"
            case 0x0D: out += "\\r"
            case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(byte))
            default: out += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }
        }
        return out
    }
}

private struct TreePrinter {
    var out = ""
    var depth = 0

    mutating func line(_ text: String, extra: Int = 0) {
        out += String(repeating: " ", count: depth + extra) + text + "\n"
    }

    mutating func statements(_ statements: [Statement]) {
        for statement in statements { self.statement(statement) }
    }

    mutating func statement(_ statement: Statement) {
        switch statement.kind {
        case .expression(let expression):
            self.expression(expression)
        case .assignMap(let target, let value, _), .assignVariable(let target, let value, _):
            line("=")
            depth += 1
            expression(target)
            expression(value)
            depth -= 1
        case .if(let condition, let then, let otherwise):
            line("if")
            depth += 1
            expression(condition)
            depth += 1
            line("then", extra: -1)
            statements(then.statements)
            if let otherwise {
                line("else", extra: -1)
                statements(otherwise.statements)
            }
            depth -= 2
        case .unroll(let count, let body):
            line("unroll")
            depth += 1
            expression(count)
            line("block")
            depth += 1
            statements(body.statements)
            depth -= 2
        case .while(let condition, let body):
            // bpftrace 0.17 never returns to the outer depth after a while loop.
            line("while(")
            depth += 1
            expression(condition)
            depth += 1
            line(")", extra: -1)
            statements(body.statements)
        case .jump(let kind):
            line(kind.rawValue)
        }
    }

    mutating func children(_ expressions: [Expression]) {
        depth += 1
        for child in expressions { expression(child) }
        depth -= 1
    }

    mutating func expression(_ expression: Expression) {
        switch expression.kind {
        case .integer(let value): line("int: \(value)")
        case .string(let bytes): line("string: " + ASTPrinter.escaped(bytes))
        case .identifier(let name): line("identifier: " + name)
        case .builtin(let name): line("builtin: " + name)
        case .stackMode(let name): line("stack_mode: " + name)
        case .positionalParameter(let number): line("param: $\(number)")
        case .parameterCount: line("param: $#")
        case .variable(let name): line("variable: " + name)
        case .map(let name, let keys):
            line("map: " + name)
            children(keys)
        case .call(let name, let arguments):
            line("call: " + name)
            children(arguments)
        case .binary(let op, let left, let right):
            line(op.rawValue)
            children([left, right])
        case .unary(let op, let operand, let postfix):
            if postfix {
                self.expression(operand)
                line(op.rawValue, extra: 1)
            } else {
                line(op.rawValue)
                children([operand])
            }
        case .ternary(let condition, let then, let otherwise):
            line("?:")
            children([condition, then, otherwise])
        case .field(let base, let name, _):
            line(".")
            children([base])
            line(name, extra: 1)
        case .tupleIndex(let base, let index):
            line(".")
            children([base])
            line(String(index), extra: 1)
        case .index(let base, let index):
            line("[]")
            children([base, index])
        case .cast(let type, let operand):
            line("(" + type.name + (type.pointerDepth > 0 ? "*" : "") + ")")
            children([operand])
        case .tuple(let elements):
            line("tuple:")
            children(elements)
        case .sizeofType(let type):
            line("call: sizeof")
            line("identifier: " + type.description, extra: 1)
        case .offsetof(let type, let fields):
            line("offsetof: " + type.description)
            line(fields.joined(separator: "."), extra: 1)
        }
    }
}
