import CLinuxSupport
import Glibc

/// Who may do what on the control socket, decided from the peer's credentials as the kernel
/// reports them (`SO_PEERCRED`, `SO_PEERGROUPS`) when it connects:
/// - root may call every method;
/// - members of the config's `control-group` (primary or supplementary) may call the read-only
///   methods: `Status`, `GetInfo`, `GetInterfaceDescription`;
/// - everyone else gets `org.varlink.service.PermissionDenied` for every call.
///
/// The socket's mode (0660, group `control-group`; 0600 without one) already keeps strangers
/// from connecting; this check also holds for a peer that got a connected socket some other way.
struct ControlAccess: Sendable, Equatable {
    enum Level: Sendable, Equatable {
        case everything
        case readOnly
        case nothing
    }

    let level: Level
    /// Who the peer is, for the refusal's message.
    let uid: uid_t

    init(uid: uid_t, gid: gid_t, groups: [gid_t], controlGroup: gid_t?) {
        self.uid = uid
        if uid == 0 {
            level = .everything
        } else if let controlGroup, gid == controlGroup || groups.contains(controlGroup) {
            level = .readOnly
        } else {
            level = .nothing
        }
    }

    /// The peer of a connected unix socket; `.nothing` when the kernel does not say.
    init(peerOf fd: Int32, controlGroup: gid_t?) {
        var pid: pid_t = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
        guard runnerd_peer_credentials(fd, &pid, &uid, &gid) == 0 else {
            self.init(uid: uid_t.max, gid: gid_t.max, groups: [], controlGroup: nil)
            return
        }
        self.init(uid: uid, gid: gid, groups: Self.peerGroups(fd), controlGroup: controlGroup)
    }

    func allows(_ method: String) -> Bool {
        switch level {
        case .everything: true
        case .readOnly: ControlInterface.readOnlyMethods.contains(method)
        case .nothing: false
        }
    }

    /// The peer's supplementary groups (Linux 4.13 and later); empty when unknown.
    private static func peerGroups(_ fd: Int32) -> [gid_t] {
        var count = 64
        while count <= 65536 {
            var groups = [gid_t](repeating: 0, count: count)
            var length = socklen_t(count * MemoryLayout<gid_t>.size)
            if getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, &groups, &length) == 0 {
                return Array(groups.prefix(Int(length) / MemoryLayout<gid_t>.size))
            }
            guard errno == ERANGE else { return [] }
            count = max(count * 2, Int(length) / MemoryLayout<gid_t>.size)
        }
        return []
    }
}
