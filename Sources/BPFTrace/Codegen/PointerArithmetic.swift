import BPFObject
import Foundation

/// Pointer arithmetic, comparisons, `*p` and `[i]`, typed as bpftrace 0.17 types them: `p + n`,
/// `n + p`, `p - n` (and `+=`, `-=`, `++`, `--`) step by the pointee's size as in C; other
/// operators on pointers are refused with bpftrace's message.
extension TraceCompiler {
    /// The type of `left op right` when a pointer takes part; nil when neither side is a pointer.
    /// `.some(nil)` after reporting an error.
    mutating func pointerBinaryType(_ op: BinaryOperator, _ left: TraceValueType, _ right: TraceValueType, _ expression: Expression) -> TraceValueType?? {
        guard left.isPointer || right.isPointer, left.isInteger, right.isInteger else { return nil }
        switch op {
        case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual:
            if case .pointer(let a) = left, case .pointer(let b) = right, a.target != b.target {
                diagnostics.warning("comparison of distinct pointer types ('\(a.target), '\(b.target)')", at: expression.range)
            }
            return .some(.integer(signed: false))
        case .logicalAnd, .logicalOr:
            return .some(.integer(signed: false))
        case .add where left.isPointer != right.isPointer:
            return .some(left.isPointer ? left : right)
        case .subtract where left.isPointer && !right.isPointer:
            return .some(left)
        default:
            diagnostics.error("The \(op.rawValue) operator can not be used on expressions of types \(left), \(right)", at: expression.operatorRange ?? expression.range)
            return .some(nil)
        }
    }

    /// `base[index]`: an element of a tracepoint array field, or of an array or pointer reached
    /// through a member chain.
    mutating func indexType(_ expression: Expression, _ scope: inout Scope) -> TraceValueType? {
        guard case .index(let base, let index) = expression.kind else { return nil }
        guard let indexType = inferType(index, &scope) else { return nil }
        guard case .integer = indexType else {
            diagnostics.error("The array index operator [] only accepts integer indices.", at: expression.range)
            return nil
        }
        if let element = tracepointArrayElement(base, scope) {
            switch element {
            case .success(let (_, count, _, signed)):
                if case .integer(let constant) = index.kind, constant < 0 || constant >= count {
                    diagnostics.error("the index \(constant) is out of bounds for array of size \(count)", at: expression.range)
                    return nil
                }
                return .integer(signed: signed)
            case .failure(let error):
                diagnostics.error("\(error)", at: expression.range)
                return nil
            }
        }
        if let chain = memberChain(expression, &scope) { return memberType(chain, range: expression.range) }
        guard let baseType = inferType(base, &scope) else { return nil }
        if let element = Self.arrayValueElement(baseType) {
            // An array held in a variable or map: a literal index, as bpftrace 0.17 requires.
            guard case .integer(let constant) = index.kind else {
                diagnostics.error("The array index operator [] only accepts literal integer indices.", at: expression.range)
                return nil
            }
            guard constant >= 0, constant < element.count else {
                diagnostics.error("the index \(constant) is out of bounds for array of size \(element.count)", at: expression.range)
                return nil
            }
            return .integer(signed: element.signed)
        }
        let found = baseType.isString ? "string" : baseType.isInteger ? "integer" : baseType.bpftraceName
        diagnostics.error("The array index operator [] can only be used on arrays and pointers, found \(found).", at: expression.range)
        return nil
    }

    /// `args->field` when `field` is a fixed array of integers in the tracepoint's record:
    /// its offset, length, element size and signedness (or why it cannot be indexed).
    func tracepointArrayElement(_ base: Expression, _ scope: Scope) -> Result<(offset: Int, count: Int, size: Int, signed: Bool), TraceError>? {
        guard case .field(let record, let name, _) = base.kind, isArgs(record), let field = scope.context.tracepoint?.field(named: name) else { return nil }
        switch field.kind {
        case .array(let count?) where count > 0 && !(field.type.hasPrefix("char") || field.type.contains(" char")):
            return .success((field.offset, count, field.size / count, field.isSigned))
        case .scalar:
            return .failure(TraceError("The array index operator [] can only be used on arrays and pointers, found integer."))
        case .array, .dataLocation, .relativeLocation:
            return .failure(TraceError("The array index operator [] can only be used on arrays and pointers, found string."))
        }
    }

    /// bpftrace's refusal of `print(args)` and `print(pointer)`, or nil for printable arguments.
    mutating func unprintableArgument(_ arguments: [Expression], _ scope: inout Scope) -> String? {
        guard let argument = arguments.first else { return nil }
        if case .builtin("args") = argument.kind, scope.context.tracepoint != nil {
            // bpftrace names the record after the probe: `tracepoint:a:b` → `_tracepoint_a_b`.
            let record = "_" + scope.context.probeName.replacingOccurrences(of: ":", with: "_")
            return "(ctx) struct \(record) * type passed to print() is not printable"
        }
        if case .pointer(let pointee)? = quietType(argument, &scope) {
            return "\(pointee.typeName) * type passed to print() is not printable"
        }
        return nil
    }

    /// Element size, signedness and count of an array value (`pton()`'s bytes, a kernel array
    /// read whole), or nil for other types.
    static func arrayValueElement(_ type: TraceValueType) -> (size: Int, signed: Bool, count: Int)? {
        switch type {
        case .byteArray(let count): (1, false, count)
        case .integerArray(let size, let signed, let count): (size, signed, count)
        default: nil
        }
    }

    /// Whether the address `expression` yields is a user address, when the expression says so:
    /// `uptr()`/`kptr()`, a pointer's own address space, a syscall tracepoint's pointer field (the
    /// caller's memory, as bpftrace reads `*(uint8 *)args->filename`), through casts and `p ± n`.
    mutating func addressSpace(of expression: Expression, _ scope: inout Scope) -> Bool? {
        switch expression.kind {
        case .call("uptr", _): return true
        case .call("kptr", _): return false
        case .cast(_, let operand): return addressSpace(of: operand, &scope)
        case .binary(.add, let a, let b), .binary(.subtract, let a, let b):
            return addressSpace(of: a, &scope) ?? addressSpace(of: b, &scope)
        case .field(let base, _, _) where isArgs(base):
            return scope.context.probeName.hasPrefix("tracepoint:syscalls:") ? true : nil
        default:
            if case .pointer(let pointee)? = quietType(expression, &scope) { return pointee.isUser }
            return nil
        }
    }

    /// The address space of the operand of cast `expression` (the probe's own when the operand
    /// does not say): user memory in uprobes and USDT probes, kernel memory elsewhere.
    mutating func operandAddressSpace(_ expression: Expression, _ scope: inout Scope) -> Bool {
        if case .cast(_, let operand) = expression.kind, let isUser = addressSpace(of: operand, &scope) { return isUser }
        return scope.context.pointersAreUserMemory
    }

    /// `uptr(p)`/`kptr(p)`: the same value, its pointer type moved to user or kernel memory.
    mutating func addressSpaceCastType(_ expression: Expression, _ scope: inout Scope) -> TraceValueType? {
        guard case .call(let name, let arguments) = expression.kind else { return nil }
        guard arguments.count == 1 else {
            diagnostics.error("\(name)() requires 1 argument (\(arguments.count) provided)", at: expression.range)
            return nil
        }
        guard let type = inferType(arguments[0], &scope) else { return nil }
        switch type {
        case .pointer(var pointee):
            pointee.isUser = name == "uptr"
            return .pointer(pointee)
        case .integer: return type
        default:
            diagnostics.error("\(name)() only supports integer or pointer arguments (\(type.argumentKindName) provided)", at: expression.range)
            return nil
        }
    }

    /// `args->array` or a variable holding one: an array bpftrace leaves in the probe's context.
    func isContextArray(_ expression: Expression, _ scope: Scope) -> Bool {
        switch expression.kind {
        case .variable(let name): return scope.contextVariables.contains(name)
        case .field(let base, let name, _) where isArgs(base):
            guard let field = scope.context.tracepoint?.field(named: name), case .array(let count?) = field.kind else { return false }
            return count > 0 && !(field.type.hasPrefix("char") || field.type.contains(" char"))
        default: return false
        }
    }

    /// bpftrace's refusal of a context array as a map value or key; true when refused.
    mutating func refusesContextInMap(_ map: Expression, _ value: Expression, _ statement: Statement, _ scope: Scope) -> Bool {
        if isContextArray(value, scope) {
            diagnostics.error("context cannot be assigned to a map", at: statement.operatorRange ?? statement.range)
            return true
        }
        if case .map(_, let keys) = map.kind, keys.contains(where: { isContextArray($0, scope) }) {
            diagnostics.error("context cannot be used as a map key", at: map.range)
            return true
        }
        return false
    }
}
