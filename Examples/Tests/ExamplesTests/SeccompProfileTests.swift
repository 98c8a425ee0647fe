import Foundation
import Testing

@Suite(.kernel, .serialized) struct SeccompProfileTests {
    @Test func helpDescribesTheExample() throws {
        let help = try ExampleProcess.run("seccomp-profile", ["--help"])
        #expect(help.status == 0)
        #expect(help.text.contains("USAGE: seccomp-profile"), "\(help.text)")
    }

    /// `ls /` execs, opens and lists a directory, writes, and exits: the profile allows exactly
    /// the calls made, so those are there and a call ls never makes (reboot) is not.
    @Test func profilesLs() throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("seccomp-profile-\(getpid()).json").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let result = try ExampleProcess.run("seccomp-profile", ["-o", output, "--", "/bin/ls", "/"])
        #expect(result.status == 0, "\(result.text)")
        let data = try #require(FileManager.default.contents(atPath: output), "\(result.text)")
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(json["defaultAction"] as? String == "SCMP_ACT_ERRNO")
        let rules = try #require(json["syscalls"] as? [[String: Any]])
        #expect(rules.count == 1)
        #expect(rules.first?["action"] as? String == "SCMP_ACT_ALLOW")
        let names = Set(rules.first?["names"] as? [String] ?? [])
        for expected in ["execve", "openat", "getdents64", "write", "exit_group"] {
            #expect(names.contains(expected), "\(expected) missing from \(names.sorted())")
        }
        #expect(!names.contains("reboot"), "\(names.sorted())")
        #expect(!names.contains { $0.hasPrefix("syscall_") }, "unnamed numbers: \(names.sorted())")
    }

    @Test func refusesAMissingCommand() throws {
        let result = try ExampleProcess.run("seccomp-profile", [])
        #expect(result.status != 0)
        #expect(result.text.contains("give the command to profile after --"), "\(result.text)")
    }
}
