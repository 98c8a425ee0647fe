import ArgumentParser
import BPF
import BPFObject

@main
struct SwiftBPF: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftbpf",
        abstract: "The eBPF toolkit for Linux, in Swift.",
        subcommands: [
            ProgCommand.self,
            MapCommand.self,
            LinkCommand.self,
            NetCommand.self,
            BTFCommand.self,
            FeatureCommand.self,
            ObjectCommand.self,
            TraceCommand.self,
            GenCommand.self,
        ]
    )

    /// bpftool takes its output flags before the object (`bpftool -j -f prog show`); they are
    /// moved behind the subcommand, where the inspection commands read them.
    static func main() {
        main(GlobalFlags.movedBehindSubcommand(Array(CommandLine.arguments.dropFirst())))
    }
}

enum GlobalFlags {
    static let outputFlags: Set<String> = ["-j", "--json", "-p", "--pretty", "-jp", "-pj", "-f", "--bpffs"]

    static func movedBehindSubcommand(_ arguments: [String]) -> [String] {
        let leading = arguments.prefix(while: { outputFlags.contains($0) })
        guard !leading.isEmpty else { return arguments }
        return Array(arguments.dropFirst(leading.count)) + leading
    }
}
