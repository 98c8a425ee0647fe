// Ring buffer consumer benchmark: the Swift `RingBufferReader` against libbpf's
// `ring_buffer__poll`, both reading the same kernel producer. Run it through
// Benchmarks/run-ringbuf.sh, which builds both consumers and prints the comparison table.
//
//   swiftbpf-bench-ringbuf run --consumer swift|libbpf [--c-consumer PATH] --scenario drain|live
//                              --ring-size BYTES --events N --record BYTES
//   swiftbpf-bench-ringbuf consume --pin PATH --scenario drain|live     (the Swift consumer)
//
// Each consumer runs as its own process, opening the ring buffer map from a bpffs pin, so the
// two are measured the same way. The producer is a raw tracepoint program that calls
// bpf_ringbuf_reserve/submit in a bounded loop, 8192 records per BPF_PROG_TEST_RUN.
import BPF
import BPFObject
import CBPFSys
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Options

struct Options {
    var command = ""
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

/// BPF_OBJ_GET with the attribute's size cut at its last field (`path_fd`): the kernel
/// rejects non-zero bytes past the fields it knows (CHECK_ATTR), and the tail padding of a
/// Swift-built `sbpf_obj_attr` is not guaranteed to be zero in optimised builds.
func openPinned(_ path: String) throws -> OwnedFileDescriptor {
    let fd: Int = path.withCString { cPath in
        let attr = UnsafeMutableRawPointer.allocate(byteCount: 24, alignment: 8)
        defer { attr.deallocate() }
        attr.initializeMemory(as: UInt8.self, repeating: 0, count: 24)
        attr.storeBytes(of: UInt64(UInt(bitPattern: cPath)), as: UInt64.self)
        return sbpf_bpf(BPFCommand.objGet.rawValue, attr, 20)
    }
    guard fd >= 0 else { throw BPFError.syscall(SystemCallFailure(operation: "BPF_OBJ_GET", errno: .current, subject: path)) }
    return OwnedFileDescriptor(adopting: Int32(fd), label: "pinned map \(path)")
}

nonisolated(unsafe) var stopRequested: sig_atomic_t = 0

func consume(_ options: Options) throws {
    let map = try Map(adopting: try openPinned(options.pin))
    // The tally lives behind a pointer, like the C consumer's context: a captured `var` would
    // add Swift's dynamic exclusivity checks to every record.
    let tally = UnsafeMutablePointer<(count: Int, checksum: UInt64)>.allocate(capacity: 1)
    tally.initialize(to: (0, 0))
    let reader = try RingBufferReader(map) { record in
        tally.pointee.count += 1
        tally.pointee.checksum &+= record.load(as: UInt64.self)
    }
    var mallocsBefore = mallocCalls()
    let start = ContinuousClock.now
    var cpuStart = threadCPUNanoseconds()
    if options.scenario == "drain" {
        try reader.consumeAvailable()
    } else {
        signal(SIGUSR1) { _ in stopRequested = 1 }
        print("ready")
        fflush(stdout)
        mallocsBefore = mallocCalls()
        cpuStart = threadCPUNanoseconds()
        while stopRequested == 0 { try reader.poll(timeout: .milliseconds(100)) }
        try reader.consumeAvailable()
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

// MARK: - Harness

func run(_ options: Options) throws {
    let pin = "/sys/fs/bpf/evt_bench_rb_\(getpid())"
    let ring = try Map(MapSpec(name: "evt_bench_rb", type: .ringbuf, keySize: 0, valueSize: 0, maxEntries: UInt32(options.ringSize)))
    let counters = try Map(MapSpec(name: "evt_bench_cnt", type: .array, keySize: 4, valueSize: 8, maxEntries: 1))
    let chunk = Int(ProcessInfo.processInfo.environment["BENCH_CHUNK"] ?? "8192")!
    let producer = try makeProducer(ring: ring, counters: counters, recordSize: options.recordSize, iterations: Int32(chunk))
    try Pinning.pin(ring.fd, at: pin)
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
        process.arguments = ["consume", "--pin", pin, "--scenario", options.scenario]
    } else {
        process.executableURL = URL(fileURLWithPath: options.cConsumer)
        process.arguments = [pin, options.scenario]
    }
    let output = Pipe()
    process.standardOutput = output
    var wallStart = ContinuousClock.now
    if options.scenario == "drain" {
        try produceAll()
        try process.run()
    } else {
        try process.run()
        // Wait for "ready": the consumer has mapped the ring and is polling.
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
    print("consumer=\(options.consumer) scenario=\(options.scenario) ring=\(options.ringSize) record=\(options.recordSize) produced=\(produced) delivered=\(delivered) dropped=\(dropped) accounted=\(delivered + dropped == produced) seconds=\(String(format: "%.4f", seconds)) rate=\(String(format: "%.0f", rate)) loss_pct=\(String(format: "%.2f", loss)) cpu_ns_per_event=\(String(format: "%.2f", cpuPerEvent)) mallocs=\(fields["mallocs"] ?? "?")")
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
