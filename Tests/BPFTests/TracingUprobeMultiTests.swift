@testable import BPF
import BPFObject
import Foundation
import Testing
import TestSupport

/// Uprobe-multi links (BPF_TRACE_UPROBE_MULTI, 6.6+) on the binaries of `UprobeFixture`.
@Suite(.kernel, .serialized)
struct TracingUprobeMultiTests {
    let fixture: UprobeFixture
    init() throws { fixture = try UprobeFixture.shared.get() }

    func counter(_ name: String, key: TracingCounter.Key = .constant(0)) throws -> (Map, Program) {
        let map = try TracingCounter.makeMap(name)
        return (map, try TracingCounter.program(name, type: .kprobe, map: map, key: key, onlyProcess: nil, expectedAttachType: .traceUprobeMulti))
    }

    @Test func kernelHasUprobeMultiLinks() {
        // Linux 6.6+ with CONFIG_UPROBES; this machine runs a newer kernel.
        #expect(UprobeMultiSupport.isAvailable)
        #expect(UprobeMultiSupport.mayBeAvailable)
    }

    @Test func oneLinkCountsEveryPlaceByCookie() throws {
        let (map, program) = try counter("trc_um_cookie", key: .attachCookie)
        let link = try program.attachUprobeMulti(binary: fixture.nonPIE, locations: [.symbol(UprobeFixture.tracedFunction, offset: 0), .symbol("main", offset: 0)],
                                                 cookies: [1, 2])
        let info = try link.info()
        #expect(info.type == .uprobeMulti)
        #expect(info.details == .uprobeMulti(path: fixture.nonPIE, count: 2, flags: 0, pid: 0))
        try UprobeFixture.run(fixture.nonPIE, calls: 17)
        #expect(try TracingCounter.count(map, key: 1) == 17)
        #expect(try TracingCounter.count(map, key: 2) == 1)
        try link.close()
        try UprobeFixture.run(fixture.nonPIE, calls: 5)
        #expect(try TracingCounter.count(map, key: 1) == 17)
        #expect(throws: BPFError.self) { try link.close() }
    }

    @Test func uretprobeMultiOnPIEExecutable() throws {
        let (returns, program) = try counter("trc_um_ret")
        let link = try program.attachUretprobeMulti(binary: fixture.pie, locations: [.symbol(UprobeFixture.tracedFunction, offset: 0)])
        #expect(try link.info().details == .uprobeMulti(path: fixture.pie, count: 1, flags: 1, pid: 0))
        try UprobeFixture.run(fixture.pie, calls: 11)
        #expect(try TracingCounter.count(returns) == 11)
        try link.close()
    }

    @Test func placesByAddressAndFileOffsetInSharedLibrary() throws {
        let file = try UprobeTarget.readELF(fixture.library)
        let symbol = try #require(try file.definedSymbol(named: UprobeFixture.libraryFunction))
        let resolved = try UprobeTarget.resolve(binary: fixture.library, locations: [.address(symbol.value), .symbol(UprobeFixture.libraryFunction, offset: 0)])
        #expect(resolved.offsets[0] == resolved.offsets[1])
        let (map, program) = try counter("trc_um_lib")
        let link = try program.attachUprobeMulti(binary: fixture.library, locations: [.fileOffset(resolved.offsets[0])])
        try UprobeFixture.run(fixture.libraryUser, calls: 9)
        #expect(try TracingCounter.count(map) == 9)
        try link.close()
    }

    @Test func pidFilterCountsOnlyThatProcess() throws {
        let (map, program) = try counter("trc_um_pid")
        let traced = try UprobeFixture.WaitingRun(fixture.nonPIE, calls: 13)
        let other = try UprobeFixture.WaitingRun(fixture.nonPIE, calls: 21)
        let link = try program.attachUprobeMulti(binary: fixture.nonPIE, locations: [.symbol(UprobeFixture.tracedFunction, offset: 0)], processID: traced.pid)
        #expect(try link.info().details == .uprobeMulti(path: fixture.nonPIE, count: 1, flags: 0, pid: UInt32(traced.pid)))
        try other.release()
        try traced.release()
        #expect(try TracingCounter.count(map) == 13)
        try link.close()
    }

    @Test func errorsAreSpecific() throws {
        // A program not loaded for uprobe-multi links is refused before the kernel is asked.
        let plainMap = try TracingCounter.makeMap("trc_um_plain")
        let plain = try TracingCounter.program("trc_um_plain", type: .kprobe, map: plainMap, onlyProcess: nil)
        #expect(throws: BPFError.self) { try plain.attachUprobeMulti(binary: fixture.nonPIE, locations: [.symbol("main", offset: 0)]) }
        let (_, program) = try counter("trc_um_errors")
        #expect(throws: BPFError.self) { try program.attachUprobeMulti(binary: fixture.nonPIE, locations: []) }
        #expect(throws: BPFError.self) { try program.attachUprobeMulti(binary: fixture.nonPIE, locations: [.symbol("main", offset: 0)], cookies: [1, 2]) }
        do {
            _ = try program.attachUprobeMulti(binary: fixture.nonPIE, locations: [.symbol("swiftbpf_no_such_function", offset: 0)])
            Issue.record("a missing symbol attached")
        } catch BPFError.notFound(let what, _) {
            #expect(what.contains("swiftbpf_no_such_function"))
        }
        // An offset past the end of the file: the kernel's EINVAL is a real error, reported
        // as such (the kernel has uprobe-multi links), not taken for missing support.
        do {
            _ = try program.attachUprobeMulti(binary: fixture.nonPIE, locations: [.fileOffset(1 << 40)])
            Issue.record("an offset outside the file attached")
        } catch BPFError.syscall(let failure) {
            #expect(failure.errno == .EINVAL)
            #expect(failure.meaning.contains("offset"))
        }
        #expect(UprobeMultiSupport.mayBeAvailable)
    }

    @Test func perfLinkSupportIsLearnedFromAttaches() throws {
        // An attach through the perf-event path creates a perf link on this kernel and records
        // that perf links work, without the probe program.
        let map = try TracingCounter.makeMap("trc_um_perflink")
        let program = try TracingCounter.program("trc_um_perflink", type: .kprobe, map: map, onlyProcess: nil)
        let link = try program.attachUprobe(UprobeTarget(binary: fixture.nonPIE, symbol: UprobeFixture.tracedFunction))
        #expect(link.kernelLink != nil)
        #expect(PerfLinkSupport.mayHaveLinks)
        #expect(!PerfLinkSupport.mayLackLinks(.EINVAL))
        try link.close()
    }
}

/// libbpf's `uprobe.multi`/`uretprobe.multi` sections attach from their names.
@Suite(.kernel, .serialized)
struct UprobeMultiObjectTests {
    @Test func sectionsAutoAttachToEveryMatchingFunction() throws {
        let fixture = try UprobeFixture.shared.get()
        let object = LoaderFixtures.output + "/uprobe_multi.bpf.o"
        let compiled = try CommandRunner.run(LoaderFixtures.clang, [
            "-target", "bpf", "-g", "-O2", "-I", LoaderFixtures.directory, "-DUPROBE_BINARY=\"\(fixture.pie)\"",
            "-c", LoaderFixtures.directory + "/uprobe_multi.bpf.c", "-o", object])
        try #require(compiled.status == 0, "clang: \(compiled.stderr)")
        let loaded = try ObjectLoader(path: object).load()
        let (links, skipped) = try loaded.attachAll()
        #expect(Set(links.keys) == ["count_entries", "count_returns"])
        #expect(Set(skipped.keys) == ["explicit_only"])
        let entryLink = try #require(links["count_entries"] as? KernelLink)
        guard case .uprobeMulti(let path, let count, let flags, _) = try entryLink.info().details else {
            Issue.record("not a uprobe-multi link")
            return
        }
        #expect(path == fixture.pie && count == 1 && flags == 0)
        let returnLink = try #require(links["count_returns"] as? KernelLink)
        if case .uprobeMulti(_, _, let returnFlags, _) = try returnLink.info().details { #expect(returnFlags == 1) }
        try UprobeFixture.run(fixture.pie, calls: 7)
        #expect(try loaded.global("entries", as: UInt64.self) == 7)
        #expect(try loaded.global("returns", as: UInt64.self) == 7)
        for (_, link) in links { try link.close() }
        try UprobeFixture.run(fixture.pie, calls: 3)
        #expect(try loaded.global("entries", as: UInt64.self) == 7)
        #expect(throws: BPFError.self) { try UprobeTarget.functionOffsets(matching: "swiftbpf_no_such_*", in: fixture.pie) }
        #expect(try UprobeTarget.functionOffsets(matching: "swiftbpf_trace?", in: fixture.pie).count == 1)
    }
}

extension TracingUprobeMultiTests {
    @Test func pidFiltersWholeProcessesOnThisKernel() {
        // Linux 6.10+ filters a uprobe-multi link's pid by process; this machine runs a newer kernel.
        #expect(UprobeMultiSupport.filtersWholeProcess)
    }
}

/// The compact symbol-table image uprobes resolve symbols in answers as the whole file does.
@Suite struct UprobeSymbolFileTests {
    @Test func compactImageResolvesLikeTheWholeFile() throws {
        let fixture = try UprobeFixture.shared.get()
        var binaries = [fixture.nonPIE, fixture.pie, fixture.library]
        let libc = "/lib/x86_64-linux-gnu/libc.so.6"
        if FileManager.default.fileExists(atPath: libc) { binaries.append(libc) }
        for binary in binaries {
            let whole = try UprobeTarget.readELF(binary)
            let compact = try UprobeTarget.readSymbolTables(binary)
            #expect(compact.bytes.count < whole.bytes.count, "\(binary)")
            #expect(compact.segments == whole.segments)
            let symbols = try whole.symbols() + whole.dynamicSymbols()
            #expect(try compact.symbols() + compact.dynamicSymbols() == symbols)
            var checked = 0
            for symbol in symbols where symbol.isDefined && symbol.type == .function && !symbol.name.isEmpty {
                let expected = try whole.definedSymbol(named: symbol.name).map { try whole.fileOffset(of: $0) }
                let got = try compact.definedSymbol(named: symbol.name).map { try compact.fileOffset(of: $0) }
                #expect(got == expected, "\(binary): \(symbol.name)")
                checked += 1
                if checked == 400 { break }
            }
            #expect(checked > 0)
        }
    }

    @Test func filesItCannotCompactAreReadWhole() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbpf-trc-notelf-\(getpid())").path
        try Data("not an ELF file at all, just text".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: BPFError.self) { try UprobeTarget.readSymbolTables(path) }
        #expect(throws: BPFError.self) { try UprobeTarget.readSymbolTables("/nonexistent/swiftbpf-trc") }
    }
}
