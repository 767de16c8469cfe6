@testable import RunnerDaemon
import Glibc
import RunnerdConfig
import Testing

/// What ``CgroupTree`` writes where, against a stand-in directory whose files play the kernel's
/// (no machine here has the memory, cpu, io or pids controllers in cgroup v2): the controllers
/// each level enables, once, in one write each, and the limits in their files.
@Suite("CgroupTree: the files it writes")
struct CgroupTreeFilesTests {
    private let files = ["cgroup.subtree_control", "cgroup.procs", "memory.max", "memory.high", "cpu.weight", "cpu.max", "pids.max", "io.weight"]

    private func makeRoot() throws -> String {
        var template = Array("/tmp/runnerd-fake-tree-XXXXXX".utf8CString)
        return try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
    }

    /// Regular files where the kernel would have its own, so that writes land and can be read back.
    private func prepare(_ directory: String, _ names: [String]) {
        mkdir(directory, 0o755)
        for name in names { close(open(directory + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0o644)) }
    }

    private func clean(_ root: String) {
        for directory in ["web/api", "web/worker", "web", ""] {
            for name in files { unlink("\(root)/\(directory)/\(name)") }
            rmdir("\(root)/\(directory)")
        }
    }

    @Test func controllersAreEnabledTopDownOnceAndLimitsWrittenToTheirFiles() throws {
        let root = try makeRoot()
        defer { clean(root) }
        prepare(root, ["cgroup.subtree_control"])
        prepare(root + "/web", ["cgroup.subtree_control"])
        prepare(root + "/web/api", files)
        prepare(root + "/web/worker", files)
        let tree = CgroupTree(path: root, cgroupPath: "/runnerd.service", available: ["cpu", "io", "memory", "pids", "hugetlb"])

        var api = ServiceConfig(name: "api", command: ["/bin/true"], executable: "/bin/true")
        api.limits.memoryMax = .value(256 << 20)
        api.limits.cpuMaxPercent = 50
        api.limits.tasksMax = .value(20)
        let first = try tree.makeServiceCgroup(group: "web", service: api)
        #expect(readFile(root + "/cgroup.subtree_control") == "+cpu +memory +pids")
        #expect(readFile(root + "/web/cgroup.subtree_control") == "+cpu +memory +pids")
        #expect(readFile(root + "/web/api/memory.max") == "268435456")
        #expect(readFile(root + "/web/api/cpu.max") == "50000 100000")
        #expect(readFile(root + "/web/api/pids.max") == "20")
        #expect(readFile(root + "/web/api/io.weight") == "")
        #expect(first.cgroupPath == "/runnerd.service/web/api")
        #expect(tree.services["web/api"] === first)

        // A second service that needs io: only io is enabled, at each level.
        var worker = ServiceConfig(name: "worker", command: ["/bin/true"], executable: "/bin/true")
        worker.limits.ioWeight = 500
        prepare(root, ["cgroup.subtree_control"])
        prepare(root + "/web", ["cgroup.subtree_control"])
        let second = try tree.makeServiceCgroup(group: "web", service: worker)
        #expect(readFile(root + "/cgroup.subtree_control") == "+io")
        #expect(readFile(root + "/web/cgroup.subtree_control") == "+io")
        #expect(readFile(root + "/web/worker/io.weight") == "default 500")
        #expect(Set(tree.services.keys) == ["web/api", "web/worker"])

        _ = tree.remove(first)
        _ = tree.remove(second)
        #expect(tree.services.isEmpty)
    }

    @Test func aControllerTheTreeDoesNotHaveIsNeverWritten() throws {
        let root = try makeRoot()
        defer { clean(root) }
        prepare(root, ["cgroup.subtree_control"])
        prepare(root + "/web", ["cgroup.subtree_control"])
        prepare(root + "/web/api", files)
        // Without memory available, a service with no limits needs nothing enabled.
        let tree = CgroupTree(path: root, cgroupPath: "/runnerd.service", available: ["cpu", "pids"])
        let cgroup = try tree.makeServiceCgroup(group: "web", service: ServiceConfig(name: "api", command: ["/bin/true"], executable: "/bin/true"))
        #expect(readFile(root + "/cgroup.subtree_control") == "")
        #expect(readFile(root + "/web/cgroup.subtree_control") == "")
        _ = tree.remove(cgroup)
    }

    @Test func aFailedWriteSaysWhatItWasAndWhy() throws {
        let root = try makeRoot()
        defer { clean(root) }
        // No cgroup.subtree_control at all: the first write fails.
        let tree = CgroupTree(path: root, cgroupPath: "/runnerd.service", available: ["memory"])
        #expect(throws: CgroupError.self) {
            try tree.makeServiceCgroup(group: "web", service: ServiceConfig(name: "api", command: ["/bin/true"], executable: "/bin/true"))
        }
        do {
            _ = try tree.makeServiceCgroup(group: "web", service: ServiceConfig(name: "api", command: ["/bin/true"], executable: "/bin/true"))
        } catch {
            #expect("\(error)" == "cannot enable +memory in \(root)/cgroup.subtree_control: No such file or directory")
        }
    }
}
