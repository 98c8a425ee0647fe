import ArgumentParser
import BPF
import ExampleSupport
import Foundation

/// Chapters 4 and 5's hello-buffer-config: for every execve, `PID UID COMMAND MESSAGE`, the
/// message being "Hello World" (a global in the object) unless the `my_config` map, written here
/// before attaching, holds one for the caller's uid. Events come through a perf buffer, or with
/// `--ring` through a ring buffer (the book's hello-ring-buffer-config).
@main
struct HelloBufferConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hello-buffer-config",
        abstract: "Print pid, uid, command and a per-uid configurable message for every execve.",
        discussion: """
            The default message is the object's global `message` ("Hello World"); each --message \
            UID=TEXT goes into the `my_config` hash map (11 characters at most). Without any \
            --message the book's two entries are used: 0 → "Hey root!", 501 → "Hi user 501!".

            EXAMPLES:
              hello-buffer-config                      perf buffer, the book's messages
              hello-buffer-config --ring               the same through a ring buffer
              hello-buffer-config --message "1000=Hi me"  a message for uid 1000 only
            """)

    @Option(name: .customLong("message"), help: ArgumentHelp("A message for one uid (repeatable).", valueName: "UID=TEXT"))
    var messages: [String] = []

    @Flag(help: "Use a ring buffer instead of the perf buffer.")
    var ring = false

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    /// The book's `config` entries.
    static let defaultMessages: [(uid: UInt32, text: String)] = [(0, "Hey root!"), (501, "Hi user 501!")]

    func configuredMessages() throws -> [(uid: UInt32, text: String)] {
        if messages.isEmpty { return Self.defaultMessages }
        return try messages.map { entry in
            guard let equals = entry.firstIndex(of: "="), let uid = UInt32(entry[..<equals]) else {
                throw ValidationError("--message takes UID=TEXT, e.g. 0=Hey root!; got '\(entry)'")
            }
            let text = String(entry[entry.index(after: equals)...])
            guard text.utf8.count <= 11 else { throw ValidationError("the message for uid \(uid) is longer than 11 bytes (user_msg_t holds 12 with the NUL)") }
            return (uid, text)
        }
    }

    func run() throws {
        Interrupt.install()
        let configured = try configuredMessages()
        var opened = try HelloBufferConfigSkeleton.open()
        opened.autoload.hello = !ring
        opened.autoload.hello_ring = ring
        let loaded = try opened.load()
        for (uid, text) in configured {
            var value = HelloBufferConfigSkeleton.Layout.zeroed(HelloBufferConfigSkeleton.user_msg_t.self)
            value.messageString = text
            try loaded.my_config.update(uid, value)
        }

        func printEvent(_ data: HelloBufferConfigSkeleton.data_t) {
            print("\(data.pid) \(data.uid) \(data.commandString) \(data.messageString)")
        }
        let deadline = Interrupt.deadline(afterSeconds: duration)
        let attached = try loaded.attach()
        defer { try? attached.close() }
        print("Tracing execve through a \(ring ? "ring" : "perf") buffer... Ctrl-C to end.")
        if ring {
            let reader = try loaded.events(printEvent)
            defer { reader.close() }
            while !Interrupt.isRequested(deadline: deadline) { _ = try reader.poll(timeout: .milliseconds(100)) }
        } else {
            let buffer = try PerfBuffer(loaded.output, onSample: { _, bytes in
                guard bytes.count >= MemoryLayout<HelloBufferConfigSkeleton.data_t>.size else { return }
                printEvent(bytes.loadUnaligned(as: HelloBufferConfigSkeleton.data_t.self))
            }, onLost: { cpu, count in
                FileHandle.standardError.write(Data("lost \(count) events on CPU \(cpu)\n".utf8))
            })
            defer { buffer.close() }
            while !Interrupt.isRequested(deadline: deadline) { _ = try buffer.poll(timeout: .milliseconds(100)) }
        }
    }
}
