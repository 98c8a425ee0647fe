import ArgumentParser
import BPF
import BPFObject
import ExampleSupport
import Foundation

/// Chapter 6's verifier rejections, reproduced: each case is one program of
/// verifier-errors.bpf.c, loaded on its own, and what SwiftBPF reports for it is shown — the
/// verifier's closing message, the failing instruction, and the C source line (from the
/// object's BTF line info).
@main
struct VerifierErrors: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verifier-errors",
        abstract: "Load programs that make the classic verifier mistakes and show SwiftBPF's diagnostic for each.",
        discussion: """
            EXAMPLES:
              verifier-errors                              every case
              verifier-errors --list                       the cases
              verifier-errors --case unchecked_map_value --log   one case with the whole verifier log
            """)

    /// One mistake: the program that makes it and the words the verifier answers with.
    struct Case {
        var name: String
        var mistake: String
        /// A phrase of the verifier's message that names the mistake (kernel/bpf/verifier.c).
        var expected: String
        /// The license the program is loaded under.
        var license = "Dual BSD/GPL"
    }

    static let cases = [
        Case(name: "unknown_helper", mistake: "calls a helper its program type may not use (bpf_skb_load_bytes in XDP)",
             expected: "program of this type cannot use helper bpf_skb_load_bytes#26"),
        Case(name: "gpl_only_helper", mistake: "calls a GPL-only helper (bpf_trace_printk) without a GPL-compatible license",
             expected: "cannot call GPL-restricted function from non-GPL compatible program", license: "Proprietary"),
        Case(name: "unchecked_map_value", mistake: "dereferences a map lookup's result without checking it for NULL",
             expected: "invalid mem access 'map_value_or_null'"),
        Case(name: "out_of_bounds", mistake: "indexes a 12-byte map value with an index that may reach 15",
             expected: "invalid access to map value"),
        Case(name: "missing_return_value", mistake: "exits without setting R0, the return value",
             expected: "R0 !read_ok"),
        Case(name: "unbounded_loop", mistake: "loops without anything that makes the loop end",
             expected: "infinite loop detected"),
        Case(name: "packet_past_data_end", mistake: "reads the packet without checking against data_end",
             expected: "invalid access to packet"),
    ]

    @Flag(help: "List the cases and exit.")
    var list = false

    @Option(name: .customLong("case"), help: "Run only this case (see --list).")
    var caseName: String?

    @Flag(help: "Print the whole verifier log of each case.")
    var log = false

    /// The verifier's messages after the last instruction it printed: often a specific line
    /// ("invalid access to packet, off=12 size=2, ...") before a general one ("R1 offset is
    /// outside of the packet"), which `reason` (the last line) alone would miss.
    static func closingMessages(of log: String) -> [String] {
        let lines = log.split(separator: "\n", omittingEmptySubsequences: true).map(String.init).filter {
            !$0.hasPrefix("processed ") && !$0.hasPrefix("cur state:") && !$0.hasPrefix("old state:") && !$0.hasPrefix("stack depth")
                && !$0.hasPrefix("verification time")
        }
        // Instruction lines look like `12: (61) r1 = ...`.
        let lastInstruction = lines.lastIndex { line in
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else { return false }
            return line[..<colon].allSatisfy(\.isNumber) && line[colon...].hasPrefix(": (")
        }
        return Array(lines[(lastInstruction.map { $0 + 1 } ?? max(0, lines.count - 1))...])
    }

    func validate() throws {
        if let caseName, !Self.cases.contains(where: { $0.name == caseName }) {
            throw ValidationError("no case '\(caseName)'; the cases are: \(Self.cases.map(\.name).joined(separator: ", "))")
        }
    }

    func run() throws {
        if list {
            for item in Self.cases { print(item.name.padding(toLength: 22, withPad: " ", startingAt: 0), item.mistake) }
            return
        }
        let objectSpec = try ObjectSpec(elf: VerifierErrorsSkeleton.objectBytes(), name: VerifierErrorsSkeleton.objectName)
        var unexpected: [String] = []
        for item in Self.cases where caseName == nil || item.name == caseName {
            print("== \(item.name): \(item.mistake)")
            var spec = objectSpec
            for index in spec.programs.indices {
                spec.programs[index].autoload = spec.programs[index].name == item.name
                if spec.programs[index].name == item.name { spec.programs[index].spec.license = item.license }
            }
            do {
                _ = try ObjectLoader(spec: spec).load()
                print("loaded: the verifier accepted it (expected: \(item.expected))")
                unexpected.append(item.name)
            } catch BPFError.verifierRejected(let rejection) {
                print("rejected by the verifier (\(rejection.errno.name)): \(rejection.reason)")
                let closing = Self.closingMessages(of: rejection.log)
                if closing.count > 1 { for line in closing { print("  verifier: \(line)") } }
                if let index = rejection.failingInstruction, let text = rejection.failingInstructionText {
                    print("  at instruction \(index): \(text)")
                }
                print("  source: \(rejection.sourceLine ?? "(no line info)")")
                if log { print(rejection.log) }
                if !rejection.log.contains(item.expected) { unexpected.append(item.name) }
            } catch {
                // Anything else (e.g. a missing capability) is not the lesson: say what it was.
                print("failed before the verifier spoke: \(error)")
                unexpected.append(item.name)
            }
            print()
        }
        if !unexpected.isEmpty {
            FileHandle.standardError.write(Data("verifier-errors: not rejected as expected: \(unexpected.joined(separator: ", "))\n".utf8))
            throw ExitCode.failure
        }
    }
}
