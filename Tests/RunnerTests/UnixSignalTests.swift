#if canImport(Glibc)
import Glibc
#endif
import Runner
import Testing

@Suite("UnixSignal")
struct UnixSignalTests {
    @Test func namesParseWithOrWithoutThePrefixInAnyCase() {
        #expect(UnixSignal(name: "SIGTERM") == .sigterm)
        #expect(UnixSignal(name: "TERM") == .sigterm)
        #expect(UnixSignal(name: "sigUsr1") == .sigusr1)
        #expect(UnixSignal(name: "SIGIOT")?.rawValue == SIGABRT)
        #expect(UnixSignal(name: "POLL")?.rawValue == SIGIO)
    }

    @Test func numbersUnknownNamesAndRealTimeSignalsDoNotParseAsNames() {
        #expect(UnixSignal(name: "15") == nil)
        #expect(UnixSignal(name: "SIGRTMIN") == nil)
        #expect(UnixSignal(name: "SIG") == nil)
        #expect(UnixSignal(name: "") == nil)
    }

    @Test func aSignalPrintsItsCommonNameOrItsNumber() {
        #expect(UnixSignal.sigterm.description == "SIGTERM")
        #expect(UnixSignal(rawValue: SIGABRT).name == "SIGABRT")
        #expect(UnixSignal(rawValue: SIGIO).name == "SIGIO")
        #expect(UnixSignal(rawValue: 40).name == nil)
        #expect(UnixSignal(rawValue: 40).description == "signal 40")
        #expect(CancellationCause.signal(SIGINT).description == "received SIGINT")
    }

    @Test func everyListedNameParsesBack() {
        #expect(UnixSignal.names.count == 33)
        #expect(UnixSignal.names.allSatisfy { UnixSignal(name: $0) != nil })
        #expect(UnixSignal.names.contains("SIGWINCH"))
    }
}
