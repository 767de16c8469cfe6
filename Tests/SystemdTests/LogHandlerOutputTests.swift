import Logging
import Systemd
import Testing

/// The two text handlers, checked byte for byte on a pipe.
struct LogHandlerOutputTests {
    static func prefixed(_ pipe: Pipe, level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: "app.component") { label in
            PriorityPrefixLogHandler(label: label, fileDescriptor: pipe.writeEnd)
        }
        logger.logLevel = level
        return logger
    }

    static func terminal(_ pipe: Pipe, timestamps: Bool = false) -> Logger {
        var logger = Logger(label: "app.component") { label in
            TerminalLogHandler(label: label, fileDescriptor: pipe.writeEnd, showsTimestamps: timestamps)
        }
        logger.logLevel = .trace
        return logger
    }

    @Test func priorityPrefixForEveryLevel() {
        let pipe = Pipe()
        let logger = Self.prefixed(pipe)
        logger.trace("t")
        logger.debug("d")
        logger.info("i")
        logger.notice("n")
        logger.warning("w")
        logger.error("e")
        logger.critical("c")
        #expect(pipe.drain() == "<7>t\n<7>d\n<6>i\n<5>n\n<4>w\n<3>e\n<2>c\n")
    }

    @Test func priorityPrefixWithMetadataSortedByKey() {
        let pipe = Pipe()
        var logger = Self.prefixed(pipe)
        logger[metadataKey: "group"] = "web"
        logger.warning("slow start", metadata: ["service": "api", "attempt": "2", "group": "override"])
        #expect(pipe.drain() == "<4>slow start attempt=2 group=override service=api\n")
    }

    @Test func priorityPrefixOnEveryLineOfAMultiLineMessage() {
        let pipe = Pipe()
        let logger = Self.prefixed(pipe)
        logger.error("first\nsecond\n\nfourth", metadata: ["k": "v"])
        #expect(pipe.drain() == "<3>first\n<3>second\n<3>\n<3>fourth k=v\n")
    }

    @Test func priorityPrefixRespectsTheLogLevel() {
        let pipe = Pipe()
        let logger = Self.prefixed(pipe, level: .warning)
        logger.info("dropped")
        logger.warning("kept")
        #expect(pipe.drain() == "<4>kept\n")
    }

    @Test func terminalLineWithoutTimestamp() {
        let pipe = Pipe()
        var logger = Self.terminal(pipe)
        logger.info("started")
        logger[metadataKey: "group"] = "web"
        logger.error("crashed", metadata: ["code": "1"])
        logger.notice("two\nlines")
        #expect(pipe.drain() == "info app.component: started\nerror app.component: crashed code=1 group=web\nnotice app.component: two\nlines group=web\n")
    }

    @Test func terminalLineWithTimestamp() throws {
        let pipe = Pipe()
        Self.terminal(pipe, timestamps: true).warning("hello")
        let line = pipe.drain()
        let match = try #require(line.wholeMatch(of: /(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3}) warning app\.component: hello\n/))
        #expect(Int(match.output.2)! >= 1 && Int(match.output.2)! <= 12)
    }

    @Test func metadataProviderIsMergedBelowTheCallsMetadata() {
        let pipe = Pipe()
        let provider = Logger.MetadataProvider { ["trace": "abc", "shared": "provider"] }
        var handler = PriorityPrefixLogHandler(label: "x", fileDescriptor: pipe.writeEnd, metadataProvider: provider)
        handler.metadata = ["shared": "handler", "own": "1"]
        let logger = Logger(label: "x") { _ in handler }
        logger.info("m", metadata: ["call": "2"])
        logger.info("n", metadata: ["shared": "call"])
        #expect(pipe.drain() == "<6>m call=2 own=1 shared=provider trace=abc\n<6>n own=1 shared=call trace=abc\n")
    }

    @Test func handlersHaveValueSemantics() {
        let pipe = Pipe()
        var first = Self.prefixed(pipe)
        var second = first
        first[metadataKey: "a"] = "1"
        second.logLevel = .critical
        first.info("first")
        second.info("dropped")
        second.critical("second")
        #expect(pipe.drain() == "<6>first a=1\n<2>second\n")
    }
}
