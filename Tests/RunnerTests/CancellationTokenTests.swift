import Runner
import Synchronization
import Testing

@Suite("CancellationToken")
struct CancellationTokenTests {
    @Test func timeoutCancelsTheTokenOnTime() async {
        let start = ContinuousClock.now
        let token = CancellationToken(timeout: .milliseconds(300))
        #expect(!token.isCancelled)
        await token.wait()
        #expect(token.isCancelled)
        #expect(token.cause == .timeout(.milliseconds(300)))
        #expect((0.29...0.9).contains(seconds(since: start)))
    }

    @Test func explicitCancelRecordsTheFirstCauseOnly() {
        let token = CancellationToken()
        token.cancel()
        token.cancel(cause: .signal(15))
        #expect(token.cause == .explicit)
    }

    @Test func cancellingTheParentCancelsItsChildren() async {
        let parent = CancellationToken()
        let child = parent.child()
        let grandchild = child.child()
        parent.cancel()
        await grandchild.wait()
        #expect(child.isCancelled && grandchild.isCancelled)
        #expect(child.cause == .parent)
    }

    @Test func cancellingAChildLeavesTheParentAlone() {
        let parent = CancellationToken()
        let child = parent.child()
        child.cancel()
        #expect(child.isCancelled)
        #expect(!parent.isCancelled)
    }

    @Test func childOfACancelledParentStartsCancelled() {
        let parent = CancellationToken()
        parent.cancel()
        #expect(parent.child().isCancelled)
    }

    @Test func childTimeoutFiresWithoutTouchingTheParent() async {
        let parent = CancellationToken()
        let child = parent.child(timeout: .milliseconds(100))
        await child.wait()
        #expect(child.cause == .timeout(.milliseconds(100)))
        #expect(!parent.isCancelled)
    }

    @Test func parentCancelledBeforeTheChildsTimeoutWins() async {
        let parent = CancellationToken(timeout: .milliseconds(50))
        let child = parent.child(timeout: .seconds(30))
        let start = ContinuousClock.now
        await child.wait()
        #expect(child.cause == .parent)
        #expect(seconds(since: start) < 1)
    }

    @Test func releasedChildrenDoNotAccumulateInTheParent() {
        let parent = CancellationToken()
        // A weakly held child that is released unregisters; cancelling the parent then runs no
        // handler for it. Observed through a handler registered after ten thousand children.
        for _ in 0..<10_000 { _ = parent.child() }
        let ran = Atomic(0)
        parent.onCancel { ran.add(1, ordering: .relaxed) }
        parent.cancel()
        #expect(ran.load(ordering: .relaxed) == 1)
    }

    @Test func handlersRunOnceInRegistrationOrderAndLateOnesRunAtOnce() {
        let token = CancellationToken()
        let order = Mutex<[Int]>([])
        token.onCancel { order.withLock { $0.append(1) } }
        token.onCancel { order.withLock { $0.append(2) } }
        let removed = token.addHandler { order.withLock { $0.append(99) } }
        token.removeHandler(try! #require(removed))
        token.cancel()
        token.cancel()
        #expect(order.withLock { $0 } == [1, 2])
        token.onCancel { order.withLock { $0.append(3) } }
        #expect(order.withLock { $0 } == [1, 2, 3])
        #expect(token.addHandler {} == nil)
    }

    @Test func aThousandConcurrentWaitersAllWakeUp() async {
        let token = CancellationToken()
        let woken = Counter()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<1_000 {
                group.addTask {
                    await token.wait()
                    woken.increment()
                }
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(100))
                token.cancel()
            }
        }
        #expect(woken.count == 1_000)
    }

    @Test func waitReturnsWhenTheWaitingTaskIsCancelled() async {
        let token = CancellationToken()
        let waiter = Task { await token.wait() }
        try? await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await waiter.value
        #expect(!token.isCancelled)
    }

    @Test func waitOnACancelledTokenReturnsAtOnce() async {
        let token = CancellationToken()
        token.cancel()
        await token.wait()
        #expect(token.isCancelled)
    }
}
