import Foundation
import Testing

@Suite(.kernel, .serialized) struct HelloBufferConfigTests {
    @Test func helpDescribesTheExample() throws {
        let help = try ExampleProcess.run("hello-buffer-config", ["--help"])
        #expect(help.status == 0)
        #expect(help.text.contains("USAGE: hello-buffer-config"), "\(help.text)")
    }

    /// Root gets the configured "Hey root!"; uid 65534 has no entry, so it gets the object's
    /// global default, "Hello World" — then, configured with --message, its own text.
    @Test(arguments: [false, true]) func printsThePerUIDMessage(ring: Bool) throws {
        let mode = ring ? ["--ring"] : []
        let example = try ExampleProcess("hello-buffer-config", mode)
        try #require(example.waitFor("Ctrl-C to end"))
        let asRoot = try Self.exec(["/bin/true"])
        let asNobody = try Self.exec(Self.asNobody)
        usleep(300_000)
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")
        let lines = result.text.split(separator: "\n").map(String.init)
        // `PID UID COMMAND MESSAGE`; the exec'd process still has the spawner's comm at execve.
        #expect(lines.contains { $0.hasPrefix("\(asRoot) 0 ") && $0.hasSuffix(" Hey root!") }, "\(lines.filter { $0.hasPrefix("\(asRoot) ") })")
        #expect(lines.contains { $0.hasPrefix("\(asNobody) 65534 setpriv Hello World") }, "\(lines.filter { $0.hasPrefix("\(asNobody) ") })")

        let configured = try ExampleProcess("hello-buffer-config", mode + ["--message", "65534=Hi nobody!"])
        try #require(configured.waitFor("Ctrl-C to end"))
        let again = try Self.exec(Self.asNobody)
        usleep(300_000)
        let second = configured.interrupt()
        #expect(second.text.split(separator: "\n").contains { $0 == "\(again) 65534 setpriv Hi nobody!" }, "\(second.text.split(separator: "\n").filter { $0.hasPrefix("\(again) ") })")
    }

    @Test func rejectsAMalformedMessage() throws {
        let result = try ExampleProcess.run("hello-buffer-config", ["--message", "root=hi"])
        #expect(result.status != 0)
        #expect(result.text.contains("--message takes UID=TEXT"), "\(result.text)")
    }

    /// setpriv drops to nobody, then execs /bin/true: that execve is made by uid 65534.
    static let asNobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/true"]

    /// Runs a command, returning its pid (the pid of every execve it makes).
    static func exec(_ command: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }
}
