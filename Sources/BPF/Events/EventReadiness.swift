import Dispatch
import Foundation

/// Lets async code wait until an event reader's epoll descriptor becomes readable, without
/// blocking a thread of the cooperative pool: a Dispatch read source watches the descriptor and
/// resumes the one waiting task. The source is suspended while nobody waits, so level-triggered
/// readiness does not spin.
final class EventReadiness: @unchecked Sendable {
    private let source: DispatchSourceRead
    private let lock = NSLock()
    private var waiter: CheckedContinuation<Bool, Never>?
    private var isSourceRunning = false
    private var isCancelled = false

    init(fileDescriptor: Int32, label: String) {
        source = DispatchSource.makeReadSource(fileDescriptor: fileDescriptor, queue: DispatchQueue(label: label))
        source.setEventHandler { [unowned self] in self.fire() }
        // Created suspended: `activate` would start it; we resume it only while a task waits.
        source.activate()
        source.suspend()
    }

    deinit {
        lock.lock()
        let running = isSourceRunning
        lock.unlock()
        source.setEventHandler(handler: nil)
        if !running { source.resume() }
        source.cancel()
    }

    /// Suspends the calling task until the descriptor is readable. Returns false if the task was
    /// cancelled (then the caller should end its iteration).
    func wait() async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                lock.lock()
                if isCancelled || Task.isCancelled {
                    isCancelled = false
                    lock.unlock()
                    continuation.resume(returning: false)
                    return
                }
                waiter = continuation
                if !isSourceRunning {
                    isSourceRunning = true
                    source.resume()
                }
                lock.unlock()
            }
        } onCancel: {
            lock.lock()
            let pending = waiter
            waiter = nil
            if pending == nil { isCancelled = true }
            lock.unlock()
            pending?.resume(returning: false)
        }
    }

    private func fire() {
        lock.lock()
        let pending = waiter
        waiter = nil
        if isSourceRunning {
            isSourceRunning = false
            source.suspend()
        }
        lock.unlock()
        pending?.resume(returning: true)
    }
}

/// The loop every async event sequence shares: hand out what the last batch copied; else copy
/// a new batch; else wait, without blocking a thread of the pool, until the reader's epoll
/// descriptor is readable. Ends when the task is cancelled or `isClosed` says so.
struct BatchedEventIteration<Element> {
    let poller: EventPoller
    let label: String
    private var pending: [Element] = []
    private var nextIndex = 0
    private var readiness: EventReadiness?

    init(poller: EventPoller, label: String) {
        self.poller = poller
        self.label = label
    }

    mutating func next(isClosed: () -> Bool, fill: (inout [Element]) throws -> Void) async throws -> Element? {
        while true {
            if nextIndex < pending.count {
                defer { nextIndex += 1 }
                return pending[nextIndex]
            }
            pending.removeAll(keepingCapacity: true)
            nextIndex = 0
            if Task.isCancelled || isClosed() { return nil }
            try fill(&pending)
            if !pending.isEmpty { continue }
            if readiness == nil { readiness = EventReadiness(fileDescriptor: poller.epoll.rawValue, label: label) }
            guard await readiness!.wait() else { return nil }
            // Readable means data or a wake; clear a pending wake so the loop does not spin.
            _ = try? poller.wait(timeout: .zero) { _ in }
        }
    }
}
