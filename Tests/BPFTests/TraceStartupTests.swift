@testable import BPF
import BPFObject
import BPFTrace
import Foundation
import Testing
import TestSupport

/// What `swiftbpf trace` sets up before its probes fire, kept small for a fast start: uprobes
/// through uprobe-multi links, no ring buffer for scripts that never send events, hash maps
/// without preallocation where the kernel allows it.
@Suite(.kernel, .serialized)
struct TraceStartupTests {
    final class Sink: @unchecked Sendable { var text = "" }

    /// The uprobe-multi links whose binary is `path` (the fixture's paths are unique to this process).
    static func uprobeMultiLinks(on path: String) throws -> [LinkInfo] {
        try KernelObjects.ids(of: .link).compactMap { id in
            guard let fd = try? KernelObjects.open(.link, id: id), let info = try? LinkInfo(fd: fd) else { return nil }
            if case .uprobeMulti(let linkPath, _, _, _) = info.details, linkPath == path { return info }
            return nil
        }
    }

    @Test func uprobesAttachThroughUprobeMultiLinks() throws {
        let fixture = try UprobeFixture.shared.get()
        let traced = try UprobeFixture.WaitingRun(fixture.nonPIE, calls: 6)
        let sink = Sink()
        var options = TraceSession.Options()
        options.processID = traced.pid
        let script = "uprobe:\(fixture.nonPIE):\(UprobeFixture.tracedFunction) { @calls = count(); } "
            + "uretprobe:\(fixture.nonPIE):\(UprobeFixture.tracedFunction) { @returns = count(); }"
        let session = try TraceSession(text: script, options: options) { sink.text += $0 }
        defer { session.close() }
        try session.attach()
        let links = try Self.uprobeMultiLinks(on: fixture.nonPIE)
        #expect(links.count == 2)
        #expect(Set(links.compactMap { info -> UInt32? in
            if case .uprobeMulti(_, let count, let flags, let pid) = info.details, count == 1, pid == UInt32(traced.pid) { return flags }
            return nil
        }) == [0, 1])
        // Another process running the same binary is not counted (-p).
        try UprobeFixture.run(fixture.nonPIE, calls: 4)
        try traced.release()
        #expect(try session.value(ofMap: "@calls") == 6)
        #expect(try session.value(ofMap: "@returns") == 6)
        session.close()
        #expect(try Self.uprobeMultiLinks(on: fixture.nonPIE).isEmpty)
    }

    @Test func scriptsWithoutEventsCreateNoRingBuffer() throws {
        let sink = Sink()
        let session = try TraceSession(text: "interval:ms:10 { @ticks = count(); @per[cpu] = count(); }") { sink.text += $0 }
        defer { session.close() }
        try session.attach()
        let infos = try session.kernelMaps.map { try $0.info() }
        #expect(!infos.contains { $0.type == .ringbuf })
        #expect(!infos.contains { $0.name == "AT_lost_events" })
        let deadline = Date().addingTimeInterval(0.25)
        try session.run { Date() > deadline }
        #expect(try session.value(ofMap: "@ticks") ?? 0 > 0)
        #expect(sink.text.contains("@ticks: "))
    }

    @Test func scriptsWithPrintfHaveTheRingBufferAndLostCounter() throws {
        let sink = Sink()
        let session = try TraceSession(text: #"interval:ms:10 { printf("tick\n"); exit(); }"#) { sink.text += $0 }
        defer { session.close() }
        try session.attach()
        let infos = try session.kernelMaps.map { try $0.info() }
        #expect(infos.contains { $0.type == .ringbuf })
        #expect(infos.contains { $0.name == "AT_lost_events" })
        let deadline = Date().addingTimeInterval(5)
        try session.run { Date() > deadline }
        #expect(sink.text.hasPrefix("tick\n"))
    }

    @Test func hashMapsAreNotPreallocatedWhereTheKernelAllows() throws {
        let sink = Sink()
        // profile: a perf_event program, the type older kernels require preallocated maps for.
        let session = try TraceSession(text: "profile:hz:99 { @[cpu] = count(); @s[tid] = sum(1); }") { sink.text += $0 }
        defer { session.close() }
        try session.attach()
        let hashes = try session.kernelMaps.map { try $0.info() }.filter { $0.type == .hash || $0.type == .percpuHash }
        #expect(hashes.count == 2)
        let noPrealloc = MapFlags.noPrealloc.rawValue
        #expect(TracingSupport.nonPreallocatedHashMaps) // Linux 6.1+
        for info in hashes { #expect(info.flags & noPrealloc == noPrealloc) }
        let deadline = Date().addingTimeInterval(0.2)
        try session.run { Date() > deadline }
    }
}
