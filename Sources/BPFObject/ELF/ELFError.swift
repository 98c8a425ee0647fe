/// Why an ELF file could not be read. Every reader method throws one of these instead of trapping,
/// whatever the input bytes are.
public enum ELFError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file does not start with `\x7fELF`.
    case notELF
    /// A class, byte order or version this reader does not handle (only ELF64 is read).
    case unsupported(String)
    /// A structure (`what`) lies outside the file: it needs `size` bytes at `offset` and the
    /// file (or containing section) has `available` bytes.
    case truncated(what: String, offset: UInt64, size: UInt64, available: UInt64)
    /// A field holds a value that cannot be right (an entry size of 0, a section index past the
    /// end, a string without its terminator, ...).
    case malformed(String)
    /// A section asked for by name or index is absent.
    case noSuchSection(String)

    public var description: String {
        switch self {
        case .notELF: "not an ELF file (no \\x7fELF magic)"
        case .unsupported(let what): "unsupported ELF file: \(what)"
        case .truncated(let what, let offset, let size, let available):
            "truncated or corrupt ELF file: \(what) needs \(size) bytes at offset \(offset), but only \(available) bytes are there"
        case .malformed(let detail): "malformed ELF file: \(detail)"
        case .noSuchSection(let name): "ELF file has no section \(name)"
        }
    }
}
