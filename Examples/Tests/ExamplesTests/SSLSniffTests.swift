import Foundation
import Testing

@Suite(.kernel, .serialized) struct SSLSniffTests {
    @Test func helpDescribesTheExample() throws {
        let help = try ExampleProcess.run("ssl-sniff", ["--help"])
        #expect(help.status == 0)
        #expect(help.text.contains("USAGE: ssl-sniff"), "\(help.text)")
    }

    /// The self-test's s_client writes the message and reads it back reversed from s_server
    /// -rev over TLS; both plaintexts are caught in libssl with the client's pid and length.
    @Test func sniffsTheSelfTestConversation() throws {
        let message = "ssl-sniff test \(getpid())"
        let result = try ExampleProcess.run("ssl-sniff", ["--self-test", "--message", message])
        #expect(result.status == 0, "\(result.text)")
        let lines = result.text.split(separator: "\n").map(String.init)
        let clientLine = try #require(lines.first { $0.contains("s_client pid ") }, "\(result.text)")
        let client = try #require(clientLine.split(separator: " ").drop { $0 != "pid" }.dropFirst().first, "\(clientLine)")
        let length = message.utf8.count + 1  // with the newline
        // FUNC TIME(s) COMM PID LEN, then the data between DATA markers.
        func block(_ function: String) -> [String]? {
            guard let header = lines.firstIndex(where: {
                $0.hasPrefix(function) && $0.range(of: #" openssl +\#(client) +\#(length)$"#, options: .regularExpression) != nil
            }) else { return nil }
            return Array(lines[header ..< min(header + 4, lines.count)])
        }
        let written = try #require(block("WRITE/SEND"), "\(result.text)")
        #expect(written[1] == "----- DATA -----" && written[2] == message && written[3] == "----- END DATA -----", "\(written)")
        let read = try #require(block("READ/RECV"), "\(result.text)")
        #expect(read[2] == String(message.reversed()), "\(read)")
    }

    @Test func aLibraryWithoutOpenSSLIsAClearError() throws {
        let result = try ExampleProcess.run("ssl-sniff", ["--lib", "/bin/true"])
        #expect(result.status != 0)
        #expect(result.text.contains("SSL_read"), "\(result.text)")
    }
}
