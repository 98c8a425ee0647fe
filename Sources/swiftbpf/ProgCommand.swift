import ArgumentParser
import BPF
import BPFObject
import Foundation

/// `swiftbpf prog`: inspect loaded programs, like `bpftool prog`.
struct ProgCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prog",
        abstract: "Inspect loaded BPF programs (bpftool prog).",
        subcommands: [List.self, Show.self, Dump.self, Pin.self, Tracelog.self],
        defaultSubcommand: List.self
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List all programs, or those PROG names.")
        @OptionGroup var output: OutputOptions
        @Argument(parsing: .allUnrecognized, help: "id ID | name NAME | tag TAG | pinned PATH")
        var selector: [String] = []

        mutating func run() throws {
            var output = self.output
            let words = output.absorbFlags(from: selector)
            try reportingErrors(output) {
                let programs = words.isEmpty
                    ? try KernelObjects.programs()
                    : try KernelObjects.programs(matching: try ObjectSelector.parse(words, allowsTag: true).0)
                emit(ProgramListing.render(programs, output: output, selected: !words.isEmpty))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Same as list.")
        @OptionGroup var output: OutputOptions
        @Argument(parsing: .allUnrecognized, help: "id ID | name NAME | tag TAG | pinned PATH")
        var selector: [String] = []

        mutating func run() throws {
            var list = List()
            list.output = output
            list.selector = selector
            try list.run()
        }
    }

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Dump the translated (xlated) instructions of a program.",
            discussion: "swiftbpf prog dump xlated id 12")
        @OptionGroup var output: OutputOptions
        @Argument(help: "What to dump: xlated.") var kind: String
        @Argument(parsing: .allUnrecognized, help: "id ID | name NAME | tag TAG | pinned PATH")
        var selector: [String] = []

        mutating func run() throws {
            var output = self.output
            let words = output.absorbFlags(from: selector)
            try reportingErrors(output) {
                guard kind == "xlated" else {
                    throw BPFError.invalidArgument("unknown dump kind '\(kind)' (supported: xlated)")
                }
                let (selector, rest) = try ObjectSelector.parse(words, allowsTag: true)
                var opcodes = false
                for word in rest {
                    guard word == "opcodes" else { throw BPFError.invalidArgument("unexpected argument '\(word)' (expected: opcodes)") }
                    opcodes = true
                }
                let program = try KernelObjects.program(matching: selector)
                emit(TranslatedListing.render(try TranslatedProgram(fd: program.fd), opcodes: opcodes, output: output))
            }
        }
    }

    struct Pin: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pin PROG at FILE in bpffs: PROG FILE.")
        @OptionGroup var output: OutputOptions
        @Argument(parsing: .allUnrecognized, help: "id ID | name NAME | tag TAG | pinned PATH, then FILE") var words: [String] = []

        mutating func run() throws {
            var output = self.output
            let words = output.absorbFlags(from: self.words)
            try reportingErrors(output) {
                let (selector, rest) = try ObjectSelector.parse(words, allowsTag: true)
                guard let path = rest.first, rest.count == 1 else { throw BPFError.invalidArgument("expected one path to pin at") }
                try Pinning.pin(KernelObjects.program(matching: selector).fd, at: path)
                acknowledge(output)
            }
        }
    }

    struct Tracelog: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stream the kernel trace pipe (bpf_trace_printk output) to stdout until interrupted.")

        func run() throws {
            let pipe = try TracePipe()
            // Lines go out as the kernel writes them, like bpftool; Ctrl-C ends the process.
            while let line = try pipe.readLine() {
                print(line)
                fflush(stdout)
            }
        }
    }
}

/// `prog list|show` output in bpftool's text and JSON layouts.
enum ProgramListing {
    static func render(_ programs: [InspectedObject<ProgramInfo>], output: OutputOptions, selected: Bool = false) -> String {
        let pins = output.bpffs ? PinnedPaths.discover(.program) : [:]
        if output.isJSON {
            var writer = output.makeWriter()
            // Like bpftool: a single selected object prints as an object, everything else as an array.
            let asArray = !selected || programs.count != 1
            if asArray { writer.beginArray() }
            for program in programs { json(program, pins: pins[program.info.id] ?? [], into: &writer) }
            if asArray { writer.endArray() }
            return writer.document
        }
        return programs.map { text($0, pins: pins[$0.info.id] ?? []) }.joined()
    }

    static func typeText(_ info: ProgramInfo) -> String {
        info.type.map(\.name) ?? "type \(info.rawType)"
    }

    static func text(_ program: InspectedObject<ProgramInfo>, pins: [String] = []) -> String {
        let info = program.info
        var out = "\(info.id): \(typeText(info))  "
        if !info.name.isEmpty { out += "name \(info.name)  " }
        out += "tag \(info.tagHex)"
        if info.isGPLCompatible { out += "  gpl" }
        if info.runTimeNanoseconds != 0 { out += " run_time_ns \(info.runTimeNanoseconds) run_cnt \(info.runCount)" }
        if info.recursionMisses != 0 { out += " recursion_misses \(info.recursionMisses)" }
        out += "\n"
        if info.loadTime != 0 {
            out += "\tloaded_at \(WallClock.iso8601(epochSeconds: info.loadedAtEpochSeconds))  uid \(info.createdByUID)\n"
        }
        out += "\txlated \(info.translatedSize)B"
        out += info.jitedSize != 0 ? "  jited \(info.jitedSize)B" : "  not jited"
        if let memlock = (try? FileDescriptorInfo(fd: program.fd))?.memlock { out += "  memlock \(memlock)B" }
        if !info.mapIDs.isEmpty { out += "  map_ids " + info.mapIDs.map(String.init).joined(separator: ",") }
        for path in pins { out += "\n\tpinned \(path)" }
        if info.btfID != 0 { out += "\n\tbtf_id \(info.btfID)" }
        return out + "\n"
    }

    static func json(_ program: InspectedObject<ProgramInfo>, pins: [String] = [], into writer: inout BPFToolJSONWriter) {
        let info = program.info
        writer.beginObject()
        writer.field("id", info.id)
        if let type = info.type { writer.field("type", type.name) } else { writer.field("type", info.rawType) }
        if !info.name.isEmpty { writer.field("name", info.name) }
        writer.field("tag", info.tagHex)
        writer.field("gpl_compatible", info.isGPLCompatible)
        if info.runTimeNanoseconds != 0 {
            writer.field("run_time_ns", info.runTimeNanoseconds)
            writer.field("run_cnt", info.runCount)
        }
        if info.recursionMisses != 0 { writer.field("recursion_misses", info.recursionMisses) }
        if info.loadTime != 0 {
            writer.field("loaded_at", info.loadedAtEpochSeconds)
            writer.field("uid", info.createdByUID)
        }
        writer.field("bytes_xlated", info.translatedSize)
        writer.field("jited", info.jitedSize != 0)
        if info.jitedSize != 0 { writer.field("bytes_jited", info.jitedSize) }
        if let memlock = (try? FileDescriptorInfo(fd: program.fd))?.memlock { writer.field("bytes_memlock", memlock) }
        if !info.mapIDs.isEmpty {
            writer.name("map_ids")
            writer.beginArray()
            for id in info.mapIDs { writer.value(id) }
            writer.endArray()
        }
        if info.btfID != 0 { writer.field("btf_id", info.btfID) }
        pinnedField(pins, into: &writer)
        writer.endObject()
    }
}

/// `prog dump xlated` output: bpftool's listing, and in JSON one `{"disasm": ...}` per
/// instruction, with its fields as hex strings under `opcodes` when asked.
enum TranslatedListing {
    static func render(_ program: TranslatedProgram, opcodes: Bool, output: OutputOptions) -> String {
        guard output.isJSON else { return program.lines(opcodes: opcodes).map { $0 + "\n" }.joined() }
        var writer = output.makeWriter()
        writer.beginArray()
        for (index, text, slots) in program.listing() {
            writer.beginObject()
            if let prototype = program.source.prototypes[index] { writer.field("proto", prototype) }
            if let line = program.source.sourceLines[index] { writer.field("src", line) }
            writer.field("disasm", text)
            if opcodes, let first = slots.first {
                var bytes: [UInt8] = []
                for slot in slots { slot.encode(into: &bytes) }
                writer.name("opcodes")
                writer.beginObject()
                writer.field("code", "0x" + hexByte(first.opcode))
                writer.field("src_reg", "0x" + String(first.src, radix: 16))
                writer.field("dst_reg", "0x" + String(first.dst, radix: 16))
                writer.name("off")
                writer.hexBytes(bytes[2..<4])
                // bpftool shows 12 bytes from imm for lddw: imm, the second slot's head, its imm.
                writer.name("imm")
                writer.hexBytes(bytes[4..<(slots.count == 2 ? 16 : 8)])
                writer.endObject()
            }
            writer.endObject()
        }
        writer.endArray()
        return writer.document
    }
}

/// bpftool's `loaded_at` rendering: local time as `%FT%T%z`.
enum WallClock {
    static func iso8601(epochSeconds: Int64) -> String {
        var seconds = time_t(epochSeconds)
        var broken = tm()
        localtime_r(&seconds, &broken)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%FT%T%z", &broken)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
