import BPFObject
import Testing

struct TracePipeLineTests {
    @Test func parsesDefaultFormat() throws {
        let line = try #require(TracePipeLine(parsing: "           <...>-1234    [001] d..31  1234.567890: bpf_trace_printk: hello world\n"))
        #expect(line.task == "<...>")
        #expect(line.pid == 1234)
        #expect(line.tgid == nil)
        #expect(line.cpu == 1)
        #expect(line.flags == "d..31")
        #expect(line.timestampText == "1234.567890")
        #expect(line.timestamp == 1234.56789)
        #expect(line.event == "bpf_trace_printk")
        #expect(line.message == "hello world")
        #expect(line.raw == "           <...>-1234    [001] d..31  1234.567890: bpf_trace_printk: hello world")
    }

    @Test func commWithSpacesDashesAndDigits() throws {
        let line = try #require(TracePipeLine(parsing: " kworker/u8:2-ev-12-99 [000] ..... 5.000001: bpf_trace_printk: x: y"))
        #expect(line.task == "kworker/u8:2-ev-12")
        #expect(line.pid == 99)
        #expect(line.message == "x: y")
        let spaced = try #require(TracePipeLine(parsing: "  Web Content-4242    [003] .N... 17.5: bpf_trace_printk: a"))
        #expect(spaced.task == "Web Content")
        #expect(spaced.pid == 4242)
        #expect(spaced.flags == ".N...")
    }

    @Test func idleTaskAndTgidColumn() throws {
        let line = try #require(TracePipeLine(parsing: "          <idle>-0       (-------) [002] d.h2.   99.123456: bpf_trace_printk: irq"))
        #expect(line.task == "<idle>")
        #expect(line.pid == 0)
        #expect(line.tgid == nil)
        #expect(line.cpu == 2)
        let withTGID = try #require(TracePipeLine(parsing: "            bash-1977    (   1977) [000] ....  1.5: bpf_trace_printk: b"))
        #expect(withTGID.tgid == 1977)
        #expect(withTGID.flags == "....")
    }

    @Test func lineWithoutFlags() throws {
        let line = try #require(TracePipeLine(parsing: "            bash-1977  [000]  1.500000: bpf_trace_printk: no flags"))
        #expect(line.flags == nil)
        #expect(line.timestamp == 1.5)
        #expect(line.message == "no flags")
    }

    @Test func oldTracePrintkAddressAsEvent() throws {
        let line = try #require(TracePipeLine(parsing: "ping-5 [001] d... 3.25: 0x00000001: old style"))
        #expect(line.event == "0x00000001")
        #expect(line.message == "old style")
        #expect(line.bccFields.message == "old style")
        #expect(line.bccFields.flags == "d...")
    }

    @Test func messageWithoutEventName() throws {
        let line = try #require(TracePipeLine(parsing: "ping-5 [001] d... 3.25: just some text"))
        #expect(line.event == nil)
        #expect(line.message == "just some text")
        let empty = try #require(TracePipeLine(parsing: "ping-5 [001] d... 3.25: bpf_trace_printk:"))
        #expect(empty.event == "bpf_trace_printk")
        #expect(empty.message == "")
    }

    @Test func nonEventLinesGiveNil() {
        #expect(TracePipeLine(parsing: "# tracer: nop") == nil)
        #expect(TracePipeLine(parsing: "CPU:1 [LOST 12 EVENTS]") == nil)
        #expect(TracePipeLine(parsing: "") == nil)
        #expect(TracePipeLine(parsing: "-") == nil)
        #expect(TracePipeLine(parsing: "a-1 [") == nil)
        #expect(TracePipeLine(parsing: "a-99999999999999999999999 [0] 1.0: x") == nil)
        #expect(TracePipeLine(parsing: "a-1 [2] ....... 1.: x") == nil)
    }

    @Test func neverTrapsOnArbitraryBytes() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ab- [](0123456789.:#<>\u{00e9}\n".utf8)
        for _ in 0..<5000 {
            let length = Int.random(in: 0..<60, using: &generator)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            _ = TracePipeLine(parsing: String(decoding: bytes, as: UTF8.self))
        }
    }
}
