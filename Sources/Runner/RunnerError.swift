/// Misuse of a `Runner` or `GroupRunner`. The Go original panics on these; here they are thrown,
/// so that a daemon can report them as clear errors. Nothing has started when one is thrown.
public enum RunnerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `run` or `runAsync` was called on a runner that has already been started (runners run once;
    /// make a new one to run the task again).
    case alreadyStarted(runnerID: String)
    /// A runner with this id is already in the group; ids must be unique within a group.
    case duplicateID(String)
    /// The group has already started: it accepts no more runners and cannot run again.
    case groupAlreadyStarted

    /// What went wrong and what to do instead, in one sentence.
    public var description: String {
        switch self {
        case .alreadyStarted(let id):
            "runner \(id) has already been started; a runner runs once, so create a new one"
        case .duplicateID(let id):
            "a runner with id \(id) is already in the group; give each runner a unique id"
        case .groupAlreadyStarted:
            "the group has already started; add runners before run or runAsync, and run a group once"
        }
    }
}
