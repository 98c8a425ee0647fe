import CBPFSys
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An epoll set over event sources (ring buffer maps, perf event rings) plus an eventfd so that
/// another thread can interrupt a blocked wait (`wake()`), which is how readers shut down cleanly.
final class EventPoller: @unchecked Sendable {
    let epoll: OwnedFileDescriptor
    private let wakeEvent: OwnedFileDescriptor
    /// The token reported for the wake eventfd; sources use their index, which never reaches it.
    static let wakeToken = UInt64.max
    /// Reused between waits so polling does not allocate.
    private var readyTokens = [UInt64](repeating: 0, count: 64)

    init(subject: String) throws {
        let epollFD = sbpf_epoll_create()
        guard epollFD >= 0 else {
            throw BPFError.syscall(SystemCallFailure(operation: "epoll_create1", errno: .current, subject: subject))
        }
        epoll = OwnedFileDescriptor(adopting: epollFD, label: "epoll for \(subject)")
        let eventFD = sbpf_eventfd_create()
        guard eventFD >= 0 else {
            throw BPFError.syscall(SystemCallFailure(operation: "eventfd", errno: .current, subject: subject))
        }
        wakeEvent = OwnedFileDescriptor(adopting: eventFD, label: "wake eventfd for \(subject)")
        try add(eventFD, token: Self.wakeToken, subject: subject)
    }

    /// Watches `fd` for readability; `token` identifies it in `wait`.
    func add(_ fd: Int32, token: UInt64, subject: String) throws {
        guard sbpf_epoll_add(epoll.rawValue, fd, token) == 0 else {
            throw BPFError.syscall(SystemCallFailure(operation: "epoll_ctl(EPOLL_CTL_ADD)", errno: .current, subject: subject))
        }
    }

    /// Waits until a source is ready or `timeout` passes (nil: forever; zero: just look), then
    /// calls `ready` with each ready source's token. Returns false if woken by `wake()` (the
    /// wake is consumed) and no source was ready, or if a signal interrupted the wait.
    @discardableResult
    func wait(timeout: Duration?, _ ready: (UInt64) throws -> Void) throws -> Bool {
        let count = readyTokens.withUnsafeMutableBufferPointer { tokens in
            sbpf_epoll_wait_tokens(epoll.rawValue, tokens.baseAddress, Int32(tokens.count), Self.milliseconds(timeout))
        }
        if count < 0 {
            let errno = Errno.current
            if errno == .EINTR { return false }
            throw BPFError.syscall(SystemCallFailure(operation: "epoll_wait", errno: errno, subject: epoll.label))
        }
        var sawSource = false
        for index in 0..<Int(count) {
            let token = readyTokens[index]
            if token == Self.wakeToken {
                drainWake()
            } else {
                sawSource = true
                try ready(token)
            }
        }
        return sawSource
    }

    /// Interrupts a `wait` running on another thread (or the next one). Safe from any thread.
    func wake() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(wakeEvent.rawValue, $0.baseAddress, 8) }
    }

    private func drainWake() {
        var counter: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &counter) { read(wakeEvent.rawValue, $0.baseAddress, 8) }
    }

    /// epoll's timeout in milliseconds, rounded up so a short positive timeout still waits.
    static func milliseconds(_ timeout: Duration?) -> Int32 {
        guard let timeout else { return -1 }
        let (seconds, attoseconds) = timeout.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }
}
