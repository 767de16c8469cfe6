@testable import RunnerDaemon
import Testing

@Suite("ChildEnvironment")
struct ChildEnvironmentTests {
    @Test func theBaseKeepsOneEntryPerNameWhereItFirstAppearedWithItsLastValue() {
        let environment = ChildEnvironment(["PATH=/bin", "HOME=/root", "no equals sign", "PATH=/usr/bin", "EMPTY="])
        #expect(environment.entries == ["PATH=/usr/bin", "HOME=/root", "EMPTY="])
    }

    @Test func setReplacesANameInPlaceAndAppendsANewOne() {
        var environment = ChildEnvironment(["PATH=/bin", "HOME=/root", "LANG=C"])
        environment.set("HOME", "/srv/api")
        environment.set("PORT", "8080")
        environment.set("MODE", "a=b")
        environment.set("PORT", "9090")
        #expect(environment.entries == ["PATH=/bin", "HOME=/srv/api", "LANG=C", "PORT=9090", "MODE=a=b"])
    }

    @Test func servicesChangingTheSameBaseDoNotSeeEachOthersVariables() {
        let base = ChildEnvironment(["PATH=/bin"])
        var first = base
        var second = base
        first.set("PATH", "/opt/first")
        first.set("ONLY_FIRST", "1")
        second.set("ONLY_SECOND", "2")
        #expect(base.entries == ["PATH=/bin"])
        #expect(first.entries == ["PATH=/opt/first", "ONLY_FIRST=1"])
        #expect(second.entries == ["PATH=/bin", "ONLY_SECOND=2"])
    }
}
