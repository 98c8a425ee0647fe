import BPF
import BPFObject
import Foundation
import Testing

/// libbpf-tools run by our loader instead of their own skeleton: the object embedded in the
/// Debian binary is loaded, its `.rodata` knobs set the way the tool's option parser would,
/// every program attached, a workload run, and the tool's own perf buffer must carry an event
/// describing our workload. Field offsets come from the object's BTF (`struct event`), so the
/// test follows whatever libbpf-tools version the package ships.
@Suite(.kernel, .serialized)
struct RealWorldObjectToolTests {
    static func object(_ tool: String) throws -> String {
        let objects = try RealWorldObjectTests.objects.get()
        return try #require(objects.first { $0.hasSuffix("/libbpf-tools-\(tool).bpf.o") }, "no \(tool) object collected")
    }

    /// Byte offsets of the named members of `struct event` in the object's BTF.
    static func eventLayout(_ spec: ObjectSpec, _ members: [String]) throws -> [String: Int] {
        let btf = try #require(spec.btf)
        let id = try #require(btf.typeIDs(named: "event", kind: .struct).first, "no struct event in the object's BTF")
        let offsets = Dictionary(try btf.type(id).members.map { ($0.name, Int($0.bitOffset / 8)) }, uniquingKeysWith: { first, _ in first })
        for member in members { _ = try #require(offsets[member], "struct event has no '\(member)'") }
        return offsets
    }

    static func int32(_ data: UnsafeRawBufferPointer, _ offset: Int) -> Int32 {
        data.loadUnaligned(fromByteOffset: offset, as: Int32.self)
    }

    static func string(_ data: UnsafeRawBufferPointer, _ offset: Int, _ length: Int) -> String {
        let bytes = data[offset..<min(offset + length, data.count)]
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Polls `buffer` until `done` says so or five seconds pass.
    static func poll(_ buffer: PerfBuffer, until done: () -> Bool) throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while !done() && ContinuousClock.now < deadline { _ = try buffer.poll(timeout: .milliseconds(100)) }
    }

    @Test func execsnoopReportsOurExec() throws {
        let loader = try ObjectLoader(path: try Self.object("execsnoop"))
        let layout = try Self.eventLayout(loader.spec, ["pid", "ppid", "retval", "comm", "args", "args_count"])
        // execsnoop -u 0: only root's execs (we are root); -x (report failed execs too) off.
        try loader.setGlobal("targ_uid", to: UInt32(0))
        try loader.setGlobal("ignore_failed", to: true)
        let object = try loader.load()
        let (links, skipped) = try object.attachAll()
        #expect(links.count == 2, "attached \(links.keys.sorted()), skipped \(skipped)")

        let marker = "sbpf-rw-\(getpid())"
        var seen: (pid: Int32, ppid: Int32, comm: String, args: String)?
        let buffer = try PerfBuffer(try object.map(named: "events"), onSample: { _, data in
            let args = Self.string(data, layout["args"]!, 128)
            // args holds NUL-separated argv; look for our marker anywhere in it.
            let all = String(decoding: data[layout["args"]!...].map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            if all.contains(marker) {
                seen = (Self.int32(data, layout["pid"]!), Self.int32(data, layout["ppid"]!), Self.string(data, layout["comm"]!, 16), args)
            }
        })
        defer { buffer.close() }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/echo")
        child.arguments = [marker]
        child.standardOutput = Pipe()
        try child.run()
        child.waitUntilExit()
        try Self.poll(buffer) { seen != nil }
        let event = try #require(seen, "no execsnoop event mentioned \(marker)")
        #expect(event.pid == child.processIdentifier)
        #expect(event.ppid == getpid())
        // comm is read at sys_exit_execve, after exec replaced it with the new image's name.
        #expect(event.comm == "echo")
        #expect(event.args.hasSuffix("echo"), "argv[0] is \(event.args)")
    }

    /// opensnoop's `struct event` is a stack variable, absent from the object's BTF, so the
    /// sample is searched instead: it must hold the file name, our comm and our pid.
    @Test func opensnoopReportsOurOpen() throws {
        let loader = try ObjectLoader(path: try Self.object("opensnoop"))
        // opensnoop -p PID: only our own process's opens.
        try loader.setGlobal("targ_tgid", to: Int32(getpid()))
        let object = try loader.load()
        let (links, skipped) = try object.attachAll()
        #expect(links.count >= 2, "attached \(links.keys.sorted()), skipped \(skipped)")

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sbpf-rw-opensnoop-\(getpid())").path
        _ = FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let comm = try String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8).trimmingCharacters(in: .newlines)
        var samples: [[UInt8]] = []
        let buffer = try PerfBuffer(try object.map(named: "events"), onSample: { _, data in samples.append(Array(data)) })
        defer { buffer.close() }
        func contains(_ sample: [UInt8], _ needle: [UInt8]) -> Bool {
            sample.count >= needle.count && (0...(sample.count - needle.count)).contains { sample[$0..<($0 + needle.count)].elementsEqual(needle) }
        }
        let fd = open(path, O_RDONLY)
        #expect(fd >= 0)
        close(fd)
        try Self.poll(buffer) { samples.contains { contains($0, Array(path.utf8) + [0]) } }
        let sample = try #require(samples.first { contains($0, Array(path.utf8) + [0]) }, "no opensnoop event for \(path) among \(samples.count)")
        #expect(contains(sample, Array(comm.utf8) + [0]), "our comm '\(comm)' is not in the event")
        #expect(contains(sample, withUnsafeBytes(of: getpid()) { Array($0) }), "our pid is not in the event")
        // targ_tgid filters in the kernel: every event is ours, so all carry our comm's thread group.
        #expect(samples.allSatisfy { contains($0, withUnsafeBytes(of: getpid()) { Array($0) }) }, "events from other processes despite targ_tgid")
    }

    /// runqlat fills a histogram map instead of sending events: with `-P -p PID` (per process,
    /// only us) our sleeps must land as run-queue latencies under our pid, with our comm.
    @Test func runqlatHistogramsOurWakeups() throws {
        let loader = try ObjectLoader(path: try Self.object("runqlat"))
        // The tool keeps the tp_btf programs when the kernel has BTF and drops the raw_tp ones.
        try loader.selectPrograms(["sched_wakeup", "sched_wakeup_new", "sched_switch"])
        try loader.setGlobal("targ_per_process", to: true)
        try loader.setGlobal("targ_tgid", to: Int32(getpid()))
        let object = try loader.load()
        let (links, skipped) = try object.attachAll()
        #expect(links.count == 3, "attached \(links.keys.sorted()), skipped \(skipped)")
        for _ in 0..<50 { usleep(1000) }
        let hists = try object.map(named: "hists")
        let entries = try hists.entries()
        let ours = try #require(entries.first { $0.key == withUnsafeBytes(of: UInt32(getpid())) { Array($0) } },
                                "no histogram for our pid among \(entries.count)")
        // struct hist { __u32 slots[26]; char comm[16]; }
        let samples = (0..<26).reduce(0) { total, slot in
            total + Int(ours.value.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: slot * 4, as: UInt32.self) })
        }
        #expect(samples >= 25, "only \(samples) run-queue latencies recorded for 50 sleeps")
        let comm = String(decoding: ours.value[104..<120].prefix { $0 != 0 }, as: UTF8.self)
        // The first of our threads to be switched in names the histogram.
        let threadNames = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap {
            try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8).trimmingCharacters(in: .newlines)
        }
        #expect(threadNames.contains(comm), "histogram comm '\(comm)' is none of our threads' \(threadNames)")
        #expect(entries.allSatisfy { $0.key == ours.key }, "targ_tgid did not filter: \(entries.count) histograms")
    }
}
