extension ELFFile {
    /// The defined symbol called `name`, searching `.symtab` first (it also has local and
    /// static functions) and then `.dynsym` (all a stripped binary or library still has).
    /// A versioned name (`malloc@@GLIBC_2.2.5`) matches by the part before `@`. Functions win
    /// over other symbol kinds of the same name.
    ///
    /// Compares names in place in the string table and decodes only matching entries, so a
    /// lookup in a large library allocates almost nothing.
    public func definedSymbol(named name: String) throws -> ELFSymbol? {
        let wanted = Array((name.split(separator: "@", maxSplits: 1).first.map(String.init) ?? name).utf8)
        guard !wanted.isEmpty else { return nil }
        for kind in [ELFSectionType.symtab, .dynsym] {
            guard let table = sections.first(where: { $0.type == kind }) else { continue }
            let matches = try symbolIndexes(in: table, named: wanted).map { try symbol(at: $0, in: table) }
                .filter { $0.isDefined && $0.type != .section && $0.type != .file }
            if let function = matches.first(where: { $0.type == .function || $0.type == .indirectFunction }) { return function }
            if let any = matches.first { return any }
        }
        return nil
    }

    /// Indexes of the entries of symbol table `table` whose name is exactly `wanted`.
    func symbolIndexes(in table: ELFSection, named wanted: [UInt8]) throws -> [Int] {
        let (range, entrySize, stringRange) = try symbolTableLayout(table)
        var found: [Int] = []
        try bytes.withUnsafeBufferPointer { buffer in
            for index in 0..<Int(table.size / entrySize) {
                let nameOffset = Int(try reader.u32(range.lowerBound + index * Int(entrySize)))
                guard nameOffset < stringRange.count else { continue }
                let start = stringRange.lowerBound + nameOffset
                // The name matches when its bytes equal `wanted` and a NUL follows.
                guard start + wanted.count < stringRange.upperBound, buffer[start + wanted.count] == 0 else { continue }
                var equal = true
                for (position, byte) in wanted.enumerated() where buffer[start + position] != byte {
                    equal = false
                    break
                }
                if equal { found.append(index) }
            }
        }
        return found
    }

    /// Where `table`'s entries and its string table lie, all checked against the file.
    func symbolTableLayout(_ table: ELFSection) throws -> (entries: Range<Int>, entrySize: UInt64, strings: Range<Int>) {
        guard table.type == .symtab || table.type == .dynsym else {
            throw ELFError.malformed("section \(table.displayName) is not a symbol table (type \(table.type))")
        }
        let entrySize = table.entrySize == 0 ? UInt64(Self.symbolSize) : table.entrySize
        guard entrySize >= UInt64(Self.symbolSize) else {
            throw ELFError.malformed("symbol table \(table.displayName) has entry size \(entrySize), less than \(Self.symbolSize)")
        }
        let range = try reader.range(offset: table.offset, size: table.size, what: "symbol table \(table.displayName)")
        let strings = try section(at: Int(table.link), for: "symbol table \(table.displayName)")
        let stringRange = try reader.range(offset: strings.offset, size: strings.size, what: "string table \(strings.displayName)")
        return (range, entrySize, stringRange)
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

extension ELFFile {
    /// The names of the functions this file defines (`STT_FUNC` and `STT_GNU_IFUNC` entries of
    /// `.symtab` and `.dynsym`), sorted and without duplicates: what a uprobe can attach to by
    /// name and what wildcard uprobes and `-l uprobe:` expand against.
    public func functionNames() throws -> [String] {
        var names = Set<String>()
        for kind in [ELFSectionType.symtab, .dynsym] {
            guard let table = sections.first(where: { $0.type == kind }) else { continue }
            for symbol in try symbols(in: table)
            where symbol.isDefined && !symbol.name.isEmpty && (symbol.type == .function || symbol.type == .indirectFunction) {
                names.insert(symbol.name)
            }
        }
        return names.sorted()
    }
}
