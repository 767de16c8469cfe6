@testable import RunnerDaemon
import Testing

/// `runnerd status` as a terminal shows it: aligned columns, memory and CPU only where cgroups
/// counted them, colour only when asked for.
@Suite("StatusTable")
struct StatusTableTests {
    private func report(accounted: Bool) -> StatusReport {
        var api = StatusReport.Service(name: "api", state: "ready", readiness: "notify", pid: 4711, status: "serving", uptime: .seconds(192))
        var worker = StatusReport.Service(name: "worker", state: "ready", readiness: "none", pid: 4712, uptime: .seconds(192))
        if accounted {
            api.memoryBytes = 12_900_000
            api.cpuUsage = .milliseconds(1_234)
            worker.memoryBytes = 800_000
            worker.cpuUsage = .milliseconds(56)
        }
        var web = StatusReport.Group(name: "web", state: "running", required: true, ready: 2, total: 2, uptime: .seconds(192),
                                     restarts: 1, restartLimit: 5, lastExit: "service api exited with status 3", services: [api, worker])
        if accounted { web.addUpServices() }
        let jobs = StatusReport.Group(name: "jobs", state: "stopped", ready: 0, total: 1, restarts: 0, restartLimit: 5, stoppedByRequest: true,
                                      services: [.init(name: "cron", state: "down", readiness: "none")])
        return StatusReport(state: "running", status: "2 groups, 2/3 services ready; jobs: stopped by request", groups: [web, jobs])
    }

    @Test func groupsAndTheirServicesAreAligned() {
        #expect(StatusTable(report(accounted: false), colour: false).text == """
            runnerd: running (2 groups, 2/3 services ready; jobs: stopped by request)
            GROUP  STATE               READY  UPTIME  RESTARTS  LAST EXIT
            web    running             2/2    3m12s   1/5       service api exited with status 3
              api     pid 4711  ready  notify  up 3m12s  "serving"
              worker  pid 4712  ready  none    up 3m12s
            jobs   stopped by request  0/1    -       0/5       -
              cron    -         down   none    -

            """)
    }

    @Test func memoryAndCPUAppearWhenCgroupsCountedThem() {
        let text = StatusTable(report(accounted: true), colour: false).text
        #expect(text.contains("GROUP  STATE               READY  UPTIME  RESTARTS  MEMORY  CPU   LAST EXIT"), "\(text)")
        #expect(text.contains("web    running             2/2    3m12s   1/5       13.1M   1.2s  service api exited with status 3"), "\(text)")
        #expect(text.contains("  api     pid 4711  ready  notify  up 3m12s  mem 12.3M  cpu 1.2s  \"serving\""), "\(text)")
        #expect(text.contains("  worker  pid 4712  ready  none    up 3m12s  mem 781K   cpu 56ms"), "\(text)")
    }

    @Test func colourMarksStatesOnlyWhenAskedFor() {
        #expect(!StatusTable(report(accounted: false), colour: false).text.contains("\u{1B}["))
        let coloured = StatusTable(report(accounted: false), colour: true).text
        #expect(coloured.contains("\u{1B}[32mrunning"))
        #expect(coloured.contains("\u{1B}[2mdown"))
    }
}
