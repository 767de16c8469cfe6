import Glibc
import Systemd
import Testing

struct ServiceManagerTests {
    @Test func supervisedWhenNotifySocketOrInvocationIDIsSet() {
        #expect(ServiceManager.isSupervised(environment: ["NOTIFY_SOCKET": "/run/systemd/notify"]))
        #expect(ServiceManager.isSupervised(environment: ["INVOCATION_ID": "0123456789abcdef"]))
        #expect(ServiceManager.isSupervised(environment: ["NOTIFY_SOCKET": "@x", "INVOCATION_ID": "1"]))
        #expect(!ServiceManager.isSupervised(environment: [:]))
        #expect(!ServiceManager.isSupervised(environment: ["NOTIFY_SOCKET": "", "INVOCATION_ID": ""]))
        #expect(!ServiceManager.isSupervised(environment: ["JOURNAL_STREAM": "8:1", "WATCHDOG_USEC": "1"]))
    }

    @Test func journalStreamMatchesTheDescriptorsDeviceAndInode() throws {
        let pipe = Pipe()
        var status = stat()
        try #require(fstat(pipe.writeEnd, &status) == 0)
        let matching = "\(status.st_dev):\(status.st_ino)"
        #expect(ServiceManager.isJournalStream(fileDescriptor: pipe.writeEnd, journalStream: matching))
        #expect(!ServiceManager.isJournalStream(fileDescriptor: pipe.writeEnd, journalStream: "\(status.st_dev):\(status.st_ino + 1)"))
        #expect(!ServiceManager.isJournalStream(fileDescriptor: pipe.writeEnd, journalStream: "\(status.st_dev + 1):\(status.st_ino)"))

        // A different pipe has a different inode: inherited JOURNAL_STREAM, redirected stderr.
        let other = Pipe()
        #expect(!ServiceManager.isJournalStream(fileDescriptor: other.writeEnd, journalStream: matching))
    }

    @Test(arguments: [nil, "", ":", "1", "1:", ":1", "a:b", "1:2:3", "-1:2", " 1:2", "99999999999999999999:1"])
    func malformedJournalStreamIsNotAMatch(value: String?) {
        let pipe = Pipe()
        #expect(!ServiceManager.isJournalStream(fileDescriptor: pipe.writeEnd, journalStream: value))
    }

    @Test func aClosedDescriptorIsNotAJournalStream() throws {
        var status = stat()
        let pipe = Pipe()
        try #require(fstat(pipe.writeEnd, &status) == 0)
        let descriptor = dup(pipe.writeEnd)
        close(descriptor)
        #expect(!ServiceManager.isJournalStream(fileDescriptor: descriptor, journalStream: "\(status.st_dev):\(status.st_ino)"))
    }

    @Test func bootedMeansRunSystemdSystemIsADirectory() {
        var status = stat()
        let directory = lstat("/run/systemd/system/", &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
        #expect(ServiceManager.isBooted == directory)
    }
}
