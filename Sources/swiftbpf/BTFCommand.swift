import ArgumentParser
import BPF
import BPFObject

/// `swiftbpf btf`: inspect BTF like `bpftool btf`.
struct BTFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "btf",
        abstract: "Inspect BTF type information (like bpftool btf).",
        subcommands: [Dump.self, List.self]
    )

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Dump BTF from a file as raw records or as a C header (vmlinux.h).",
            discussion: """
            EXAMPLES:
              swiftbpf btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h
              swiftbpf btf dump file /sys/kernel/btf/vmlinux format raw
              swiftbpf btf dump file /sys/kernel/btf/nf_tables --base /sys/kernel/btf/vmlinux
            """
        )

        enum Source: String, ExpressibleByArgument { case file }
        enum Format: String, ExpressibleByArgument { case raw, c }

        @Argument(help: "Where the BTF comes from (only 'file').") var source: Source
        @Argument(help: "Path of a raw BTF file, e.g. /sys/kernel/btf/vmlinux.") var path: String
        @Argument(help: "'format' followed by 'raw' or 'c'.") var formatWord: [String] = []
        @Option(help: "Base BTF for split BTF (default: /sys/kernel/btf/vmlinux for other files under /sys/kernel/btf).")
        var base: String?

        func run() throws {
            var format = Format.raw
            if !formatWord.isEmpty {
                guard formatWord.count == 2, formatWord[0] == "format", let chosen = Format(rawValue: formatWord[1]) else {
                    throw ValidationError("expected 'format raw' or 'format c', got '\(formatWord.joined(separator: " "))'")
                }
                format = chosen
            }
            let btf = try KernelBTF.openFile(path, base: base)
            switch format {
            case .raw:
                var text = btf.rawDump()
                if text.hasSuffix("\n") { text.removeLast() }
                print(text)
            case .c:
                print(try BTFCHeaderWriter(btf: btf).header(), terminator: "")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List BTF objects loaded in the kernel and the kernel's BTF files.")

        func run() throws {
            // Which programs and maps use each BTF object, as bpftool shows them.
            var programs: [UInt32: [UInt32]] = [:]
            var maps: [UInt32: [UInt32]] = [:]
            for id in (try? KernelObjects.ids(of: .program)) ?? [] {
                if let fd = try? KernelObjects.open(.program, id: id), let info = try? ProgramInfo(fd: fd), info.btfID != 0 {
                    programs[info.btfID, default: []].append(id)
                }
            }
            for id in (try? KernelObjects.ids(of: .map)) ?? [] {
                if let fd = try? KernelObjects.open(.map, id: id), let info = try? MapInfo(fd: fd), info.btfID != 0 {
                    maps[info.btfID, default: []].append(id)
                }
            }
            for info in try KernelBTF.loadedObjects() {
                let name = info.isKernel ? "[\(info.name)]" : info.name.isEmpty ? "<anon>" : info.name
                var line = "\(info.id): name \(name)  size \(info.size)B"
                if let ids = programs[info.id] { line += "  prog_ids " + ids.map(String.init).joined(separator: ",") }
                if let ids = maps[info.id] { line += "  map_ids " + ids.map(String.init).joined(separator: ",") }
                print(line)
            }
        }
    }
}
