import BPFObject
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension UprobeTarget {
    /// The parts of ELF file `path` that placing uprobes needs — the headers, program headers,
    /// section headers, section names and symbol/string tables — as a compact ELF image: those
    /// pieces are read with pread(2) and laid end to end, the section headers rewritten to point
    /// at them, every other section emptied (offset and size 0). Symbol lookups and
    /// address-to-file-offset mapping (through the untouched program headers) give the same
    /// answers as on the whole file.
    ///
    /// Reading all of libc (2 MB) into memory to find one symbol cost ~1.7 ms of a uprobe
    /// one-liner's ~5 ms of CPU (page faults and the copy); the tables are ~100 KB. Files this
    /// does not handle (big-endian, extended section numbering, anything out of range) are read
    /// whole, so `ELFFile` reports their problems as usual.
    static func readSymbolTables(_ path: String) throws -> ELFFile {
        if let compact = compactSymbolImage(path), let file = try? ELFFile(bytes: compact) { return file }
        return try readELF(path)
    }

    private static func compactSymbolImage(_ path: String) -> [UInt8]? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        let fileSize = UInt64(status.st_size)
        func read(_ offset: UInt64, _ count: UInt64) -> [UInt8]? {
            guard count <= fileSize, offset <= fileSize - count, count < 1 << 30 else { return nil }
            var failed = false
            let bytes = [UInt8](unsafeUninitializedCapacity: Int(count)) { buffer, initialized in
                initialized = 0
                while initialized < Int(count) {
                    let got = pread(fd, buffer.baseAddress! + initialized, Int(count) - initialized, off_t(offset) + off_t(initialized))
                    if got > 0 { initialized += got; continue }
                    if got < 0, errno == EINTR { continue }
                    break
                }
                if initialized < Int(count) {
                    // Keep the array fully initialised; the caller drops it.
                    (buffer.baseAddress! + initialized).initialize(repeating: 0, count: Int(count) - initialized)
                    initialized = Int(count)
                    failed = true
                }
            }
            return failed ? nil : bytes
        }
        func u16(_ bytes: [UInt8], _ at: Int) -> UInt64 { UInt64(bytes[at]) | UInt64(bytes[at + 1]) << 8 }
        func u32(_ bytes: [UInt8], _ at: Int) -> UInt64 { u16(bytes, at) | u16(bytes, at + 2) << 16 }
        func u64(_ bytes: [UInt8], _ at: Int) -> UInt64 { u32(bytes, at) | u32(bytes, at + 4) << 32 }
        func put64(_ bytes: inout [UInt8], _ at: Int, _ value: UInt64) {
            for index in 0..<8 { bytes[at + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))) }
        }

        // Elf64_Ehdr (include/uapi/linux/elf.h): ELFCLASS64 (e_ident[4] = 2), little-endian (1).
        guard var header = read(0, 64), header[0] == 0x7f, header[1] == 0x45, header[2] == 0x4c, header[3] == 0x46,
              header[4] == 2, header[5] == 1 else { return nil }
        let programOffset = u64(header, 32), sectionOffset = u64(header, 40)
        let programEntry = u16(header, 54), programCount = u16(header, 56)
        let sectionEntry = u16(header, 58), sectionCount = u16(header, 60), nameTable = u16(header, 62)
        // SHN_UNDEF/SHN_XINDEX name tables and e_shnum 0 (extended numbering): read whole.
        guard sectionCount > 0, nameTable > 0, nameTable < sectionCount, sectionEntry >= 64, programEntry >= 56 || programCount == 0,
              let programs = read(programOffset, programEntry * programCount),
              var sections = read(sectionOffset, sectionEntry * sectionCount) else { return nil }
        let entry = Int(sectionEntry)
        // Elf64_Shdr: sh_type at 4, sh_offset at 24, sh_size at 32, sh_link at 40.
        func type(_ index: Int) -> UInt64 { u32(sections, index * entry + 4) }
        var needed: [Int] = [Int(nameTable)]
        for index in 0..<Int(sectionCount) where type(index) == 2 || type(index) == 11 { // SHT_SYMTAB, SHT_DYNSYM
            needed.append(index)
            let link = Int(u32(sections, index * entry + 40))
            guard link > 0, link < Int(sectionCount) else { return nil }
            needed.append(link)
        }
        var image = header
        image += programs
        let sectionsAt = image.count
        image += sections
        var placed: [Int: UInt64] = [:]
        for index in needed where placed[index] == nil {
            guard type(index) != 8 else { return nil } // SHT_NOBITS has no bytes to read
            guard let data = read(u64(sections, index * entry + 24), u64(sections, index * entry + 32)) else { return nil }
            placed[index] = UInt64(image.count)
            image += data
        }
        for index in 0..<Int(sectionCount) {
            let base = index * entry
            put64(&sections, base + 24, placed[index] ?? 0)
            if placed[index] == nil { put64(&sections, base + 32, 0) }
        }
        image.replaceSubrange(sectionsAt..<(sectionsAt + sections.count), with: sections)
        put64(&header, 32, programCount == 0 ? 0 : 64)
        put64(&header, 40, UInt64(sectionsAt))
        image.replaceSubrange(0..<64, with: header)
        return image
    }
}
