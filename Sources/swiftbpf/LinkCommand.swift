import ArgumentParser
import BPF
import BPFObject
import Foundation

/// `swiftbpf link`: inspect BPF links, like `bpftool link`.
struct LinkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link",
        abstract: "Inspect BPF links (bpftool link).",
        subcommands: [List.self, Show.self, Pin.self, Detach.self],
        defaultSubcommand: List.self
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List all links, or the one LINK (id ID | pinned PATH) names.")
        @OptionGroup var output: OutputOptions
        @Argument(parsing: .allUnrecognized, help: "id ID | pinned PATH") var selector: [String] = []

        mutating func run() throws {
            var output = self.output
            let words = output.absorbFlags(from: selector)
            try reportingErrors(output) {
                let links = words.isEmpty ? try KernelObjects.links()
                    : try KernelObjects.links(matching: try ObjectSelector.parse(words, allowsTag: false).0)
                emit(LinkListing.render(links, output: output, selected: !words.isEmpty))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Same as list.")
        @OptionGroup var output: OutputOptions
        @Argument(parsing: .allUnrecognized, help: "id ID | pinned PATH") var selector: [String] = []

        mutating func run() throws {
            var list = List()
            list.output = output
            list.selector = selector
            try list.run()
        }
    }
}

extension LinkCommand {
    struct Pin: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pin LINK at FILE in bpffs: id ID | pinned PATH, then FILE.")
        @OptionGroup var output: OutputOptions
        @Argument(parsing: .allUnrecognized, help: "LINK FILE") var words: [String] = []

        mutating func run() throws {
            var output = self.output
            let words = output.absorbFlags(from: self.words)
            try reportingErrors(output) {
                let (link, rest) = try LinkCommand.openOne(words)
                guard let path = rest.first, rest.count == 1 else { throw BPFError.invalidArgument("expected one path to pin at") }
                try link.pin(at: path)
                acknowledge(output)
            }
        }
    }

    struct Detach: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Detach LINK's program from its hook (BPF_LINK_DETACH); the link object stays while pinned or held.")
        @OptionGroup var output: OutputOptions
        @Argument(parsing: .allUnrecognized, help: "id ID | pinned PATH") var words: [String] = []

        mutating func run() throws {
            var output = self.output
            let words = output.absorbFlags(from: self.words)
            try reportingErrors(output) {
                let (link, rest) = try LinkCommand.openOne(words)
                if let extra = rest.first { throw BPFError.invalidArgument("unexpected argument '\(extra)'") }
                try link.detach()
                acknowledge(output)
            }
        }
    }

    static func openOne(_ words: ArraySlice<String>) throws -> (KernelLink, ArraySlice<String>) {
        let (selector, rest) = try ObjectSelector.parse(words, allowsTag: false)
        guard let found = try KernelObjects.links(matching: selector).first else {
            throw BPFError.notFound(what: "link \(selector)", detail: "no such link")
        }
        return (KernelLink(fd: found.fd, description: "\(found.info.type?.name ?? "link") link id \(found.info.id)"), rest)
    }

}

/// `link list|show` in bpftool's layouts: a header line, then the type's details.
enum LinkListing {
    static func render(_ links: [InspectedObject<LinkInfo>], output: OutputOptions, selected: Bool = false) -> String {
        let pins = output.bpffs ? PinnedPaths.discover(.link) : [:]
        if output.isJSON {
            var writer = output.makeWriter()
            // Like bpftool: a single selected object prints as an object, everything else as an array.
            let asArray = !selected || links.count != 1
            if asArray { writer.beginArray() }
            for link in links { json(link.info, pins: pins[link.info.id] ?? [], into: &writer) }
            if asArray { writer.endArray() }
            return writer.document
        }
        return links.map { text($0.info, pins: pins[$0.info.id] ?? []) }.joined()
    }

    static func attachTypeText(_ raw: UInt32) -> String {
        "attach_type \(AttachType(rawValue: raw)?.name ?? String(raw))  "
    }

    static func interfaceText(_ index: UInt32) -> String {
        "ifindex \(interfaceName(index).map { "\($0)(\(index))" } ?? "(unknown)")  "
    }

    static func interfaceName(_ index: UInt32) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        guard if_indextoname(index, &buffer) != nil else { return nil }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func text(_ info: LinkInfo, pins: [String] = []) -> String {
        var out = "\(info.id): \(info.type.map(\.name) ?? "type \(info.rawType)")  prog \(info.programID)  "
        switch info.details {
        case .rawTracepoint(let name): out += "\n\ttp '\(name)'  "
        case .tracing(let attachType, let objectID, let btfID):
            if let type = (try? KernelObjects.programs(matching: .id(info.programID)))?.first?.info.type {
                out += "\n\tprog_type \(type.name)  "
            }
            out += attachTypeText(attachType)
            if objectID != 0 || btfID != 0 { out += "\n\ttarget_obj_id \(objectID)  target_btf_id \(btfID)  " }
        case .cgroup(let cgroupID, let attachType): out += "\n\tcgroup_id \(cgroupID)  " + attachTypeText(attachType)
        case .iterator(let target): out += "\n\ttarget_name \(target)  "
        case .netns(let inode, let attachType): out += "\n\tnetns_ino \(inode)  " + attachTypeText(attachType)
        case .xdp(let index): out += "\n\t" + interfaceText(index)
        case .tcx(let index, let attachType), .netkit(let index, let attachType):
            out += "\n\t" + interfaceText(index) + attachTypeText(attachType)
        case .structOps(let mapID): out += "\n\tmap_id \(mapID)  "
        case .sockmap(let mapID, let attachType): out += "\n\tmap_id \(mapID)  " + attachTypeText(attachType)
        case .netfilter(let family, let hook, let priority, let flags):
            out += "\n\tpf \(family)  hooknum \(hook)  prio \(priority)  flags 0x\(String(flags, radix: 16))  "
        case .kprobeMulti(let count, let flags, let missed):
            out += "\n\t\(flags & 1 != 0 ? "kretprobe.multi" : "kprobe.multi")  func_cnt \(count)  missed \(missed)  "
        case .uprobeMulti(let path, let count, let flags, let pid):
            out += "\n\t\(flags & 1 != 0 ? "uretprobe.multi" : "uprobe.multi")  path \(path)  func_cnt \(count)  pid \(pid)  "
        case .perfEvent(let event):
            switch event {
            case .kprobe(let function, let offset, let address, let missed, _, let isReturn):
                out += "\n\t\(isReturn ? "kretprobe" : "kprobe") \(String(address, radix: 16)) \(function)+0x\(String(offset, radix: 16))  missed \(missed)  "
            case .uprobe(let path, let offset, _, let isReturn):
                out += "\n\t\(isReturn ? "uretprobe" : "uprobe") \(path)+0x\(String(offset, radix: 16))  "
            case .tracepoint(let name, _): out += "\n\ttracepoint \(name)  "
            case .event(let type, let config, _): out += "\n\tevent \(type):\(config)  "
            case .unspecified: break
            }
        case .unknown: break
        }
        for path in pins { out += "\n\tpinned \(path)" }
        return out + "\n"
    }

    static func json(_ info: LinkInfo, pins: [String] = [], into writer: inout BPFToolJSONWriter) {
        writer.beginObject()
        writer.field("id", info.id)
        if let type = info.type { writer.field("type", type.name) } else { writer.field("type", info.rawType) }
        writer.field("prog_id", info.programID)
        func attachType(_ raw: UInt32) {
            if let type = AttachType(rawValue: raw) { writer.field("attach_type", type.name) } else { writer.field("attach_type", raw) }
        }
        func interface(_ index: UInt32) {
            if let name = interfaceName(index) { writer.field("devname", name) }
            writer.field("ifindex", index)
        }
        switch info.details {
        case .rawTracepoint(let name): writer.field("tp_name", name)
        case .tracing(let type, let objectID, let btfID):
            if let programType = (try? KernelObjects.programs(matching: .id(info.programID)))?.first?.info.type {
                writer.field("prog_type", programType.name)
            }
            attachType(type)
            writer.field("target_obj_id", objectID)
            writer.field("target_btf_id", btfID)
        case .cgroup(let cgroupID, let type):
            writer.field("cgroup_id", cgroupID)
            attachType(type)
        case .iterator(let target): writer.field("target_name", target)
        case .netns(let inode, let type):
            writer.field("netns_ino", inode)
            attachType(type)
        case .xdp(let index): interface(index)
        case .tcx(let index, let type), .netkit(let index, let type):
            interface(index)
            attachType(type)
        case .structOps(let mapID): writer.field("map_id", mapID)
        case .sockmap(let mapID, let type):
            writer.field("map_id", mapID)
            attachType(type)
        case .netfilter(let family, let hook, let priority, let flags):
            writer.field("pf", family)
            writer.field("hooknum", hook)
            writer.field("prio", priority)
            writer.field("flags", flags)
        case .kprobeMulti(let count, let flags, let missed):
            writer.field("retprobe", flags & 1 != 0)
            writer.field("func_cnt", count)
            writer.field("missed", missed)
        case .uprobeMulti(let path, let count, let flags, let pid):
            writer.field("path", path)
            writer.field("func_cnt", count)
            writer.field("retprobe", flags & 1 != 0)
            writer.field("pid", pid)
        case .perfEvent(let event):
            switch event {
            case .kprobe(let function, let offset, let address, let missed, let cookie, let isReturn):
                writer.field("retprobe", isReturn)
                writer.field("addr", address)
                writer.field("func", function)
                writer.field("offset", offset)
                writer.field("missed", missed)
                writer.field("cookie", cookie)
            case .uprobe(let path, let offset, let cookie, let isReturn):
                writer.field("retprobe", isReturn)
                writer.field("file", path)
                writer.field("offset", offset)
                writer.field("cookie", cookie)
            case .tracepoint(let name, let cookie):
                writer.field("tracepoint", name)
                writer.field("cookie", cookie)
            case .event(let type, let config, let cookie):
                writer.field("event_type", type)
                writer.field("event_config", config)
                writer.field("cookie", cookie)
            case .unspecified: break
            }
        case .unknown: break
        }
        pinnedField(pins, into: &writer)
        writer.endObject()
    }
}
