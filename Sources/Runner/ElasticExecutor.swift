#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization
@_spi(ExperimentalScheduling) import _Concurrency

/// A task executor whose threads may block, the way goroutines may block in Go.
///
/// It keeps one worker thread per CPU. A monitor thread notices when jobs are waiting while
/// workers have been stuck in one job for longer than `blockedThreshold`, and then adds a worker,
/// as Go's scheduler hands a processor on when a goroutine sits in a system call. Workers added
/// that way retire after `spareIdleTimeout` without work. While no job waits the monitor sleeps
/// without a timeout, so an idle process sees no periodic wake-ups.
///
/// Runner tasks run here by default, so a task that calls `usleep`, a blocking `read` or a
/// synchronous C server loop never starves Swift's cooperative pool, nor the other runners.
///
/// (Package access: the runnerd daemon makes it Swift's default executor, so that the daemon's `async` code
/// never starts libdispatch's thread pool, whose monitor would wake the process every second.)
package final class ElasticExecutor: TaskExecutor, SchedulingExecutor, @unchecked Sendable {
    // @unchecked: every stored var below is read and written only while `mutex` is held.

    /// The process-wide executor behind `TaskPlacement.elastic`.
    package static let shared = ElasticExecutor(coreWorkers: max(2, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))

    /// How long a worker must stay in one job, while others wait, before it counts as blocked.
    static let blockedThreshold: UInt64 = 10_000_000
    /// How long a worker added for blocked ones waits for work before it retires.
    static let spareIdleTimeout: UInt64 = 5_000_000_000
    /// How long a worker that ran out of jobs keeps looking before it sleeps. Bursts of short
    /// jobs (thousands of runners starting or stopping) then cost no sleep and wake-up per job.
    static let spinBeforeSleeping: UInt64 = 50_000
    /// Jobs that start within this long of the previous one's end make a burst, after which a
    /// worker spins before it sleeps.
    static let burstGap: UInt64 = 1_000_000
    /// An upper bound on threads, so that a runaway number of blocked tasks cannot exhaust the
    /// process; past it, waiting jobs queue until a worker frees up.
    static let maximumWorkers = 4096

    private let coreWorkers: Int
    private let mutex = PThreadMutex()
    private let monitorWakeUp = PThreadCondition()
    private var queue = JobQueue()
    /// The queue's length, readable without the lock, for workers deciding whether to spin on.
    private let queued = Atomic(0)
    /// The worker slots, indexed by slot number.
    private var slots: [WorkerSlot] = []
    /// The slots of the workers asleep with nothing to do, most recently idle last. A worker
    /// leaves this list when it is woken, not when it wakes up, so every entry is a worker that
    /// nobody has woken yet: each waiting job wakes a worker of its own, and a job finds no idle
    /// worker only when none is left to wake.
    private var idleSlots: [Int] = []
    private var workers = 0
    private var monitorStarted = false
    private var monitorParked = false

    /// One worker thread's place. Each worker sleeps on a condition of its own, which only it
    /// waits on: a wake-up goes to the worker chosen, never to whichever waiter the condition
    /// picks. With one condition shared by every idle worker, a job once waited 3 s while an
    /// idle worker slept on: glibc's conditions can lose a signal when waiters with and without
    /// timeouts share them (glibc bug 25847, present in Debian 12's 2.36), and the executor
    /// had counted that signal as a worker on its way.
    private struct WorkerSlot {
        let wakeUp = PThreadCondition()
        /// Set by the thread that wakes this worker; cleared by the worker when it goes idle.
        var woken = false
        /// When its current job started (monotonic ns), 0 while it has none, and `UInt64.max`
        /// while the slot is free.
        var jobStarted: UInt64 = 0
    }

    init(coreWorkers: Int) {
        self.coreWorkers = coreWorkers
    }

    /// Runs `job` on a worker thread, in the order enqueued; never blocks.
    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        mutex.lock()
        queue.append(job)
        queued.store(queue.count, ordering: .relaxed)
        if let slot = idleSlots.popLast() {
            slots[slot].woken = true
            slots[slot].wakeUp.signal()
        } else if workers < coreWorkers {
            startWorker()
        } else if monitorParked {
            monitorParked = false
            monitorWakeUp.signal()
        }
        mutex.unlock()
    }

    /// Enqueues `job` once `delay` has passed, from the library's timer thread (`Task.sleep`, when
    /// this is the process's default executor; see `runOnTimerThread` for the clocks it takes).
    package func enqueue<C: Clock>(_ job: consuming ExecutorJob, after delay: C.Duration, tolerance: C.Duration?, clock: C) {
        let job = UnownedJob(job)
        runOnTimerThread(after: delay) { [self] in enqueue(ExecutorJob(job)) }
    }

    /// Runs a plain closure on the executor, for callbacks that may run user code.
    func execute(_ body: @escaping @Sendable () -> Void) {
        Task(executorPreference: self) { body() }
    }

    /// Called with `mutex` held.
    private func startWorker() {
        let slot: Int
        if let free = slots.firstIndex(where: { $0.jobStarted == .max }) {
            slot = free
            slots[slot].jobStarted = 0
            slots[slot].woken = false
        } else {
            slot = slots.count
            slots.append(WorkerSlot())
        }
        workers += 1
        let spare = workers > coreWorkers
        spawnThread(name: "runner-worker") { [self] in work(slot: slot, spare: spare) }
        if !monitorStarted {
            monitorStarted = true
            spawnThread(name: "runner-monitor") { [self] in monitor() }
        }
    }

    private func work(slot: Int, spare: Bool) {
        let executor = asUnownedTaskExecutor()
        // When this worker's previous job started (monotonic ns; 0 before its first).
        var previousStart: UInt64 = 0
        mutex.lock()
        while true {
            if let job = queue.popFirst() {
                queued.store(queue.count, ordering: .relaxed)
                let started = monotonicNanoseconds()
                slots[slot].jobStarted = started
                mutex.unlock()
                job.runSynchronously(on: executor)
                mutex.lock()
                slots[slot].jobStarted = 0
                // Spin for the next job only within a burst: after a job that started soon after
                // the previous one. After a lone job (a timer, a watchdog heartbeat) the worker
                // sleeps at once, so an idle process costs one wake-up per job, not a run of
                // yields. (Measuring from the previous start rather than its end saves a clock
                // read per job.)
                if queue.isEmpty && previousStart != 0 && started &- previousStart < Self.burstGap {
                    spinUntilQueued()
                }
                previousStart = started
                continue
            }
            if !sleepUntilWoken(slot: slot, spare: spare) {
                slots[slot].jobStarted = .max
                workers -= 1
                mutex.unlock()
                return
            }
        }
    }

    /// Sleeps in the idle list until another thread wakes this worker. A spare worker gives up
    /// after `spareIdleTimeout`: it then leaves the list and returns false, and its thread ends.
    /// Called and returns with `mutex` held.
    private func sleepUntilWoken(slot: Int, spare: Bool) -> Bool {
        slots[slot].woken = false
        idleSlots.append(slot)
        let deadline = spare ? monotonicNanoseconds() + Self.spareIdleTimeout : 0
        while !slots[slot].woken {
            if !spare {
                slots[slot].wakeUp.wait(mutex)
            } else if !slots[slot].wakeUp.wait(mutex, until: deadline), !slots[slot].woken {
                idleSlots.removeAll { $0 == slot }
                return false
            }
        }
        return true
    }

    /// Watches for new jobs for a short while before the worker goes to sleep, yielding the CPU
    /// meanwhile. Called and returns with `mutex` held; it is released while watching.
    private func spinUntilQueued() {
        mutex.unlock()
        defer { mutex.lock() }
        let deadline = monotonicNanoseconds() + Self.spinBeforeSleeping
        while queued.load(ordering: .relaxed) == 0 && monotonicNanoseconds() < deadline {
            sched_yield()
        }
    }

    private func monitor() {
        mutex.lock()
        while true {
            guard !queue.isEmpty && idleSlots.isEmpty else {
                monitorParked = true
                monitorWakeUp.wait(mutex)
                continue
            }
            let now = monotonicNanoseconds()
            var blocked = 0
            for slot in slots where slot.jobStarted != 0 && slot.jobStarted != .max
                && now &- slot.jobStarted > Self.blockedThreshold {
                blocked += 1
            }
            if workers - blocked < coreWorkers && workers < Self.maximumWorkers {
                startWorker()
            }
            monitorWakeUp.wait(mutex, until: now + Self.blockedThreshold / 2)
        }
    }
}

/// A FIFO ring buffer of jobs that grows as needed and never shrinks below its high-water mark,
/// so that steady traffic allocates nothing.
struct JobQueue {
    private var storage: [UnownedJob?] = Array(repeating: nil, count: 64)
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ job: UnownedJob) {
        if count == storage.count { grow() }
        storage[(head + count) % storage.count] = job
        count += 1
    }

    mutating func popFirst() -> UnownedJob? {
        guard count > 0 else { return nil }
        let job = storage[head]
        storage[head] = nil
        head = (head + 1) % storage.count
        count -= 1
        return job
    }

    private mutating func grow() {
        var bigger = [UnownedJob?](repeating: nil, count: storage.count * 2)
        for index in 0..<count {
            bigger[index] = storage[(head + index) % storage.count]
        }
        storage = bigger
        head = 0
    }
}
