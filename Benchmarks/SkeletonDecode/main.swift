// Skeleton decode benchmark: the cost per event of reading a ring buffer into the skeleton's
// generated struct (`DecodeSkeleton.event`, through the generated `events { ... }` reader),
// against libbpf's ring_buffer__consume with a memcpy into the same C struct, and against a
// Swift handler reading the raw record bytes. One BPF program (bpf/decode.bpf.c, built by
// BPFBuildPlugin like any user target) fills the same ring for each consumer in turn.
// Run it through Benchmarks/run-decode.sh, which builds the C consumer and the malloc counter.
//
//   swiftbpf-bench-decode --c-consumer PATH [--events N] [--rounds R] [--pin PATH]
import BPF
import BPFObject
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var cConsumer = ""
    var events = 8192 * 100
    var rounds = 5
    var pin = "/sys/fs/bpf/swiftbpf_bench_decode_events"
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("swiftbpf-bench-decode: \(message)\n".utf8))
    exit(2)
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst()
    while let flag = arguments.popFirst() {
        guard let value = arguments.popFirst() else { fail("\(flag) needs a value") }
        switch flag {
        case "--c-consumer": options.cConsumer = value
        case "--events": options.events = Int(value) ?? options.events
        case "--rounds": options.rounds = Int(value) ?? options.rounds
        case "--pin": options.pin = value
        default: fail("unknown option \(flag)")
        }
    }
    return options
}

/// Calls made to malloc & co. so far, when the run script preloads Benchmarks/C/malloc-counter.c.
func mallocCalls() -> UInt64? {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sbench_malloc_calls") else { return nil }
    return symbol.load(as: UInt64.self)
}

func clockNanoseconds(_ clock: clockid_t) -> Int64 {
    var now = timespec()
    clock_gettime(clock, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// One consumer's drain of the ring.
struct Measurement {
    var delivered: Int
    var wallNanoseconds: Int64
    var cpuNanoseconds: Int64
    var mallocs: Int64?
    var checksum: UInt64
}

/// The same fold of every field as the C consumer's, so neither side can skip decoding.
@inline(__always)
func fold(_ e: DecodeSkeleton.event) -> UInt64 {
    UInt64(e.pid) &+ UInt64(e.tid) &+ e.seq &+ e.timestamp &+ UInt64(bitPattern: Int64(e.ret)) &+ UInt64(e.flags)
        &+ UInt64(e.cpu) &+ UInt64(e.kind) &+ e.args.0 &+ e.args.1
        &+ UInt64(UInt8(truncatingIfNeeded: e.comm.0)) &+ UInt64(UInt8(truncatingIfNeeded: e.comm.15))
}

/// Times `drain` on this thread (CPU and wall clock) with the malloc calls made meanwhile.
func measure(_ tally: UnsafeMutablePointer<(count: Int, checksum: UInt64)>, _ drain: () throws -> Void) rethrows -> Measurement {
    tally.pointee = (0, 0)
    let mallocsBefore = mallocCalls()
    let wallStart = clockNanoseconds(CLOCK_MONOTONIC), cpuStart = clockNanoseconds(CLOCK_THREAD_CPUTIME_ID)
    try drain()
    let cpu = clockNanoseconds(CLOCK_THREAD_CPUTIME_ID) - cpuStart, wall = clockNanoseconds(CLOCK_MONOTONIC) - wallStart
    let mallocs = mallocsBefore.flatMap { before in mallocCalls().map { Int64($0 - before) } }
    return Measurement(delivered: tally.pointee.count, wallNanoseconds: wall, cpuNanoseconds: cpu, mallocs: mallocs, checksum: tally.pointee.checksum)
}

func runCConsumer(_ path: String, pin: String) throws -> Measurement {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = [pin]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { fail("\(path) exited with \(process.terminationStatus): \(output)") }
    var fields: [String: String] = [:]
    for pair in output.split(whereSeparator: \.isWhitespace) {
        let parts = pair.split(separator: "=", maxSplits: 1)
        if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
    }
    guard let delivered = fields["delivered"].flatMap(Int.init), let wall = fields["ns"].flatMap(Int64.init),
          let cpu = fields["cpu_ns"].flatMap(Int64.init), let checksum = fields["checksum"].flatMap(UInt64.init) else {
        fail("unexpected output from \(path): \(output)")
    }
    let mallocs = fields["mallocs"].flatMap(Int64.init).flatMap { $0 >= 0 ? $0 : nil }
    return Measurement(delivered: delivered, wallNanoseconds: wall, cpuNanoseconds: cpu, mallocs: mallocs, checksum: checksum)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

let options = parseOptions()
guard !options.cConsumer.isEmpty else { fail("--c-consumer PATH is required (Benchmarks/run-decode.sh builds it)") }

var opened = try DecodeSkeleton.open()
let batch = Int(opened.rodata.batch)
let events = (options.events + batch - 1) / batch * batch
// 64-byte records take 72 bytes of ring with their header; a power of two with room to spare.
var ringSize = 1 << 20
while ringSize < events * 80 { ringSize <<= 1 }
opened.maxEntries.events = UInt32(ringSize)
let loaded = try opened.load()
let producer = try loaded.programs.produce

try? FileManager.default.removeItem(atPath: options.pin)
try loaded.events.pin(at: options.pin)
defer { try? FileManager.default.removeItem(atPath: options.pin) }

func fill() throws {
    let droppedBefore = try loaded.bss.dropped
    for _ in 0..<(events / batch) { _ = try producer.testRun(TestRunInput(repeatCount: 0)) }
    let dropped = try loaded.bss.dropped - droppedBefore
    guard dropped == 0 else { fail("the producer dropped \(dropped) records: the ring is too small") }
}

// The tally sits behind a pointer, as the C consumer's context does: a captured `var` would add
// Swift's dynamic exclusivity checks to every record.
let tally = UnsafeMutablePointer<(count: Int, checksum: UInt64)>.allocate(capacity: 1)
tally.initialize(to: (0, 0))
let typedReader = try loaded.events { event in
    tally.pointee.count += 1
    tally.pointee.checksum &+= fold(event)
}
// The skeleton's struct decoded inside the reader's own handler: one closure call per record
// instead of the generated reader's two (its decoding closure, then the user's).
let inlineReader = try RingBufferReader(loaded.events) { record in
    tally.pointee.count += 1
    tally.pointee.checksum &+= fold(record.loadUnaligned(as: DecodeSkeleton.event.self))
}
let rawReader = try RingBufferReader(loaded.events) { record in
    tally.pointee.count += 1
    // The raw baseline: the same fields loaded from their C offsets, no struct in between.
    var sum = UInt64(record.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) &+ UInt64(record.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
    sum &+= record.loadUnaligned(fromByteOffset: 8, as: UInt64.self) &+ record.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
    sum &+= UInt64(bitPattern: Int64(record.loadUnaligned(fromByteOffset: 24, as: Int32.self)))
    sum &+= UInt64(record.loadUnaligned(fromByteOffset: 28, as: UInt16.self)) &+ UInt64(record[30]) &+ UInt64(record[31])
    sum &+= record.loadUnaligned(fromByteOffset: 32, as: UInt64.self) &+ record.loadUnaligned(fromByteOffset: 40, as: UInt64.self)
    sum &+= UInt64(record[48]) &+ UInt64(record[63])
    tally.pointee.checksum &+= sum
}

let consumers = ["libbpf+memcpy", "swift skeleton struct", "swift struct, 1 closure", "swift raw bytes"]
var results: [String: [Measurement]] = [:]
print("kernel \(ProcessInfo.processInfo.operatingSystemVersionString), \(events) events of \(MemoryLayout<DecodeSkeleton.event>.size) bytes per drain, \(options.rounds) rounds, ring \(ringSize >> 20) MiB")
for round in 0..<options.rounds {
    // Rotate the order so that changes in machine load hit every consumer alike.
    for offset in 0..<consumers.count {
        let consumer = consumers[(round + offset) % consumers.count]
        try fill()
        let result: Measurement
        switch consumer {
        case "libbpf+memcpy": result = try runCConsumer(options.cConsumer, pin: options.pin)
        case "swift skeleton struct": result = try measure(tally) { _ = try typedReader.consumeAvailable() }
        case "swift struct, 1 closure": result = try measure(tally) { _ = try inlineReader.consumeAvailable() }
        default: result = try measure(tally) { _ = try rawReader.consumeAvailable() }
        }
        guard result.delivered == events else { fail("\(consumer) delivered \(result.delivered) of \(events) records") }
        results[consumer, default: []].append(result)
        print("round=\(round) consumer=\"\(consumer)\" delivered=\(result.delivered) cpu_ns_per_event=\(String(format: "%.2f", Double(result.cpuNanoseconds) / Double(events))) "
              + "wall_ns_per_event=\(String(format: "%.2f", Double(result.wallNanoseconds) / Double(events))) mallocs=\(result.mallocs.map(String.init) ?? "n/a") checksum=\(result.checksum)")
    }
}

let checksums = Set(results.values.flatMap { $0.map(\.checksum) })
print()
print("every consumer saw the same records (checksums agree): \(checksums.count == 1)")
let baseline = median(results["libbpf+memcpy", default: []].map { Double($0.cpuNanoseconds) / Double(events) })
let baselineWall = median(results["libbpf+memcpy", default: []].map { Double($0.wallNanoseconds) / Double(events) })
func column(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
print("consumer".padding(toLength: 24, withPad: " ", startingAt: 0) + column("CPU ns/event", 13) + column("vs libbpf", 11)
      + column("wall ns/event", 15) + column("vs libbpf", 11) + column("mallocs/event", 15))
for consumer in consumers {
    let rows = results[consumer, default: []]
    let cpu = median(rows.map { Double($0.cpuNanoseconds) / Double(events) })
    let wall = median(rows.map { Double($0.wallNanoseconds) / Double(events) })
    let mallocs = rows.compactMap(\.mallocs)
    let perEvent = mallocs.isEmpty ? "n/a" : String(format: "%.6f", Double(mallocs.max()!) / Double(events))
    print(consumer.padding(toLength: 24, withPad: " ", startingAt: 0) + column(String(format: "%.2f", cpu), 13)
          + column(String(format: "%.2f", cpu / baseline), 11) + column(String(format: "%.2f", wall), 15)
          + column(String(format: "%.2f", wall / baselineWall), 11) + column(perEvent, 15))
}
