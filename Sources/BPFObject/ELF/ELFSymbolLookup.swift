extension ELFFile {
    /// The defined symbol called `name`, searching `.symtab` first (it also has local and
    /// static functions) and then `.dynsym` (all a stripped binary or library still has).
    /// A versioned name (`malloc@@GLIBC_2.2.5`) matches by the part before `@`. Functions win
    /// over other symbol kinds of the same name.
    public func definedSymbol(named name: String) throws -> ELFSymbol? {
        let wanted = name.split(separator: "@", maxSplits: 1).first.map(String.init) ?? name
        guard !wanted.isEmpty else { return nil }
        for table in [try symbols(), try dynamicSymbols()] {
            let matches = table.filter { $0.isDefined && $0.name == wanted && $0.type != .section && $0.type != .file }
            if let function = matches.first(where: { $0.type == .function || $0.type == .indirectFunction }) { return function }
            if let any = matches.first { return any }
        }
        return nil
    }

    /// Where a uprobe on `symbol` + `offset` goes: the file offset of its address, found through
    /// the PT_LOAD segment mapping it (uprobes attach at file offsets; for non-PIE executables
    /// addresses and offsets differ by the segment's base, for PIE and shared objects they may
    /// still differ by the segment's file/memory alignment).
    public func fileOffset(of symbol: ELFSymbol, plus offset: UInt64 = 0) throws -> UInt64 {
        let (address, overflow) = symbol.value.addingReportingOverflow(offset)
        guard !overflow, let fileOffset = fileOffset(ofVirtualAddress: address) else {
            throw ELFError.malformed("symbol '\(symbol.name)' at 0x\(String(symbol.value, radix: 16)) + \(offset) is not in any loaded segment of the file")
        }
        return fileOffset
    }
}
