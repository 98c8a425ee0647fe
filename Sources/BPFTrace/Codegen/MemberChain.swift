import BPFObject
import Foundation

/// `base->a.b->c`: a struct pointer and the members read through it. The pointer comes from
/// `curtask`, a value of pointer type (a cast such as `(struct task_struct *)curtask`, a
/// variable holding one) or a tracepoint field declared as a struct pointer (`args->rqtp`).
struct MemberChain {
    enum Root {
        /// bpf_get_current_task().
        case currentTask
        /// An expression whose value is the pointer.
        case value(Expression)
    }
    var root: Root
    var pointee: TracePointee
    var fields: [(name: String, arrow: Bool)]
}

extension TraceCompiler {
    /// The member chain `expression` reads, or nil when it is not one (plain tracepoint fields).
    mutating func memberChain(_ expression: Expression, _ scope: inout Scope) -> MemberChain? {
        var fields: [(name: String, arrow: Bool)] = []
        var current = expression
        while case .field(let base, let name, let arrow) = current.kind {
            fields.insert((name, arrow), at: 0)
            if arrow, case .unary(.dereference, let inner, _) = base.kind { current = inner } else { current = base }
        }
        guard !fields.isEmpty else { return nil }
        if case .builtin("curtask") = current.kind {
            return MemberChain(root: .currentTask, pointee: TracePointee(structName: "task_struct", isUser: false), fields: fields)
        }
        if isArgs(current), case .kernelFunction(let parameters, _, _) = scope.context.arguments {
            // kfunc args->param->member: the parameter's BTF type must be a struct pointer.
            guard fields.count >= 2, fields[0].arrow,
                  case .structPointer(let structName, let isUnion)? = parameters.first(where: { $0.name == fields[0].name })?.kind else { return nil }
            let base = Expression(.field(current, name: fields[0].name, arrow: true), range: current.range)
            return MemberChain(root: .value(base), pointee: TracePointee(structName: structName, isUnion: isUnion, isUser: false),
                               fields: Array(fields.dropFirst()))
        }
        if isArgs(current) {
            // args->field->member: the tracepoint field must be a struct pointer.
            guard fields.count >= 2, let format = scope.context.tracepoint, let field = format.field(named: fields[0].name),
                  let pointee = Self.structPointee(ofDeclaredType: field.type) else { return nil }
            // Syscall arguments point into the calling process (bpftrace reads them as user memory).
            let isUser = scope.context.probeName.hasPrefix("tracepoint:syscalls:")
            let base = Expression(.field(current, name: fields[0].name, arrow: true), range: current.range)
            return MemberChain(root: .value(base), pointee: TracePointee(structName: pointee.name, isUnion: pointee.isUnion, isUser: isUser),
                               fields: Array(fields.dropFirst()))
        }
        guard case .pointer(let pointee)? = inferType(current, &scope) else { return nil }
        return MemberChain(root: .value(current), pointee: pointee, fields: fields)
    }

    /// `struct __kernel_timespec *` (as tracefs declares a field) → ("__kernel_timespec", false).
    static func structPointee(ofDeclaredType declared: String) -> (name: String, isUnion: Bool)? {
        var words = declared.replacingOccurrences(of: "*", with: " * ").split(separator: " ").map(String.init)
        words.removeAll { $0 == "const" || $0 == "volatile" || $0 == "__user" }
        guard words.count == 3, words[0] == "struct" || words[0] == "union", words[2] == "*" else { return nil }
        return (words[1], words[0] == "union")
    }

    /// The BTF walk for `chain`, or nil after reporting why there is none.
    mutating func memberAccess(_ chain: MemberChain, range: SourceRange) -> KernelMemberAccess? {
        guard let kernelTypes else {
            diagnostics.error("struct member access needs kernel BTF, which was not provided", at: range)
            return nil
        }
        do {
            return try KernelMemberAccess.resolve(root: chain.pointee.structName, isUnion: chain.pointee.isUnion, fields: chain.fields, in: try kernelTypes())
        } catch {
            diagnostics.error("\(error)", at: range)
            return nil
        }
    }

    /// The type of a value read through `chain`.
    mutating func memberType(_ chain: MemberChain, range: SourceRange) -> TraceValueType? {
        guard let access = memberAccess(chain, range: range) else { return nil }
        switch access.result {
        case .integer(_, let signed): return .integer(signed: signed)
        case .string(let size): return .string(size: alignedStringSize(size))
        case .structPointer(let name, let isUnion):
            return .pointer(TracePointee(structName: name, isUnion: isUnion, isUser: chain.pointee.isUser))
        }
    }

    /// `(struct name *)expr`: the struct must exist in kernel BTF; the pointer lives where the
    /// probe's pointers live (user memory in uprobes, kernel memory elsewhere), as in bpftrace.
    mutating func castToStructPointer(_ type: TypeName, _ operandType: TraceValueType, _ expression: Expression, _ scope: Scope) -> TraceValueType? {
        let words = type.name.split(separator: " ")
        guard words.count == 2, words[0] == "struct" || words[0] == "union" else { return nil }
        let isUnion = words[0] == "union"
        guard type.pointerDepth == 1 else {
            diagnostics.error("Cannot cast to struct type \"\(type.name)\"", at: expression.range)
            return .integer(signed: false)
        }
        guard operandType.isInteger else {
            diagnostics.error("Cannot cast from \"\(operandType.bpftraceName)\" to \"\(type)\"", at: expression.range)
            return .integer(signed: false)
        }
        guard let kernelTypes, let btf = try? kernelTypes(), !btf.typeIDs(named: String(words[1]), kind: isUnion ? .union : .struct).isEmpty else {
            diagnostics.error("Unknown struct/union: '\(type.name)'", at: expression.range)
            return .integer(signed: false)
        }
        let isUser: Bool = { if case .registers = scope.context.arguments { true } else { false } }()
        return .pointer(TracePointee(structName: String(words[1]), isUnion: isUnion, isUser: isUser))
    }
}
