/// Where a USDT program's argument spec goes: the value of the `__bpf_usdt_specs` array map that
/// usdt.bpf.h declares (`struct __bpf_usdt_spec`: an array of `struct __bpf_usdt_arg_spec`, the
/// user's cookie and the argument count). The loader writes one value per distinct spec and
/// passes its index to the program as the BPF cookie.
///
/// The layout is read from the object's own BTF, member by member and name by name, so objects
/// built with libbpf's header and with ours both get values they decode — including bitfield
/// encodings of newer headers. Only when an object has no BTF for the map is libbpf 1.x's fixed
/// layout assumed.
public struct USDTSpecLayout: Hashable, Sendable {
    /// A member's bits, relative to its record.
    public struct Field: Hashable, Sendable {
        public var bitOffset: Int
        public var bitSize: Int
        public init(bitOffset: Int, bitSize: Int) {
            self.bitOffset = bitOffset
            self.bitSize = bitSize
        }
        static func bytes(_ offset: Int, _ size: Int) -> Field { Field(bitOffset: offset * 8, bitSize: size * 8) }
    }

    /// `enum __bpf_usdt_arg_type`: how `bpf_usdt_arg()` finds the value.
    public enum ArgumentKind: UInt64, Sendable {
        case constant = 0, register = 1, registerDereference = 2, scaledIndex = 3
    }

    public var valueSize: Int
    /// Byte offset of `args[0]` and the size of one argument record.
    public var argumentsOffset: Int
    public var argumentStride: Int
    /// `BPF_USDT_MAX_ARG_CNT`: the length of `args`.
    public var maxArguments: Int
    public var cookie: Field
    public var argumentCount: Field
    /// `val_off`: the constant, or the memory offset added to the register.
    public var valueOffset: Field
    /// `arg_type`.
    public var kind: Field
    /// `reg_off`: the (base) register's offset in pt_regs.
    public var registerOffset: Field
    /// `arg_signed`.
    public var isSigned: Field
    /// `arg_bitshift`: 64 − size × 8; shifting left then right by it truncates and extends.
    public var bitShift: Field
    /// `idx_reg_off` and `scale_bitshift`: base + index × scale operands; nil when the header
    /// that built the object predates them.
    public var indexRegisterOffset: Field?
    public var scaleShift: Field?

    /// libbpf 1.0–1.5's `struct __bpf_usdt_spec` (12 arguments of 16 bytes, cookie, count).
    public static let libbpf = USDTSpecLayout(
        valueSize: 208, argumentsOffset: 0, argumentStride: 16, maxArguments: 12,
        cookie: .bytes(192, 8), argumentCount: .bytes(200, 2),
        valueOffset: .bytes(0, 8), kind: .bytes(8, 4), registerOffset: .bytes(12, 2), isSigned: .bytes(14, 1),
        bitShift: .bytes(15, 1), indexRegisterOffset: nil, scaleShift: nil)

    public init(valueSize: Int, argumentsOffset: Int, argumentStride: Int, maxArguments: Int, cookie: Field, argumentCount: Field,
                valueOffset: Field, kind: Field, registerOffset: Field, isSigned: Field, bitShift: Field,
                indexRegisterOffset: Field?, scaleShift: Field?) {
        self.valueSize = valueSize
        self.argumentsOffset = argumentsOffset
        self.argumentStride = argumentStride
        self.maxArguments = maxArguments
        self.cookie = cookie
        self.argumentCount = argumentCount
        self.valueOffset = valueOffset
        self.kind = kind
        self.registerOffset = registerOffset
        self.isSigned = isSigned
        self.bitShift = bitShift
        self.indexRegisterOffset = indexRegisterOffset
        self.scaleShift = scaleShift
    }

    /// The layout of `struct __bpf_usdt_spec` as type `valueTypeID` of `btf` declares it.
    public init(btf: BTF, valueTypeID: UInt32) throws {
        do {
            let specID = try btf.skipTypedefs(valueTypeID)
            let spec = try btf.type(specID)
            guard spec.kind == .struct else { throw USDTError.specLayout("the map value is a \(spec.kind), not struct __bpf_usdt_spec") }
            let members = spec.members
            func member(_ name: String, in list: [BTFMember], of owner: String) throws -> BTFMember {
                guard let found = list.first(where: { $0.name == name }) else {
                    throw USDTError.specLayout("\(owner) has no member '\(name)'")
                }
                return found
            }
            func field(_ member: BTFMember) throws -> Field {
                let (bitOffset, bitSize) = try btf.bitfieldLayout(member)
                let size = bitSize != 0 ? Int(bitSize) : try btf.size(of: member.type) * 8
                guard size > 0, size <= 64 else { throw USDTError.specLayout("member '\(member.name)' is \(size) bits wide") }
                return Field(bitOffset: Int(bitOffset), bitSize: size)
            }
            let args = try member("args", in: members, of: "struct __bpf_usdt_spec")
            let arrayType = try btf.type(try btf.skipTypedefs(args.type))
            guard let array = arrayType.array else { throw USDTError.specLayout("member 'args' is not an array") }
            let element = try btf.type(try btf.skipTypedefs(array.elementType))
            guard element.kind == .struct else { throw USDTError.specLayout("'args' elements are not structs") }
            let stride = try btf.size(of: element.id)
            let argumentMembers = element.members
            let owner = "struct __bpf_usdt_arg_spec"
            self.init(
                valueSize: try btf.size(of: specID),
                argumentsOffset: Int(args.bitOffset / 8),
                argumentStride: stride,
                maxArguments: Int(array.count),
                cookie: try field(try member("usdt_cookie", in: members, of: "struct __bpf_usdt_spec")),
                argumentCount: try field(try member("arg_cnt", in: members, of: "struct __bpf_usdt_spec")),
                valueOffset: try field(try member("val_off", in: argumentMembers, of: owner)),
                kind: try field(try member("arg_type", in: argumentMembers, of: owner)),
                registerOffset: try field(try member("reg_off", in: argumentMembers, of: owner)),
                isSigned: try field(try member("arg_signed", in: argumentMembers, of: owner)),
                bitShift: try field(try member("arg_bitshift", in: argumentMembers, of: owner)),
                indexRegisterOffset: try argumentMembers.first { $0.name == "idx_reg_off" }.map(field),
                scaleShift: try argumentMembers.first { $0.name == "scale_bitshift" }.map(field))
        } catch let error as BTFError {
            throw USDTError.specLayout("\(error)")
        }
        try validate()
    }

    /// Every field inside the value, every argument record inside `args`.
    func validate() throws {
        guard valueSize > 0, valueSize <= 1 << 16, argumentStride > 0, maxArguments >= 0, maxArguments <= 1 << 10,
              argumentsOffset >= 0, argumentsOffset + argumentStride * maxArguments <= valueSize else {
            throw USDTError.specLayout("the argument array does not fit the \(valueSize)-byte value")
        }
        guard valueOffset.bitSize == 64 else {
            throw USDTError.specLayout("val_off is \(valueOffset.bitSize) bits wide, not 64")
        }
        for field in [cookie, argumentCount] where field.bitOffset < 0 || field.bitOffset + field.bitSize > valueSize * 8 {
            throw USDTError.specLayout("a member lies outside the \(valueSize)-byte value")
        }
        for field in [valueOffset, kind, registerOffset, isSigned, bitShift, indexRegisterOffset, scaleShift].compactMap({ $0 })
        where field.bitOffset < 0 || field.bitOffset + field.bitSize > argumentStride * 8 {
            throw USDTError.specLayout("a member lies outside the \(argumentStride)-byte argument record")
        }
    }

    /// The map value for `arguments` (parsed from `spec`, for error messages) and the user's cookie.
    public func encode(_ arguments: [USDTArgument], cookie userCookie: UInt64, spec: String = "") throws -> [UInt8] {
        guard arguments.count <= maxArguments else {
            throw USDTError.badArgument(spec: spec, index: maxArguments, reason: "the probe has \(arguments.count) arguments; the object's spec map holds at most \(maxArguments)")
        }
        var value = [UInt8](repeating: 0, count: valueSize)
        func put(_ field: Field, _ bits: UInt64, base: Int, what: String, index: Int) throws {
            if field.bitSize < 64 {
                // Signed fields (reg_off is a short) take the value's low bits; it must fit them.
                let limit: UInt64 = 1 << UInt64(field.bitSize)
                guard bits < limit else {
                    throw USDTError.badArgument(spec: spec, index: index, reason: "\(what) \(bits) does not fit the \(field.bitSize)-bit field of the spec map")
                }
            }
            for bit in 0..<field.bitSize where (bits >> UInt64(bit)) & 1 == 1 {
                let position = base * 8 + field.bitOffset + bit
                value[position / 8] |= 1 << UInt8(position % 8)
            }
        }
        try put(cookie, userCookie, base: 0, what: "cookie", index: 0)
        try put(argumentCount, UInt64(arguments.count), base: 0, what: "argument count", index: 0)
        for (index, argument) in arguments.enumerated() {
            let base = argumentsOffset + index * argumentStride
            let kind: ArgumentKind
            var offset: Int64 = 0
            var register: UInt16 = 0
            switch argument.location {
            case .constant(let constant):
                kind = .constant
                offset = constant
            case .register(let reg):
                kind = .register
                register = reg.ptRegsOffset
            case .memory(let reg, let displacement):
                kind = .registerDereference
                register = reg.ptRegsOffset
                offset = displacement
            case .indexed(let reg, let indexRegister, let scale, let displacement):
                guard let indexField = indexRegisterOffset, let scaleField = scaleShift else {
                    throw USDTError.badArgument(spec: spec, index: index, reason: "base + index × scale addressing needs a usdt.bpf.h whose struct __bpf_usdt_arg_spec has idx_reg_off and scale_bitshift (swiftbpf's bpf/include, or a newer libbpf); this object's has not")
                }
                kind = .scaledIndex
                register = reg.ptRegsOffset
                offset = displacement
                try put(indexField, UInt64(indexRegister.ptRegsOffset), base: base, what: "index register offset", index: index)
                try put(scaleField, UInt64(scale.trailingZeroBitCount), base: base, what: "scale shift", index: index)
            }
            try put(valueOffset, UInt64(bitPattern: offset), base: base, what: "offset", index: index)
            try put(self.kind, kind.rawValue, base: base, what: "argument kind", index: index)
            try put(registerOffset, UInt64(register), base: base, what: "register offset", index: index)
            try put(isSigned, argument.isSigned ? 1 : 0, base: base, what: "signedness", index: index)
            try put(bitShift, UInt64(64 - argument.size * 8), base: base, what: "bit shift", index: index)
        }
        return value
    }
}
