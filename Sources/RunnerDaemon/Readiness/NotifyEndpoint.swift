import CLinuxSupport
import Glibc
import Logging
import Synchronization

/// One service run's notify socket, opened by ``NotifyRelay/open(for:owner:onMessage:)``: it
/// receives that run's `sd_notify` datagrams on the event loop, keeps those of the service's own
/// processes, and hands them on parsed.
///
/// **Who counts as the service.** Each datagram carries the sender's pid in `SCM_CREDENTIALS`
/// (the socket has `SO_PASSCRED` on, so the kernel adds them). After
/// ``authorize(processGroup:)``, a message is the service's when that process is in the service's
/// process group or its session (see ``NotifySender/belongs(toServiceLedBy:)``), looked up the
/// moment the datagram is read. Every other message is a stranger's: ignored, and reported with
/// a count at most once per interval, as in
/// `notify relay for web/api: ignored 3 messages from pid 1234, which is not part of the service`.
/// A `MAINPID=` must name a process of the service too; otherwise that field alone is dropped.
///
/// **What `systemd-notify` sends** (systemd 252, found by watching its datagrams here):
/// - It sends its message with the credentials of its *parent* (`getppid()`), because from a
///   shell script the shell is the one that matters. The kernel accepts a pid that is not the
///   sender's only from a process with `CAP_SYS_ADMIN`; otherwise `sendmsg` fails with `EPERM`
///   and systemd-notify sends again under its own pid. So as root the message names the shell
///   that ran it, and as any other user it names systemd-notify itself.
/// - Then, unless `--no-block`, it sends `BARRIER=1` under its own pid with one end of a pipe
///   (`SCM_RIGHTS`), and waits (up to 5 s) until the receiver closes it. The endpoint closes every
///   passed descriptor as it reads the datagram, after it has attributed the datagrams before it,
///   so systemd-notify is still alive (and not yet reaped by its parent) when its message is
///   judged: the race between an exiting sender and our look-up does not arise. With
///   `--no-block` it can: a sender that has already been reaped cannot be attributed, and its
///   message is ignored as a stranger's (systemd has the same limit).
/// - When its parent is the service manager itself (the service's command *is* systemd-notify)
///   and it runs as root, the credentials would name runnerd, which is no part of any service; it
///   avoids that when `$MANAGERPID` names its parent, which ``environment`` sets. Without it, the
///   message is ignored, as systemd 252 ignores one that names PID 1.
/// - A privileged process can name any pid, the service's included: the check keeps out
///   unprivileged strangers, and no more can be asked of it.
///
/// **Parsing.** See ``NotifyMessage``. A datagram longer than 4096 bytes (systemd's limit too) or
/// one that does not parse is ignored and reported, rate-limited like strangers. A datagram that
/// is only `BARRIER=1` is answered (its descriptor closed) and not delivered.
///
/// **Threads.** `authorize` and `close` may be called from any thread and return at once; the
/// work happens on the event loop, in the order of the calls.
final class NotifyEndpoint: @unchecked Sendable {
    // @unchecked: the `let`s are fixed at init and `closed` is atomic; every `var` is touched only
    // on the loop thread.

    /// What one datagram turned out to be, with its sender looked up when it was read.
    private struct Received {
        let sender: NotifySender
        let content: Result<NotifyMessage, NotifyMessage.Malformed>
        /// The process `MAINPID=` names, looked up when the datagram was read.
        let mainProcess: NotifySender?
    }

    /// A throttle and its pending timer.
    private struct Warning {
        var throttle = NotifyLogThrottle()
        var timer: EventLoop.TimerID?
    }

    private enum WarningKind {
        case stranger, malformed, foreignMainPID
    }

    /// `group/service`, as given to `open`.
    let service: String
    /// The address for the service's `NOTIFY_SOCKET`: a path, or `@name` for an abstract one.
    let address: String

    private let path: String?
    private let fd: Int32
    private let loop: EventLoop
    private let logger: Logger
    private let logInterval: Duration
    private let onMessage: @Sendable (NotifyMessage) -> Void
    private let onClose: @Sendable () -> Void
    private let closed = Atomic(false)

    private var processGroup: pid_t?
    private var watching = false
    private var pending: [Received] = []
    private var droppedWhilePending = 0
    private var warnings: [WarningKind: Warning] = [:]
    private var buffer = [UInt8](repeating: 0, count: NotifyEndpoint.maximumDatagram)

    /// The largest datagram accepted, as in systemd (`NOTIFY_BUFFER_MAX`).
    static let maximumDatagram = 4096
    /// Messages held before `authorize`; a service sends a handful at start, not more.
    static let maximumPending = 64
    /// Datagrams read per wake-up, so that one busy sender cannot starve the rest of the loop.
    static let datagramsPerWakeUp = 64

    init(
        service: String, address: String, path: String?, fd: Int32, loop: EventLoop, logger: Logger,
        logInterval: Duration, onMessage: @escaping @Sendable (NotifyMessage) -> Void,
        onClose: @escaping @Sendable () -> Void
    ) {
        self.service = service
        self.address = address
        self.path = path
        self.fd = fd
        self.loop = loop
        self.logger = logger
        self.logInterval = logInterval
        self.onMessage = onMessage
        self.onClose = onClose
    }

    /// What to add to the service's environment: `NOTIFY_SOCKET` with ``address``, and
    /// `MANAGERPID` with runnerd's pid, which tells systemd-notify that its parent is the service
    /// manager when the service's command is systemd-notify itself (see the type's notes).
    var environment: [String] {
        ["NOTIFY_SOCKET=\(address)", "MANAGERPID=\(getpid())"]
    }

    /// Whether ``close()`` has been called.
    var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Declares the service's process group (its main process: runnerd starts each service in a
    /// session of its own, so its pid is both). From now on, messages from that process group or
    /// session are delivered; those that came before are judged now, by where their senders stood
    /// when they arrived. A second call replaces the group. Does nothing after ``close()``.
    func authorize(processGroup: pid_t) {
        onLoop { [self] in
            guard !isClosed else { return }
            self.processGroup = processGroup
            let held = pending
            pending = []
            if droppedWhilePending > 0 {
                logger.warning("notify relay for \(service): dropped \(droppedWhilePending) messages that arrived before the service had started")
                droppedWhilePending = 0
            }
            for received in held { judge(received, serviceLeader: processGroup) }
        }
    }

    /// Unlinks the socket file at once, then closes the socket on the loop (right away when
    /// called there) and logs what the rate limits still held back; datagrams still queued are
    /// discarded. Idempotent; callable from any thread. Once it returns, no new `onMessage` call
    /// starts (one already running on the loop may finish).
    func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if let path { unlink(path) }
        onClose()
        onLoop { [self] in
            if watching {
                loop.unwatch(fd)
                watching = false
            }
            Glibc.close(fd)
            pending = []
            for kind in warnings.keys {
                if let timer = warnings[kind]?.timer { loop.cancelTimer(timer) }
                warnings[kind]?.timer = nil
                if let report = warnings[kind]?.throttle.drain() { log(kind, report) }
            }
        }
    }

    /// Starts serving; the relay calls it once, after `init`. Datagrams sent before this are queued
    /// by the kernel, not lost.
    func start() {
        onLoop { [self] in
            guard !isClosed else { return }
            watching = true
            loop.watch(fd) { [self] in receiveAll() }
        }
    }

    // MARK: - Loop only

    private func onLoop(_ work: @escaping @Sendable () -> Void) {
        if loop.inLoop { work() } else { loop.execute(work) }
    }

    private func receiveAll() {
        for _ in 0..<Self.datagramsPerWakeUp {
            guard !isClosed else { return }
            let received: Received
            switch receive() {
            case .nothing: return
            case .answered: continue
            case .received(let datagram): received = datagram
            }
            if let processGroup {
                judge(received, serviceLeader: processGroup)
            } else {
                if pending.count == Self.maximumPending {
                    pending.removeFirst()
                    droppedWhilePending += 1
                }
                pending.append(received)
            }
        }
    }

    private enum Reading {
        /// The queue is empty (or the read failed).
        case nothing
        /// A barrier, answered by closing its descriptor; nothing to judge.
        case answered
        case received(Received)
    }

    private func receive() -> Reading {
        var datagram = runnerd_notify_datagram()
        let code = buffer.withUnsafeMutableBytes { bytes in
            runnerd_notify_receive(fd, bytes.baseAddress, bytes.count, &datagram) == 0 ? 0 : errno
        }
        guard code == 0 else {
            if code != EAGAIN && code != EINTR {
                logger.error("notify relay for \(service): cannot receive: \(String(cString: strerror(code)))")
            }
            return .nothing
        }
        let bytes = buffer[..<datagram.length]
        // What sd_notify_barrier sends. Its descriptor is already closed, which is the answer.
        if datagram.truncated == 0 && (bytes.elementsEqual("BARRIER=1".utf8) || bytes.elementsEqual("BARRIER=1\n".utf8)) {
            return .answered
        }
        let sender = NotifySender.lookUp(datagram.has_credentials != 0 ? datagram.pid : 0)
        let content: Result<NotifyMessage, NotifyMessage.Malformed>
        if datagram.truncated != 0 {
            content = .failure(.init(description: "the datagram is longer than \(Self.maximumDatagram) bytes"))
        } else {
            do {
                content = .success(try NotifyMessage(parsing: bytes, senderPID: sender.pid))
            } catch {
                content = .failure(error)
            }
        }
        let mainProcess = (try? content.get())?.mainPID.map(NotifySender.lookUp)
        return .received(Received(sender: sender, content: content, mainProcess: mainProcess))
    }

    private func judge(_ received: Received, serviceLeader: pid_t) {
        guard received.sender.belongs(toServiceLedBy: serviceLeader) else {
            warn(.stranger, pid: received.sender.pid)
            return
        }
        switch received.content {
        case .failure(let malformed):
            warn(.malformed, pid: received.sender.pid, detail: malformed.description)
        case .success(var message):
            if let mainPID = message.mainPID, received.mainProcess?.belongs(toServiceLedBy: serviceLeader) != true {
                message.mainPID = nil
                warn(.foreignMainPID, pid: received.sender.pid, detail: "\(mainPID)")
            }
            onMessage(message)
        }
    }

    private func warn(_ kind: WarningKind, pid: pid_t, detail: String? = nil) {
        guard let report = warnings[kind, default: Warning()].throttle.record(pid: pid, detail: detail) else { return }
        log(kind, report)
        scheduleWindowEnd(kind)
    }

    private func scheduleWindowEnd(_ kind: WarningKind) {
        warnings[kind]?.timer = loop.schedule(after: logInterval) { [self] in
            warnings[kind]?.timer = nil
            guard let report = warnings[kind]?.throttle.windowEnded() else { return }
            log(kind, report)
            scheduleWindowEnd(kind)
        }
    }

    private func log(_ kind: WarningKind, _ report: NotifyLogThrottle.Report) {
        let messages = report.count == 1 ? "1 message" : "\(report.count) messages"
        let names = report.pids.map(String.init)
        let many = names.count > 1 || report.morePIDs
        let list = report.morePIDs ? names.joined(separator: ", ") + " and others"
            : names.count > 1 ? names.dropLast().joined(separator: ", ") + " and " + names[names.count - 1]
            : names.joined()
        let from = "from \(many ? "pids" : "pid") \(list)"
        switch kind {
        case .stranger:
            var line = "notify relay for \(service): ignored \(messages) \(from), which \(many ? "are" : "is") not part of the service"
            if report.pids.contains(getpid()) {
                line += " (pid \(getpid()) is runnerd: a privileged systemd-notify run directly by runnerd names its parent unless MANAGERPID is set)"
            }
            logger.warning("\(line)")
        case .malformed:
            logger.warning("notify relay for \(service): ignored \(messages) \(from) that could not be parsed; the last: \(report.detail ?? "")")
        case .foreignMainPID:
            logger.warning("notify relay for \(service): ignored MAINPID= in \(messages) \(from): pid \(report.detail ?? "") is not part of the service")
        }
    }
}
