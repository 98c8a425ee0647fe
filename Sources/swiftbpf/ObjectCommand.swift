import ArgumentParser
import BPF
import BPFObject
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `swiftbpf object`: inspect, load and run BPF objects compiled by clang.
struct ObjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "object",
        abstract: "Inspect, load and run BPF ELF objects (clang -target bpf output), with libbpf's conventions.",
        subcommands: [Show.self, Load.self, Run.self]
    )

    /// A value decoded through BTF, as one line of JSON (nil when the type cannot be rendered).
    static func text(_ formatter: BTFValueFormatter, _ bytes: [UInt8], _ typeID: UInt32) -> String? {
        guard let value = formatter.format(bytes[...], as: typeID) else { return nil }
        var writer = BPFToolJSONWriter(pretty: false)
        writer.formatted(value)
        return writer.text
    }

    static func open(_ path: String) throws -> ObjectLoader {
        try ObjectLoader(path: path)
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an object's programs, maps, globals, relocations and BTF without loading it.",
            discussion: "EXAMPLES:\n  swiftbpf object show minimal.bpf.o")
        @Argument(help: "The BPF object file.") var file: String

        func run() throws {
            let spec = try ObjectCommand.open(file).spec
            print("object \(spec.name): license \"\(spec.license)\"\(spec.kernelVersion != 0 ? ", version \(spec.kernelVersion)" : "")")
            print("programs:")
            for program in spec.programs {
                let attach = program.spec.expectedAttachType.map { "  expected_attach_type \($0.name)" } ?? ""
                print("  \(program.name)  section \(program.sectionName)  type \(program.spec.type.name)\(attach)  insns \(program.spec.instructions.count)"
                      + (program.subprograms.isEmpty ? "" : "  subprogs \(program.subprograms.joined(separator: ","))"))
            }
            print("maps:")
            for map in spec.maps {
                var line = "  \(map.name)  type \(map.spec.type.name)  key \(map.spec.keySize)B  value \(map.spec.valueSize)B  max_entries \(map.spec.maxEntries)"
                if map.spec.flags != 0 { line += "  flags 0x\(String(map.spec.flags, radix: 16))" }
                if map.pinning == .byName { line += "  pinned by name" }
                if let inner = map.spec.innerMapSpec { line += "  inner \(inner.type.name)" }
                if !map.initialSlots.isEmpty { line += "  initial slots \(map.initialSlots.count)" }
                if map.kind == .legacy { line += "  (legacy bpf_map_def)" }
                print(line)
            }
            if !spec.variables.isEmpty {
                print("globals:")
                for variable in spec.variables {
                    let type = variable.typeID.flatMap { try? spec.btf?.describe(id: $0) } ?? "\(variable.size) bytes"
                    print("  \(variable.sectionName)+\(variable.offset)  \(variable.name)  \(type)")
                }
            }
            if !spec.externs.isEmpty {
                print("externs:")
                for item in spec.externs {
                    let kind = switch item.kind {
                    case .kconfig: "kconfig"
                    case .kernelVariable: "ksym variable"
                    case .kernelFunction: "kfunc"
                    }
                    print("  \(item.name)  \(kind)\(item.isWeak ? " (weak)" : "")")
                }
            }
            print("relocations:")
            for program in spec.programs {
                var counts: [String: Int] = [:]
                for relocation in program.relocations {
                    let kind = switch relocation.target {
                    case .map: "map"
                    case .mapValue: "global data"
                    case .kernelVariable: "ksym"
                    case .kernelFunction, .kernelFunctionAddress: "kfunc"
                    }
                    counts[kind, default: 0] += 1
                }
                if !program.coreRelocations.isEmpty { counts["CO-RE"] = program.coreRelocations.count }
                let summary = counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                print("  \(program.name): \(summary.isEmpty ? "none" : summary)")
            }
            if let btf = spec.btf {
                print("btf: \(btf.typeCount - 1) types, \(btf.byteCount) bytes" + (spec.btfExt.map { ext in
                    ", func_info \(ext.functionInfo.reduce(0) { $0 + $1.records.count }), line_info \(ext.lineInfo.reduce(0) { $0 + $1.records.count }), CO-RE relocations \(ext.coreRelocations.reduce(0) { $0 + $1.records.count })"
                } ?? ""))
            } else {
                print("btf: none")
            }
        }
    }

    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load an object's programs into the kernel and print verifier statistics.",
            discussion: "Exits 0 only if every selected program loaded.\n\nEXAMPLES:\n  swiftbpf object load minimal.bpf.o\n  swiftbpf object load --program handle_exec minimal.bpf.o")
        @Option(name: .long, help: "Load only this program (repeatable).") var program: [String] = []
        @Argument(help: "The BPF object file.") var file: String

        func run() throws {
            let loader = try ObjectCommand.open(file)
            if !program.isEmpty { try loader.selectPrograms(program) }
            let object = try loader.load()
            for warning in object.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
            for spec in loader.spec.programs where spec.autoload {
                let loaded = try object.program(named: spec.name)
                let info = try loaded.info()
                print("\(spec.name): loaded as \(spec.spec.type.name) program id \(info.id), \(spec.spec.instructions.count) insns, verified insns \(info.verifiedInstructions)")
            }
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load an object, attach its programs by section name, print ring/perf buffer records; print maps on Ctrl-C.",
            discussion: "EXAMPLES:\n  swiftbpf object run execsnoop.bpf.o\n  swiftbpf object run --duration 5 counter.bpf.o")
        @Option(help: "Stop after this many seconds (default: until Ctrl-C).") var duration: Double?
        @Argument(help: "The BPF object file.") var file: String

        func run() throws {
            let loader = try ObjectCommand.open(file)
            let object = try loader.load()
            let (links, skipped) = try object.attachAll()
            for (name, reason) in skipped.sorted(by: { $0.key < $1.key }) {
                FileHandle.standardError.write(Data("not attached: \(name): \(reason)\n".utf8))
            }
            FileHandle.standardError.write(Data("attached \(links.count) program(s); Ctrl-C to stop\n".utf8))
            let formatter = object.spec.btf.map { BTFValueFormatter(btf: $0) }
            func render(_ map: ObjectMapSpec?, _ bytes: UnsafeRawBufferPointer) -> String {
                let array = Array(bytes)
                if let formatter, let typeID = map?.valueTypeID, let text = ObjectCommand.text(formatter, array, typeID) { return text }
                return array.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
            }
            var rings: RingBufferReader?
            var perfBuffers: [PerfBuffer] = []
            for mapSpec in object.spec.maps {
                let map = try object.map(named: mapSpec.name)
                if map.type == .ringbuf {
                    if rings == nil { rings = try RingBufferReader() }
                    try rings!.add(map) { print("\(mapSpec.name): \(render(mapSpec, $0))") }
                } else if map.type == .perfEventArray {
                    perfBuffers.append(try PerfBuffer(map, onSample: { cpu, data in print("\(mapSpec.name) cpu \(cpu): \(render(mapSpec, data))") },
                                                      onLost: { cpu, count in print("\(mapSpec.name) cpu \(cpu): lost \(count) samples") }))
                }
            }
            signal(SIGINT) { _ in objectRunInterrupted = 1 }
            signal(SIGTERM) { _ in objectRunInterrupted = 1 }
            let deadline = duration.map { Date().addingTimeInterval($0) }
            while objectRunInterrupted == 0 && (deadline.map { Date() < $0 } ?? true) {
                if let rings { _ = try rings.poll(timeout: .milliseconds(100)) }
                for buffer in perfBuffers { _ = try buffer.poll(timeout: .milliseconds(perfBuffers.count > 1 ? 10 : 100)) }
                if rings == nil && perfBuffers.isEmpty { usleep(100_000) }
                fflush(stdout)
            }
            withExtendedLifetime(links) {}
            printMaps(object, formatter: formatter)
        }

        func printMaps(_ object: LoadedObject, formatter: BTFValueFormatter?) {
            for mapSpec in object.spec.maps {
                guard let map = object.maps[mapSpec.name], map.type != .ringbuf, map.type != .perfEventArray,
                      map.type != .progArray, map.type != .arrayOfMaps, map.type != .hashOfMaps, !mapSpec.isReadOnly else { continue }
                if mapSpec.kind == .data {
                    // Global data: one line per variable, decoded through its BTF type.
                    guard let value = try? map.lookup([0, 0, 0, 0]) else { continue }
                    print("map \(mapSpec.name):")
                    for variable in object.spec.variables where variable.mapName == mapSpec.name {
                        let start = Int(variable.offset), end = start + Int(variable.size)
                        guard end <= value.count else { continue }
                        print("  \(variable.name): \(text(Array(value[start..<end]), typeID: variable.typeID, formatter: formatter, hex: true))")
                    }
                    continue
                }
                guard let entries = try? map.entries() else { continue }
                print("map \(mapSpec.name):")
                for entry in entries {
                    let key = text(entry.key, typeID: mapSpec.keyTypeID, formatter: formatter, hex: false)
                    let value = text(entry.value, typeID: mapSpec.valueTypeID, formatter: formatter, hex: true)
                    print("  \(key): \(value)")
                }
            }
        }

        /// BTF-decoded when the type is known, else hex (values) or decimal bytes (keys).
        func text(_ bytes: [UInt8], typeID: UInt32?, formatter: BTFValueFormatter?, hex: Bool) -> String {
            if let formatter, let typeID, let text = ObjectCommand.text(formatter, bytes, typeID) { return text }
            if !hex, bytes.count == 4 { return String(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24) }
            return bytes.map { hex ? ($0 < 16 ? "0" : "") + String($0, radix: 16) : String($0) }.joined(separator: " ")
        }
    }
}

nonisolated(unsafe) var objectRunInterrupted: sig_atomic_t = 0

/// `swiftbpf prog load OBJ PATH`: like `bpftool prog load`, loads the whole object and pins its
/// first program at PATH. Register it by adding `ProgLoadCommand.self` to the `subcommands` of
/// `ProgCommand` (Sources/swiftbpf/ProgCommand.swift).
struct ProgLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load a BPF object and pin its first program (like bpftool prog load).",
        discussion: "EXAMPLES:\n  swiftbpf prog load minimal.bpf.o /sys/fs/bpf/minimal")
    @Argument(help: "The BPF object file.") var file: String
    @Argument(help: "Where to pin the program (in a BPF file system).") var path: String

    func run() throws {
        let loader = try ObjectLoader(path: file)
        guard let first = loader.spec.programs.first else { throw ValidationError("\(file) has no programs") }
        let object = try loader.load()
        try object.program(named: first.name).pin(at: path)
    }
}
