import ArgumentParser
import BPF
import ExampleSupport
import Foundation

/// BCC's sslsniff: the plaintext read and written through libssl, from uprobes on SSL_read,
/// SSL_write and their _ex variants, printed as `FUNC TIME(s) COMM PID LEN` and the data.
/// `--self-test` makes its own TLS connection on loopback (openssl s_server/s_client).
@main
struct SSLSniff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ssl-sniff",
        abstract: "Print the plaintext passing through libssl's SSL_read/SSL_write in every process.",
        discussion: """
            The library is found like the dynamic linker finds it (ld.so.cache); a program \
            linked statically against OpenSSL needs --lib pointing at the program itself.

            EXAMPLES:
              ssl-sniff                           every process using libssl.so.3
              ssl-sniff -p 1234                   one process
              ssl-sniff --self-test               sniff a TLS connection between openssl s_server and s_client
            """)

    @Option(help: "The OpenSSL library (or statically linked program) to probe.")
    var lib = "libssl.so.3"

    @Option(name: .shortAndLong, help: "Only this process id.")
    var pid: Int32?

    @Flag(help: "Start openssl s_server -rev and s_client on 127.0.0.1, send --message, print what was sniffed, exit.")
    var selfTest = false

    @Option(help: "The line s_client sends in --self-test (the server answers it reversed).")
    var message = "hello from ssl-sniff"

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    static let functions = ["SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex"]

    func run() throws {
        Interrupt.install()
        var opened = try SslSniffSkeleton.open()
        if !selfTest, let pid { opened.rodata.target_tgid = UInt32(pid) }
        let loaded = try opened.load()
        let programs = try [
            (loaded.programs.ssl_read_entry, loaded.programs.ssl_read_return),
            (loaded.programs.ssl_write_entry, loaded.programs.ssl_write_return),
            (loaded.programs.ssl_read_ex_entry, loaded.programs.ssl_read_ex_return),
            (loaded.programs.ssl_write_ex_entry, loaded.programs.ssl_write_ex_return),
        ]
        var links: [any Link] = []
        defer { for link in links { try? link.close() } }
        for (function, (entry, exit)) in zip(Self.functions, programs) {
            let target = UprobeTarget(binary: lib, symbol: function, processID: selfTest ? nil : pid)
            links.append(try entry.attachUprobe(target))
            links.append(try exit.attachUretprobe(target))
        }

        var firstTimestamp: UInt64?
        let reader = try loaded.events { event in
            let start = firstTimestamp ?? event.timestamp_ns
            firstTimestamp = start
            Self.printEvent(event, seconds: Double(event.timestamp_ns - start) / 1e9)
        }
        defer { reader.close() }
        print(Self.pad("FUNC", 12), Self.pad("TIME(s)", 18), Self.pad("COMM", 16), Self.pad("PID", 7), "LEN")

        if selfTest {
            try SelfTest(message: message).run { _ = try reader.poll(timeout: .milliseconds(50)) }
            _ = try reader.poll(timeout: .milliseconds(200))
            return
        }
        let deadline = Interrupt.deadline(afterSeconds: duration)
        while !Interrupt.isRequested(deadline: deadline) { _ = try reader.poll(timeout: .milliseconds(100)) }
    }

    static func printEvent(_ event: SslSniffSkeleton.ssl_event, seconds: Double) {
        let function = event.function == 0 ? "READ/RECV" : "WRITE/SEND"
        print(pad(function, 12), pad(String(format: "%.9f", seconds), 18), pad(event.commString, 16), pad(String(event.pid), 7), event.length)
        print("----- DATA -----")
        let captured = withUnsafeBytes(of: event.data) { Array($0.prefix(Int(min(event.captured, UInt32($0.count))))) }
        print(printable(captured))
        let lost = Int(event.length) - captured.count
        print(lost > 0 ? "----- END DATA (TRUNCATED, \(lost) bytes lost) -----" : "----- END DATA -----")
    }

    /// Text as text; other bytes as \xNN, so binary protocols do not garble the terminal.
    static func printable(_ bytes: [UInt8]) -> String {
        var text = ""
        for byte in bytes {
            switch byte {
            case 0x0a, 0x09, 0x20...0x7e: text.unicodeScalars.append(Unicode.Scalar(byte))
            case 0x0d: continue
            default: text += String(format: "\\x%02x", byte)
            }
        }
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}

/// A TLS conversation on loopback made with the openssl tool: a throwaway self-signed EC
/// certificate, `s_server -rev` (answers each line reversed) on an ephemeral port, and
/// `s_client` sending one line.
struct SelfTest {
    var message: String

    /// Runs the conversation, calling `pump` while waiting so events are printed as they come.
    func run(pump: () throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-sniff-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("key.pem").path
        let certificate = directory.appendingPathComponent("cert.pem").path
        let openssl = try Self.findOpenSSL()
        let request = try Self.start(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                               "-keyout", key, "-out", certificate, "-subj", "/CN=localhost", "-days", "1"])
        request.process.waitUntilExit()
        guard request.process.terminationStatus == 0 else { throw ValidationError("openssl req failed: \(request.output.text)") }

        let server = try Self.start(openssl, ["s_server", "-accept", "127.0.0.1:0", "-cert", certificate, "-key", key, "-rev"])
        defer { if server.process.isRunning { server.process.terminate() }; server.process.waitUntilExit() }
        // s_server prints `ACCEPT 127.0.0.1:PORT` once it listens.
        guard let port = try Self.waitFor(server, pump: pump, match: { text in
            text.range(of: #"ACCEPT 127\.0\.0\.1:[0-9]+"#, options: .regularExpression).map { String(text[$0].split(separator: ":").last!) }
        }) else { throw ValidationError("openssl s_server did not start: \(server.output.text)") }
        FileHandle.standardError.write(Data("ssl-sniff: self-test: s_server pid \(server.process.processIdentifier) on 127.0.0.1:\(port)\n".utf8))

        let input = Pipe()
        let client = try Self.start(openssl, ["s_client", "-connect", "127.0.0.1:\(port)", "-quiet", "-no_ign_eof"], input: input)
        FileHandle.standardError.write(Data("ssl-sniff: self-test: s_client pid \(client.process.processIdentifier) sends \"\(message)\"\n".utf8))
        input.fileHandleForWriting.write(Data((message + "\n").utf8))
        let reversed = String(message.reversed())
        _ = try Self.waitFor(client, pump: pump, match: { $0.contains(reversed) ? reversed : nil })
        try input.fileHandleForWriting.close()
        let deadline = ContinuousClock.now + .seconds(5)
        while client.process.isRunning, ContinuousClock.now < deadline { try pump() }
        if client.process.isRunning { client.process.terminate() }
        client.process.waitUntilExit()
        try pump()
    }

    final class Output: @unchecked Sendable {
        private let lock = NSLock()
        private var bytes = Data()
        func append(_ data: Data) { lock.withLock { bytes.append(data) } }
        var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
    }

    static func findOpenSSL() throws -> String {
        for path in ["/usr/bin/openssl", "/usr/local/bin/openssl", "/bin/openssl"] where FileManager.default.isExecutableFile(atPath: path) { return path }
        throw BPFError.notFound(what: "the openssl tool", detail: "--self-test runs openssl s_server and s_client; install the openssl package")
    }

    static func start(_ executable: String, _ arguments: [String], input: Pipe? = nil) throws -> (process: Process, output: Output) {
        let process = Process()
        let output = Output()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = input ?? FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil } else { output.append(data) }
        }
        try process.run()
        return (process, output)
    }

    static func waitFor<T>(_ started: (process: Process, output: Output), pump: () throws -> Void, match: (String) -> T?) throws -> T? {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline, !Interrupt.isRequested() {
            if let found = match(started.output.text) { return found }
            if !started.process.isRunning { return match(started.output.text) }
            try pump()
        }
        return nil
    }
}
