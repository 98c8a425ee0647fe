import BPFObject
import Foundation

/// Enumerator values of kernel BTF by name, built on first use (one walk over every enum).
final class EnumConstantTable: @unchecked Sendable {
    private var values: [String: UInt64]?
    private let lock = NSLock()

    func value(of name: String, in btf: () throws -> BTF) -> UInt64? {
        lock.lock()
        defer { lock.unlock() }
        if values == nil {
            var table: [String: UInt64] = [:]
            if let types = try? btf() {
                for kind in [BTFKind.enum, .enum64] {
                    for id in types.typeIDs(of: kind) {
                        guard let type = try? types.type(id) else { continue }
                        // The first definition wins, as in a C header where later ones would clash.
                        for enumerator in type.enumerators where table[enumerator.name] == nil {
                            table[enumerator.name] = enumerator.value
                        }
                    }
                }
            }
            values = table
        }
        return values?[name]
    }
}

/// Compile-time constants: `sizeof(TYPE)`, `sizeof(expr)`, `offsetof(struct X, a.b)` and enum
/// constants named by identifiers (`BPF_MAP_TYPE_HASH`), all uint64 as in bpftrace.
extension TraceCompiler {
    /// Whether `expression` is one of these constants.
    static func isTypeConstant(_ expression: Expression) -> Bool {
        switch expression.kind {
        case .sizeofType, .offsetof, .identifier, .call("sizeof", _): true
        default: false
        }
    }

    /// The constant's value, or nil after reporting why there is none.
    mutating func typeConstant(_ expression: Expression, _ scope: inout Scope) -> UInt64? {
        switch expression.kind {
        case .identifier(let name):
            // The preprocessor runs first in bpftrace: a macro wins over an enumerator.
            if let value = macroValue(name) { return UInt64(bitPattern: value) }
            if let value = enumConstants.value(of: name, in: { try kernelBTF() }) { return value }
            diagnostics.error("Unknown identifier: '\(name)'", at: expression.range)
            return nil
        case .sizeofType(let type):
            if type.pointerDepth > 0 { return 8 }
            return sizeOfNamedType(type.name, expression.range)
        case .call("sizeof", let arguments):
            guard arguments.count == 1 else {
                diagnostics.error("sizeof() requires 1 argument (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            let argument = arguments[0]
            if case .identifier(let name) = argument.kind {
                if castWidth(name) != nil { return sizeOfNamedType(name, expression.range) }
                guard enumConstants.value(of: name, in: { try kernelBTF() }) != nil else {
                    // bpftrace's location stops before the closing parenthesis here.
                    diagnostics.error("Unknown identifier: '\(name)'", at: SourceRange(begin: expression.range.begin, end: argument.range.end))
                    return nil
                }
                return 8
            }
            return sizeOfValue(argument, &scope)
        case .offsetof(let type, let fields):
            let words = type.name.split(separator: " ")
            guard type.pointerDepth == 0, words.count == 2, words[0] == "struct" || words[0] == "union" else {
                diagnostics.error("offsetof() expects a struct or union type, not '\(type)'", at: expression.range)
                return nil
            }
            guard let btf = try? kernelBTF(), let id = btf.typeIDs(named: String(words[1]), kind: words[0] == "union" ? .union : .struct).first else {
                diagnostics.error("Unknown identifier: '\(type.name)'", at: expression.range)
                return nil
            }
            // Each step must name a member of the struct the previous one reached.
            var container = id
            var offset: UInt64 = 0
            var containerName = type.name
            for field in fields {
                guard let found = try? btf.field(field, in: container) else {
                    diagnostics.error("'\(containerName)' has no field named '\(field)'", at: expression.range)
                    return nil
                }
                offset += UInt64(found.byteOffset)
                container = found.type
                containerName = (try? TraceCType(btfType: found.type, in: btf).description) ?? field
            }
            return offset
        default:
            return nil
        }
    }

    /// The value of `#define NAME` from the script or the headers it includes.
    mutating func macroValue(_ name: String) -> Int64? {
        if headerMacros == nil {
            var macros = HeaderMacros(readHeader: options.readHeader ?? { _ in nil })
            macros.process(scriptLines: program.preprocessorLines.map(\.text))
            headerMacros = macros
        }
        return headerMacros?.value(of: name)
    }

    func kernelBTF() throws -> BTF {
        guard let kernelTypes else { throw TraceError("kernel BTF was not provided") }
        return try kernelTypes()
    }

    /// `sizeof(uint32)`, `sizeof(struct task_struct)`.
    mutating func sizeOfNamedType(_ name: String, _ range: SourceRange) -> UInt64? {
        if let width = castWidth(name) { return UInt64(width.bytes) }
        guard let type = TraceCType(castName: name, pointerDepth: 0), let size = try? type.size(in: { try kernelBTF() }) else {
            diagnostics.error("Unknown identifier: '\(name)'", at: range)
            return nil
        }
        return UInt64(size)
    }

    /// `sizeof(expr)`: the C size of what a member chain reads (`sizeof($t->pid)` is 4), the
    /// bytes of a string, 8 for other integers and pointers, as bpftrace counts them.
    mutating func sizeOfValue(_ argument: Expression, _ scope: inout Scope) -> UInt64? {
        if case .string(let bytes) = argument.kind { return UInt64(bytes.count + 1) }
        if case .builtin("comm") = argument.kind { return 16 }
        if let chain = memberChain(argument, &scope), let path = memberAccess(chain, range: argument.range) {
            return (try? path.type.size(in: { try kernelBTF() })).map(UInt64.init)
        }
        guard let type = inferType(argument, &scope) else { return nil }
        switch type {
        case .byteArray(let count): return UInt64(count)
        default: return UInt64(type.storageSize)
        }
    }
}
