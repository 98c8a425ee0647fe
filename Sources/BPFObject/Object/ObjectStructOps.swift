/// One struct_ops variable of an object: a kernel operations table (`struct tcp_congestion_ops`,
/// ...) written in C in section `.struct_ops` or `.struct_ops.link`, whose function pointers
/// name `SEC("struct_ops/...")` programs. The loader turns it into a BPF_MAP_TYPE_STRUCT_OPS map
/// whose value is the kernel's `struct bpf_struct_ops_<type>` with the programs' descriptors in
/// the function pointer slots and the other members copied by name.
public struct ObjectStructOps: Sendable, Hashable {
    /// The variable's name (the map's name).
    public var name: String
    public var sectionName: String
    /// The struct's name, looked up in the kernel BTF (`tcp_congestion_ops`).
    public var typeName: String
    /// The struct in the object's BTF.
    public var localTypeID: UInt32
    /// The variable's bytes as compiled (data members; pointer slots are zero).
    public var data: [UInt8]
    /// Member name → program name, for each function pointer the variable sets.
    public var programs: [String: String]
    /// `.struct_ops.link`: registered through a BPF link (BPF_F_LINK), detached by closing it.
    public var usesLink: Bool

    static let sectionNames = [".struct_ops", ".struct_ops.link"]
}

extension ObjectSpec {
    /// The struct_ops variable whose table points at `program`, with the member it fills.
    public func structOps(using program: String) -> (ObjectStructOps, member: String)? {
        for ops in structOps {
            if let member = ops.programs.first(where: { $0.value == program })?.key { return (ops, member) }
        }
        return nil
    }
}

extension ObjectParser {
    /// The struct_ops variables of every `.struct_ops*` section: their BTF type from the section's
    /// DATASEC, their bytes, and which program each relocated function pointer names.
    func structOpsVariables(btf: BTF?) throws -> [ObjectStructOps] {
        var result: [ObjectStructOps] = []
        for section in elf.sections where ObjectStructOps.sectionNames.contains(section.name) {
            guard let btf, let datasecID = btf.typeIDs(named: section.name, kind: .dataSection).first else {
                throw ObjectError.unsupported("section \(section.name) needs BTF describing its variables; compile with -g")
            }
            let bytes = Array(try data(section))
            // Relocations of this section: offset → program (function symbol) name.
            var targets: [UInt64: String] = [:]
            for relocations in elf.sections where (relocations.type == .rel || relocations.type == .rela) && Int(relocations.info) == section.index {
                let entries: [ELFRelocation]
                do { entries = try elf.relocations(in: relocations) } catch let error as ELFError { throw ObjectError.elf(error) }
                for entry in entries {
                    let symbol = try self.symbol(entry.symbolIndex, for: "relocation in \(section.name)")
                    guard symbol.type == .function || (symbol.type == .section && entry.addend != nil) else {
                        throw ObjectError.malformed("\(section.name) relocation at \(entry.offset) refers to '\(symbol.name)', which is not a program")
                    }
                    targets[entry.offset] = symbol.name
                }
            }
            let datasec: BTFType
            do { datasec = try btf.type(datasecID) } catch { throw ObjectError.btf("\(section.name): \(error)") }
            for variable in datasec.sectionVariables {
                guard let variableType = try? btf.type(variable.type), variableType.kind == .variable else { continue }
                let start = Int(variable.offset), size = Int(variable.size)
                guard start >= 0, size >= 0, start <= bytes.count, size <= bytes.count - start else {
                    throw ObjectError.malformed("struct_ops variable '\(variableType.name)' lies outside \(section.name)")
                }
                let structID: UInt32
                let structType: BTFType
                do {
                    structID = try btf.skipTypedefs(variableType.sizeOrType)
                    structType = try btf.type(structID)
                } catch { throw ObjectError.btf("struct_ops variable '\(variableType.name)': \(error)") }
                guard structType.kind == .struct, !structType.isAnonymous else {
                    throw ObjectError.unsupported("struct_ops variable '\(variableType.name)' must be a named struct, is \(structType.kind)")
                }
                var programs: [String: String] = [:]
                for member in structType.members {
                    let offset = UInt64(start) + UInt64(member.bitOffset / 8)
                    if let program = targets[offset] { programs[member.name] = program }
                }
                result.append(ObjectStructOps(
                    name: variableType.name, sectionName: section.name, typeName: structType.name, localTypeID: structID,
                    data: Array(bytes[start..<start + size]), programs: programs, usesLink: section.name == ".struct_ops.link"))
            }
        }
        return result
    }
}
