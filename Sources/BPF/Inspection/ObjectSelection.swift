import BPFObject
import Foundation

/// How a user names kernel objects on bpftool's command line: `id N`, `name NAME`,
/// `tag TAG` (programs only) or `pinned PATH`.
public enum ObjectSelector: Sendable, Hashable, CustomStringConvertible {
    case id(UInt32)
    case name(String)
    case tag(String)
    case pinned(String)

    /// Parses the first two words (`id 5`); returns the selector and the words that follow.
    public static func parse(_ words: ArraySlice<String>, allowsTag: Bool) throws -> (ObjectSelector, ArraySlice<String>) {
        guard let keyword = words.first else {
            throw BPFError.invalidArgument("expected id, name\(allowsTag ? ", tag" : "") or pinned")
        }
        guard let argument = words.dropFirst().first else {
            throw BPFError.invalidArgument("'\(keyword)' needs an argument")
        }
        let rest = words.dropFirst(2)
        switch keyword {
        case "id":
            guard let id = UInt32(argument) else { throw BPFError.invalidArgument("can't parse \(argument) as ID") }
            return (.id(id), rest)
        case "name": return (.name(argument), rest)
        case "tag" where allowsTag:
            guard argument.count == 16, argument.allSatisfy(\.isHexDigit) else {
                throw BPFError.invalidArgument("can't parse tag \(argument): a tag is 16 hex digits")
            }
            return (.tag(argument.lowercased()), rest)
        case "pinned": return (.pinned(argument), rest)
        default:
            throw BPFError.invalidArgument("expected id, name\(allowsTag ? ", tag" : "") or pinned, got: '\(keyword)'")
        }
    }

    public var description: String {
        switch self {
        case .id(let id): "id \(id)"
        case .name(let name): "name \(name)"
        case .tag(let tag): "tag \(tag)"
        case .pinned(let path): "pinned \(path)"
        }
    }
}

extension KernelObjects {
    /// The programs `selector` names (several for a shared name or tag). Throws `.notFound`
    /// when none matches.
    public static func programs(matching selector: ObjectSelector) throws -> [InspectedObject<ProgramInfo>] {
        let found: [InspectedObject<ProgramInfo>]
        switch selector {
        case .id(let id):
            let fd = try open(.program, id: id)
            found = [InspectedObject(fd: fd, info: try ProgramInfo(fd: fd))]
        case .pinned(let path):
            let fd = try openPinned(path, expecting: .program)
            found = [InspectedObject(fd: fd, info: try ProgramInfo(fd: fd))]
        case .name(let name):
            found = try programs().filter { $0.info.name == name }
        case .tag(let tag):
            found = try programs().filter { $0.info.tagHex == tag }
        }
        guard !found.isEmpty else { throw BPFError.notFound(what: "program \(selector)", detail: "no loaded program matches") }
        return found
    }

    /// The one program `selector` names, for commands that act on a single program; a name or
    /// tag shared by several programs is refused.
    public static func program(matching selector: ObjectSelector) throws -> InspectedObject<ProgramInfo> {
        let programs = try programs(matching: selector)
        guard programs.count == 1 else { throw BPFError.invalidArgument("\(programs.count) programs match; select one by id") }
        return programs[0]
    }

    /// The maps `selector` names. Throws `.notFound` when none matches.
    public static func maps(matching selector: ObjectSelector) throws -> [InspectedObject<MapInfo>] {
        let found: [InspectedObject<MapInfo>]
        switch selector {
        case .id(let id):
            let fd = try open(.map, id: id)
            found = [InspectedObject(fd: fd, info: try MapInfo(fd: fd))]
        case .pinned(let path):
            let fd = try openPinned(path, expecting: .map)
            found = [InspectedObject(fd: fd, info: try MapInfo(fd: fd))]
        case .name(let name):
            found = try maps().filter { $0.info.name == name }
        case .tag:
            throw BPFError.invalidArgument("maps have no tag; use id, name or pinned")
        }
        guard !found.isEmpty else { throw BPFError.notFound(what: "map \(selector)", detail: "no map matches") }
        return found
    }

    /// The links `selector` names. Throws `.notFound` when none matches.
    public static func links(matching selector: ObjectSelector) throws -> [InspectedObject<LinkInfo>] {
        switch selector {
        case .id(let id):
            let fd = try open(.link, id: id)
            return [InspectedObject(fd: fd, info: try LinkInfo(fd: fd))]
        case .pinned(let path):
            let fd = try openPinned(path, expecting: .link)
            return [InspectedObject(fd: fd, info: try LinkInfo(fd: fd))]
        case .name, .tag:
            throw BPFError.invalidArgument("links are selected by id or pinned path")
        }
    }

    /// Opens a pin and checks it is the kind of object expected (bpffs answers any kind).
    public static func openPinned(_ path: String, expecting kind: KernelObjectKind) throws -> OwnedFileDescriptor {
        let fd: OwnedFileDescriptor
        do {
            fd = try Pinning.open(path)
        } catch let error as BPFError where error.errno == .ENOENT {
            throw BPFError.notFound(what: "pinned object \(path)", detail: "nothing is pinned at this path")
        }
        let pinnedKind = FileDescriptorInfo.kind(of: fd)
        if let pinnedKind, pinnedKind != kind {
            throw BPFError.invalidArgument("\(path) holds a \(pinnedKind.noun), not a \(kind.noun)")
        }
        return fd
    }
}

extension FileDescriptorInfo {
    /// The kind of BPF object behind `fd`, from the anon-inode name in /proc/self/fd
    /// (`anon_inode:bpf-map`, `bpf-prog`; links are `bpf_link` when created and `bpf-link`
    /// when opened from a pin).
    static func kind(of fd: OwnedFileDescriptor) -> KernelObjectKind? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd.rawValue)") else { return nil }
        if target.hasSuffix("bpf-map") { return .map }
        if target.hasSuffix("bpf-prog") { return .program }
        if target.hasSuffix("bpf_link") || target.hasSuffix("bpf-link") { return .link }
        return nil
    }
}
