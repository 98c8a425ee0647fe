/// One statically defined tracing probe site (USDT) as SystemTap's <sys/sdt.h> records it: a note
/// in `.note.stapsdt` with owner `stapsdt` and type 3 (`NT_STAPSDT`) whose descriptor holds three
/// addresses — the probe's instruction, the address `.stapsdt.base` had when the note was written
/// and the semaphore's (0: none) — then provider, name and argument spec as NUL-terminated strings.
public struct USDTNote: Hashable, Sendable {
    public var provider: String
    public var name: String
    /// Link-time virtual address of the probe's `nop`.
    public var address: UInt64
    /// Link-time address of `.stapsdt.base` as seen by the assembler; differs from the section's
    /// real address only when a tool such as prelink moved the file after linking.
    public var base: UInt64
    /// Link-time virtual address of the 2-byte semaphore (in `.probes`), or 0.
    public var semaphore: UInt64
    /// The argument specs, space separated (`-4@%edi 8@-8(%rbp) 4@$5`); empty without arguments.
    public var arguments: String

    public static let noteOwner = "stapsdt"
    public static let noteType: UInt32 = 3
    public static let sectionName = ".note.stapsdt"
    public static let baseSectionName = ".stapsdt.base"

    public init(provider: String, name: String, address: UInt64, base: UInt64, semaphore: UInt64, arguments: String) {
        self.provider = provider
        self.name = name
        self.address = address
        self.base = base
        self.semaphore = semaphore
        self.arguments = arguments
    }

    /// Decodes an `NT_STAPSDT` descriptor of a 64-bit file in the given byte order.
    public init(descriptor: [UInt8], isLittleEndian: Bool) throws {
        guard descriptor.count >= 24 else {
            throw USDTError.malformedNote("descriptor is \(descriptor.count) bytes, shorter than its three 8-byte addresses")
        }
        func address(_ at: Int) -> UInt64 {
            var value: UInt64 = 0
            for index in 0..<8 {
                let byte = UInt64(descriptor[at + index])
                value |= isLittleEndian ? byte << (8 * index) : byte << (8 * (7 - index))
            }
            return value
        }
        var position = 24
        func string(_ what: String) throws -> String {
            guard position < descriptor.count, let end = descriptor[position...].firstIndex(of: 0) else {
                throw USDTError.malformedNote("the \(what) string is missing or not NUL-terminated")
            }
            defer { position = end + 1 }
            return String(decoding: descriptor[position..<end], as: UTF8.self)
        }
        let provider = try string("provider")
        let name = try string("name")
        // Probes without arguments may end right after the name (older sdt.h) or hold "".
        let arguments = position < descriptor.count ? try string("arguments") : ""
        self.init(provider: provider, name: name, address: address(0), base: address(8), semaphore: address(16), arguments: arguments)
    }
}

/// A USDT probe site ready for a uprobe: where the kernel must place it in the file and where
/// the semaphore it should count is.
public struct USDTProbeSite: Hashable, Sendable {
    public var note: USDTNote
    /// The probe's virtual address after the `.stapsdt.base` (prelink) adjustment.
    public var address: UInt64
    /// Offset of the probe's instruction in the file (what a uprobe is attached at).
    public var fileOffset: UInt64
    /// Offset of the semaphore in the file (the uprobe's `ref_ctr_offset`), or 0.
    public var semaphoreFileOffset: UInt64
}

extension ELFFile {
    /// The USDT notes of `.note.stapsdt`, in file order ([] when the file has none). Notes of
    /// other owners or types in that section are skipped.
    public func usdtNotes() throws -> [USDTNote] {
        guard let section = sections.first(where: { $0.name == USDTNote.sectionName }) else { return [] }
        guard section.type == .note else {
            throw USDTError.malformedNote("section \(USDTNote.sectionName) is \(section.type), not NOTE")
        }
        do {
            return try notes(in: section)
                .filter { $0.name == USDTNote.noteOwner && $0.type == USDTNote.noteType }
                .map { try USDTNote(descriptor: $0.descriptor, isLittleEndian: header.isLittleEndian) }
        } catch let error as ELFError {
            throw USDTError.malformedNote("\(error)")
        }
    }

    /// The sites of probe `provider:name`, with file offsets for the probe and its semaphore.
    ///
    /// Addresses are link-time virtual addresses (absolute for executables, relative to the load
    /// address for shared objects and PIE). When `.stapsdt.base` exists, the distance between its
    /// real address and the note's recorded base is added (a prelinked file was moved after the
    /// notes were written; both probe and semaphore moved with it). The address is then
    /// translated to a file offset through the PT_LOAD segment containing it: the probe's must
    /// be executable, the semaphore's must not (it is data the kernel increments).
    public func usdtProbeSites(provider: String, name: String) throws -> [USDTProbeSite] {
        guard header.type == .executable || header.type == .sharedObject else {
            throw USDTError.notFound("USDT probes live in executables and shared objects; this file is \(header.type)")
        }
        let baseSection = sections.first { $0.name == USDTNote.baseSectionName }
        var sites: [USDTProbeSite] = []
        for note in try usdtNotes() where note.provider == provider && note.name == name {
            let delta = baseSection.map { $0.address &- note.base } ?? 0
            let address = note.address &+ delta
            guard let (segment, offset) = loadSegment(containing: address) else {
                throw USDTError.addressNotMapped("probe \(provider):\(name) at 0x\(String(address, radix: 16)) lies in no loadable segment")
            }
            guard segment.isExecutable else {
                throw USDTError.addressNotMapped("probe \(provider):\(name) at 0x\(String(address, radix: 16)) lies in a segment that is not executable")
            }
            var semaphoreOffset: UInt64 = 0
            if note.semaphore != 0 {
                let semaphore = note.semaphore &+ delta
                guard let (semaphoreSegment, offset) = loadSegment(containing: semaphore) else {
                    throw USDTError.addressNotMapped("semaphore of \(provider):\(name) at 0x\(String(semaphore, radix: 16)) lies in no loadable segment")
                }
                guard !semaphoreSegment.isExecutable else {
                    throw USDTError.addressNotMapped("semaphore of \(provider):\(name) at 0x\(String(semaphore, radix: 16)) lies in an executable segment")
                }
                semaphoreOffset = offset
            }
            sites.append(USDTProbeSite(note: note, address: address, fileOffset: offset, semaphoreFileOffset: semaphoreOffset))
        }
        return sites
    }

    /// The PT_LOAD segment whose memory image [vaddr, vaddr + memsz) holds `address`, and the
    /// corresponding file offset.
    func loadSegment(containing address: UInt64) -> (ELFSegment, UInt64)? {
        for segment in segments where segment.type == .load {
            let (end, overflow) = segment.virtualAddress.addingReportingOverflow(segment.memorySize)
            guard !overflow, address >= segment.virtualAddress, address < end else { continue }
            let (offset, offsetOverflow) = (address - segment.virtualAddress).addingReportingOverflow(segment.offset)
            return offsetOverflow ? nil : (segment, offset)
        }
        return nil
    }
}
