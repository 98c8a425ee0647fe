import BPFObject
import Foundation

/// `base->a.b[2]->c`, `p[i]`, `*p`: a pointer and the members and elements read through it.
/// The pointer comes from `curtask`, a value of pointer type (a cast such as
/// `(struct task_struct *)curtask` or `(int32 *)arg0`, a variable holding one) or a tracepoint
/// field declared as a struct pointer (`args->rqtp`).
struct MemberChain {
    enum Root {
        /// bpf_get_current_task().
        case currentTask
        /// An expression whose value is the pointer.
        case value(Expression)
    }
    var root: Root
    var pointee: TracePointee
    var accessors: [MemberAccessor]
}

extension TraceCompiler {
    /// The member chain `expression` reads, or nil when it is not one (plain tracepoint fields).
    mutating func memberChain(_ expression: Expression, _ scope: inout Scope) -> MemberChain? {
        var accessors: [MemberAccessor] = []
        var current = expression
        walk: while true {
            switch current.kind {
            case .field(let base, let name, let arrow):
                accessors.insert(.field(name, arrow: arrow), at: 0)
                if arrow, case .unary(.dereference, let inner, _) = base.kind { current = inner } else { current = base }
            case .index(let base, let index):
                accessors.insert(.index(index), at: 0)
                current = base
            case .unary(.dereference, let inner, _) where !isArgs(inner) && quietType(inner, &scope)?.isPointer == true:
                // `*p` is `p[0]`.
                accessors.insert(.index(Expression(.integer(0), range: current.range)), at: 0)
                current = inner
            default:
                break walk
            }
        }
        guard !accessors.isEmpty else { return nil }
        if case .builtin("curtask") = current.kind {
            return MemberChain(root: .currentTask, pointee: TracePointee(structName: "task_struct", isUser: false), accessors: accessors)
        }
        if isArgs(current), case .kernelFunction(let parameters, _, _) = scope.context.arguments {
            // kfunc args->param->member: the parameter's BTF type must be a struct pointer.
            guard accessors.count >= 2, case .field(let first, arrow: true) = accessors[0],
                  case .structPointer(let structName, let isUnion)? = parameters.first(where: { $0.name == first })?.kind else { return nil }
            let base = Expression(.field(current, name: first, arrow: true), range: current.range)
            return MemberChain(root: .value(base), pointee: TracePointee(structName: structName, isUnion: isUnion, isUser: false),
                               accessors: Array(accessors.dropFirst()))
        }
        if isArgs(current) {
            // args->field->member: the tracepoint field must be a struct pointer.
            guard accessors.count >= 2, case .field(let first, _) = accessors[0], let format = scope.context.tracepoint,
                  let field = format.field(named: first), let pointee = Self.structPointee(ofDeclaredType: field.type) else { return nil }
            // Syscall arguments point into the calling process (bpftrace reads them as user memory).
            let isUser = scope.context.probeName.hasPrefix("tracepoint:syscalls:")
            let base = Expression(.field(current, name: first, arrow: true), range: current.range)
            return MemberChain(root: .value(base), pointee: TracePointee(structName: pointee.name, isUnion: pointee.isUnion, isUser: isUser),
                               accessors: Array(accessors.dropFirst()))
        }
        guard case .pointer(let pointee)? = inferType(current, &scope) else { return nil }
        return MemberChain(root: .value(current), pointee: pointee, accessors: accessors)
    }

    /// The type of `expression` without reporting anything (for deciding what a `*` means).
    mutating func quietType(_ expression: Expression, _ scope: inout Scope) -> TraceValueType? {
        let mark = diagnostics.all.count
        defer { diagnostics.truncate(to: mark) }
        return inferType(expression, &scope)
    }

    /// `struct __kernel_timespec *` (as tracefs declares a field) → ("__kernel_timespec", false).
    static func structPointee(ofDeclaredType declared: String) -> (name: String, isUnion: Bool)? {
        var words = declared.replacingOccurrences(of: "*", with: " * ").split(separator: " ").map(String.init)
        words.removeAll { $0 == "const" || $0 == "volatile" || $0 == "__user" }
        guard words.count == 3, words[0] == "struct" || words[0] == "union", words[2] == "*" else { return nil }
        return (words[1], words[0] == "union")
    }

    /// The walk for `chain` through C types and kernel BTF, or nil after reporting why there is none.
    mutating func memberAccess(_ chain: MemberChain, range: SourceRange) -> MemoryPath? {
        let range = Self.bpftraceRange(range, of: chain)
        let kernelTypes = self.kernelTypes
        do {
            return try MemoryPath.resolve(pointerTo: chain.pointee.target, accessors: chain.accessors) {
                guard let kernelTypes else { throw TraceError("struct member access needs kernel BTF, which was not provided") }
                return try kernelTypes()
            }
        } catch {
            diagnostics.error("\(error)", at: range)
            return nil
        }
    }

    /// bpftrace 0.17 locates errors in a chain that starts at a variable (`$t->x`) one column
    /// right of the expression.
    static func bpftraceRange(_ range: SourceRange, of chain: MemberChain) -> SourceRange {
        guard case .value(let root) = chain.root, case .variable = root.kind else { return range }
        var shifted = range
        for keyPath in [\SourceRange.begin, \SourceRange.end] {
            shifted[keyPath: keyPath].column += 1
            shifted[keyPath: keyPath].offset += 1
        }
        return shifted
    }

    /// The type of a value read through `chain`.
    mutating func memberType(_ chain: MemberChain, range: SourceRange) -> TraceValueType? {
        guard let access = memberAccess(chain, range: range) else { return nil }
        let range = Self.bpftraceRange(range, of: chain)
        switch access.result {
        case .integer(_, let signed): return .integer(signed: signed)
        case .bitfield(_, _, _, let signed): return .integer(signed: signed)
        case .string(let size): return .string(size: alignedStringSize(size))
        case .byteArray(let count): return .byteArray(count: count)
        case .integerArray(let size, let signed, let count): return .integerArray(elementSize: size, signed: signed, count: count)
        case .pointer(let target): return .pointer(TracePointee(target: target, isUser: chain.pointee.isUser))
        case .record(let type):
            diagnostics.error("swiftbpf trace cannot hold a whole '\(type)' as a value; read its members with '.'", at: range)
            return nil
        case .unreadable(let type):
            diagnostics.error("swiftbpf trace does not read values of type '\(type)' yet", at: range)
            return nil
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
        var addressScope = scope
        let isUser = operandAddressSpace(expression, &addressScope)
        return .pointer(TracePointee(structName: String(words[1]), isUnion: isUnion, isUser: isUser))
    }

    /// `(int32 *)expr`, `(uint8 **)expr`, `(struct x **)expr`: a pointer to an integer or to a
    /// pointer, living where the probe's pointers live (user memory in uprobes and USDT probes).
    /// Struct pointers of depth one are `castToStructPointer`'s.
    mutating func castToPointer(_ type: TypeName, _ operandType: TraceValueType, _ expression: Expression, _ scope: Scope) -> TraceValueType? {
        guard type.pointerDepth > 0, let target = TraceCType(castName: type.name, pointerDepth: type.pointerDepth - 1) else { return nil }
        if case .record = target { return nil }
        // A kernel array member (`(int8 *)curtask->comm`) converts to its address, as in C.
        if !operandType.isInteger, case .cast(_, let operand) = expression.kind {
            var chainScope = scope
            if let chain = memberChain(operand, &chainScope) {
                return .pointer(TracePointee(target: target, isUser: chain.pointee.isUser))
            }
        }
        guard operandType.isInteger else {
            diagnostics.error("Cannot cast from \"\(operandType.bpftraceName)\" to \"\(type)\"", at: expression.range)
            return .integer(signed: false)
        }
        var addressScope = scope
        return .pointer(TracePointee(target: target, isUser: operandAddressSpace(expression, &addressScope)))
    }
}
