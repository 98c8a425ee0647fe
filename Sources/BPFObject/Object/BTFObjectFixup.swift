/// Makes an object's BTF loadable, as libbpf does before BTF_LOAD: clang leaves each DATASEC's
/// size and its variables' offsets at 0 (the linker would fill them), and declares externs
/// with `extern` linkage, which the kernel refuses (kernel/bpf/btf.c accepts only static and
/// global-allocated VARs, only static and global FUNCs, and only VARs inside a DATASEC).
///
/// - data sections: size from the ELF section, offsets from the variables' symbols;
/// - `.kconfig`: offsets from the loader's layout of the kconfig map, externs made allocated;
/// - `.ksyms`: each extern VAR becomes an allocated `int`, each kfunc FUNC global and its slot
///   in the DATASEC an allocated dummy `int` VAR (appended), 4 bytes each;
/// - hidden global functions (`__hidden`) become static FUNCs.
enum BTFObjectFixup {
    static func fixup(_ btf: BTF, elf: ELFFile, symbols: [ELFSymbol], externs: [ObjectExtern]) throws -> BTF {
        var raw = btf.rawBytes
        func word(_ offset: Int) -> UInt32 {
            guard offset >= 0, offset + 4 <= raw.count else { return 0 }
            return raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
        }
        func setWord(_ offset: Int, _ value: UInt32) {
            guard offset >= 0, offset + 4 <= raw.count else { return }
            raw.withUnsafeMutableBytes { $0.storeBytes(of: value, toByteOffset: offset, as: UInt32.self) }
        }
        func recordOffset(_ id: UInt32) -> Int? {
            guard id >= btf.firstTypeID, Int(id - btf.firstTypeID) < btf.offsets.count else { return nil }
            return Int(btf.offsets[Int(id - btf.firstTypeID)])
        }
        let kconfigOffsets = Dictionary(externs.compactMap { item -> (String, UInt32)? in
            if case .kconfig(let offset, _, _) = item.kind { return (item.name, offset) }
            return nil
        }, uniquingKeysWith: { first, _ in first })
        let kconfigSize = externs.reduce(UInt32(0)) { size, item in
            if case .kconfig(let offset, let length, _) = item.kind { return max(size, offset + length) }
            return size
        }
        let intID = btf.ownTypes.first { $0.kind == .int && $0.storedSize == 4 && $0.name == "int" }?.id
            ?? btf.ownTypes.first { $0.kind == .int && $0.storedSize == 4 }?.id
        var dummyVariableNeeded: (nameOffset: UInt32, slots: [Int])? = nil

        for datasec in btf.ownTypes where datasec.kind == .dataSection {
            guard let base = recordOffset(datasec.id) else { continue }
            let sectionName = datasec.name
            let variables = datasec.sectionVariables
            switch sectionName {
            case ".kconfig":
                setWord(base + 8, (kconfigSize + 7) / 8 * 8)
                for (index, variable) in variables.enumerated() {
                    guard let type = try? btf.type(variable.type), let varBase = recordOffset(variable.type) else { continue }
                    if type.kind == .variable { setWord(varBase + 12, 1) } // BTF_VAR_GLOBAL_ALLOCATED
                    setWord(base + 12 + index * 12 + 4, kconfigOffsets[type.name] ?? 0)
                }
            case ".ksyms":
                for (index, variable) in variables.enumerated() {
                    guard let type = try? btf.type(variable.type), let varBase = recordOffset(variable.type) else { continue }
                    guard let intID else { throw ObjectError.unsupported("__ksym externs need a 4-byte int type in the object's BTF") }
                    let slot = base + 12 + index * 12
                    if type.kind == .variable {
                        setWord(varBase + 8, intID)
                        setWord(varBase + 12, 1)
                    } else if type.kind == .function {
                        dummyVariableNeeded = (dummyVariableNeeded?.nameOffset ?? type.nameOffset, (dummyVariableNeeded?.slots ?? []) + [slot])
                    }
                    setWord(slot + 4, UInt32(index * 4))
                    setWord(slot + 8, 4)
                }
                setWord(base + 8, UInt32(variables.count * 4))
            default:
                guard let section = elf.section(named: sectionName) else { continue }
                setWord(base + 8, UInt32(truncatingIfNeeded: section.size))
                for (index, variable) in variables.enumerated() {
                    guard let type = try? btf.type(variable.type), type.kind == .variable else { continue }
                    let name = type.name
                    if let symbol = symbols.first(where: { Int($0.sectionIndex) == section.index && $0.name == name }) {
                        setWord(base + 12 + index * 12 + 4, UInt32(truncatingIfNeeded: symbol.value))
                    }
                }
            }
        }
        // Extern FUNCs (kfuncs) become global; unnamed parameters borrow the function's name.
        for function in btf.ownTypes where function.kind == .function && function.rawLinkage == 2 {
            guard let base = recordOffset(function.id) else { continue }
            setWord(base + 4, (word(base + 4) & ~0xffff) | 1) // BTF_FUNC_GLOBAL
            if let protoBase = recordOffset(function.sizeOrType), let proto = try? btf.type(function.sizeOrType), proto.kind == .functionProto {
                for parameter in 0..<proto.vlen {
                    let at = protoBase + 12 + parameter * 8
                    if word(at) == 0, word(at + 4) != 0 { setWord(at, function.nameOffset) }
                }
            }
        }
        // Hidden (or internal) non-local functions belong to this object alone, so — as libbpf
        // does — their FUNCs become static: the verifier then checks each call in its caller's
        // context instead of checking the function once on its own, where a pointer argument
        // that may be NULL cannot be dereferenced (libbpf's usdt.bpf.h relies on this).
        let hiddenFunctions = Set(symbols.filter { $0.type == .function && $0.binding != .local && ($0.visibility == 1 || $0.visibility == 2) }.map(\.name))
        for function in btf.ownTypes where function.kind == .function && function.rawLinkage == 1 && hiddenFunctions.contains(function.name) {
            guard let base = recordOffset(function.id) else { continue }
            setWord(base + 4, word(base + 4) & ~0xffff) // BTF_FUNC_STATIC
        }
        if let dummy = dummyVariableNeeded, let intID {
            // Append `VAR int <name>` (allocated) after the last type and point the kfunc slots at it.
            let dummyID = UInt32(btf.typeCount)
            let headerLength = Int(word(4)), typeOffset = Int(word(8)), typeLength = Int(word(12)), stringOffset = Int(word(16))
            let insertAt = headerLength + typeOffset + typeLength
            guard insertAt <= raw.count else { throw ObjectError.btf("type section overruns the blob") }
            var record: [UInt8] = []
            for value in [dummy.nameOffset, UInt32(14) << 24, intID, 1] {
                withUnsafeBytes(of: value) { record += $0 }
            }
            raw.insert(contentsOf: record, at: insertAt)
            setWord(12, UInt32(typeLength + 16))
            if stringOffset >= typeOffset + typeLength { setWord(16, UInt32(stringOffset + 16)) }
            for slot in dummy.slots { setWord(slot, dummyID) }
        }
        do { return try BTF(raw) } catch { throw ObjectError.btf("after fixing up data sections: \(error)") }
    }
}
