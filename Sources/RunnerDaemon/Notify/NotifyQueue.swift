import Systemd

/// The notify messages that wait for the service manager to read its socket, in the order they
/// go out, with the rules that keep the wait small and lose nothing that matters. A value: the
/// decisions live here and are tested without sockets; `NotifyOutbox` carries them out.
///
/// Rules, by what a message carries:
/// - **Only `STATUS=`** (``Kind/status``): only the latest pending status matters, since each one
///   replaces the previous in `systemctl status`. A new one supersedes the pending one: the old
///   one is removed and the new one goes to the back. So a status never goes out before a
///   message that was posted before it (a `STATUS=3/3 ready` posted after `READY=1` is not moved
///   in front of it), and the last status the manager sees is the latest one posted. A message
///   that carries `STATUS=` together with other fields also supersedes a pending status-only
///   message, and is itself kept in order.
/// - **Only `WATCHDOG=1`** (``Kind/watchdog``): one pending ping says as much as many, so a ping
///   posted while one is pending is dropped; the pending one keeps its place.
/// - **Everything else** (``Kind/ordered``: `READY=1`, `RELOADING=1` with its `MONOTONIC_USEC`,
///   `STOPPING=1`, `EXTEND_TIMEOUT_USEC=`, and any mix): kept, in the order posted.
///
/// Bound: at most `capacity` ordered messages, plus one status and one ping. Past the bound the
/// **oldest** ordered message is dropped and counted in ``droppedCount``: the manager acts on the
/// newest state (a `READY=1` or `STOPPING=1` posted last is what it must see), and reaching the
/// bound takes thousands of reloads or stops while the manager reads nothing, by which time it
/// has long stopped waiting for the old ones.
struct NotifyQueue: Sendable, Equatable {
    /// How a message is kept while it waits.
    enum Kind: Sendable, Hashable {
        /// Kept in order, never merged.
        case ordered
        /// Status text only: superseded by a newer status.
        case status
        /// A bare `WATCHDOG=1`: collapses into a pending one.
        case watchdog

        /// The kind of a message made of `states`.
        init(_ states: [NotifyState]) {
            if states == [.watchdog] {
                self = .watchdog
            } else if !states.isEmpty && states.allSatisfy({ $0.field == "STATUS" }) {
                self = .status
            } else {
                self = .ordered
            }
        }
    }

    /// One encoded datagram and how it is kept.
    struct Message: Sendable, Hashable {
        /// The exact datagram, as ``Notifier/datagram(_:)`` encoded it when it was posted.
        let datagram: String
        let kind: Kind
        /// Whether it carries `STATUS=`, and so supersedes a pending status-only message.
        let carriesStatus: Bool

        /// The message for `states`, encoded now (so `RELOADING=1`'s `MONOTONIC_USEC` is the time
        /// of posting, not of sending).
        ///
        /// - Throws: the value errors of ``Notifier/datagram(_:)``.
        init(_ states: [NotifyState]) throws(NotifyError) {
            datagram = try Notifier.datagram(states)
            kind = Kind(states)
            carriesStatus = states.contains { $0.field == "STATUS" }
        }

        /// A message with a given datagram, for tests.
        init(datagram: String, kind: Kind, carriesStatus: Bool) {
            self.datagram = datagram
            self.kind = kind
            self.carriesStatus = carriesStatus
        }
    }

    /// What ``append(_:)`` did.
    enum AppendOutcome: Sendable, Hashable {
        /// Queued at the back.
        case queued
        /// Queued at the back, and the pending status it supersedes was removed.
        case supersededStatus
        /// Not queued: a `WATCHDOG=1` is already pending.
        case collapsedWatchdog
        /// Queued at the back, and the oldest ordered message was dropped to stay within
        /// ``capacity`` (counted in ``droppedCount``).
        case droppedOldest
    }

    /// The most ordered messages kept at once.
    let capacity: Int

    /// Ordered messages dropped so far because the queue was full.
    private(set) var droppedCount = 0

    /// The messages, front first; those before `head` have gone out already (an array with a
    /// moving head, so that taking the front is O(1)).
    private var storage: [Message] = []
    private var head = 0
    private var orderedCount = 0

    /// An empty queue keeping at most `capacity` ordered messages (at least 1).
    init(capacity: Int = 4096) {
        self.capacity = max(1, capacity)
    }

    /// How many messages wait.
    var count: Int { storage.count - head }

    var isEmpty: Bool { count == 0 }

    /// The message to send next.
    var first: Message? { isEmpty ? nil : storage[head] }

    /// The waiting messages, front first.
    var messages: ArraySlice<Message> { storage[head...] }

    /// Queues `message` by the rules above.
    @discardableResult
    mutating func append(_ message: Message) -> AppendOutcome {
        var outcome = AppendOutcome.queued
        switch message.kind {
        case .watchdog:
            if messages.contains(where: { $0.kind == .watchdog }) { return .collapsedWatchdog }
        case .status, .ordered:
            if message.carriesStatus, let index = pendingStatusIndex() {
                // Most often the pending status is the last message (statuses in a row while the
                // manager is not reading): then this is a replacement at the back, O(1).
                storage.remove(at: index)
                outcome = .supersededStatus
            }
        }
        if message.kind == .ordered {
            if orderedCount == capacity, let oldest = storage[head...].firstIndex(where: { $0.kind == .ordered }) {
                remove(at: oldest)
                droppedCount += 1
                outcome = .droppedOldest
            }
            orderedCount += 1
        }
        storage.append(message)
        return outcome
    }

    /// Takes the front message away, once it went out (or was refused for good). Does nothing on
    /// an empty queue.
    mutating func removeFirst() {
        guard !isEmpty else { return }
        if storage[head].kind == .ordered { orderedCount -= 1 }
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: storage.capacity <= 64)
            head = 0
        } else if head >= 1024 && head * 2 >= storage.count {
            // Give back what went out once it is most of the array, so memory stays bounded.
            storage.removeFirst(head)
            head = 0
        }
    }

    /// Where the pending status-only message is; there is at most one. Searched from the back,
    /// where it usually is.
    private func pendingStatusIndex() -> Int? {
        var index = storage.count - 1
        while index >= head {
            if storage[index].kind == .status { return index }
            index -= 1
        }
        return nil
    }

    private mutating func remove(at index: Int) {
        if index == head {
            removeFirst()
        } else {
            if storage[index].kind == .ordered { orderedCount -= 1 }
            storage.remove(at: index)
        }
    }
}
