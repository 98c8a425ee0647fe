import Foundation
import Synchronization

/// Ctrl-C (SIGINT) and SIGTERM end an example the way they end the originals: the example
/// stops its loop, prints what it prints at the end, and its links detach as their owners go.
public enum Interrupt {
    private static let requested = Atomic<Bool>(false)

    /// Installs the handlers and makes stdout line-buffered, so a reader on a pipe (a test, `| grep`)
    /// sees each line when it is printed. Call once, first thing in `run()`.
    public static func install() {
        setvbuf(stdout, nil, _IOLBF, 0)
        let handler: @convention(c) (Int32) -> Void = { _ in Interrupt.requested.store(true, ordering: .relaxed) }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        // A parent may have spawned us with these blocked (the mask is inherited): unblock them.
        var mask = sigset_t()
        sigemptyset(&mask)
        sigaddset(&mask, SIGINT)
        sigaddset(&mask, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &mask, nil)
    }

    /// True once Ctrl-C or SIGTERM arrived, or `deadline` (from `--duration`) has passed.
    public static func isRequested(deadline: ContinuousClock.Instant? = nil) -> Bool {
        if requested.load(ordering: .relaxed) { return true }
        if let deadline, ContinuousClock.now >= deadline { return true }
        return false
    }

    /// The deadline for an optional `--duration` in seconds.
    public static func deadline(afterSeconds seconds: Double?) -> ContinuousClock.Instant? {
        seconds.map { ContinuousClock.now + .milliseconds(Int64($0 * 1000)) }
    }

    /// Sleeps in short steps until interrupted or the deadline passes.
    public static func wait(until deadline: ContinuousClock.Instant? = nil) {
        while !isRequested(deadline: deadline) { usleep(50_000) }
    }
}
