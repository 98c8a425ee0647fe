import BPF
import BPFObject
import Foundation
import Testing

/// What an unprivileged user is told. The test re-runs this very test binary as user `nobody`
/// (setpriv drops every capability with the uid change) in a child mode that only tries to
/// create a map and load a program and prints the errors; the parent checks the text.
@Suite(.serialized)
struct PrivilegeTests {
    static let childModeVariable = "SWIFTBPF_PRIVILEGE_PROBE"
    static let marker = "SBPF-PROBE-RESULT:"
    static var isChild: Bool { ProcessInfo.processInfo.environment[childModeVariable] == "1" }

    /// Child mode: runs only inside the unprivileged re-run.
    @Test(.enabled(if: PrivilegeTests.isChild, "runs only as the unprivileged child of unprivilegedUserIsToldWhatIsNeeded"))
    func unprivilegedProbe() {
        func report(_ what: String, _ body: () throws -> Void) {
            do {
                try body()
                print("\(Self.marker) \(what): succeeded (uid \(getuid()))")
            } catch {
                print("\(Self.marker) \(what): \(error)")
            }
        }
        report("map") { _ = try Map(MapSpec(name: "maps_unpriv", type: .array, keySize: 4, valueSize: 4, maxEntries: 1)) }
        report("program") {
            _ = try Program(ProgramSpec(name: "maps_unpriv", type: .socketFilter, instructions: [
                Instruction(opcode: 0xb7, dst: 0, immediate: 0), Instruction(opcode: 0x95),
            ]))
        }
    }

    @Test(.kernel, .enabled(if: !PrivilegeTests.isChild))
    func unprivilegedUserIsToldWhatIsNeeded() throws {
        let setpriv = "/usr/bin/setpriv"
        try #require(FileManager.default.isExecutableFile(atPath: setpriv), "setpriv (util-linux) is needed to drop privileges")
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let child = Process()
        child.executableURL = URL(fileURLWithPath: setpriv)
        child.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", executable,
                           "--testing-library", "swift-testing", "--filter", "PrivilegeTests/unprivilegedProbe"]
        var environment = ProcessInfo.processInfo.environment
        environment[Self.childModeVariable] = "1"
        child.environment = environment
        child.currentDirectoryURL = URL(fileURLWithPath: "/")
        let output = Pipe()
        child.standardOutput = output
        child.standardError = output
        try child.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        child.waitUntilExit()
        try output.fileHandleForReading.close()
        let text = String(decoding: data, as: UTF8.self)
        let results = text.split(separator: "\n").filter { $0.contains(Self.marker) }.map(String.init)
        try #require(results.count == 2, "the child printed no probe results:\n\(text)")
        for line in results { print(line) }

        let map = try #require(results.first { $0.contains("map:") })
        #expect(map.contains("BPF_MAP_CREATE"))
        #expect(map.contains("EPERM"))
        #expect(map.contains("needs root or CAP_BPF"), "\(map)")
        if let setting = try? String(contentsOfFile: "/proc/sys/kernel/unprivileged_bpf_disabled", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines), setting != "0" {
            #expect(map.contains("kernel.unprivileged_bpf_disabled=\(setting)"), "\(map)")
        }
        let program = try #require(results.first { $0.contains("program:") })
        #expect(program.contains("BPF_PROG_LOAD") && program.contains("EPERM"))
        #expect(program.contains("root") && program.contains("CAP_BPF"), "\(program)")
    }
}
