import ArgumentParser
import BPF
import BPFObject

/// `swiftbpf map`: inspect and edit maps, like `bpftool map`.
struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Inspect and edit BPF maps (bpftool map).",
        discussion: """
        MAP is id ID | name NAME | pinned PATH. Bytes are C integer literals (key 0x01 0 0 0) \
        or, after the word hex, hex pairs (key hex 01 00 00 00).

        EXAMPLES:
          swiftbpf map dump pinned /sys/fs/bpf/counts
          swiftbpf map update id 5 key 1 0 0 0 value hex 2a 00 00 00 00 00 00 00
          swiftbpf -j map lookup name counts key 1 0 0 0
        """,
        subcommands: [List.self, Show.self, Dump.self, Lookup.self, Update.self, Delete.self, GetNext.self,
                      Peek.self, Push.self, Pop.self, Enqueue.self, Dequeue.self, Freeze.self, Pin.self, Create.self],
        defaultSubcommand: List.self
    )

    /// The common shape of every map subcommand: output flags and bpftool-style words.
    struct Words: ParsableArguments {
        @OptionGroup var output: OutputOptions
        @Argument(parsing: .allUnrecognized, help: "MAP, then key/value bytes where the command takes them")
        var words: [String] = []

        /// Runs `body` with the parsed flags and the remaining words, reporting errors like bpftool.
        mutating func run(_ body: (OutputOptions, ArraySlice<String>) throws -> Void) throws {
            var output = self.output
            let rest = output.absorbFlags(from: words)
            try reportingErrors(output) { try body(output, rest) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List all maps, or those MAP names.")
        @OptionGroup var arguments: Words
        mutating func run() throws {
            try arguments.run { output, words in
                let maps = words.isEmpty ? try KernelObjects.maps()
                    : try KernelObjects.maps(matching: try ObjectSelector.parse(words, allowsTag: false).0)
                emit(MapListing.render(maps, output: output, selected: !words.isEmpty))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Same as list.")
        @OptionGroup var arguments: Words
        mutating func run() throws {
            var list = List()
            list.arguments = arguments
            try list.run()
        }
    }

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every element of MAP.")
        @OptionGroup var arguments: Words
        mutating func run() throws {
            try arguments.run { output, words in
                let map = try MapCommand.openOne(words).map
                let entries = try map.dumpEntries()
                emit(MapElements.renderDump(entries, perCPU: map.type.isPerCPU, formatting: try MapElements.formatting(map),
                                            output: output))
            }
        }
    }

    struct Lookup: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the value stored under a key: MAP key BYTES.")
        @OptionGroup var arguments: Words
        mutating func run() throws {
            try arguments.run { output, words in
                let (map, rest) = try MapCommand.openOne(words)
                let (key, trailing) = try MapCommand.parseKey(rest, map: map)
                try MapCommand.expectEnd(trailing)
                guard let raw = try map.lookup(key) else {
                    if output.isJSON {
                        var writer = output.makeWriter()
                        writer.null()
                        emit(writer.document)
                    } else {
                        emit(MapElements.notFoundText(key: key))
                    }
                    throw ExitCode(254) // bpftool: -ENOENT
                }
                let entry = MapDumpEntry(key: key, values: try map.dumpValues(raw))
                emit(MapElements.renderOne(entry, perCPU: map.type.isPerCPU, formatting: try MapElements.formatting(map), output: output))
            }
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a value: MAP key BYTES value BYTES [any|noexist|exist].",
            discussion: "For per-CPU maps the value is written to every CPU.")
        @OptionGroup var arguments: Words
        mutating func run() throws {
            try arguments.run { output, words in
                let (map, rest) = try MapCommand.openOne(words)
                let (key, afterKey) = try MapCommand.parseKey(rest, map: map)
                guard afterKey.first == "value" else { throw BPFError.invalidArgument("expected 'value', got: '\(afterKey.first ?? "")'") }
                let (value, afterValue) = try ByteSyntax.parse(afterKey.dropFirst(), count: map.valueSize, what: "value")
                var flags = MapUpdateFlags.any
                var trailing = afterValue
                if let word = trailing.first {
                    switch word {
                    case "any": flags = .any
                    case "noexist": flags = .noExist
                    case "exist": flags = .exist
                    default: throw BPFError.invalidArgument("unexpected '\(word)' after the value (expected any, noexist or exist)")
                    }
                    trailing = trailing.dropFirst()
                }
                try MapCommand.expectEnd(trailing)
                try map.update(key, try map.replicatedPerCPU(value), flags: flags)
                acknowledge(output)
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a key: MAP key BYTES.")
        @OptionGroup var arguments: Words
        mutating func run() throws {
            try arguments.run { output, words in
                let (map, rest) = try MapCommand.openOne(words)
                let (key, trailing) = try MapCommand.parseKey(rest, map: map)
                try MapCommand.expectEnd(trailing)
                guard try map.delete(key) else {
                    throw BPFError.notFound(what: "key \(ByteSyntax.hexDump(key))", detail: "the map has no such element")
                }
                acknowledge(output)
            }
        }
    }

    struct GetNext: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "getnext", abstract: "Print the key after a key (or the first key): MAP [key BYTES].")
        @OptionGroup var arguments: Words
        mutating func run() throws {
            try arguments.run { output, words in
                let (map, rest) = try MapCommand.openOne(words)
                var key: [UInt8]?
                var trailing = rest
                if !rest.isEmpty { (key, trailing) = try MapCommand.parseKey(rest, map: map) }
                try MapCommand.expectEnd(trailing)
                guard let next = try map.nextKey(after: key) else {
                    throw CommandFailure(description: key == nil ? "can't get next key: the map is empty"
                                         : "can't get next key: this is the last key (or no such key)", status: 254)
                }
                if output.isJSON {
                    var writer = output.makeWriter()
                    writer.beginObject()
                    writer.name("key")
                    if let key { writer.hexBytes(key) } else { writer.null() }
                    writer.name("next_key")
                    writer.hexBytes(next)
                    writer.endObject()
                    emit(writer.document)
                } else {
                    let current = key.map { "key:\n\(ByteSyntax.hexDump($0))\n" } ?? "key: None\n"
                    emit(current + "next key:\n\(ByteSyntax.hexDump(next))\n")
                }
            }
        }
    }

    struct Peek: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the next value of a queue or stack without removing it: MAP.")
        @OptionGroup var arguments: Words
        mutating func run() throws { try arguments.run { try MapCommand.takeValue($0, $1, removing: false) } }
    }

    struct Pop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove and print the next value of a stack or queue: MAP.")
        @OptionGroup var arguments: Words
        mutating func run() throws { try arguments.run { try MapCommand.takeValue($0, $1, removing: true) } }
    }

    struct Dequeue: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Same as pop.")
        @OptionGroup var arguments: Words
        mutating func run() throws { try arguments.run { try MapCommand.takeValue($0, $1, removing: true) } }
    }

    struct Push: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a value to a stack or queue: MAP value BYTES.")
        @OptionGroup var arguments: Words
        mutating func run() throws { try arguments.run { try MapCommand.pushValue($0, $1) } }
    }

    struct Enqueue: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Same as push.")
        @OptionGroup var arguments: Words
        mutating func run() throws { try arguments.run { try MapCommand.pushValue($0, $1) } }
    }

    struct Freeze: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make MAP read-only for user space (BPF_MAP_FREEZE).")
        @OptionGroup var arguments: Words
        mutating func run() throws {
            try arguments.run { output, words in
                let (map, rest) = try MapCommand.openOne(words)
                try MapCommand.expectEnd(rest)
                try map.freeze()
                acknowledge(output)
            }
        }
    }

    struct Pin: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pin MAP at FILE in bpffs: MAP FILE.")
        @OptionGroup var arguments: Words
        mutating func run() throws {
            try arguments.run { output, words in
                let (map, rest) = try MapCommand.openOne(words)
                guard let path = rest.first else { throw BPFError.invalidArgument("expected the path to pin at") }
                try MapCommand.expectEnd(rest.dropFirst())
                try Pinning.pin(map.fd, at: path)
                acknowledge(output)
            }
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a map and pin it: FILE type TYPE key SIZE value SIZE entries N name NAME [flags FLAGS].")
        @OptionGroup var arguments: Words
        mutating func run() throws {
            try arguments.run { output, words in
                guard let path = words.first else { throw BPFError.invalidArgument("expected the path to pin the new map at") }
                var fields: [String: String] = [:]
                var rest = words.dropFirst()
                while let keyword = rest.first {
                    guard ["type", "key", "value", "entries", "name", "flags"].contains(keyword) else {
                        throw BPFError.invalidArgument("unknown argument '\(keyword)' (expected type, key, value, entries, name, flags)")
                    }
                    guard let value = rest.dropFirst().first else { throw BPFError.invalidArgument("'\(keyword)' needs a value") }
                    guard fields[keyword] == nil else { throw BPFError.invalidArgument("\(keyword) given twice") }
                    fields[keyword] = value
                    rest = rest.dropFirst(2)
                }
                func number(_ field: String) throws -> UInt32 {
                    guard let text = fields[field] else { throw BPFError.invalidArgument("map \(field) is missing") }
                    guard let value = ByteSyntax.cInteger(text).flatMap({ UInt32(exactly: $0) }) else {
                        throw BPFError.invalidArgument("can't parse \(field) \(text)")
                    }
                    return value
                }
                guard let typeName = fields["type"] else { throw BPFError.invalidArgument("map type is missing") }
                guard let type = MapType(name: typeName) else { throw BPFError.invalidArgument("unrecognized map type: \(typeName)") }
                guard let name = fields["name"] else { throw BPFError.invalidArgument("map name is missing") }
                let spec = MapSpec(name: name, type: type, keySize: try number("key"), valueSize: try number("value"),
                                   maxEntries: try number("entries"), flags: fields["flags"] == nil ? 0 : try number("flags"))
                let map = try Map(spec)
                try Pinning.pin(map.fd, at: path)
                acknowledge(output)
            }
        }
    }


    static func takeValue(_ output: OutputOptions, _ words: ArraySlice<String>, removing: Bool) throws {
        let (map, rest) = try openOne(words)
        try expectEnd(rest)
        guard let value = removing ? try map.lookupAndDelete() : try map.lookup([]) else {
            if output.isJSON {
                var writer = output.makeWriter()
                writer.null()
                emit(writer.document)
                throw ExitCode(254)
            }
            throw CommandFailure(description: "empty map", status: 254)
        }
        emit(MapElements.renderOne(MapDumpEntry(key: [], values: [value]), perCPU: false, output: output))
    }

    static func pushValue(_ output: OutputOptions, _ words: ArraySlice<String>) throws {
        let (map, rest) = try openOne(words)
        guard rest.first == "value" else { throw BPFError.invalidArgument("expected 'value', got: '\(rest.first ?? "")'") }
        let (value, trailing) = try ByteSyntax.parse(rest.dropFirst(), count: map.valueSize, what: "value")
        try expectEnd(trailing)
        try map.update([], value)
        acknowledge(output)
    }

    static func openOne(_ words: ArraySlice<String>) throws -> (map: Map, rest: ArraySlice<String>) {
        let (selector, rest) = try ObjectSelector.parse(words, allowsTag: false)
        let maps = try KernelObjects.maps(matching: selector)
        guard maps.count == 1 else { throw BPFError.invalidArgument("\(maps.count) maps match \(selector); select one by id") }
        return (try Map(adopting: maps[0].fd), rest)
    }

    static func parseKey(_ words: ArraySlice<String>, map: Map) throws -> ([UInt8], ArraySlice<String>) {
        guard words.first == "key" else { throw BPFError.invalidArgument("expected 'key', got: '\(words.first ?? "")'") }
        return try ByteSyntax.parse(words.dropFirst(), count: map.keySize, what: "key")
    }

    static func expectEnd(_ words: ArraySlice<String>) throws {
        if let extra = words.first { throw BPFError.invalidArgument("unexpected argument '\(extra)'") }
    }
}

/// `map list|show` output in bpftool's text and JSON layouts.
enum MapListing {
    static func render(_ maps: [InspectedObject<MapInfo>], output: OutputOptions, selected: Bool = false) -> String {
        let pins = output.bpffs ? PinnedPaths.discover(.map) : [:]
        if output.isJSON {
            var writer = output.makeWriter()
            // Like bpftool: a single selected object prints as an object, everything else as an array.
            let asArray = !selected || maps.count != 1
            if asArray { writer.beginArray() }
            for map in maps { json(map, pins: pins[map.info.id] ?? [], into: &writer) }
            if asArray { writer.endArray() }
            return writer.document
        }
        return maps.map { text($0, pins: pins[$0.info.id] ?? []) }.joined()
    }

    static func text(_ map: InspectedObject<MapInfo>, pins: [String] = []) -> String {
        let info = map.info
        let fdInfo = try? FileDescriptorInfo(fd: map.fd)
        var out = "\(info.id): \(info.type.map(\.name) ?? "type \(info.rawType)")  "
        if !info.name.isEmpty { out += "name \(info.name)  " }
        out += "flags 0x\(String(info.flags, radix: 16))\n"
        out += "\tkey \(info.keySize)B  value \(info.valueSize)B  max_entries \(info.maxEntries)"
        if let memlock = fdInfo?.memlock { out += "  memlock \(memlock)B" }
        if info.type == .progArray, let owner = fdInfo?.ownerProgramType {
            out += "\n\towner_prog_type \(ProgramType(rawValue: owner)?.name ?? String(owner))  "
            out += (fdInfo?.ownerJited ?? false) ? "owner jited" : "owner not jited"
        }
        for path in pins { out += "\n\tpinned \(path)" }
        let frozen = fdInfo?.isFrozen ?? false
        if info.btfID != 0 || frozen { out += "\n\t" }
        if info.btfID != 0 { out += "btf_id \(info.btfID)" }
        if frozen { out += (info.btfID != 0 ? "  " : "") + "frozen" }
        return out + "\n"
    }

    static func json(_ map: InspectedObject<MapInfo>, pins: [String] = [], into writer: inout BPFToolJSONWriter) {
        let info = map.info
        let fdInfo = try? FileDescriptorInfo(fd: map.fd)
        writer.beginObject()
        writer.field("id", info.id)
        if let type = info.type { writer.field("type", type.name) } else { writer.field("type", info.rawType) }
        if !info.name.isEmpty { writer.field("name", info.name) }
        writer.field("flags", info.flags)
        writer.field("bytes_key", info.keySize)
        writer.field("bytes_value", info.valueSize)
        writer.field("max_entries", info.maxEntries)
        if let memlock = fdInfo?.memlock { writer.field("bytes_memlock", memlock) }
        if info.type == .progArray, let owner = fdInfo?.ownerProgramType {
            writer.field("owner_prog_type", ProgramType(rawValue: owner)?.name ?? String(owner))
            writer.field("owner_jited", fdInfo?.ownerJited ?? false)
        }
        writer.field("frozen", (fdInfo?.isFrozen ?? false) ? 1 : 0)
        if info.btfID != 0 { writer.field("btf_id", info.btfID) }
        pinnedField(pins, into: &writer)
        writer.endObject()
    }
}

/// Map elements in bpftool's layouts: `key: 01 00 00 00  value: 2a 00 ...` on one line when key
/// and value together fit in 24 bytes, `key:`/`value:` above their bytes when either exceeds 16;
/// per-CPU values one line per CPU.
enum MapElements {
    /// How a map's elements can be shown through its BTF (key and value type ids), if at all.
    struct Formatting {
        let formatter: BTFValueFormatter
        let keyType: UInt32
        let valueType: UInt32

        func format(_ entry: MapDumpEntry) -> (key: FormattedValue, values: [FormattedValue])? {
            formatter.format(entry, keyType: keyType, valueType: valueType)
        }
    }

    static func formatting(_ map: Map) throws -> Formatting? {
        let info = try map.info()
        guard info.btfKeyTypeID != 0, info.btfValueTypeID != 0, let formatter = BTFValueFormatter.forMap(info) else { return nil }
        return Formatting(formatter: formatter, keyType: info.btfKeyTypeID, valueType: info.btfValueTypeID)
    }

    static func renderDump(_ entries: [MapDumpEntry], perCPU: Bool, formatting: Formatting? = nil, output: OutputOptions) -> String {
        // Like bpftool, maps with BTF print their elements decoded (as JSON even in text mode),
        // and in JSON mode add the decoded form under "formatted".
        let formatted = formatting.map { formatting in entries.compactMap { formatting.format($0) } }
        let decodable = formatted.map { $0.count == entries.count } ?? false
        if output.isJSON {
            var writer = output.makeWriter()
            writer.beginArray()
            for (index, entry) in entries.enumerated() {
                json(entry, perCPU: perCPU, formatted: decodable ? formatted?[index] : nil, into: &writer)
            }
            writer.endArray()
            return writer.document
        }
        if decodable, let formatted {
            var writer = BPFToolJSONWriter(pretty: true)
            writer.beginArray()
            for value in formatted { decodedObject(value, perCPU: perCPU, into: &writer) }
            writer.endArray()
            return writer.document
        }
        let body = entries.map { text($0, perCPU: perCPU) }.joined()
        return body + "Found \(entries.count) element\(entries.count == 1 ? "" : "s")\n"
    }

    static func renderOne(_ entry: MapDumpEntry, perCPU: Bool, formatting: Formatting? = nil, output: OutputOptions) -> String {
        let formatted = formatting?.format(entry)
        if output.isJSON {
            var writer = output.makeWriter()
            json(entry, perCPU: perCPU, formatted: formatted, into: &writer)
            return writer.document
        }
        if let formatted {
            var writer = BPFToolJSONWriter(pretty: true)
            decodedObject(formatted, perCPU: perCPU, into: &writer)
            return writer.document
        }
        return text(entry, perCPU: perCPU)
    }

    static func text(_ entry: MapDumpEntry, perCPU: Bool) -> String {
        let key = entry.key
        var out = ""
        if perCPU {
            if !key.isEmpty { out += "key:\n\(ByteSyntax.hexDump(key))\n" }
            for (cpu, value) in entry.values.enumerated() where !value.isEmpty {
                let number = cpu < 10 ? "0\(cpu)" : String(cpu)
                out += "value (CPU \(number)):\(value.count > 16 ? "\n" : " ")\(ByteSyntax.hexDump(value))\n"
            }
            return out
        }
        // bpftool: names on their own line when either side exceeds 16 bytes; one line when
        // both fit in 24 bytes together.
        let value = entry.values.first ?? []
        let breakNames = key.count > 16 || value.count > 16
        let singleLine = key.count + value.count <= 24 && !breakNames
        if !key.isEmpty {
            out += "key:\(breakNames ? "\n" : " ")\(ByteSyntax.hexDump(key))\(singleLine ? "  " : "\n")"
        }
        if !value.isEmpty { out += "value:\(breakNames ? "\n" : " ")\(ByteSyntax.hexDump(value))" }
        return out + "\n"
    }

    static func notFoundText(key: [UInt8]) -> String {
        "key:\n\(ByteSyntax.hexDump(key))\n\nNot found\n"
    }

    /// The members `"key": K` and `"value": V`, or for per-CPU maps
    /// `"values": [{"cpu": N, "value": V}, ...]`, with keys and values written by `write`.
    static func keyAndValues<Element>(key: Element, values: [Element], perCPU: Bool, into writer: inout BPFToolJSONWriter,
                                      write: (Element, inout BPFToolJSONWriter) -> Void) {
        writer.name("key")
        write(key, &writer)
        if perCPU {
            writer.name("values")
            writer.beginArray()
            for (cpu, value) in values.enumerated() {
                writer.beginObject()
                writer.field("cpu", cpu)
                writer.name("value")
                write(value, &writer)
                writer.endObject()
            }
            writer.endArray()
        } else if let value = values.first {
            writer.name("value")
            write(value, &writer)
        }
    }

    /// One element decoded through BTF: `{"key": K, "value": V}` or its per-CPU form.
    static func decodedObject(_ decoded: (key: FormattedValue, values: [FormattedValue]), perCPU: Bool, into writer: inout BPFToolJSONWriter) {
        writer.beginObject()
        keyAndValues(key: decoded.key, values: decoded.values, perCPU: perCPU, into: &writer) { $1.formatted($0) }
        writer.endObject()
    }

    /// One element as bytes (`"0x2a"` strings), followed by its BTF-decoded `"formatted"` form if any.
    static func json(_ entry: MapDumpEntry, perCPU: Bool, formatted: (key: FormattedValue, values: [FormattedValue])? = nil,
                     into writer: inout BPFToolJSONWriter) {
        writer.beginObject()
        // Without per-CPU values a "value" is always written, even an empty one.
        let values = perCPU ? entry.values : [entry.values.first ?? []]
        keyAndValues(key: entry.key, values: values, perCPU: perCPU, into: &writer) {
            $1.hexBytes($0)
        }
        if let formatted {
            writer.name("formatted")
            decodedObject(formatted, perCPU: perCPU, into: &writer)
        }
        writer.endObject()
    }
}
