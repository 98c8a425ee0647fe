/// The raw text form of BTF, line for line as `bpftool btf dump file … format raw` prints it:
/// `[1] INT 'long unsigned int' size=8 bits_offset=0 nr_bits=64 encoding=(none)`, members on
/// following lines indented by a tab.
extension BTF {
    /// Raw dump of the types this blob defines (for split BTF, only the module's own types,
    /// as bpftool does), one type per entry, each possibly spanning several lines.
    public func rawDump() -> String {
        var output = ""
        output.reserveCapacity(offsets.count * 64)
        for (index, offset) in offsets.enumerated() {
            BTFType(id: firstTypeID + UInt32(index), btf: self, offset: Int(offset)).appendRaw(to: &output)
            output.append("\n")
        }
        return output
    }
}

extension BTFType {
    /// This type in bpftool's raw format.
    public var rawDescription: String {
        var text = ""
        appendRaw(to: &text)
        return text
    }

    private func quoted(_ name: String) -> String { name.isEmpty ? "'(anon)'" : "'\(name)'" }

    func appendRaw(to out: inout String) {
        out += "[\(id)] \(kind.rawName) \(quoted(name))"
        switch kind {
        case .void:
            break
        case .int:
            let encoding = intEncoding
            let spelled: String
            switch encoding.rawValue {
            case 0: spelled = "(none)"
            case BTFIntEncoding.signed.rawValue: spelled = "SIGNED"
            case BTFIntEncoding.char.rawValue: spelled = "CHAR"
            case BTFIntEncoding.bool.rawValue: spelled = "BOOL"
            default: spelled = "UNKN"
            }
            out += " size=\(sizeOrType) bits_offset=\(intBitOffset) nr_bits=\(intBits) encoding=\(spelled)"
        case .pointer, .const, .volatile, .restrict, .typedef, .typeTag:
            out += " type_id=\(sizeOrType)"
        case .array:
            let array = array!
            out += " type_id=\(array.elementType) index_type_id=\(array.indexType) nr_elems=\(array.count)"
        case .struct, .union:
            out += " size=\(sizeOrType) vlen=\(vlen)"
            for member in members {
                out += "\n\t\(quoted(member.name)) type_id=\(member.type) bits_offset=\(member.bitOffset)"
                if member.bitfieldSize != 0 { out += " bitfield_size=\(member.bitfieldSize)" }
            }
        case .enum, .enum64:
            let signed = kindFlag
            out += " encoding=\(signed ? "SIGNED" : "UNSIGNED") size=\(sizeOrType) vlen=\(vlen)"
            for enumerator in enumerators {
                out += "\n\t\(quoted(enumerator.name)) val="
                if kind == .enum {
                    out += signed ? "\(Int32(truncatingIfNeeded: enumerator.signedValue))" : "\(UInt32(truncatingIfNeeded: enumerator.value))"
                } else {
                    out += signed ? "\(enumerator.signedValue)LL" : "\(enumerator.value)ULL"
                }
            }
        case .forward:
            out += " fwd_kind=\(isUnionForward ? "union" : "struct")"
        case .function:
            out += " type_id=\(sizeOrType) linkage=\(linkage?.rawName ?? "(unknown)")"
        case .functionProto:
            out += " ret_type_id=\(sizeOrType) vlen=\(vlen)"
            for parameter in parameters {
                out += "\n\t\(quoted(parameter.name)) type_id=\(parameter.type)"
            }
        case .variable:
            out += " type_id=\(sizeOrType), linkage=\(linkage?.rawName ?? "(unknown)")"
        case .dataSection:
            out += " size=\(sizeOrType) vlen=\(vlen)"
            for variable in sectionVariables {
                let target = try? btf.type(variable.type)
                out += "\n\ttype_id=\(variable.type) offset=\(variable.offset) size=\(variable.size)"
                out += " (\(target?.kind.rawName ?? "UNKN") \(quoted(target?.name ?? "")))"
            }
        case .float:
            out += " size=\(sizeOrType)"
        case .declTag:
            out += " type_id=\(sizeOrType) component_idx=\(componentIndex!)"
        }
    }
}
