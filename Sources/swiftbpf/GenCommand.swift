import ArgumentParser
import BPF
import BPFObject
import Foundation

/// `swiftbpf gen skeleton FILE.bpf.o`: Swift source for a typed skeleton (bpftool gen skeleton's
/// counterpart), printed to standard output.
struct GenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen", abstract: "Generate code from BPF objects.", subcommands: [Skeleton.self])

    struct Skeleton: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a typed Swift skeleton for a BPF object file.")

        @Argument(help: "The BPF object file (compiled with -g, for BTF).") var file: String
        @Option(help: "The object name (default: the file name up to its first dot).") var name: String?
        @Option(name: .customLong("event-type"), help: "A BTF struct the programs submit to a ring buffer (repeatable).")
        var eventTypes: [String] = []
        @Option(help: "Read the object from this path at run time instead of embedding it.") var objectPath: String?
        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw BPFError.notFound(what: "BPF object file", detail: "cannot read \(file)")
            }
            let generator = SkeletonGenerator(objectBytes: [UInt8](data), name: name ?? ObjectSpec.objectName(forPath: file),
                                              eventTypes: eventTypes, objectPath: objectPath)
            let source: String
            do { source = try generator.generate() }
            catch let error as SkeletonError { throw ValidationError("\(file): \(error)") }
            catch let error as ObjectError { throw ValidationError("\(file): \(error)") }
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: Data(source.utf8)) else {
                    throw BPFError.invalidArgument("cannot write \(output)")
                }
            } else {
                print(source)
            }
        }
    }
}
