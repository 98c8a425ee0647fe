/// Why an ELF object could not be turned into an `ObjectSpec`. Thrown for every malformed or
/// unsupported input; the parser never traps.
public enum ObjectError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The ELF container itself is broken.
    case elf(ELFError)
    /// The object's `.BTF` or `.BTF.ext` could not be parsed.
    case btf(String)
    /// A program section name no convention knows.
    case unknownSection(name: String, known: [String])
    /// A structure of the object is inconsistent (relocation, map definition, symbol...).
    case malformed(String)
    /// Valid, but something this loader does not handle.
    case unsupported(String)

    public var description: String {
        switch self {
        case .elf(let error): error.description
        case .btf(let detail): "bad BTF in BPF object: \(detail)"
        case .unknownSection(let name, let known):
            "program section '\(name)' is not a known BPF section name; known names (libbpf conventions; '+' means the name alone or followed by '/...'): \(known.joined(separator: ", "))"
        case .malformed(let detail): "malformed BPF object: \(detail)"
        case .unsupported(let detail): "unsupported BPF object: \(detail)"
        }
    }
}
