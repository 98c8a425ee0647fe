@testable import BPF
import BPFObject
import Foundation
import Testing
import TestSupport

/// Test binaries compiled at test time: the same traced program as a non-PIE and a PIE
/// executable, and a shared library with a traced function plus an executable using it.
final class UprobeFixture: @unchecked Sendable {
    let directory: String
    let nonPIE: String
    let pie: String
    let library: String
    let libraryUser: String
    static let tracedFunction = "swiftbpf_traced"
    static let libraryFunction = "swiftbpf_lib_traced"
    static let libraryName = "libswiftbpftrc"

    static let shared = Result { try UprobeFixture() }

    static let program = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        __attribute__((noinline)) int swiftbpf_traced(int x) { return x * 2 + 1; }
        int main(int argc, char **argv) {
            int n = atoi(argv[1]);
            if (argc > 2 && strcmp(argv[2], "wait") == 0) { char line[8]; if (!fgets(line, sizeof line, stdin)) return 2; }
            int sum = 0;
            for (int i = 0; i < n; i++) sum += swiftbpf_traced(i);
            printf("%d\\n", sum);
            return 0;
        }
        """
    static let librarySource = """
        __attribute__((noinline)) int swiftbpf_lib_traced(int x) { return x + 7; }
        """
    static let libraryUserSource = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        int swiftbpf_lib_traced(int x);
        int main(int argc, char **argv) {
            int n = atoi(argv[1]);
            if (argc > 2 && strcmp(argv[2], "wait") == 0) { char line[8]; if (!fgets(line, sizeof line, stdin)) return 2; }
            int sum = 0;
            for (int i = 0; i < n; i++) sum += swiftbpf_lib_traced(i);
            printf("%d\\n", sum);
            return 0;
        }
        """

    static var compiler: String? {
        ["/opt/swift/usr/bin/clang", "/usr/bin/gcc", "/usr/bin/cc"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbpf-tracing-uprobe-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let source = directory + "/traced.c"
        try Self.program.write(toFile: source, atomically: true, encoding: .utf8)
        try Self.librarySource.write(toFile: directory + "/lib.c", atomically: true, encoding: .utf8)
        try Self.libraryUserSource.write(toFile: directory + "/user.c", atomically: true, encoding: .utf8)
        nonPIE = directory + "/traced_nopie"
        pie = directory + "/traced_pie"
        library = directory + "/\(Self.libraryName).so"
        libraryUser = directory + "/lib_user"
        try Self.compile(["-O0", "-fno-pie", "-no-pie", source, "-o", nonPIE])
        try Self.compile(["-O0", "-fPIE", "-pie", source, "-o", pie])
        try Self.compile(["-O0", "-fPIC", "-shared", directory + "/lib.c", "-o", library])
        try Self.compile(["-O0", directory + "/user.c", "-o", libraryUser, "-L", directory, "-lswiftbpftrc", "-Wl,-rpath," + directory])
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    static func compile(_ arguments: [String]) throws {
        let compiler = try #require(compiler, "no C compiler (clang or gcc) to build the uprobe test binaries")
        let result = try ChildProcess.run(compiler, arguments, mergingErrors: true)
        try #require(result.status == 0, "\(compiler) \(arguments.joined(separator: " ")) failed: \(result.output)")
    }

    /// Runs `binary n` to completion.
    static func run(_ binary: String, calls: Int) throws {
        let result = try ChildProcess.run(binary, [String(calls)], mergingErrors: true)
        try #require(result.status == 0, "\(result.output)")
    }

    /// A started `binary n wait` that makes its calls once `release()` is called.
    final class WaitingRun {
        let process = Process()
        let input = Pipe()
        init(_ binary: String, calls: Int) throws {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = [String(calls), "wait"]
            process.standardInput = input
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }
        var pid: Int32 { process.processIdentifier }
        /// Waits until the dynamic linker has mapped the libraries (the process blocks in read).
        func waitUntilMapped(_ path: String) {
            for _ in 0..<200 {
                if let maps = try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8), maps.contains(path) { return }
                usleep(10_000)
            }
        }
        func release() throws {
            input.fileHandleForWriting.write(Data("go\n".utf8))
            process.waitUntilExit()
            try #require(process.terminationStatus == 0)
        }
    }
}

@Suite(.kernel, .serialized)
struct TracingUprobeTests {
    let fixture: UprobeFixture
    init() throws { fixture = try UprobeFixture.shared.get() }

    func counter(_ name: String) throws -> (Map, Program) {
        let map = try TracingCounter.makeMap(name)
        return (map, try TracingCounter.program(name, type: .kprobe, map: map, onlyProcess: nil))
    }

    @Test func uprobeOnNonPIEExecutable() throws {
        let (map, program) = try counter("trc_up_nopie")
        let link = try program.attachUprobe(UprobeTarget(binary: fixture.nonPIE, symbol: UprobeFixture.tracedFunction))
        try UprobeFixture.run(fixture.nonPIE, calls: 17)
        #expect(try TracingCounter.count(map) == 17)
        try link.close()
        try UprobeFixture.run(fixture.nonPIE, calls: 5)
        #expect(try TracingCounter.count(map) == 17)
    }

    @Test func uprobeAndUretprobeOnPIEExecutable() throws {
        let (entries, entryProgram) = try counter("trc_up_pie")
        let (returns, returnProgram) = try counter("trc_uret_pie")
        let target = UprobeTarget(binary: fixture.pie, symbol: UprobeFixture.tracedFunction)
        let entryLink = try entryProgram.attachUprobe(target)
        let returnLink = try returnProgram.attachUretprobe(target)
        try UprobeFixture.run(fixture.pie, calls: 11)
        #expect(try TracingCounter.count(entries) == 11)
        #expect(try TracingCounter.count(returns) == 11)
        try entryLink.close()
        try returnLink.close()
    }

    @Test func uprobeByAddressMatchesSymbol() throws {
        let file = try UprobeTarget.readELF(fixture.pie)
        let symbol = try #require(try file.definedSymbol(named: UprobeFixture.tracedFunction))
        let bySymbol = try UprobeTarget(binary: fixture.pie, symbol: UprobeFixture.tracedFunction).resolve()
        let byAddress = try UprobeTarget(binary: fixture.pie, location: .address(symbol.value)).resolve()
        #expect(bySymbol.offset == byAddress.offset)
        let (map, program) = try counter("trc_up_addr")
        let link = try program.attachUprobe(UprobeTarget(binary: fixture.pie, location: .fileOffset(bySymbol.offset)))
        try UprobeFixture.run(fixture.pie, calls: 4)
        #expect(try TracingCounter.count(map) == 4)
        try link.close()
    }

    @Test func uprobeInSharedLibrary() throws {
        let (map, program) = try counter("trc_up_lib")
        let link = try program.attachUprobe(UprobeTarget(binary: fixture.library, symbol: UprobeFixture.libraryFunction))
        try UprobeFixture.run(fixture.libraryUser, calls: 9)
        #expect(try TracingCounter.count(map) == 9)
        try link.close()
    }

    @Test func libraryFoundThroughProcessMapsWithPidFilter() throws {
        let (map, program) = try counter("trc_up_libpid")
        let traced = try UprobeFixture.WaitingRun(fixture.libraryUser, calls: 6)
        let other = try UprobeFixture.WaitingRun(fixture.libraryUser, calls: 8)
        traced.waitUntilMapped(fixture.library)
        // Not a path: found in /proc/<pid>/maps of the traced process.
        let target = UprobeTarget(binary: UprobeFixture.libraryName, symbol: UprobeFixture.libraryFunction, processID: traced.pid)
        #expect(try target.resolve().path == fixture.library)
        let link = try program.attachUprobe(target)
        try other.release()
        try traced.release()
        #expect(try TracingCounter.count(map) == 6)
        try link.close()
    }

    @Test func pidFilterCountsOnlyThatProcess() throws {
        let (map, program) = try counter("trc_up_pid")
        let traced = try UprobeFixture.WaitingRun(fixture.nonPIE, calls: 13)
        let other = try UprobeFixture.WaitingRun(fixture.nonPIE, calls: 21)
        let link = try program.attachUprobe(UprobeTarget(binary: fixture.nonPIE, symbol: UprobeFixture.tracedFunction, processID: traced.pid))
        try other.release()
        try traced.release()
        #expect(try TracingCounter.count(map) == 13)
        try link.close()
    }

    @Test func tracefsMechanismCreatesAndRemovesItsEntry() throws {
        let (map, program) = try counter("trc_up_tracefs")
        let eventsFile = try Tracefs.root() + "/uprobe_events"
        let link = try program.attachUprobe(UprobeTarget(binary: fixture.nonPIE, symbol: UprobeFixture.tracedFunction), isReturn: true, mechanism: .tracefs)
        let entryName = "swiftbpf_\(getpid())_"
        let ours = { (try String(contentsOfFile: eventsFile, encoding: .utf8)).split(separator: "\n").filter { $0.contains(entryName) && $0.contains(self.fixture.nonPIE) } }
        #expect(try ours().count == 1)
        #expect(try ours().first?.hasPrefix("r:uprobes/") == true)
        try UprobeFixture.run(fixture.nonPIE, calls: 7)
        #expect(try TracingCounter.count(map) == 7)
        try link.close()
        #expect(try ours().isEmpty)
        try UprobeFixture.run(fixture.nonPIE, calls: 2)
        #expect(try TracingCounter.count(map) == 7)
    }

    @Test func staleTracefsEntriesOfDeadProcessesAreRemoved() throws {
        // An entry as a crashed process would leave it: a pid that cannot be running.
        let deadPID = 4_194_000 // above the default pid_max ceiling of 2^22
        let stale = "uprobes/swiftbpf_\(deadPID)_1"
        let resolved = try UprobeTarget(binary: fixture.nonPIE, symbol: UprobeFixture.tracedFunction).resolve()
        try Tracefs.appendCommand("p:\(stale) \(resolved.path):0x\(String(resolved.offset, radix: 16))", to: "uprobe_events")
        let (map, program) = try counter("trc_up_stale")
        let live = try program.attachUprobe(UprobeTarget(binary: fixture.nonPIE, symbol: UprobeFixture.tracedFunction), mechanism: .tracefs)
        let removed = try DynamicProbe.removeStaleEntries(.uprobe)
        let events = try String(contentsOfFile: try Tracefs.root() + "/uprobe_events", encoding: .utf8)
        #expect(!events.contains(stale), "removed: \(removed)")
        #expect(events.contains("swiftbpf_\(getpid())_"))
        try UprobeFixture.run(fixture.nonPIE, calls: 2)
        #expect(try TracingCounter.count(map) == 2)
        try live.close()
    }

    @Test func uprobeLinkReleasedDetaches() throws {
        let (map, program) = try counter("trc_up_release")
        do {
            let link = try program.attachUprobe(UprobeTarget(binary: fixture.nonPIE, symbol: UprobeFixture.tracedFunction))
            try UprobeFixture.run(fixture.nonPIE, calls: 3)
            withExtendedLifetime(link) {}
        }
        try UprobeFixture.run(fixture.nonPIE, calls: 3)
        #expect(try TracingCounter.count(map) == 3)
    }

    @Test func unknownBinaryAndSymbol() throws {
        let (_, program) = try counter("trc_up_errors")
        do {
            _ = try program.attachUprobe(UprobeTarget(binary: "/no/such/binary", symbol: "main"))
            Issue.record("attached to a missing binary")
        } catch BPFError.notFound(let what, _) {
            #expect(what == "binary /no/such/binary")
        }
        do {
            _ = try program.attachUprobe(UprobeTarget(binary: "libno-such-library-xyz", symbol: "main"))
            Issue.record("attached to a missing library")
        } catch BPFError.notFound(let what, let detail) {
            #expect(what == "binary or library 'libno-such-library-xyz'")
            #expect(detail.contains("/etc/ld.so.cache"))
        }
        do {
            _ = try program.attachUprobe(UprobeTarget(binary: fixture.pie, symbol: "no_such_function_here"))
            Issue.record("attached to a missing symbol")
        } catch BPFError.notFound(let what, let detail) {
            #expect(what == "symbol 'no_such_function_here' in \(fixture.pie)")
            #expect(detail.contains(".dynsym"))
        }
        let map = try TracingCounter.makeMap("trc_up_wrongtype")
        let tracepointProgram = try TracingCounter.program("trc_up_wrongtype", type: .tracepoint, map: map)
        #expect(throws: BPFError.self) { try tracepointProgram.attachUprobe(UprobeTarget(binary: fixture.pie, symbol: UprobeFixture.tracedFunction)) }
    }

    @Test func resolvesLibrariesByName() throws {
        let libc = try UprobeTarget.resolveBinary("libc")
        #expect(libc.hasSuffix("libc.so.6"))
        #expect(try UprobeTarget.resolveBinary("libc.so.6") == libc)
        #expect(try UprobeTarget.resolveBinary("c") == libc)
        #expect(try UprobeTarget.resolveBinary("ls").hasSuffix("/ls"))
        // libc exports getppid; its offset is inside the file.
        let (path, offset) = try UprobeTarget(binary: "libc", symbol: "getppid").resolve()
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        #expect(offset > 0 && offset < UInt64(size))
    }
}

@Suite(.kernel, .serialized)
struct TracingKprobeTests {
    @Test func kprobesReportUnsupportedClearly() throws {
        let map = try TracingCounter.makeMap("trc_kp")
        let program = try TracingCounter.program("trc_kp", type: .kprobe, map: map, onlyProcess: nil)
        let haveKprobes = TracingSupport.kprobes
        #expect(TracingSupport.uprobes && TracingSupport.uprobePMU && TracingSupport.uprobeEvents)
        for attach in [{ try program.attachKprobe(function: "do_sys_openat2") }, { try program.attachKretprobe(function: "do_sys_openat2") }] {
            do {
                let link = try attach()
                #expect(haveKprobes, "attached a kprobe on a kernel without kprobes")
                try link.close()
            } catch BPFError.unsupported(let feature, let detail) {
                #expect(!haveKprobes)
                #expect(feature == "kprobes")
                #expect(detail.hasPrefix("this kernel was built without CONFIG_KPROBES"))
            }
        }
        #expect(throws: BPFError.self) { try program.attachKprobe(function: "bad name!") }
        #expect(throws: BPFError.self) { try program.attachKprobe(function: "f", offset: 4, isReturn: true) }
    }
}
