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
            for info in try KernelBTF.loadedObjects() {
                var line = "\(info.id): name \(info.name.isEmpty ? "<anon>" : info.name)  size \(info.size)B"
                if info.isKernel { line += "  kernel" }
                print(line)
            }
            let files = KernelBTF.sysfsNames()
            if !files.isEmpty {
                print("/sys/kernel/btf: " + files.joined(separator: " "))
            }
        }
    }
}
