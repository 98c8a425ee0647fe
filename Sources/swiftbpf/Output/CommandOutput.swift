import ArgumentParser
import BPF
#if canImport(Glibc)
import Glibc
#endif

/// bpftool's global output flags, accepted by every inspection command.
struct OutputOptions: ParsableArguments {
    @Flag(name: [.customShort("j"), .long], help: "Print JSON (like bpftool --json).")
    var json = false

    @Flag(name: [.customShort("p"), .long], help: "Print human-readable (indented) JSON; implies --json.")
    var pretty = false

    @Flag(name: [.customShort("f"), .customLong("bpffs")], help: "Show the bpffs paths where objects are pinned.")
    var bpffs = false

    var isJSON: Bool { json || pretty }

    /// bpftool accepts its flags anywhere; words captured as positional arguments after the
    /// object selector are scanned for them here.
    mutating func absorbFlags(from words: [String]) -> ArraySlice<String> {
        var rest: [String] = []
        for word in words {
            switch word {
            case "-j", "--json": json = true
            case "-p", "--pretty": pretty = true
            case "-jp", "-pj": pretty = true
            case "-f", "--bpffs": bpffs = true
            default: rest.append(word)
            }
        }
        return rest[...]
    }

    func makeWriter() -> BPFToolJSONWriter { BPFToolJSONWriter(pretty: pretty) }
}

/// A failure the CLI itself words, with bpftool's exit status for it (254 for "no such element").
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    var status: Int32 = 255
}

/// Prints a failure the way bpftool does (`Error: ...` on stderr, or `{"error":"..."}` in JSON
/// mode) and exits with status 255.
func fail(_ message: String, json: OutputOptions, status: Int32 = 255) -> ExitCode {
    if json.isJSON {
        var writer = json.makeWriter()
        writer.beginObject()
        writer.field("error", message)
        writer.endObject()
        print(writer.document, terminator: "")
    } else {
        var standardError = StandardError()
        print("Error: \(message)", to: &standardError)
    }
    return ExitCode(status)
}

/// Runs `body`, turning any thrown error into bpftool's error output and exit status.
func reportingErrors(_ output: OutputOptions, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch let failure as CommandFailure {
        throw fail(failure.description, json: output, status: failure.status)
    } catch let error as ByteSyntax.ParseError {
        throw fail(error.description, json: output)
    } catch {
        throw fail(String(describing: error), json: output)
    }
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) { fputs(string, stderr) }
}

/// Text output is collected and written once, so a failure half-way prints nothing partial.
func emit(_ text: String) {
    fputs(text, stdout)
    fflush(stdout)
}

/// bpftool answers a successful command that has nothing to show with `null` in JSON mode.
func acknowledge(_ output: OutputOptions) {
    guard output.isJSON else { return }
    var writer = output.makeWriter()
    writer.null()
    emit(writer.document)
}
