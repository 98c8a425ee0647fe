import BPF
import BPFObject
import Foundation
import Testing
import TestSupport

/// What an unprivileged user is told. The test re-runs itself — this very test binary, filtered
/// to this one test — as user `nobody` (setpriv drops every capability with the uid change). In
/// that child run it only tries to create a map and load a program and prints the errors; the
/// parent checks the text. One test with two modes, so nothing shows up as skipped.
@Suite(.serialized)
struct PrivilegeTests {
    static let childModeVariable = "SWIFTBPF_PRIVILEGE_PROBE"
    static let marker = "SBPF-PROBE-RESULT:"
    static var isChild: Bool { ProcessInfo.processInfo.environment[childModeVariable] == "1" }

    /// Child mode: what an unprivileged process gets.
    static func probe() {
        func report(_ what: String, _ body: () throws -> Void) {
            do {
                try body()
                print("\(marker) \(what): succeeded (uid \(getuid()))")
            } catch {
                print("\(marker) \(what): \(error)")
            }
        }
        report("map") { _ = try Map(MapSpec(name: "maps_unpriv", type: .array, keySize: 4, valueSize: 4, maxEntries: 1)) }
        report("program") {
            _ = try Program(ProgramSpec(name: "maps_unpriv", type: .socketFilter, instructions: [
                Instruction(opcode: 0xb7, dst: 0, immediate: 0), Instruction(opcode: 0x95),
            ]))
        }
    }

    @Test(.enabled(if: KernelTestEnvironment.isPrivileged || KernelTestEnvironment.isRequired || PrivilegeTests.isChild,
                   "needs root to drop privileges for the unprivileged re-run"))
    func unprivilegedUserIsToldWhatIsNeeded() throws {
        if Self.isChild {
            Self.probe()
            return
        }
        let setpriv = "/usr/bin/setpriv"
        try #require(FileManager.default.isExecutableFile(atPath: setpriv), "setpriv (util-linux) is needed to drop privileges")
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var environment = ProcessInfo.processInfo.environment
        environment[Self.childModeVariable] = "1"
        let text = try ChildProcess.run(setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", executable,
                                                  "--testing-library", "swift-testing", "--filter", "PrivilegeTests/unprivilegedUserIsToldWhatIsNeeded"],
                                        environment: environment, mergingErrors: true, currentDirectory: "/").output
        let results = text.split(separator: "\n").filter { $0.contains(Self.marker) }.map(String.init)
        try #require(results.count == 2, "the child printed no probe results:\n\(text)")
        for line in results { print(line) }

        let map = try #require(results.first { $0.contains("map:") })
        let setting = (try? String(contentsOfFile: "/proc/sys/kernel/unprivileged_bpf_disabled", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if setting == "0" {
            // Unprivileged bpf() allowed: plain array maps may be created without privileges.
            #expect(map.contains("succeeded"), "\(map)")
            return
        }
        #expect(map.contains("BPF_MAP_CREATE"))
        #expect(map.contains("EPERM"))
        #expect(map.contains("needs root or CAP_BPF"), "\(map)")
        if let setting { #expect(map.contains("kernel.unprivileged_bpf_disabled=\(setting)"), "\(map)") }
        let program = try #require(results.first { $0.contains("program:") })
        #expect(program.contains("BPF_PROG_LOAD") && program.contains("EPERM"))
        #expect(program.contains("root") && program.contains("CAP_BPF"), "\(program)")
    }
}
