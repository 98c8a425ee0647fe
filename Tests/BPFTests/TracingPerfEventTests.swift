import BPF
import BPFObject
import Foundation
import Testing

@Suite(.kernel, .serialized)
struct TracingPerfEventTests {
    /// Keeps this thread on the CPU for `seconds`.
    static func burnCPU(seconds: Double) -> UInt64 {
        let end = Date().addingTimeInterval(seconds)
        var value: UInt64 = 1
        while Date() < end {
            for index in 0..<10_000 { value = value &* 6_364_136_223_846_793_005 &+ UInt64(index) }
        }
        return value
    }

    func samples(_ map: Map) throws -> [Int: UInt64] {
        var result: [Int: UInt64] = [:]
        for cpu in PossibleCPUs.online { result[cpu] = try TracingCounter.count(map, key: UInt32(cpu)) }
        return result
    }

    @Test func cpuClockSamplingCountsWhileBurning() throws {
        let map = try TracingCounter.makeMap("trc_perf_cpu")
        let program = try TracingCounter.program("trc_perf_cpu", type: .perfEvent, map: map, key: .cpu)
        let link = try program.attachPerfEvent(.cpuClock, rate: .frequency(999))
        #expect(link.cpus == PossibleCPUs.online)
        #expect(link.links.count == PossibleCPUs.online.count)
        _ = Self.burnCPU(seconds: 0.3)
        let during = try samples(map)
        // ~300 samples expected at 999 Hz over 0.3 s of our own CPU time.
        #expect(during.values.reduce(0, +) > 20, "samples per CPU: \(during)")
        try link.close()
        // Samples may land between the read above and the close; after the close none may.
        let afterClose = try samples(map)
        _ = Self.burnCPU(seconds: 0.1)
        #expect(try samples(map) == afterClose)
    }

    @Test func periodSamplingOnOneCPU() throws {
        let map = try TracingCounter.makeMap("trc_perf_period")
        let program = try TracingCounter.program("trc_perf_period", type: .perfEvent, map: map, key: .cpu, onlyProcess: nil)
        // cpu-clock counts nanoseconds: a sample every millisecond of CPU 0's time.
        let link = try program.attachPerfEvent(.cpuClock, rate: .period(1_000_000), cpus: [0])
        usleep(200_000)
        #expect(try TracingCounter.count(map, key: 0) > 10)
        try link.close()
    }

    @Test func badSamplingArguments() throws {
        let map = try TracingCounter.makeMap("trc_perf_bad")
        let program = try TracingCounter.program("trc_perf_bad", type: .perfEvent, map: map)
        #expect(throws: BPFError.self) { try program.attachPerfEvent(rate: .frequency(0)) }
        #expect(throws: BPFError.self) { try program.attachPerfEvent(rate: .period(1000), cpus: []) }
        #expect(throws: BPFError.self) { try program.attachPerfEvent(rate: .period(1000), cpus: [100_000]) }
        let tracepointProgram = try TracingCounter.program("trc_perf_wrong", type: .tracepoint, map: map)
        #expect(throws: BPFError.self) { try tracepointProgram.attachPerfEvent(rate: .frequency(99)) }
    }
}
