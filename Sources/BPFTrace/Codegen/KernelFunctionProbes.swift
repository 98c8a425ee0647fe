import BPFObject
import Foundation

/// One parameter of a kfunc/kretfunc probe's kernel function, from its BTF prototype.
public struct KernelFunctionParameter: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case integer(size: Int, signed: Bool)
        /// A pointer to a named struct or union: members can be read through it (`args->file->f_pos`).
        case structPointer(name: String, isUnion: Bool)
        /// Any other pointer, read as an unsigned 64-bit value (as `str()`/`buf()` arguments).
        case pointer

        var traceType: TraceValueType {
            switch self {
            case .integer(_, let signed): .integer(signed: signed)
            case .structPointer(let name, let isUnion): .pointer(TracePointee(structName: name, isUnion: isUnion, isUser: false))
            case .pointer: .integer(signed: false)
            }
        }

        /// How a value of BTF type `id` is read from its u64 context slot; nil for types that
        /// do not fit one (structs passed by value).
        static func of(_ id: UInt32, in btf: BTF) -> Kind? {
            guard let resolved = try? btf.skipTypedefs(id), let type = try? btf.type(resolved) else { return nil }
            switch type.kind {
            case .int:
                guard let size = try? btf.size(of: resolved), size <= 8 else { return nil }
                return .integer(size: size, signed: type.intEncoding.contains(.signed))
            case .enum, .enum64:
                return .integer(size: (try? btf.size(of: resolved)) ?? 8, signed: type.isSignedEnum)
            case .pointer:
                if let target = type.referencedType, let pointee = try? btf.type(try btf.skipTypedefs(target)),
                   pointee.kind.isComposite, !pointee.name.isEmpty {
                    return .structPointer(name: pointee.name, isUnion: pointee.kind == .union)
                }
                return .pointer
            default:
                return nil
            }
        }
    }

    public var name: String
    public var kind: Kind
}

extension TraceCompiler {
    /// `kfunc:[vmlinux:]FUNCTION` / `kretfunc:`: the function's BTF prototype gives `args->NAME`
    /// and (kretfunc) `retval`. Kernels that refuse BPF trampolines reject the program when it
    /// loads, with the reason (TraceSession).
    mutating func resolveKernelFunction(_ point: AttachPoint) -> (AttachPoint, TraceAttachment, ProbeContext)? {
        guard let kernelTypes, let btf = try? kernelTypes() else {
            diagnostics.error("\(point.provider) probes need kernel BTF (/sys/kernel/btf/vmlinux), which was not found", at: point.reportRange)
            return nil
        }
        guard point.target.isEmpty || point.target == "vmlinux" else {
            diagnostics.error("\(point.provider) probes on module functions (\(point.target)) are not supported by swiftbpf trace yet", at: point.reportRange)
            return nil
        }
        guard let functionID = btf.typeIDs(named: point.function, kind: .function).first,
              let function = try? btf.type(functionID), let prototype = try? btf.type(function.sizeOrType) else {
            diagnostics.error("No BTF found for \(point.function)", at: point.reportRange)
            return nil
        }
        var parameters: [KernelFunctionParameter] = []
        for (index, parameter) in prototype.parameters.enumerated() {
            // Parameters that do not fit a u64 slot (structs by value) stay unreadable but keep
            // the later parameters at their slots.
            parameters.append(KernelFunctionParameter(name: parameter.name.isEmpty ? "arg\(index)" : parameter.name,
                                                      kind: KernelFunctionParameter.Kind.of(parameter.type, in: btf) ?? .pointer))
        }
        let isReturn = point.provider == "kretfunc"
        let returnValue = prototype.sizeOrType == 0 ? nil : KernelFunctionParameter.Kind.of(prototype.sizeOrType, in: btf)
        return (point, .kfunc(function: point.function, btfID: functionID, isReturn: isReturn),
                ProbeContext(programType: .tracing, probeName: point.name, function: point.function,
                             arguments: .kernelFunction(parameters, isReturn: isReturn, returnValue: returnValue)))
    }

    /// `kfunc:vfs_*`: one attach point per matching BTF function of vmlinux.
    mutating func expandKernelFunction(_ point: AttachPoint) -> [AttachPoint] {
        guard let kernelTypes, let btf = try? kernelTypes() else { return [point] }
        let pattern = point.function
        var seen = Set<String>()
        let names = btf.typeIDs(of: .function).compactMap { try? btf.type($0).name }
            .filter { seen.insert($0).inserted && fnmatch(pattern, $0, 0) == 0 }.sorted()
        guard !names.isEmpty else {
            diagnostics.error("No probes matched '\(point.raw)'", at: point.reportRange)
            return []
        }
        return names.map { name in
            var concrete = point
            concrete.function = name
            concrete.raw = "\(point.provider):\(name)"
            return concrete
        }
    }
}
