import BPF
import BPFObject
import Foundation
import Testing

/// A raw tracepoint program that calls `bpf_perf_event_output(ctx, map, BPF_F_CURRENT_CPU, ...)`
/// `samplesPerRun` times per run, each sample `sampleSize` bytes carrying a sequence number in
/// its first and last 8 bytes. Raw tracepoint programs can be test-run on a chosen CPU.
struct PerfBufferProducer {
    let program: Program
    /// Value 0: the next sequence number (u64 at 0) and failed outputs (u64 at 8).
    let counters: Map
    let samplesPerRun: Int

    init(events: Map, sampleSize: Int, samplesPerRun: Int) throws {
        precondition(sampleSize >= 8 && sampleSize % 8 == 0 && sampleSize <= 256)
        self.samplesPerRun = samplesPerRun
        counters = try Map(MapSpec(name: "evt_pb_cnt", type: .array, keySize: 4, valueSize: 16, maxEntries: 1))
        var asm = Assembler()
        asm.mov(.r6, .r1)
        asm.store(.word, .r10, -4, immediate: 0)
        asm.loadMapFD(.r1, try counters.fd.value())
        asm.mov(.r2, .r10)
        asm.add(.r2, -4)
        asm.call(.mapLookupElem)
        asm.jump(.eq, .r0, 0, to: "out")
        asm.mov(.r7, .r0)
        asm.mov(.r9, 0)
        asm.label("loop")
        asm.mov(.r8, 1)
        asm.emit(Instruction(opcode: 0xdb, dst: Register.r7.rawValue, src: Register.r8.rawValue, offset: 0, immediate: 0x01))
        let base = Int16(-8 - sampleSize)
        for slot in stride(from: 0, to: sampleSize, by: 8) { asm.store(.doubleWord, .r10, base + Int16(slot), immediate: 0) }
        asm.store(.doubleWord, .r10, base, .r8)
        asm.store(.doubleWord, .r10, base + Int16(sampleSize - 8), .r8)
        asm.mov(.r1, .r6)
        asm.loadMapFD(.r2, try events.fd.value())
        asm.mov32(.r3, -1) // BPF_F_CURRENT_CPU (0xffffffff, zero-extended)
        asm.mov(.r4, .r10)
        asm.add(.r4, Int32(base))
        asm.mov(.r5, Int32(sampleSize))
        asm.call(.perfEventOutput)
        asm.jump(.eq, .r0, 0, to: "next")
        asm.mov(.r1, 1)
        asm.atomicAdd(.doubleWord, .r7, 8, .r1)
        asm.label("next")
        asm.add(.r9, 1)
        asm.jump(.lt, .r9, Int32(samplesPerRun), to: "loop")
        asm.label("out")
        asm.mov(.r0, 0)
        asm.exit()
        program = try Program(ProgramSpec(name: "evt_pb_prod", type: .rawTracepoint, instructions: try asm.assemble()))
    }

    /// One run on `cpu` (BPF_F_TEST_RUN_ON_CPU; raw tracepoint test runs take no repeat count).
    func produce(onCPU cpu: Int) throws {
        _ = try program.testRun(TestRunInput(repeatCount: 0, flags: 1, cpu: UInt32(cpu)))
    }

    func tallies() throws -> (produced: UInt64, failed: UInt64) {
        let value = try counters.lookup([0, 0, 0, 0]) ?? []
        return value.withUnsafeBytes { ($0.load(fromByteOffset: 0, as: UInt64.self), $0.load(fromByteOffset: 8, as: UInt64.self)) }
    }
}

func makePerfEventArray() throws -> Map {
    try Map(MapSpec(name: "evt_pb", type: .perfEventArray, keySize: 4, valueSize: 4, maxEntries: UInt32(PossibleCPUs.count)))
}

@Suite(.kernel, .serialized)
struct PerfBufferTests {
    @Test func everySampleOncePerCPUInOrder() throws {
        let events = try makePerfEventArray()
        let producer = try PerfBufferProducer(events: events, sampleSize: 16, samplesPerRun: 100)
        var received: [Int: [UInt64]] = [:]
        let buffer = try PerfBuffer(events, options: .init(pagesPerCPU: 64), onSample: { cpu, data in
            // 16 bytes of data + the 4-byte size field pad to 24: the kernel reports 20.
            #expect(data.count == 20)
            received[cpu, default: []].append(data.loadUnaligned(as: UInt64.self))
        }, onLost: { cpu, count in Issue.record("lost \(count) samples on CPU \(cpu)") })
        var expected: [Int: [UInt64]] = [:]
        var next: UInt64 = 0
        for round in 0..<5 {
            for cpu in buffer.cpus {
                try producer.produce(onCPU: cpu)
                expected[cpu, default: []].append(contentsOf: next..<(next + 100))
                next += 100
                if round % 2 == 1 { try buffer.poll(timeout: .milliseconds(100)) }
            }
        }
        try buffer.consumeAvailable()
        #expect(received == expected)
        #expect(try producer.tallies() == (next, 0))
        #expect(buffer.totalLostSamples == 0)
    }

    @Test func samplesWrappingTheRingAreContiguous() throws {
        // 200-byte samples take 216 bytes with their headers; a one-page ring wraps every
        // 19 samples, mostly in the middle of a sample.
        let events = try makePerfEventArray()
        let cpu = PossibleCPUs.online[0]
        let producer = try PerfBufferProducer(events: events, sampleSize: 200, samplesPerRun: 10)
        var received: [UInt64] = []
        let buffer = try PerfBuffer(events, options: .init(pagesPerCPU: 1, cpus: [cpu]), onSample: { _, data in
            #expect(data.count == 204)
            let head = data.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
            let tail = data.loadUnaligned(fromByteOffset: 192, as: UInt64.self)
            #expect(head == tail, "sample \(head) is torn")
            received.append(head)
        })
        for _ in 0..<100 {
            try producer.produce(onCPU: cpu)
            #expect(try buffer.consumeAvailable() == 10)
        }
        #expect(received == Array(0..<1000))
    }

    @Test func slowConsumerSeesLostSampleCounts() throws {
        let events = try makePerfEventArray()
        let cpu = PossibleCPUs.online.last!
        // 64-byte samples take 80 bytes: a one-page ring holds about 51 of the 500.
        let producer = try PerfBufferProducer(events: events, sampleSize: 64, samplesPerRun: 500)
        let flusher = try PerfBufferProducer(events: events, sampleSize: 8, samplesPerRun: 1)
        var samples: [UInt64] = []
        var flushSamples = 0
        var lostReports: [(cpu: Int, count: UInt64)] = []
        let buffer = try PerfBuffer(events, options: .init(pagesPerCPU: 1, cpus: [cpu]),
                                    onSample: { _, data in
                                        if data.count == 12 { flushSamples += 1 } else { samples.append(data.loadUnaligned(as: UInt64.self)) }
                                    },
                                    onLost: { lostReports.append(($0, $1)) })
        try producer.produce(onCPU: cpu)
        try buffer.consumeAvailable()
        #expect(!samples.isEmpty && samples.count < 500)
        #expect(samples == Array(0..<UInt64(samples.count)))
        #expect(lostReports.isEmpty)
        // The kernel writes PERF_RECORD_LOST the next time it has room on that CPU.
        try flusher.produce(onCPU: cpu)
        try buffer.consumeAvailable()
        #expect(flushSamples == 1)
        let lost = lostReports.reduce(0) { $0 + $1.count }
        #expect(lostReports.count == 1 && lostReports.allSatisfy { $0.cpu == cpu })
        #expect(UInt64(samples.count) + lost == 500)
        // Every loss was a failed bpf_perf_event_output in the program.
        #expect(try producer.tallies() == (500, lost))
        #expect(buffer.lostSamples[cpu] == lost)
        #expect(buffer.totalLostSamples == lost)
    }

    @Test func releasingTheBufferRemovesTheMapEntries() throws {
        let events = try makePerfEventArray()
        let cpu = PossibleCPUs.online[0]
        let producer = try PerfBufferProducer(events: events, sampleSize: 8, samplesPerRun: 1)
        var count = 0
        do {
            let buffer = try PerfBuffer(events, options: .init(cpus: [cpu]), onSample: { _, _ in count += 1 })
            try producer.produce(onCPU: cpu)
            #expect(try buffer.poll(timeout: .seconds(1)) == 1)
        }
        // The entry is gone (deleting an empty slot is ENOENT), so bpf_perf_event_output fails
        // and the program counts it.
        #expect(try events.delete(withUnsafeBytes(of: UInt32(cpu).littleEndian, Array.init)) == false)
        try producer.produce(onCPU: cpu)
        #expect(try producer.tallies() == (2, 1))
        #expect(count == 1)
    }

    @Test func asyncEventsCarrySamples() async throws {
        let events = try makePerfEventArray()
        let cpu = PossibleCPUs.online[0]
        let producer = try PerfBufferProducer(events: events, sampleSize: 8, samplesPerRun: 50)
        let buffer = try PerfBuffer(events, options: .init(cpus: [cpu]))
        let background = Thread {
            Thread.sleep(forTimeInterval: 0.05)
            try? producer.produce(onCPU: cpu)
        }
        background.start()
        var sequence: [UInt64] = []
        for try await event in buffer.events() {
            guard case .sample(let sampleCPU, let bytes) = event else { Issue.record("unexpected \(event)"); break }
            #expect(sampleCPU == cpu)
            sequence.append(bytes.withUnsafeBytes { $0.load(as: UInt64.self) })
            if sequence.count == 50 { break }
        }
        #expect(sequence == Array(0..<50))
    }

    @Test func watermarkDelaysTheWakeup() throws {
        let events = try makePerfEventArray()
        let cpu = PossibleCPUs.online[0]
        let single = try PerfBufferProducer(events: events, sampleSize: 8, samplesPerRun: 1)
        let burst = try PerfBufferProducer(events: events, sampleSize: 64, samplesPerRun: 100)
        var samples = 0
        let buffer = try PerfBuffer(events, options: .init(pagesPerCPU: 4, watermarkBytes: 4096, cpus: [cpu]),
                                    onSample: { _, _ in samples += 1 })
        try single.produce(onCPU: cpu)
        // 24 bytes waiting, below the watermark: no wakeup, but the sample is readable.
        #expect(try buffer.poll(timeout: .milliseconds(50)) == 0)
        #expect(try buffer.consumeAvailable() == 1)
        // 100 × 80 bytes crosses it.
        try burst.produce(onCPU: cpu)
        #expect(try buffer.poll(timeout: .seconds(2)) == 100)
        #expect(samples == 101)
    }

    @Test func failedOpenTakesBackStoredEntries() throws {
        // CPU 63 does not exist here: opening its ring fails after CPU 0's entry was stored.
        let events = try Map(MapSpec(name: "evt_pb_wide", type: .perfEventArray, keySize: 4, valueSize: 4, maxEntries: 64))
        let cpu = PossibleCPUs.online[0]
        try #require(!PossibleCPUs.online.contains(63))
        let producer = try PerfBufferProducer(events: events, sampleSize: 8, samplesPerRun: 1)
        #expect {
            try PerfBuffer(events, options: .init(cpus: [cpu, 63]))
        } throws: { error in
            guard case BPFError.syscall(let failure) = error else { return false }
            return failure.operation == "perf_event_open" && failure.subject == "perf buffer ring of CPU 63"
        }
        // No ring is left behind in the map (deleting an empty perf_event_array slot is ENOENT).
        #expect(try events.delete(withUnsafeBytes(of: UInt32(cpu).littleEndian, Array.init)) == false)
        try producer.produce(onCPU: cpu)
        #expect(try producer.tallies() == (1, 1))
    }

    @Test func rejectsBadArguments() throws {
        let ring = try Map(MapSpec(name: "evt_pb_bad", type: .ringbuf, keySize: 0, valueSize: 0, maxEntries: 4096))
        #expect(throws: BPFError.self) { try PerfBuffer(ring) }
        let events = try makePerfEventArray()
        #expect(throws: BPFError.self) { try PerfBuffer(events, options: .init(pagesPerCPU: 3)) }
        #expect(throws: BPFError.self) { try PerfBuffer(events, options: .init(cpus: [PossibleCPUs.count + 5])) }
    }
}
