import BPF
import BPFObject
import Foundation
import Testing

/// How a test producer hands its record to the ring buffer.
enum RingBufferProducerMode {
    /// `bpf_ringbuf_output` from a stack buffer (records up to 256 bytes).
    case output
    /// `bpf_ringbuf_reserve` + `bpf_ringbuf_submit`.
    case reserve
    /// Like `reserve`, but records with an odd sequence number are discarded.
    case reserveDiscardingOdd
}

/// A producer program and the counters it keeps: value 0 of `counters` holds the next
/// sequence number (u64 at offset 0) and the number of records the ring buffer refused
/// (u64 at offset 8).
struct RingBufferProducer {
    let program: Program
    let counters: Map

    /// An XDP program that writes one record per run: `recordSize` bytes (a multiple of 8, at
    /// least 8) carrying the sequence number in its first and last 8 bytes.
    init(ring: Map, recordSize: Int, mode: RingBufferProducerMode, name: String = "evt_rb_prod") throws {
        precondition(recordSize >= 8 && recordSize % 8 == 0)
        counters = try Map(MapSpec(name: "evt_rb_cnt", type: .array, keySize: 4, valueSize: 16, maxEntries: 1))
        var asm = Assembler()
        asm.store(.word, .r10, -4, immediate: 0)
        asm.loadMapFD(.r1, try counters.fd.value())
        asm.mov(.r2, .r10)
        asm.add(.r2, -4)
        asm.call(.mapLookupElem)
        asm.jump(.eq, .r0, 0, to: "out")
        asm.mov(.r7, .r0)
        // r8 = fetch_add(&counters.next, 1): the sequence number of this record.
        asm.mov(.r8, 1)
        asm.emit(Instruction(opcode: 0xdb, dst: Register.r7.rawValue, src: Register.r8.rawValue, offset: 0, immediate: 0x01))
        switch mode {
        case .output:
            precondition(recordSize <= 256)
            let base = Int16(-8 - recordSize)
            for slot in stride(from: 0, to: recordSize, by: 8) { asm.store(.doubleWord, .r10, base + Int16(slot), immediate: 0) }
            asm.store(.doubleWord, .r10, base, .r8)
            asm.store(.doubleWord, .r10, base + Int16(recordSize - 8), .r8)
            asm.loadMapFD(.r1, try ring.fd.value())
            asm.mov(.r2, .r10)
            asm.add(.r2, Int32(base))
            asm.mov(.r3, Int32(recordSize))
            asm.mov(.r4, 0)
            asm.call(.ringbufOutput)
            asm.jump(.eq, .r0, 0, to: "out")
            asm.jump(to: "dropped")
        case .reserve, .reserveDiscardingOdd:
            asm.loadMapFD(.r1, try ring.fd.value())
            asm.mov(.r2, Int32(recordSize))
            asm.mov(.r3, 0)
            asm.call(.ringbufReserve)
            asm.jump(.eq, .r0, 0, to: "dropped")
            asm.store(.doubleWord, .r0, 0, .r8)
            asm.store(.doubleWord, .r0, Int16(recordSize - 8), .r8)
            asm.mov(.r1, .r0)
            asm.mov(.r2, 0)
            if case .reserveDiscardingOdd = mode {
                asm.mov(.r3, .r8)
                asm.alu(.and, .r3, 1)
                asm.jump(.eq, .r3, 0, to: "submit")
                asm.call(.ringbufDiscard)
                asm.jump(to: "out")
                asm.label("submit")
            }
            asm.call(.ringbufSubmit)
            asm.jump(to: "out")
        }
        asm.label("dropped")
        asm.mov(.r1, 1)
        asm.atomicAdd(.doubleWord, .r7, 8, .r1)
        asm.label("out")
        asm.mov(.r0, 2) // XDP_PASS
        asm.exit()
        program = try Program(ProgramSpec(name: name, type: .xdp, instructions: try asm.assemble()))
    }

    /// Runs the program `count` times in one BPF_PROG_TEST_RUN.
    func produce(_ count: Int) throws {
        _ = try program.testRun(TestRunInput(data: [UInt8](repeating: 0, count: 64), repeatCount: UInt32(count)))
    }

    /// (records produced, records the ring buffer refused).
    func tallies() throws -> (produced: UInt64, dropped: UInt64) {
        let value = try counters.lookup([0, 0, 0, 0]) ?? []
        return value.withUnsafeBytes { ($0.load(fromByteOffset: 0, as: UInt64.self), $0.load(fromByteOffset: 8, as: UInt64.self)) }
    }
}

func makeRingBufferMap(_ size: Int, name: String = "evt_rb") throws -> Map {
    try Map(MapSpec(name: name, type: .ringbuf, keySize: 0, valueSize: 0, maxEntries: UInt32(size)))
}

/// The sequence number a test record carries at both ends; fails the test if they differ
/// (which would mean a wrapped record was not read contiguously).
func sequenceNumber(of record: UnsafeRawBufferPointer, recordSize: Int) -> UInt64 {
    #expect(record.count == recordSize)
    let head = record.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
    let tail = record.loadUnaligned(fromByteOffset: record.count - 8, as: UInt64.self)
    #expect(head == tail, "record \(head) is torn: its last 8 bytes say \(tail)")
    return head
}

@Suite(.kernel, .serialized)
struct RingBufferTests {
    @Test func outputDeliversEveryRecordOnceInOrder() throws {
        let map = try makeRingBufferMap(1 << 20)
        let producer = try RingBufferProducer(ring: map, recordSize: 16, mode: .output)
        var received: [UInt64] = []
        let reader = try RingBufferReader(map) { received.append(sequenceNumber(of: $0, recordSize: 16)) }
        try producer.produce(20_000)
        // The ring was empty when the records were committed, so epoll reports it ready now.
        var delivered = try reader.poll(timeout: .seconds(1))
        delivered += try reader.consumeAvailable()
        #expect(delivered == 20_000)
        #expect(received == Array(0..<20_000))
        #expect(try producer.tallies() == (20_000, 0))
        #expect(reader.ring(at: 0).pendingBytes == 0)
        #expect(try reader.poll(timeout: .milliseconds(10)) == 0)
    }

    @Test func reserveAndSubmitWrapManyLaps() throws {
        // 1000-byte records advance 1008 bytes, so in a 4 KiB ring most records straddle the
        // end of the data area; the double mapping must make them contiguous.
        let map = try makeRingBufferMap(4096)
        let producer = try RingBufferProducer(ring: map, recordSize: 1000, mode: .reserve)
        let reader = try RingBufferReader()
        var received: [UInt64] = []
        try reader.add(map) { received.append(sequenceNumber(of: $0, recordSize: 1000)) }
        for _ in 0..<300 {
            // Single runs: an XDP test run with a repeat count swaps the XDP dispatcher, which
            // waits for an RCU grace period each time.
            for _ in 0..<3 { try producer.produce(1) }
            #expect(try reader.consumeAvailable() == 3)
        }
        #expect(received == Array(0..<900))
        #expect(try producer.tallies() == (900, 0))
    }

    @Test func discardedRecordsAreSkipped() throws {
        let map = try makeRingBufferMap(1 << 16)
        let producer = try RingBufferProducer(ring: map, recordSize: 24, mode: .reserveDiscardingOdd)
        let ring = try RingBuffer(map)
        try producer.produce(1000)
        var received: [UInt64] = []
        #expect(ring.consume { received.append(sequenceNumber(of: $0, recordSize: 24)) } == 500)
        #expect(received == Array(stride(from: 0, to: 1000, by: 2)))
        #expect(ring.pendingBytes == 0)
    }

    @Test func fullRingDropsAndKeepsTheRest() throws {
        // 8-byte records take 16 bytes with their header. The kernel refuses a reservation
        // once producer - consumer would exceed size - 1 (__bpf_ringbuf_reserve), so 255 fit
        // in 4 KiB, not 256.
        let map = try makeRingBufferMap(4096)
        let producer = try RingBufferProducer(ring: map, recordSize: 8, mode: .output)
        let ring = try RingBuffer(map)
        try producer.produce(1000)
        #expect(try producer.tallies() == (1000, 745))
        #expect(ring.pendingBytes == 4080)
        var received: [UInt64] = []
        ring.consume { received.append(sequenceNumber(of: $0, recordSize: 8)) }
        #expect(received == Array(0..<255))
        // Space is free again.
        try producer.produce(10)
        #expect(ring.copyAvailable().map { $0.withUnsafeBytes { $0.load(as: UInt64.self) } } == Array(1000..<1010))
    }

    @Test func concurrentProducerWithSmallRingLosesNothingUncounted() throws {
        let map = try makeRingBufferMap(8192)
        let producer = try RingBufferProducer(ring: map, recordSize: 64, mode: .reserve)
        var received: [UInt64] = []
        received.reserveCapacity(200_000)
        let reader = try RingBufferReader(map) { received.append(sequenceNumber(of: $0, recordSize: 64)) }
        let total = 200_000
        let finished = ManagedAtomicFlag()
        let thread = Thread {
            try? producer.produce(total)
            finished.set()
            reader.wake()
        }
        thread.start()
        while !finished.isSet { try reader.poll(timeout: .milliseconds(100)) }
        try reader.consumeAvailable()
        let (produced, dropped) = try producer.tallies()
        #expect(produced == UInt64(total))
        #expect(UInt64(received.count) + dropped == UInt64(total))
        // Strictly increasing: nothing twice, nothing out of order.
        #expect(zip(received, received.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test func pollTimesOutAndWakeInterrupts() throws {
        let map = try makeRingBufferMap(4096)
        let reader = try RingBufferReader(map) { _ in Issue.record("no records expected") }
        let start = ContinuousClock.now
        #expect(try reader.poll(timeout: .milliseconds(50)) == 0)
        #expect(ContinuousClock.now - start >= .milliseconds(45))
        let waker = Thread { Thread.sleep(forTimeInterval: 0.05); reader.wake() }
        waker.start()
        let blockedSince = ContinuousClock.now
        #expect(try reader.poll() == 0) // no timeout: only the wake ends it
        #expect(ContinuousClock.now - blockedSince < .seconds(5))
        reader.close()
        #expect(throws: BPFError.self) { try reader.poll(timeout: .zero) }
    }

    @Test func oneReaderManyMaps() throws {
        let first = try makeRingBufferMap(4096, name: "evt_rb_a")
        let second = try makeRingBufferMap(8192, name: "evt_rb_b")
        let producerA = try RingBufferProducer(ring: first, recordSize: 8, mode: .output)
        let producerB = try RingBufferProducer(ring: second, recordSize: 32, mode: .reserve)
        var fromFirst: [UInt64] = [], fromSecond: [UInt64] = []
        let reader = try RingBufferReader()
        #expect(try reader.add(first) { fromFirst.append(sequenceNumber(of: $0, recordSize: 8)) } == 0)
        #expect(try reader.add(second) { fromSecond.append(sequenceNumber(of: $0, recordSize: 32)) } == 1)
        try producerA.produce(5)
        try producerB.produce(7)
        var delivered = 0
        for _ in 0..<10 where delivered < 12 { delivered += try reader.poll(timeout: .milliseconds(100)) }
        #expect(delivered == 12)
        #expect(fromFirst == Array(0..<5))
        #expect(fromSecond == Array(0..<7))
    }

    @Test func throwingHandlerStopsAfterItsRecord() throws {
        struct Stop: Error {}
        let map = try makeRingBufferMap(4096)
        let producer = try RingBufferProducer(ring: map, recordSize: 8, mode: .output)
        var seen: [UInt64] = []
        let reader = try RingBufferReader(map) { record in
            seen.append(record.load(as: UInt64.self))
            if seen.count == 3 { throw Stop() }
        }
        try producer.produce(10)
        #expect(throws: Stop.self) { try reader.consumeAvailable() }
        #expect(seen == [0, 1, 2])
        #expect(try reader.consumeAvailable() == 7)
        #expect(seen == Array(0..<10))
    }

    @Test func typedRecords() throws {
        struct Event: BitwiseCopyable { var sequence: UInt64; var again: UInt64 }
        let map = try makeRingBufferMap(4096)
        let producer = try RingBufferProducer(ring: map, recordSize: 16, mode: .reserve)
        var events: [Event] = []
        let reader = try RingBufferReader()
        try reader.add(map, as: Event.self) { events.append($0) }
        try producer.produce(4)
        #expect(try reader.consumeAvailable() == 4)
        #expect(events.map(\.sequence) == [0, 1, 2, 3])
        #expect(events.allSatisfy { $0.sequence == $0.again })

        struct TooLarge: BitwiseCopyable { var a: UInt64; var b: UInt64; var c: UInt64 }
        let shortReader = try RingBufferReader()
        try shortReader.add(map, as: TooLarge.self) { _ in Issue.record("a 16-byte record became a 24-byte value") }
        try producer.produce(1)
        #expect {
            try shortReader.consumeAvailable()
        } throws: { error in
            guard case BPFError.invalidArgument(let message) = error else { return false }
            return message.contains("shorter than TooLarge (24 bytes)")
        }
    }

    @Test func rejectsMapsThatAreNotRingBuffers() throws {
        let hash = try Map(MapSpec(name: "evt_not_rb", type: .hash, keySize: 4, valueSize: 4, maxEntries: 4))
        #expect {
            try RingBuffer(hash)
        } throws: { error in
            guard case BPFError.invalidArgument(let message) = error else { return false }
            return message.contains("not a ringbuf map")
        }
    }

    @Test func asyncRecordsCopyEveryRecord() async throws {
        let map = try makeRingBufferMap(1 << 16)
        let producer = try RingBufferProducer(ring: map, recordSize: 16, mode: .output)
        let reader = try RingBufferReader(map)
        try producer.produce(100)
        let background = Thread {
            Thread.sleep(forTimeInterval: 0.1)
            try? producer.produce(50) // arrives while the iteration waits
        }
        background.start()
        var received: [UInt64] = []
        for try await record in reader.records(batchSize: 32) {
            #expect(record.ring == 0)
            received.append(record.bytes.withUnsafeBytes { $0.load(as: UInt64.self) })
            if received.count == 150 { break }
        }
        #expect(received == Array(0..<150))
    }

    @Test func asyncIterationEndsOnCancellation() async throws {
        let map = try makeRingBufferMap(4096)
        let reader = try RingBufferReader(map)
        let task = Task {
            var count = 0
            for try await _ in reader.records() { count += 1 }
            return count
        }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        #expect(try await task.value == 0)
    }
}

/// A flag set by one thread and read by another.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
