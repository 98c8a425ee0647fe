@testable import BPFTrace
import BPFObject
import Foundation
import Testing
import TestSupport

/// Compiling `usdt:` probes needs no kernel: the probes come from the binary's notes and the
/// argument reads are generated from their specs. The binary is the workload of
/// Tests/BPFTests/TraceUSDTTests, built here with gcc and <sys/sdt.h>.
@Suite(.enabled(if: FileManager.default.fileExists(atPath: "/usr/include/x86_64-linux-gnu/sys/sdt.h")
                || FileManager.default.fileExists(atPath: "/usr/include/sys/sdt.h")))
struct USDTCompileTests {
    static let binary: Result<String, any Error> = Result {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("BPFTests/Fixtures/trace-usdt/workload.c").path
        let output = NSTemporaryDirectory() + "swiftbpf-usdt-compile-\(getpid())"
        let result = try ChildProcess.run("/usr/bin/gcc", ["-O2", source, "-o", output])
        guard result.status == 0 else { throw TraceError("gcc failed: \(result.stderr)") }
        return output
    }

    @Test func wildcardsExpandToOneProgramPerProbeWithItsSemaphore() throws {
        let binary = try Self.binary.get()
        let script = try compile("usdt:\(binary):*:sizes, U:\(binary):demo:guarded { @[probe] = count(); }")
        #expect(script.probes.map(\.name) == ["usdt:\(binary):demo:sizes", "usdt:\(binary):other:sizes", "usdt:\(binary):demo:guarded"])
        for probe in script.probes {
            guard case .usdt(let path, let offsets, let semaphores) = probe.attachment else {
                Issue.record("\(probe.name) is not a usdt attachment")
                continue
            }
            #expect(path == binary)
            #expect(offsets.count == 1 && semaphores.count == 1)
            #expect(semaphores.allSatisfy { $0 != 0 }, "every probe of the workload has a semaphore")
            #expect(probe.programType == .kprobe)
        }
    }

    /// `-1@...` (int8_t) is sign-extended by shifting left and arithmetically right by 56;
    /// `2@...` (uint16_t) zero-extended by a logical right shift of 48.
    @Test func argumentsAreExtendedBySpecSize() throws {
        let binary = try Self.binary.get()
        let script = try compile("usdt:\(binary):demo:sizes { @a = arg0; @b = arg1; }")
        let text = Disassembler().text(try #require(script.probes.first).instructions)
        #expect(text.contains("r0 <<= 56") && text.contains("r0 s>>= 56"), "\(text)")
        #expect(text.contains("r0 <<= 48") && text.contains("r0 >>= 48"), "\(text)")
    }

    @Test func errorsNameTheProbe() throws {
        let binary = try Self.binary.get()
        #expect(compileErrors("usdt:\(binary):demo:missing { exit(); }") == ["usdt probe 'demo:missing' not found in \(binary)"])
        #expect(compileErrors("usdt:\(binary):demo:noargs { print(arg0); }") == ["couldn't get argument 0 for \(binary):demo:noargs"])
        #expect(compileErrors("usdt::demo:sizes { exit(); }") == ["usdt probe needs a binary or library path, or -p PID"])
        #expect(compileErrors("usdt:/nonexistent/x:demo:sizes { exit(); }") == ["usdt target file '/nonexistent/x' does not exist or is not executable"])
        #expect(compileErrors("BEGIN { exit(); } usdt:\(binary):none*:* { exit(); }") == [])
    }

    @Test func listingIsSortedLikeBpftrace() throws {
        let binary = try Self.binary.get()
        #expect(try USDTProbes.list("usdt:\(binary):demo:*") == ["guarded", "noargs", "sizes", "text"].map { "usdt:\(binary):demo:\($0)" })
        #expect(throws: TraceError.self) { try USDTProbes.list("usdt:\(binary)") }
    }
}
