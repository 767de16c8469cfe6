import Glibc
import Systemd
import Testing

/// Socket activation reads LISTEN_PID, which must equal the reader's pid, so these run the
/// fixture program through `sh`, which exports its own pid and then `exec`s the fixture (same pid).
struct ListenFDTests {
    static func run(listenPID: String?, _ variables: [String], descriptors count: Int) throws -> [String] {
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { close(null) }
        var descriptors: [Int32: Int32] = [:]
        for index in 0..<count {
            descriptors[Int32(3 + index)] = null
        }
        let export = listenPID.map { "export LISTEN_PID=\($0); " } ?? ""
        let result = try ChildProcess.run(
            "/bin/sh", ["-c", "\(export)exec \"$0\" listen-fds", ChildProcess.helperPath],
            environment: ["PATH=/usr/bin:/bin"] + variables, descriptors: descriptors)
        try #require(result.status == 0, "helper exited \(result.status): \(result.lines)")
        return result.lines
    }

    @Test func returnsTheDescriptorsWithTheirNamesAndMarksThemCloseOnExec() throws {
        let lines = try Self.run(listenPID: "$$", ["LISTEN_FDS=2", "LISTEN_FDNAMES=web:admin"], descriptors: 2)
        #expect(lines == ["fd 3 web 1", "fd 4 admin 1", "done"])
    }

    @Test func namesThemUnknownWithoutListenFDNames() throws {
        let lines = try Self.run(listenPID: "$$", ["LISTEN_FDS=1"], descriptors: 1)
        #expect(lines == ["fd 3 unknown 1", "done"])
    }

    @Test func ignoresDescriptorsMeantForAnotherProcess() throws {
        #expect(try Self.run(listenPID: "1", ["LISTEN_FDS=1"], descriptors: 1) == ["done"])
        #expect(try Self.run(listenPID: nil, ["LISTEN_FDS=1"], descriptors: 1) == ["done"])
        #expect(try Self.run(listenPID: nil, [], descriptors: 0) == ["done"])
    }

    @Test func reportsMalformedVariables() throws {
        #expect(try Self.run(listenPID: "$$", ["LISTEN_FDS=two"], descriptors: 0) == ["error \(EINVAL)"])
        let error = ListenFDError(code: EINVAL, listenFDs: "two", listenPID: "12", listenFDNames: nil)
        #expect("\(error)".hasPrefix("cannot take socket-activation descriptors (LISTEN_FDS=\"two\" LISTEN_PID=\"12\" LISTEN_FDNAMES=unset): Invalid argument;"))
    }

    @Test func thisProcessHasNone() throws {
        #expect(try ServiceManager.listenFDs() == [])
    }
}
