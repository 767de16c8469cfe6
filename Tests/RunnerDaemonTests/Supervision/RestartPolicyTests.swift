import RunnerdConfig
@testable import RunnerDaemon
import Testing

@Suite("RestartPolicy")
struct RestartPolicyTests {
    private func group(_ mode: RestartMode, delay: Duration = .seconds(1), max: Duration = .seconds(30), restarts: Int = 5, window: Duration = .seconds(300)) -> GroupConfig {
        GroupConfig(
            name: "web", restart: mode, restartDelay: delay, restartDelayMax: max, maxRestarts: restarts,
            restartWindow: window, required: true, groupInterruptTimeout: .seconds(15), services: []
        )
    }

    @Test func backOffDoublesFromTheDelayUpToTheMaximumThenGivesUp() {
        var policy = RestartPolicy(group(.onFailure, delay: .seconds(1), max: .seconds(5), restarts: 5))
        let start = ContinuousClock.now
        let decisions = (0..<6).map { policy.groupStopped(failed: true, at: start + .seconds($0)) }
        #expect(decisions == [
            .restart(after: .seconds(1), number: 1, limit: 5),
            .restart(after: .seconds(2), number: 2, limit: 5),
            .restart(after: .seconds(4), number: 3, limit: 5),
            .restart(after: .seconds(5), number: 4, limit: 5),
            .restart(after: .seconds(5), number: 5, limit: 5),
            .giveUp(reason: "it was restarted 5 times within 5m"),
        ])
    }

    @Test func maxRestartsCountsRestartsSoNPlusOneStarts() {
        var policy = RestartPolicy(group(.always, restarts: 2))
        let now = ContinuousClock.now
        #expect(policy.groupStopped(failed: true, at: now) == .restart(after: .seconds(1), number: 1, limit: 2))
        #expect(policy.groupStopped(failed: false, at: now) == .restart(after: .seconds(2), number: 2, limit: 2))
        #expect(policy.groupStopped(failed: true, at: now) == .giveUp(reason: "it was restarted 2 times within 5m"))
    }

    @Test func restartsOutsideTheWindowNoLongerCountAndTheBackOffShrinks() {
        var policy = RestartPolicy(group(.onFailure, restarts: 2, window: .seconds(60)))
        let start = ContinuousClock.now
        _ = policy.groupStopped(failed: true, at: start)
        _ = policy.groupStopped(failed: true, at: start + .seconds(10))
        #expect(policy.groupStopped(failed: true, at: start + .seconds(100)) == .restart(after: .seconds(1), number: 1, limit: 2))
    }

    @Test func cleanStopsFinishUnderOnFailureAndNeverButRestartUnderAlways() {
        let now = ContinuousClock.now
        var onFailure = RestartPolicy(group(.onFailure))
        #expect(onFailure.groupStopped(failed: false, at: now) == .finished)
        var never = RestartPolicy(group(.never))
        #expect(never.groupStopped(failed: false, at: now) == .finished)
        #expect(never.groupStopped(failed: true, at: now) == .giveUp(reason: "its restart policy is never"))
        var always = RestartPolicy(group(.always))
        #expect(always.groupStopped(failed: false, at: now) == .restart(after: .seconds(1), number: 1, limit: 5))
    }

    @Test func zeroRestartsGivesUpOnTheFirstFailure() {
        var policy = RestartPolicy(group(.onFailure, restarts: 0))
        #expect(policy.groupStopped(failed: true, at: .now) == .giveUp(reason: "max-restarts is 0"))
    }
}
