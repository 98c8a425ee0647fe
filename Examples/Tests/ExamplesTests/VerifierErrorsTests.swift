import Foundation
import Testing

@Suite(.kernel, .serialized) struct VerifierErrorsTests {
    /// Each case, the verifier's words that name its mistake, and the C line that makes it.
    static let cases: [(name: String, phrase: String, source: String)] = [
        ("unknown_helper", "program of this type cannot use helper bpf_skb_load_bytes#26", "bpf_skb_load_bytes(ctx, 0, first, sizeof(first));"),
        ("gpl_only_helper", "cannot call GPL-restricted function from non-GPL compatible program", "bpf_printk(\"Hello World\");"),
        ("unchecked_map_value", "R0 invalid mem access 'map_value_or_null'", "return value->text[0] == 'x' ? XDP_DROP : XDP_PASS;"),
        ("out_of_bounds", "invalid access to map value, value_size=12", "return value->text[index] == 'x' ? XDP_DROP : XDP_PASS;"),
        ("missing_return_value", "R0 !read_ok", "asm volatile(\"exit\");"),
        ("unbounded_loop", "infinite loop detected at insn", "while (!stop)"),
        ("packet_past_data_end", "invalid access to packet, off=12 size=2", "return eth->h_proto == 0 ? XDP_DROP : XDP_PASS;"),
    ]

    @Test func helpAndListNameEveryCase() throws {
        let help = try ExampleProcess.run("verifier-errors", ["--help"])
        #expect(help.status == 0)
        #expect(help.text.contains("USAGE: verifier-errors"), "\(help.text)")
        let list = try ExampleProcess.run("verifier-errors", ["--list"])
        #expect(list.status == 0)
        for item in Self.cases { #expect(list.text.contains(item.name), "\(list.text)") }
    }

    @Test(arguments: cases.map(\.name)) func eachCaseIsRejectedWithItsReasonAndSourceLine(name: String) throws {
        let item = try #require(Self.cases.first { $0.name == name })
        let result = try ExampleProcess.run("verifier-errors", ["--case", name])
        #expect(result.status == 0, "\(result.text)")
        #expect(result.text.hasPrefix("== \(name): "), "\(result.text)")
        #expect(result.text.contains("rejected by the verifier ("), "\(result.text)")
        #expect(result.text.contains(item.phrase), "\(result.text)")
        #expect(result.text.contains("  at instruction "), "\(result.text)")
        #expect(result.text.contains("  source: ") && result.text.contains("verifier-errors.bpf.c:") && result.text.contains(item.source), "\(result.text)")
    }

    @Test func anUnknownCaseIsRefused() throws {
        let result = try ExampleProcess.run("verifier-errors", ["--case", "nonsense"])
        #expect(result.status != 0)
        #expect(result.text.contains("no case 'nonsense'"), "\(result.text)")
    }
}
