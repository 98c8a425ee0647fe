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
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "trace" {
            if let invocation = TraceInvocation.parse(arguments.dropFirst()) {
                TraceInvocation.runParsed(invocation, arguments: arguments)
            }
            return TraceRoot.main(arguments)
        }
        main(GlobalFlags.movedBehindSubcommand(arguments))
    }
}

/// `swiftbpf trace` parsed through a root holding only the trace command: a one-liner's start-up
/// is what `trace` is measured by, and ArgumentParser names every command of the full tree on
/// each run (`String(describing:)` of each unnamed subcommand type, a scan of every protocol
/// conformance in the process per type: about a fifth of a one-liner's CPU time).
struct TraceRoot: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: SwiftBPF.configuration.commandName, subcommands: [TraceCommand.self])
}

enum GlobalFlags {
    static let outputFlags: Set<String> = ["-j", "--json", "-p", "--pretty", "-jp", "-pj", "-f", "--bpffs"]

    static func movedBehindSubcommand(_ arguments: [String]) -> [String] {
        let leading = arguments.prefix(while: { outputFlags.contains($0) })
        guard !leading.isEmpty else { return arguments }
        return Array(arguments.dropFirst(leading.count)) + leading
    }
}
