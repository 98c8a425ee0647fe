// Event stream consumer benchmark: the Swift `RingBufferReader` / `PerfBuffer` against libbpf's
// `ring_buffer__poll` / `perf_buffer__poll`, reading the same kernel producer. Run it through
// Benchmarks/run-ringbuf.sh, which builds both consumers and prints the comparison table.
//
//   swiftbpf-bench-ringbuf run --kind ringbuf|perfbuf --consumer swift|libbpf [--c-consumer PATH]
//                              --scenario drain|live --ring-size BYTES --events N --record BYTES
//   swiftbpf-bench-ringbuf consume --kind K --pin PATH --scenario S --ring-size B  (Swift consumer)
//
// For perfbuf, --ring-size is the data size of each CPU's ring.
//
// Each consumer runs as its own process, opening the ring buffer map from a bpffs pin, so the
// two are measured the same way. The producer is a raw tracepoint program that calls
// bpf_ringbuf_reserve/submit in a bounded loop, 8192 records per BPF_PROG_TEST_RUN.
import BPF
import BPFObject
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Options

struct Options {
    var command = ""
    var kind = "ringbuf"
    var consumer = "swift"
    var cConsumer = ""
    var scenario = "live"
    var ringSize = 16 << 20
    var events = 5_000_000
    var recordSize = 64
    var pin = ""
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst()
    options.command = arguments.popFirst() ?? ""
    while let flag = arguments.popFirst() {
        guard let value = arguments.popFirst() else { fail("\(flag) needs a value") }
        switch flag {
        case "--kind": options.kind = value
        case "--consumer": options.consumer = value
        case "--c-consumer": options.cConsumer = value
        case "--scenario": options.scenario = value
        case "--ring-size": options.ringSize = Int(value) ?? options.ringSize
        case "--events": options.events = Int(value) ?? options.events
        case "--record": options.recordSize = Int(value) ?? options.recordSize
        case "--pin": options.pin = value
        default: fail("unknown option \(flag)")
        }
    }
    return options
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("swiftbpf-bench-ringbuf: \(message)\n".utf8))
    exit(2)
}

/// Calls made to malloc & co. so far, when the run script preloads its counting shim
/// (Benchmarks/C/malloc-counter.c); nil otherwise.
func mallocCalls() -> UInt64? {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sbench_malloc_calls") else { return nil }
    return symbol.load(as: UInt64.self)
}

// MARK: - Swift consumer

/// CPU time of this thread: unlike wall time, it does not grow while other processes run.
func threadCPUNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

nonisolated(unsafe) var stopRequested: sig_atomic_t = 0

func consume(_ options: Options) throws {
    let map = try Map(adopting: try Pinning.open(options.pin))
    // The tally lives behind a pointer, like the C consumer's context: a captured `var` would
    // add Swift's dynamic exclusivity checks to every record.
    let tally = UnsafeMutablePointer<(count: Int, checksum: UInt64)>.allocate(capacity: 1)
    tally.initialize(to: (0, 0))
    let poll: (Duration) throws -> Void
    let consumeAvailable: () throws -> Void
    if options.kind == "perfbuf" {
        let buffer = try PerfBuffer(map, options: .init(pagesPerCPU: max(1, options.ringSize / Int(getpagesize()))), onSample: { _, data in
            tally.pointee.count += 1
            tally.pointee.checksum &+= data.loadUnaligned(as: UInt64.self)
        })
        poll = { try buffer.poll(timeout: $0) }
        consumeAvailable = { try buffer.consumeAvailable() }
    } else {
        let reader = try RingBufferReader(map) { record in
            tally.pointee.count += 1
            tally.pointee.checksum &+= record.load(as: UInt64.self)
        }
        poll = { try reader.poll(timeout: $0) }
        consumeAvailable = { try reader.consumeAvailable() }
    }
    signal(SIGUSR1) { _ in stopRequested = 1 }
    // Ring buffer drains start with the ring already full; the others say "ready" first (a perf
    // buffer's rings exist only once the consumer has opened them).
    if options.kind != "ringbuf" || options.scenario != "drain" {
        print("ready")
        fflush(stdout)
    }
    if options.scenario == "drain" {
        // Wait for the producer to finish before timing the drain.
        while options.kind != "ringbuf", stopRequested == 0 { usleep(1000) }
    }
    let mallocsBefore = mallocCalls()
    let start = ContinuousClock.now
    let cpuStart = threadCPUNanoseconds()
    if options.scenario == "drain" {
        try consumeAvailable()
    } else {
        while stopRequested == 0 { try poll(.milliseconds(100)) }
        try consumeAvailable()
    }
    let elapsed = ContinuousClock.now - start
    let cpu = threadCPUNanoseconds() - cpuStart
    var mallocs = "n/a"
    if let before = mallocsBefore, let after = mallocCalls() { mallocs = String(after - before) }
    print("delivered=\(tally.pointee.count) ns=\(elapsed.nanoseconds) cpu_ns=\(cpu) mallocs=\(mallocs) checksum=\(tally.pointee.checksum)")
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}

// MARK: - Producer

/// A raw tracepoint program looping `iterations` times over reserve + write + submit (a
/// bounded loop the verifier walks through; bpf_loop would need BTF func info). Failed
/// reservations are counted in `counters[0]`.
func makeProducer(ring: Map, counters: Map, recordSize: Int, iterations: Int32) throws -> Program {
    var asm = Assembler()
    asm.mov(.r9, 0)
    asm.label("loop")
    asm.loadMapFD(.r1, try ring.fd.value())
    asm.mov(.r2, Int32(recordSize))
    asm.mov(.r3, 0)
    asm.call(.ringbufReserve)
    asm.jump(.eq, .r0, 0, to: "dropped")
    asm.store(.doubleWord, .r0, 0, .r9)
    asm.mov(.r1, .r0)
    asm.mov(.r2, 0)
    asm.call(.ringbufSubmit)
    asm.jump(to: "next")
    asm.label("dropped")
    asm.store(.word, .r10, -4, immediate: 0)
    asm.loadMapFD(.r1, try counters.fd.value())
    asm.mov(.r2, .r10)
    asm.add(.r2, -4)
    asm.call(.mapLookupElem)
    asm.jump(.eq, .r0, 0, to: "next")
    asm.mov(.r1, 1)
    asm.atomicAdd(.doubleWord, .r0, 0, .r1)
    asm.label("next")
    asm.add(.r9, 1)
    asm.jump(.lt, .r9, iterations, to: "loop")
    asm.mov(.r0, 0)
    asm.exit()
    return try Program(ProgramSpec(name: "bench_rb_prod", type: .rawTracepoint, instructions: try asm.assemble()))
}

/// The perf buffer producer: `iterations` × bpf_perf_event_output(ctx, map, BPF_F_CURRENT_CPU,
/// record on the stack); failed outputs are counted in `counters[0]`.
func makePerfProducer(events: Map, counters: Map, recordSize: Int, iterations: Int32) throws -> Program {
    precondition(recordSize % 8 == 0 && recordSize <= 256)
    var asm = Assembler()
    asm.mov(.r6, .r1)
    asm.mov(.r9, 0)
    let base = Int16(-8 - recordSize)
    for slot in stride(from: 0, to: recordSize, by: 8) { asm.store(.doubleWord, .r10, base + Int16(slot), immediate: 0) }
    asm.label("loop")
    asm.store(.doubleWord, .r10, base, .r9)
    asm.mov(.r1, .r6)
    asm.loadMapFD(.r2, try events.fd.value())
    asm.mov32(.r3, -1) // BPF_F_CURRENT_CPU
    asm.mov(.r4, .r10)
    asm.add(.r4, Int32(base))
    asm.mov(.r5, Int32(recordSize))
    asm.call(.perfEventOutput)
    asm.jump(.eq, .r0, 0, to: "next")
    asm.store(.word, .r10, -4, immediate: 0)
    asm.loadMapFD(.r1, try counters.fd.value())
    asm.mov(.r2, .r10)
    asm.add(.r2, -4)
    asm.call(.mapLookupElem)
    asm.jump(.eq, .r0, 0, to: "next")
    asm.mov(.r1, 1)
    asm.atomicAdd(.doubleWord, .r0, 0, .r1)
    asm.label("next")
    asm.add(.r9, 1)
    asm.jump(.lt, .r9, iterations, to: "loop")
    asm.mov(.r0, 0)
    asm.exit()
    return try Program(ProgramSpec(name: "bench_pb_prod", type: .rawTracepoint, instructions: try asm.assemble()))
}

// MARK: - Harness

func run(_ options: Options) throws {
    let pin = "/sys/fs/bpf/evt_bench_\(options.kind)_\(getpid())"
    let counters = try Map(MapSpec(name: "evt_bench_cnt", type: .array, keySize: 4, valueSize: 8, maxEntries: 1))
    // Records per test run: as many as the verifier will walk through in the producer's loop.
    let chunk = Int(ProcessInfo.processInfo.environment["BENCH_CHUNK"] ?? (options.kind == "perfbuf" ? "512" : "8192"))!
    let map: Map
    let producer: Program
    if options.kind == "perfbuf" {
        map = try Map(MapSpec(name: "evt_bench_pb", type: .perfEventArray, keySize: 4, valueSize: 4, maxEntries: UInt32(PossibleCPUs.count)))
        producer = try makePerfProducer(events: map, counters: counters, recordSize: options.recordSize, iterations: Int32(chunk))
    } else {
        map = try Map(MapSpec(name: "evt_bench_rb", type: .ringbuf, keySize: 0, valueSize: 0, maxEntries: UInt32(options.ringSize)))
        producer = try makeProducer(ring: map, counters: counters, recordSize: options.recordSize, iterations: Int32(chunk))
    }
    try Pinning.pin(map.fd, at: pin)
    defer { unlink(pin) }

    func produceAll() throws {
        var produced = 0
        while produced < options.events {
            _ = try producer.testRun(TestRunInput(repeatCount: 0))
            produced += chunk
        }
    }
    let runs = (options.events + chunk - 1) / chunk
    let produced = runs * chunk

    let process = Process()
    if options.consumer == "swift" {
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        process.arguments = ["consume", "--kind", options.kind, "--pin", pin, "--scenario", options.scenario,
                             "--ring-size", String(options.ringSize)]
    } else {
        process.executableURL = URL(fileURLWithPath: options.cConsumer)
        process.arguments = [pin, options.scenario, String(options.ringSize / Int(getpagesize()))]
    }
    let output = Pipe()
    process.standardOutput = output
    var wallStart = ContinuousClock.now
    if options.kind == "ringbuf" && options.scenario == "drain" {
        try produceAll()
        try process.run()
    } else {
        try process.run()
        // Wait for "ready": the consumer has mapped its rings and is polling (or waiting).
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty { fail("consumer exited before it was ready") }
            line.append(byte)
        }
        wallStart = ContinuousClock.now
        try produceAll()
        kill(process.processIdentifier, SIGUSR1)
    }
    let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let wall = ContinuousClock.now - wallStart
    var fields: [String: String] = [:]
    for pair in report.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
        let parts = pair.split(separator: "=", maxSplits: 1)
        if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
    }
    guard let delivered = fields["delivered"].flatMap(Int.init), let consumerNS = fields["ns"].flatMap(Int64.init) else {
        fail("consumer reported nothing usable: \(report)")
    }
    let dropped = Int(try counters.lookup([0, 0, 0, 0])!.withUnsafeBytes { $0.load(as: UInt64.self) })
    // drain: the consumer's own time to empty the ring; live: from the first production to the
    // consumer's final report.
    let seconds = options.scenario == "drain" ? Double(consumerNS) / 1e9 : Double(wall.nanoseconds) / 1e9
    let rate = Double(delivered) / seconds
    let cpuPerEvent = Double(fields["cpu_ns"].flatMap(Int64.init) ?? 0) / Double(max(delivered, 1))
    let loss = produced > 0 ? 100 * Double(dropped) / Double(produced) : 0
    print("kind=\(options.kind) consumer=\(options.consumer) scenario=\(options.scenario) ring=\(options.ringSize) record=\(options.recordSize) produced=\(produced) delivered=\(delivered) dropped=\(dropped) accounted=\(delivered + dropped == produced) seconds=\(String(format: "%.4f", seconds)) rate=\(String(format: "%.0f", rate)) loss_pct=\(String(format: "%.2f", loss)) cpu_ns_per_event=\(String(format: "%.2f", cpuPerEvent)) mallocs=\(fields["mallocs"] ?? "?")")
}

let options = parseOptions()
do {
    switch options.command {
    case "run": try run(options)
    case "consume": try consume(options)
    default: fail("usage: swiftbpf-bench-ringbuf run|consume [options] (see Benchmarks/run-ringbuf.sh)")
    }
} catch {
    fail("\(error)")
}
