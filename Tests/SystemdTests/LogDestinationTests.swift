import Logging
import Systemd
import Testing

struct LogDestinationTests {
    @Test func automaticPrefersTheJournalThenPrefixedStderrThenTheTerminal() {
        #expect(LogDestination.detect(standardErrorIsJournalStream: true, isSupervised: true) == .journal)
        #expect(LogDestination.detect(standardErrorIsJournalStream: true, isSupervised: false) == .journal)
        #expect(LogDestination.detect(standardErrorIsJournalStream: false, isSupervised: true) == .priorityPrefixedStandardError)
        #expect(LogDestination.detect(standardErrorIsJournalStream: false, isSupervised: false) == .terminal)
    }

    @Test func explicitDestinationsStayAsGiven() {
        for destination in [LogDestination.journal, .priorityPrefixedStandardError, .terminal] {
            #expect(destination.resolved() == destination)
        }
        #expect(LogDestination.automatic.resolved() != .automatic)
    }

    @Test func factoryBuildsTheHandlerForTheDestination() {
        let journal = Journal.handlerFactory(identifier: "id", destination: .journal, logLevel: .debug)("label")
        #expect((journal as? JournalLogHandler)?.identifier == "id")
        #expect(journal.logLevel == .debug)
        #expect(Journal.handlerFactory(destination: .priorityPrefixedStandardError)("l") is PriorityPrefixLogHandler)
        #expect(Journal.handlerFactory(destination: .terminal)("l") is TerminalLogHandler)
        #expect((Journal.handlerFactory(destination: .terminal)("my.label") as? TerminalLogHandler)?.label == "my.label")
    }
}
