import ExampleSupport
import Foundation
import Testing

@Suite(.kernel, .serialized) struct XDPHelloTests {
    @Test func helpDescribesTheExample() throws {
        let help = try ExampleProcess.run("xdp-hello", ["--help"])
        #expect(help.status == 0)
        #expect(help.text.contains("USAGE: xdp-hello"), "\(help.text)")
        #expect(help.text.contains("--interface"), "\(help.text)")
    }

    /// Pings across a veth pair: every reply arrives on the host end, where the program prints
    /// "Hello World N" and counts; the counter read from .bss at exit covers them all, and
    /// nothing stays attached after the example exits.
    @Test func printsHelloWorldAndCountsPacketsInBSS() throws {
        let network = try VethNamespace(name: "exn-t-xhello", subnet: 211)
        let example = try ExampleProcess("xdp-hello", ["--interface", network.hostInterface])
        try #require(example.waitFor("Ctrl-C to end", timeout: .seconds(180)))
        #expect(try network.attachedPrograms().count == 1)
        let ping = try network.ping(network.peerAddress, count: 3)
        #expect(ping.received == 3, "\(ping.text)")
        // trace_pipe may be held by another example for a while: wait for our lines.
        example.waitFor("Hello World 2", timeout: .seconds(120))
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")

        // `<idle>-0 [003] d.s.. 655370.944105: bpf_trace_printk: Hello World 4531`
        let numbers = result.text.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: "bpf_trace_printk: Hello World ") else { return nil }
            return Int(line[range.upperBound...])
        }
        #expect(numbers.count >= 3, "\(result.text)")
        #expect(numbers.first == 0 && zip(numbers, numbers.dropFirst()).allSatisfy { $0 < $1 }, "the counter starts at 0 and each packet bumps it: \(numbers)")
        let counterLine = result.text.split(separator: "\n").first { $0.hasPrefix("counter: ") }
        let counter = counterLine.flatMap { Int($0.dropFirst("counter: ".count).split(separator: " ")[0]) }
        #expect((counter ?? 0) >= 3, "\(result.text)")
        #expect((counter ?? 0) >= numbers.count, "\(result.text)")
        #expect(try network.attachedPrograms().isEmpty)
    }

    /// --every-second prints the live counter while the program runs, not only at the end.
    @Test func everySecondPrintsTheLiveCounter() throws {
        let network = try VethNamespace(name: "exn-t-xhello", subnet: 211)
        let result = try ExampleProcess.run("xdp-hello", ["--interface", network.hostInterface, "--every-second", "--duration", "3.5"],
                                            timeout: .seconds(180))
        #expect(result.status == 0, "\(result.text)")
        let live = result.text.split(separator: "\n").filter { $0.hasPrefix("counter: ") && !$0.contains("packets seen") }
        #expect(live.count >= 2, "\(result.text)")
        #expect(result.text.contains("packets seen on \(network.hostInterface)"), "\(result.text)")
    }

    @Test func unknownInterfaceIsAClearError() throws {
        let result = try ExampleProcess.run("xdp-hello", ["--interface", "exn-missing0"])
        #expect(result.status != 0)
        #expect(result.text.contains("exn-missing0"), "\(result.text)")
        #expect(result.text.contains("does not exist"), "\(result.text)")
    }
}
