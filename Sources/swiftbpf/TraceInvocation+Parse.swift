import ArgumentParser
import Foundation

/// A direct reading of the usual `swiftbpf trace` command lines (`-e PROGRAM`, a script file,
/// the single-letter options), so a one-liner starts without ArgumentParser: building its
/// argument sets, decoders and the completion-script check costs about 2 ms of CPU per run,
/// a third of what a static build of `swiftbpf trace` spends before its probes are attached.
/// Anything else (`--help`, bundled or unknown flags, a repeated option, `--`) returns nil and
/// goes through `TraceCommand`, which defines the options, their help and their errors.
extension TraceInvocation {
    static func parse(_ arguments: ArraySlice<String>) -> TraceInvocation? {
        var invocation = TraceInvocation()
        var seen: [String] = []
        var remaining = arguments
        while let argument = remaining.popFirst() {
            guard argument.hasPrefix("-"), argument != "-" else {
                invocation.arguments.append(argument)
                continue
            }
            guard !seen.contains(argument) else { return nil }
            seen.append(argument)
            switch argument {
            case "-l": invocation.l = true
            case "-v": invocation.v = true
            case "-d": invocation.d = true
            case "-q": invocation.q = true
            case "--unsafe": invocation.unsafe = true
            case "-e", "-o", "-f", "-p", "-c":
                guard let value = remaining.popFirst() else { return nil }
                switch argument {
                case "-e": invocation.e = value
                case "-o": invocation.o = value
                case "-f": invocation.f = value
                case "-p":
                    guard let pid = Int32(value) else { return nil }
                    invocation.p = pid
                default: invocation.c = value
                }
            default:
                return nil
            }
        }
        return invocation
    }

    /// Runs a directly parsed invocation. Usage errors are re-raised through ArgumentParser (the
    /// same arguments fail the same way there, before anything was started), so their wording
    /// and usage text stay ArgumentParser's.
    static func runParsed(_ invocation: TraceInvocation, arguments: [String]) -> Never {
        do {
            try invocation.run()
            exit(0)
        } catch is ValidationError {
            TraceRoot.main(arguments)
            exit(0)
        } catch let code as ExitCode {
            // The message is already printed (a script error); ArgumentParser's exit(withError:)
            // would build its help text by reflection first, a third of such a run.
            exit(code.rawValue)
        } catch {
            TraceRoot.exit(withError: error)
        }
    }
}
