import RunnerdConfig
import Glibc
@testable import RunnerDaemon
import Synchronization
import Systemd
import Testing

/// The notify relay with real senders: systemd-notify, a raw C client, and strangers, through
/// sockets served on the daemon's event loop.
@Suite("NotifyRelay")
struct NotifyRelayTests {
    typealias Fixtures = NotifyRelayFixtures

    let log = CollectedLog()

    private func relay(_ addressing: NotifyRelay.Addressing = .path, logInterval: Duration = .seconds(10)) -> NotifyRelay {
        NotifyRelay(loop: ServiceHarness.loop, addressing: addressing, logger: log.logger, logInterval: logInterval)
    }

    // MARK: - systemd-notify

    @Test(
        .enabled(if: Fixtures.hasSystemdNotify, "needs /usr/bin/systemd-notify (apt install systemd)"),
        arguments: [NotifyRelay.Addressing.path, .abstract]
    )
    func systemdNotifyFromAServiceScriptDeliversReadyAndStatus(addressing: NotifyRelay.Addressing) async throws {
        let relay = relay(addressing)
        defer { relay.close() }
        let inbox = NotifyInbox()
        let endpoint = try relay.open(for: "test/script", onMessage: inbox.deliver)
        switch addressing {
        case .path: #expect(endpoint.address == relay.directory! + "/test.script.1")
        case .abstract: #expect(endpoint.address == "@runnerd/\(getpid())/test/script/1")
        }

        let pid = try await Fixtures.spawn(
            ["/bin/sh", "-c", "/usr/bin/systemd-notify --ready --status=hello && exit 7"], environment: endpoint.environment
        )
        endpoint.authorize(processGroup: pid)
        // Exit 7 only if systemd-notify succeeded, which includes our answer to its barrier.
        #expect(try await Fixtures.exit(of: pid) == .exited(7))

        let messages = try await inbox.wait(for: 1)
        var expected = NotifyMessage(senderPID: messages[0].senderPID)
        expected.ready = true
        expected.status = "hello"
        #expect(messages == [expected])
        // As root it names the shell that ran it (its parent); as another user, itself.
        if Fixtures.canForgeCredentials { #expect(messages[0].senderPID == pid) }
        #expect(log.warnings.isEmpty)
    }

    @Test(.enabled(if: Fixtures.hasSystemdNotify, "needs /usr/bin/systemd-notify (apt install systemd)"))
    func systemdNotifyAsTheServicesOwnCommandNamesItselfWhenManagerPIDIsSet() async throws {
        let relay = relay()
        defer { relay.close() }
        let inbox = NotifyInbox()
        let endpoint = try relay.open(for: "test/direct", onMessage: inbox.deliver)
        #expect(endpoint.environment == ["NOTIFY_SOCKET=\(endpoint.address)", "MANAGERPID=\(getpid())"])

        let pid = try await Fixtures.spawn(["/usr/bin/systemd-notify", "--ready"], environment: endpoint.environment)
        endpoint.authorize(processGroup: pid)
        #expect(try await Fixtures.exit(of: pid) == .exited(0))
        let messages = try await inbox.wait(for: 1)
        #expect(messages.map(\.senderPID) == [pid])
        #expect(messages.map(\.ready) == [true])
    }

    @Test(.enabled(
        if: Fixtures.hasSystemdNotify && Fixtures.canForgeCredentials,
        "shows what a privileged systemd-notify sends; needs CAP_SYS_ADMIN"
    ))
    func withoutManagerPIDAPrivilegedSystemdNotifyNamesRunnerdAndIsIgnored() async throws {
        let relay = relay()
        defer { relay.close() }
        let inbox = NotifyInbox()
        let endpoint = try relay.open(for: "test/direct", onMessage: inbox.deliver)

        let pid = try await Fixtures.spawn(["/usr/bin/systemd-notify", "--ready"], environment: ["NOTIFY_SOCKET=\(endpoint.address)"])
        endpoint.authorize(processGroup: pid)
        #expect(try await Fixtures.exit(of: pid) == .exited(0))
        let lines = try await log.wait { $0.contains("which is not part of the service") }
        #expect(lines == [
            "notify relay for test/direct: ignored 1 message from pid \(getpid()), which is not part of the service "
                + "(pid \(getpid()) is runnerd: a privileged systemd-notify run directly by runnerd names its parent unless MANAGERPID is set)",
        ])
        #expect(inbox.all.isEmpty)
    }

    @Test(
        .enabled(if: Fixtures.hasSystemdNotify && geteuid() == 0, "runs a service as nobody; needs root"),
        arguments: [NotifyRelay.Addressing.path, .abstract]
    )
    func aServiceOfAnotherUserCanNotifyAndIsAttributedWhileSystemdNotifyWaits(addressing: NotifyRelay.Addressing) async throws {
        let relay = relay(addressing)
        defer { relay.close() }
        let inbox = NotifyInbox()
        let endpoint = try relay.open(for: "test/nobody", owner: 65534, onMessage: inbox.deliver)
        if addressing == .path {
            var info = stat()
            #expect(stat(endpoint.address, &info) == 0)
            #expect(info.st_uid == 65534)
            #expect(info.st_mode & 0o777 == 0o600)
            #expect(stat(relay.directory!, &info) == 0 && info.st_mode & 0o777 == 0o711)
        }

        let nobody = Credentials(userName: "nobody", uid: 65534, gid: 65534, supplementaryGroups: [65534], home: nil)
        let pid = try await Fixtures.spawn(
            ["/bin/sh", "-c", "/usr/bin/systemd-notify --ready --status=unprivileged && exit 7"],
            environment: endpoint.environment, credentials: nobody
        )
        endpoint.authorize(processGroup: pid)
        #expect(try await Fixtures.exit(of: pid) == .exited(7))
        let messages = try await inbox.wait(for: 1)
        // Unprivileged, it cannot name its parent: the sender is systemd-notify itself, a child of
        // the shell, which was still alive (waiting for its barrier) when the message was judged.
        #expect(messages.map(\.status) == ["unprivileged"])
        #expect(messages[0].senderPID != pid)
        #expect(log.warnings.isEmpty)
    }

    // MARK: - A raw client

    @Test(.enabled(if: Fixtures.hasCompiler, "needs cc to build Tests/Fixtures/notify-client.c"))
    func aRawClientsFieldsAreParsedExactly() async throws {
        let client = try await Fixtures.client()
        let relay = relay()
        defer { relay.close() }
        let inbox = NotifyInbox()
        let endpoint = try relay.open(for: "test/raw", onMessage: inbox.deliver)

        let pid = try await Fixtures.spawn(
            [client, "READY=1", "STATUS=serving 3 requests", "WATCHDOG=1", "MAINPID=%p", "EXTEND_TIMEOUT_USEC=1500000", "X_CUSTOM=a=b"],
            environment: endpoint.environment
        )
        endpoint.authorize(processGroup: pid)
        #expect(try await Fixtures.exit(of: pid) == .exited(0))

        var expected = NotifyMessage(senderPID: pid)
        expected.ready = true
        expected.status = "serving 3 requests"
        expected.watchdog = .ping
        expected.mainPID = pid
        expected.extendTimeout = .milliseconds(1500)
        expected.otherFields = [.init(name: "X_CUSTOM", value: "a=b")]
        #expect(try await inbox.wait(for: 1) == [expected])
        #expect(log.warnings.isEmpty)
    }

    @Test(.enabled(if: Fixtures.hasCompiler, "needs cc to build Tests/Fixtures/notify-client.c"))
    func aMainPIDOutsideTheServiceIsDroppedAndTheRestDelivered() async throws {
        let client = try await Fixtures.client()
        let relay = relay()
        defer { relay.close() }
        let inbox = NotifyInbox()
        let endpoint = try relay.open(for: "test/mainpid", onMessage: inbox.deliver)

        let pid = try await Fixtures.spawn([client, "READY=1", "MAINPID=1"], environment: endpoint.environment)
        endpoint.authorize(processGroup: pid)
        #expect(try await Fixtures.exit(of: pid) == .exited(0))
        var expected = NotifyMessage(senderPID: pid)
        expected.ready = true
        #expect(try await inbox.wait(for: 1) == [expected])
        #expect(log.warnings == ["notify relay for test/mainpid: ignored MAINPID= in 1 message from pid \(pid): pid 1 is not part of the service"])
    }

    @Test(.enabled(if: Fixtures.hasCompiler, "needs cc to build Tests/Fixtures/notify-client.c"))
    func malformedDatagramsAreIgnoredAndLoggedRateLimited() async throws {
        let client = try await Fixtures.client()
        let relay = relay()
        let inbox = NotifyInbox()
        let endpoint = try relay.open(for: "test/garbage", onMessage: inbox.deliver)

        let pid = try await Fixtures.spawn([client, "-n", "20", "READY=1", "no equals sign"], environment: endpoint.environment)
        endpoint.authorize(processGroup: pid)
        #expect(try await Fixtures.exit(of: pid) == .exited(0))
        relay.close()
        await Fixtures.drainLoop()
        #expect(inbox.all.isEmpty)
        let reason = #"line 2 is not KEY=VALUE: "no equals sign""#
        #expect(log.warnings == [
            "notify relay for test/garbage: ignored 1 message from pid \(pid) that could not be parsed; the last: \(reason)",
            "notify relay for test/garbage: ignored 19 messages from pid \(pid) that could not be parsed; the last: \(reason)",
        ])
    }

    // MARK: - Who belongs

    @Test(
        .enabled(if: Fixtures.hasSystemdNotify && Fixtures.hasCompiler, "needs systemd-notify and cc"),
        arguments: [NotifyRelay.Addressing.path, .abstract]
    )
    func aStrangersReadyToTheSameSocketIsIgnoredAndLoggedRateLimited(addressing: NotifyRelay.Addressing) async throws {
        let client = try await Fixtures.client()
        let relay = relay(addressing)
        let inbox = NotifyInbox()
        let endpoint = try relay.open(for: "test/member", onMessage: inbox.deliver)

        // The service notifies as it should, and then stays up.
        let member = try await Fixtures.spawn(
            ["/bin/sh", "-c", "/usr/bin/systemd-notify --ready --status=member && exec sleep 60"], environment: endpoint.environment
        )
        endpoint.authorize(processGroup: member)
        #expect(try await inbox.wait(for: 1).map(\.status) == ["member"])

        // Another process in a session of its own sends READY=1 a hundred times to the same socket.
        // It exits 0 only once its barrier is answered, that is, after all hundred were read.
        let stranger = try await Fixtures.spawn([client, "-n", "100", "READY=1"], environment: endpoint.environment)
        #expect(try await Fixtures.exit(of: stranger) == .exited(0))
        await Fixtures.drainLoop()
        #expect(inbox.all.count == 1)
        let ignored = "notify relay for test/member: ignored"
        #expect(log.warnings == ["\(ignored) 1 message from pid \(stranger), which is not part of the service"])

        // Closing reports what the rate limit held back.
        relay.close()
        await Fixtures.drainLoop()
        #expect(log.warnings == [
            "\(ignored) 1 message from pid \(stranger), which is not part of the service",
            "\(ignored) 99 messages from pid \(stranger), which is not part of the service",
        ])
        await Fixtures.stop(member)
    }

    @Test(.enabled(if: Fixtures.hasCompiler, "needs cc to build Tests/Fixtures/notify-client.c"))
    func whatTheRateLimitHeldBackIsLoggedWhenTheIntervalEnds() async throws {
        let client = try await Fixtures.client()
        let relay = relay(logInterval: .milliseconds(500))
        defer { relay.close() }
        let endpoint = try relay.open(for: "test/interval", onMessage: { _ in })
        let member = try await Fixtures.spawn(["/bin/sleep", "60"], environment: [])
        endpoint.authorize(processGroup: member)

        let stranger = try await Fixtures.spawn([client, "-n", "5", "READY=1"], environment: endpoint.environment)
        #expect(try await Fixtures.exit(of: stranger) == .exited(0))
        let ignored = "notify relay for test/interval: ignored"
        let lines = try await log.wait { $0.hasPrefix("\(ignored) 4 messages") }
        #expect(lines == [
            "\(ignored) 1 message from pid \(stranger), which is not part of the service",
            "\(ignored) 4 messages from pid \(stranger), which is not part of the service",
        ])
        await Fixtures.stop(member)
    }

    @Test func theTestProcessItselfIsAStranger() async throws {
        let relay = relay()
        defer { relay.close() }
        let inbox = NotifyInbox()
        let endpoint = try relay.open(for: "test/self", onMessage: inbox.deliver)
        let member = try await Fixtures.spawn(["/bin/sleep", "60"], environment: [])
        endpoint.authorize(processGroup: member)

        #expect(try Notifier(socket: endpoint.address).send(.ready))
        _ = try await log.wait { $0.contains("from pid \(getpid()), which is not part of the service") }
        #expect(inbox.all.isEmpty)
        await Fixtures.stop(member)
    }

    @Test(.enabled(if: Fixtures.hasCompiler, "needs cc to build Tests/Fixtures/notify-client.c"))
    func aChildInAnotherProcessGroupOfTheSessionBelongsButOneThatCalledSetsidDoesNot() async throws {
        let client = try await Fixtures.client()
        let relay = relay()
        defer { relay.close() }

        // --setpgid: a forked child moves to a process group of its own, in the service's session.
        let inbox = NotifyInbox()
        let sameSession = try relay.open(for: "test/setpgid", onMessage: inbox.deliver)
        let leader = try await Fixtures.spawn([client, "--setpgid", "STATUS=from %p"], environment: sameSession.environment)
        sameSession.authorize(processGroup: leader)
        #expect(try await Fixtures.exit(of: leader) == .exited(0))
        let messages = try await inbox.wait(for: 1)
        #expect(messages[0].senderPID != leader)
        #expect(messages.map(\.status) == ["from \(messages[0].senderPID)"])

        // --setsid: a forked child starts a session of its own, and is no longer the service's.
        let detachedInbox = NotifyInbox()
        let detached = try relay.open(for: "test/setsid", onMessage: detachedInbox.deliver)
        let parent = try await Fixtures.spawn([client, "--setsid", "READY=1"], environment: detached.environment)
        detached.authorize(processGroup: parent)
        #expect(try await Fixtures.exit(of: parent) == .exited(0))
        await Fixtures.drainLoop()
        #expect(detachedInbox.all.isEmpty)
        #expect(log.warnings.count == 1)
        #expect(log.warnings.first?.hasPrefix("notify relay for test/setsid: ignored 1 message from pid ") == true)
        #expect(log.warnings.first?.contains("from pid \(parent),") == false)
    }

    // MARK: - Lifetime

    @Test(arguments: [NotifyRelay.Addressing.path, .abstract])
    func closeUnlinksThePathAndReleasesTheDescriptor(addressing: NotifyRelay.Addressing) async throws {
        let relay = relay(addressing)
        // Only this relay's sockets are counted, so that other suites running alongside, which
        // open and close descriptors of their own, cannot change the count.
        func relaySockets(_ addresses: [String]) -> Int {
            let inodes = Set(addresses.compactMap(Fixtures.inode(ofSocketAt:)))
            return Fixtures.socketInodes().filter(inodes.contains).count
        }
        var addresses: [String] = []
        for _ in 0..<20 {
            let endpoint = try relay.open(for: "test/cycle", onMessage: { _ in })
            addresses.append(endpoint.address)
            #expect(relaySockets([endpoint.address]) == 1)
            if addressing == .path {
                var info = stat()
                #expect(stat(endpoint.address, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK)
            }
            endpoint.close()
            endpoint.close()
            await Fixtures.drainLoop()
            #expect(access(endpoint.address, F_OK) != 0)
            #expect(Fixtures.inode(ofSocketAt: endpoint.address) == nil)
        }
        #expect(Set(addresses).count == 20)
        let directory = relay.directory
        relay.close()
        if let directory { #expect(access(directory, F_OK) != 0) }
        #expect(throws: NotifyRelayError.closed) { try relay.open(for: "test/late", onMessage: { _ in }) }
    }

    @Test func messagesAreNotDeliveredAfterClose() async throws {
        let relay = relay()
        defer { relay.close() }
        let inbox = NotifyInbox()
        let endpoint = try relay.open(for: "test/closed", onMessage: inbox.deliver)
        endpoint.authorize(processGroup: getpgrp())
        endpoint.close()
        #expect(throws: NotifyError.self) { try Notifier(socket: endpoint.address).send(.ready) }
        await Fixtures.drainLoop()
        #expect(inbox.all.isEmpty)
    }
}
