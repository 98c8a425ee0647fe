import ArgumentParser
import BPF
import BPFObject

@main
struct SwiftBPF: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftbpf",
        abstract: "The eBPF toolkit for Linux, in Swift.",
        subcommands: [
            BTFCommand.self,
            ObjectCommand.self,
        ]
    )
}
