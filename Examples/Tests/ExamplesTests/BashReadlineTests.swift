import Foundation
import Testing

@Suite(.kernel, .serialized) struct BashReadlineTests {
    @Test func helpDescribesTheExample() throws {
        let help = try ExampleProcess.run("bash-readline", ["--help"])
        #expect(help.status == 0)
        #expect(help.text.contains("USAGE: bash-readline"), "\(help.text)")
    }

    /// An interactive bash on a pseudo-terminal (util-linux `script` makes one) reads a typed
    /// line with readline; the example prints it with that bash's pid, which the line itself
    /// makes bash print (`$$`).
    @Test func printsTheTypedCommandWithBashsPid() throws {
        let example = try ExampleProcess("bash-readline")
        try #require(example.waitFor("COMMAND"))

        let script = Process()
        script.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        script.arguments = ["-qfc", "/bin/bash --norc --noprofile -i", "/dev/null"]
        let input = Pipe()
        let output = Pipe()
        script.standardInput = input
        script.standardOutput = output
        script.standardError = output
        try script.run()
        usleep(500_000)
        input.fileHandleForWriting.write(Data("echo readline-marker-$$\n".utf8))
        usleep(500_000)
        input.fileHandleForWriting.write(Data("exit\n".utf8))
        script.waitUntilExit()
        let terminal = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        usleep(300_000)
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")

        // bash expanded $$ in what it printed: that is its pid.
        let marker = try #require(terminal.range(of: #"readline-marker-[0-9]+"#, options: .regularExpression), "\(terminal)")
        let bashPID = terminal[marker].dropFirst("readline-marker-".count)
        let lines = result.text.split(separator: "\n").map(String.init)
        // `TIME     PID     COMMAND`: 05:50:40  1341    echo readline-marker-$$
        #expect(lines.contains { $0.range(of: #"^[0-9]{2}:[0-9]{2}:[0-9]{2} +\#(bashPID) +echo readline-marker-\$\$$"#, options: .regularExpression) != nil }, "\(result.text)")
        #expect(lines.contains { $0.range(of: #" \#(bashPID) +exit$"#, options: .regularExpression) != nil }, "\(result.text)")
    }

    @Test func aBinaryWithoutReadlineIsAClearError() throws {
        let result = try ExampleProcess.run("bash-readline", ["--shell", "/bin/true"])
        #expect(result.status != 0)
        #expect(result.text.contains("readline"), "\(result.text)")
    }
}
