import BPF
import BPFObject
import Foundation
import Testing

/// An XDP program that calls `bpf_trace_printk("<marker> n=%d", ..., 42)` with the format
/// string built on its stack.
func makeTracePrintkProgram(marker: String) throws -> Program {
    var format = Array((marker + " n=%d").utf8) + [0]
    while format.count % 8 != 0 { format.append(0) }
    precondition(format.count <= 256)
    var asm = Assembler()
    let base = Int16(-format.count)
    for offset in stride(from: 0, to: format.count, by: 4) {
        let word = format[offset..<offset + 4].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        asm.store(.word, .r10, base + Int16(offset), immediate: Int32(bitPattern: word))
    }
    asm.mov(.r1, .r10)
    asm.add(.r1, Int32(base))
    asm.mov(.r2, Int32(marker.utf8.count + 6)) // with " n=%d" and the NUL
    asm.mov(.r3, 42)
    asm.call(.tracePrintk)
    asm.mov(.r0, 2)
    asm.exit()
    return try Program(ProgramSpec(name: "evt_tp_printk", type: .xdp, instructions: try asm.assemble()))
}

@Suite(.kernel, .serialized)
struct TracePipeTests {
    @Test func bpfTracePrintkLinesArriveParsed() throws {
        let marker = "sbpf_evt_\(UInt32.random(in: 0...UInt32.max))"
        let program = try makeTracePrintkProgram(marker: marker)
        let pipe = try TracePipe()
        // The pid column is the thread id of the thread that ran the program.
        let threadID = Int((try String(contentsOfFile: "/proc/thread-self/stat", encoding: .utf8)).split(separator: " ")[0])
        _ = try program.testRun(TestRunInput(data: [UInt8](repeating: 0, count: 64), repeatCount: 3))
        var ours: [TracePipeLine] = []
        let deadline = ContinuousClock.now + .seconds(10)
        while ours.count < 3, ContinuousClock.now < deadline {
            guard let event = try pipe.readEvent(timeout: .seconds(1)) else { continue }
            if event.message.hasPrefix(marker) { ours.append(event) }
        }
        #expect(ours.count == 3)
        for line in ours {
            #expect(line.message == "\(marker) n=42")
            #expect(line.event == "bpf_trace_printk")
            #expect(line.pid == threadID)
            #expect(PossibleCPUs.online.contains(line.cpu))
            #expect(line.flags != nil)
            #expect(line.timestamp > 0)
            #expect(line.raw.hasSuffix(": bpf_trace_printk: \(marker) n=42"))
            #expect(!line.task.isEmpty)
        }
        #expect(ours.map(\.timestamp) == ours.map(\.timestamp).sorted())
    }

    @Test func readTimesOutAndWakes() throws {
        let pipe = try TracePipe()
        // Drain whatever is there, then expect silence from a quiet system within 50 ms...
        _ = try pipe.availableLines()
        let start = ContinuousClock.now
        _ = try pipe.readLine(timeout: .milliseconds(50))
        #expect(ContinuousClock.now - start < .seconds(5))
        // ...and a wake to end a wait without a timeout.
        let waker = Thread { Thread.sleep(forTimeInterval: 0.05); pipe.wake() }
        waker.start()
        let blocked = ContinuousClock.now
        while try pipe.readLine() != nil {} // lines from others may arrive; the wake ends it
        #expect(ContinuousClock.now - blocked < .seconds(5))
        pipe.close()
        #expect(throws: BPFError.self) { try pipe.readLine(timeout: .zero) }
    }

    @Test func asyncRawLines() async throws {
        let marker = "sbpf_evt_async_\(UInt32.random(in: 0...UInt32.max))"
        let program = try makeTracePrintkProgram(marker: marker)
        let pipe = try TracePipe()
        let producer = Thread {
            Thread.sleep(forTimeInterval: 0.05)
            _ = try? program.testRun(TestRunInput(data: [UInt8](repeating: 0, count: 64)))
        }
        producer.start()
        var found: String?
        for try await line in pipe.lines() where line.contains(marker) {
            found = line
            break
        }
        #expect(found?.hasSuffix("bpf_trace_printk: \(marker) n=42") == true)
    }

    @Test func missingPipeIsAClearError() throws {
        #expect {
            try TracePipe(path: "/nonexistent/trace_pipe")
        } throws: { error in
            guard case BPFError.syscall(let failure) = error else { return false }
            return failure.errno == .ENOENT
        }
    }
}
