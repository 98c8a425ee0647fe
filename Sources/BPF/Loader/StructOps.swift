import BPFObject
import CBPFSys

/// struct_ops, the way libbpf does it: each `.struct_ops[.link]` variable becomes a
/// BPF_MAP_TYPE_STRUCT_OPS map whose value type is the kernel's `struct bpf_struct_ops_<name>`
/// (found in vmlinux BTF, passed as btf_vmlinux_value_type_id); each program it points at is
/// loaded with attach_btf_id = the kernel struct and expected_attach_type = the member's index.
/// Writing the value registers the table (for `.struct_ops.link`, a BPF link does).
struct StructOpsPlan {
    /// The kernel struct (`tcp_congestion_ops`) and its `bpf_struct_ops_` wrapper.
    var kernelTypeID: UInt32
    var valueTypeID: UInt32
    var ops: ObjectStructOps

    init(_ ops: ObjectStructOps, kernel: BTF) throws {
        self.ops = ops
        guard let kernelTypeID = kernel.typeIDs(named: ops.typeName, kind: .struct).first else {
            throw BPFError.notFound(what: "struct \(ops.typeName) in the kernel BTF", detail: "struct_ops '\(ops.name)' implements it, but this kernel does not have it")
        }
        guard let valueTypeID = kernel.typeIDs(named: "bpf_struct_ops_" + ops.typeName, kind: .struct).first else {
            throw BPFError.unsupported(feature: "struct_ops for struct \(ops.typeName) ('\(ops.name)')",
                                       detail: "the kernel has no struct bpf_struct_ops_\(ops.typeName): it does not let BPF implement this struct (its subsystem registers none, or it is built as a module that is not loaded)")
        }
        self.kernelTypeID = kernelTypeID
        self.valueTypeID = valueTypeID
    }

    /// `program`'s attach_btf_id and expected_attach_type (the member's index in the kernel struct).
    func attachment(of member: String, kernel: BTF) throws -> (typeID: UInt32, memberIndex: UInt32) {
        let members = try kernel.type(kernelTypeID).members
        guard let index = members.firstIndex(where: { $0.name == member }) else {
            throw BPFError.notFound(what: "member '\(member)' of the kernel's struct \(ops.typeName)", detail: "struct_ops '\(ops.name)' sets it")
        }
        return (kernelTypeID, UInt32(index))
    }

    /// The map value: the kernel's wrapper struct with, in its `data` member, the program
    /// descriptors in the function pointer slots and the variable's other members copied by name.
    func value(kernel: BTF, local: BTF, programFD: (String) throws -> Int32) throws -> [UInt8] {
        let size = try kernel.size(of: valueTypeID)
        var value = [UInt8](repeating: 0, count: size)
        guard let data = try kernel.type(valueTypeID).members.first(where: { $0.name == "data" }) else {
            throw BPFError.invalidArgument("the kernel's struct bpf_struct_ops_\(ops.typeName) has no 'data' member")
        }
        let base = Int(data.bitOffset / 8)
        let localMembers = try local.type(ops.localTypeID).members
        let kernelMembers = try kernel.type(kernelTypeID).members
        for localMember in localMembers where ops.programs[localMember.name] == nil {
            let offset = Int(localMember.bitOffset / 8)
            let localSize = localMember.bitfieldSize == 0 ? try local.size(of: localMember.type) : 0
            guard offset + localSize <= ops.data.count else { continue }
            let bytes = ops.data[offset..<offset + localSize]
            guard let kernelMember = kernelMembers.first(where: { $0.name == localMember.name }) else {
                if bytes.contains(where: { $0 != 0 }) {
                    throw BPFError.invalidArgument("struct_ops '\(ops.name)' sets member '\(localMember.name)', which the kernel's struct \(ops.typeName) does not have")
                }
                continue
            }
            guard bytes.contains(where: { $0 != 0 }) else { continue }
            let kernelSize = try kernel.size(of: kernelMember.type)
            guard kernelMember.bitfieldSize == 0, localMember.bitfieldSize == 0, kernelSize == localSize else {
                throw BPFError.invalidArgument("struct_ops '\(ops.name)': member '\(localMember.name)' is \(localSize) bytes here and \(kernelSize) in the kernel")
            }
            let at = base + Int(kernelMember.bitOffset / 8)
            value.replaceSubrange(at..<at + kernelSize, with: bytes)
        }
        for (member, program) in ops.programs {
            guard let kernelMember = kernelMembers.first(where: { $0.name == member }) else {
                throw BPFError.notFound(what: "member '\(member)' of the kernel's struct \(ops.typeName)", detail: "struct_ops '\(ops.name)' sets it to program '\(program)'")
            }
            let at = base + Int(kernelMember.bitOffset / 8)
            let fd = UInt64(UInt32(bitPattern: try programFD(program)))
            value.replaceSubrange(at..<at + 8, with: withUnsafeBytes(of: fd.littleEndian) { Array($0) })
        }
        return value
    }

    /// BPF_MAP_CREATE of the struct_ops map (`BPF_F_LINK` for `.struct_ops.link`).
    func createMap(kernel: BTF, objectBTF: LoadedBTF?) throws -> Map {
        let valueSize = try kernel.size(of: valueTypeID)
        var attr = sbpf_map_create_attr()
        attr.map_type = MapType.structOps.rawValue
        attr.key_size = 4
        attr.value_size = UInt32(valueSize)
        attr.max_entries = 1
        attr.map_flags = ops.usesLink ? 1 << 13 : 0 // BPF_F_LINK
        attr.btf_vmlinux_value_type_id = valueTypeID
        if let objectBTF { attr.btf_fd = UInt32(bitPattern: try objectBTF.fd.value()) }
        setObjectName(ops.name, into: &attr.map_name)
        let label = "struct_ops map '\(ops.name)' (struct \(ops.typeName))"
        let fd = try BPFSyscall.callReturningFD(.mapCreate, &attr, label: label) { errno in
            switch errno {
            case .ENOTSUPP, .EOPNOTSUPP: "the kernel does not support struct_ops for struct \(ops.typeName)"
            case .EINVAL: "the kernel refused the struct_ops map (BPF_F_LINK needs Linux 6.4+)"
            default: nil
            }
        }
        return Map(fd: fd, name: ops.name, type: .structOps, keySize: 4, valueSize: valueSize, maxEntries: 1,
                   flags: MapFlags(rawValue: attr.map_flags))
    }
}

/// A registered struct_ops table. For `.struct_ops.link` it owns the BPF link, and closing the
/// link unregisters the table; for plain `.struct_ops`, closing deletes the map's element,
/// which unregisters it.
public final class StructOpsLink: Link, @unchecked Sendable {
    public let map: Map
    /// The BPF link (`.struct_ops.link`), nil for plain `.struct_ops`.
    public let kernelLink: KernelLink?
    public let description: String
    private var isClosed = false

    init(map: Map, kernelLink: KernelLink?, description: String) {
        self.map = map
        self.kernelLink = kernelLink
        self.description = description
    }

    public func close() throws {
        guard !isClosed else { throw BPFError.closed(description) }
        isClosed = true
        if let kernelLink {
            try kernelLink.close()
        } else {
            _ = try map.delete([0, 0, 0, 0])
        }
    }

    deinit {
        if !isClosed { try? close() }
    }
}

extension LoadedObject {
    /// Registers the struct_ops table `name` (a `.struct_ops` or `.struct_ops.link` variable)
    /// with the kernel: writes its value (program descriptors in the function slots) and, for
    /// `.struct_ops.link`, creates the BPF link. Closing the returned link unregisters it.
    public func attachStructOps(_ name: String) throws -> StructOpsLink {
        guard let (ops, value) = structOpsValues[name] else {
            throw BPFError.notFound(what: "struct_ops '\(name)'", detail: "the object has: \(structOpsValues.keys.sorted().joined(separator: ", "))")
        }
        let map = try self.map(named: name)
        let label = "struct_ops '\(name)' (struct \(ops.typeName))"
        let meaning: (Errno) -> String? = { errno in
            switch errno {
            case .EEXIST: "another table of that name is already registered (struct \(ops.typeName) names must be unique, e.g. a congestion control's .name)"
            case .EINVAL: "the kernel refused the table: a mandatory operation is missing, a member holds a value it does not accept, or a program does not match its slot"
            case .EBUSY: "the table is already registered"
            default: nil
            }
        }
        do {
            try map.update([0, 0, 0, 0], value)
        } catch BPFError.syscall(let failure) {
            guard let specific = meaning(failure.errno) else { throw BPFError.syscall(failure) }
            throw BPFError.syscall(SystemCallFailure(operation: failure.operation, errno: failure.errno, subject: label, meaning: specific))
        }
        guard ops.usesLink else { return StructOpsLink(map: map, kernelLink: nil, description: label) }
        var attr = sbpf_link_create_attr()
        attr.prog_fd = UInt32(bitPattern: try map.fd.value()) // the map, for BPF_STRUCT_OPS
        attr.attach_type = AttachType.structOps.rawValue
        let fd = try BPFSyscall.callReturningFD(.linkCreate, &attr, label: label, meaning: meaning)
        return StructOpsLink(map: map, kernelLink: KernelLink(fd: fd, description: label), description: label)
    }
}
