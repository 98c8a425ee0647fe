import Foundation

/// The function and data symbols of an ELF file ordered by address, to name the symbol that
/// contains an address (user stack frames, `usym(addr)`). Pure: built from a parsed `ELFFile`.
public struct ELFAddressSymbols: Sendable {
    struct Entry: Sendable {
        var start: UInt64
        var size: UInt64
        var name: String
    }
    let entries: [Entry]
    let segments: [ELFSegment]

    /// Reads .symtab and .dynsym (a stripped library still has the exported names), and the
    /// .symtab of `debugFile`, the separate debug file with the stripped local symbols (Debian's
    /// libc6-dbg); symbols that are not functions or objects, or are undefined, are left out.
    public init(_ file: ELFFile, debugFile: ELFFile? = nil) {
        var entries: [Entry] = []
        var seen = Set<UInt64>()
        let tables = [(file, ELFSectionType.symtab), (file, .dynsym)] + (debugFile.map { [($0, ELFSectionType.symtab)] } ?? [])
        for (file, kind) in tables {
            guard let table = file.sections.first(where: { $0.type == kind }),
                  let symbols = try? file.symbols(in: table) else { continue }
            for symbol in symbols where symbol.isDefined && symbol.value != 0 && !symbol.name.isEmpty
                && (symbol.type == .function || symbol.type == .indirectFunction || symbol.type == .object) {
                // .dynsym repeats .symtab's names; keep one entry per address.
                guard seen.insert(symbol.value).inserted else { continue }
                entries.append(Entry(start: symbol.value, size: symbol.size, name: symbol.name.split(separator: "@").first.map(String.init) ?? symbol.name))
            }
        }
        self.entries = entries.sorted { $0.start < $1.start }
        self.segments = file.segments.filter { $0.type == .load }
    }

    /// The GNU build id (NT_GNU_BUILD_ID note) in hex, which names the file's separate debug
    /// file: /usr/lib/debug/.build-id/<first two digits>/<rest>.debug.
    public static func buildID(of file: ELFFile) -> String? {
        guard let note = try? file.notes().first(where: { $0.name == "GNU" && $0.type == 3 }), note.descriptor.count > 1 else { return nil }
        return note.descriptor.map { String(format: "%02x", $0) }.joined()
    }

    /// The virtual address (as the file's symbols state them) that `offset` in the file is loaded at.
    public func virtualAddress(ofFileOffset offset: UInt64) -> UInt64? {
        for segment in segments where offset >= segment.offset && offset - segment.offset < segment.fileSize {
            return segment.virtualAddress &+ (offset - segment.offset)
        }
        return nil
    }

    /// The symbol whose [start, start + size) holds `address`; a symbol without a size holds
    /// only its own address.
    public func symbol(containing address: UInt64) -> (name: String, offset: UInt64)? {
        var low = 0, high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].start <= address { low = middle + 1 } else { high = middle }
        }
        var index = low - 1
        // Symbols can nest (a size-0 label inside a function): walk back a few to a container.
        var steps = 0
        while index >= 0, steps < 8 {
            let entry = entries[index]
            let offset = address - entry.start
            if offset < Swift.max(entry.size, 1) { return (entry.name, offset) }
            index -= 1
            steps += 1
        }
        return nil
    }
}
