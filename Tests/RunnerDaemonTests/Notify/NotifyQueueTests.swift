@testable import RunnerDaemon
import Systemd
import Testing

/// The outbox's queueing rules, as a value: which messages wait, in which order, and what is
/// dropped, without sockets or a loop.
struct NotifyQueueTests {
    private func message(_ states: NotifyState...) throws -> NotifyQueue.Message {
        try NotifyQueue.Message(states)
    }

    private func datagrams(_ queue: NotifyQueue) -> [String] {
        queue.messages.map(\.datagram)
    }

    @Test
    func classifiesMessagesByTheirFields() {
        #expect(NotifyQueue.Kind([.status("a")]) == .status)
        #expect(NotifyQueue.Kind([.status("a"), .status("b")]) == .status)
        #expect(NotifyQueue.Kind([.watchdog]) == .watchdog)
        #expect(NotifyQueue.Kind([.watchdog, .watchdog]) == .ordered)
        #expect(NotifyQueue.Kind([.watchdogTrigger]) == .ordered)
        #expect(NotifyQueue.Kind([.watchdog, .status("ok")]) == .ordered)
        #expect(NotifyQueue.Kind([.ready]) == .ordered)
        #expect(NotifyQueue.Kind([.ready, .status("up")]) == .ordered)
        #expect(NotifyQueue.Kind([.reloading]) == .ordered)
        #expect(NotifyQueue.Kind([.stopping]) == .ordered)
        #expect(NotifyQueue.Kind([.extendTimeout(.seconds(5))]) == .ordered)
    }

    @Test
    func consecutiveStatusesKeepOnlyTheLatest() throws {
        var queue = NotifyQueue()
        #expect(queue.append(try message(.status("1"))) == .queued)
        #expect(queue.append(try message(.status("2"))) == .supersededStatus)
        #expect(queue.append(try message(.status("3"))) == .supersededStatus)
        #expect(datagrams(queue) == ["STATUS=3"])
    }

    @Test
    func aStatusPostedAfterReadyIsNeverSentBeforeIt() throws {
        var queue = NotifyQueue()
        queue.append(try message(.status("starting")))
        queue.append(try message(.ready))
        queue.append(try message(.status("3/3 ready")))
        #expect(datagrams(queue) == ["READY=1", "STATUS=3/3 ready"])
    }

    @Test
    func aStatusKeepsItsPlaceBeforeLaterOrderedMessages() throws {
        var queue = NotifyQueue()
        queue.append(try message(.status("stopping web")))
        queue.append(try message(.stopping))
        queue.append(try message(.extendTimeout(.seconds(10))))
        #expect(datagrams(queue) == ["STATUS=stopping web", "STOPPING=1", "EXTEND_TIMEOUT_USEC=10000000"])
    }

    @Test
    func aMessageCarryingStatusSupersedesThePendingStatus() throws {
        var queue = NotifyQueue()
        queue.append(try message(.status("old")))
        #expect(queue.append(try message(.ready, .status("new"))) == .supersededStatus)
        #expect(datagrams(queue) == ["READY=1\nSTATUS=new"])
        // The combined message is ordered: a later status does not remove it.
        queue.append(try message(.status("newer")))
        #expect(datagrams(queue) == ["READY=1\nSTATUS=new", "STATUS=newer"])
    }

    @Test
    func aPingWhileOneIsPendingCollapsesIntoIt() throws {
        var queue = NotifyQueue()
        #expect(queue.append(try message(.watchdog)) == .queued)
        queue.append(try message(.ready))
        #expect(queue.append(try message(.watchdog)) == .collapsedWatchdog)
        #expect(datagrams(queue) == ["WATCHDOG=1", "READY=1"])
        queue.removeFirst()
        #expect(queue.append(try message(.watchdog)) == .queued)
        #expect(datagrams(queue) == ["READY=1", "WATCHDOG=1"])
    }

    @Test
    func pastTheBoundTheOldestOrderedMessageIsDropped() throws {
        var queue = NotifyQueue(capacity: 3)
        queue.append(try message(.status("s")))
        queue.append(try message(.custom("X_N", "1")))
        queue.append(try message(.watchdog))
        queue.append(try message(.custom("X_N", "2")))
        queue.append(try message(.custom("X_N", "3")))
        #expect(queue.droppedCount == 0)
        #expect(queue.append(try message(.custom("X_N", "4"))) == .droppedOldest)
        #expect(queue.append(try message(.custom("X_N", "5"))) == .droppedOldest)
        #expect(queue.droppedCount == 2)
        // The status and the ping do not count against the bound and are never dropped for it.
        #expect(datagrams(queue) == ["STATUS=s", "WATCHDOG=1", "X_N=3", "X_N=4", "X_N=5"])
    }

    @Test
    func theFrontGoesOutInOrderAndMemoryIsGivenBack() throws {
        var queue = NotifyQueue(capacity: 10_000)
        for index in 0..<5000 {
            queue.append(try message(.custom("X_N", String(index))))
        }
        var sent: [String] = []
        while let first = queue.first {
            sent.append(first.datagram)
            queue.removeFirst()
            if sent.count == 2500 {
                queue.append(try message(.custom("X_N", "late")))
            }
        }
        #expect(sent == (0..<5000).map { "X_N=\($0)" } + ["X_N=late"])
        #expect(queue.isEmpty && queue.count == 0)
        queue.removeFirst()  // on an empty queue: nothing happens
        #expect(queue.count == 0)
    }
}
