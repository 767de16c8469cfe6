import Glibc

/// Looks users and groups up in the system databases (NSS), with the reentrant calls, so that the
/// loader can run on any thread.
enum AccountLookup {
    /// A user's database entry.
    struct User: Equatable {
        var name: String
        var uid: UInt32
        var gid: UInt32
        var home: String
        /// The login shell; `/bin/sh` when the entry leaves it empty, as login(1) does.
        var shell: String
    }

    /// The user named `nameOrID`, or, when it is all digits and no user has that name, the user
    /// with that uid. Nil when there is none.
    static func user(_ nameOrID: String) -> User? {
        let byName = withBuffer { buffer, size in
            var entry = passwd()
            var found: UnsafeMutablePointer<passwd>?
            let error = getpwnam_r(nameOrID, &entry, buffer, size, &found)
            return (error, found == nil ? nil : user(from: entry))
        }
        guard byName == nil, let uid = UInt32(nameOrID) else { return byName }
        return withBuffer { buffer, size in
            var entry = passwd()
            var found: UnsafeMutablePointer<passwd>?
            let error = getpwuid_r(uid, &entry, buffer, size, &found)
            return (error, found == nil ? nil : user(from: entry))
        }
    }

    /// The gid of the group named `nameOrID`, or, when it is all digits and no group has that
    /// name, that gid if a group has it. Nil when there is none.
    static func groupID(_ nameOrID: String) -> UInt32? {
        let byName = withBuffer { buffer, size in
            var entry = group()
            var found: UnsafeMutablePointer<group>?
            let error = getgrnam_r(nameOrID, &entry, buffer, size, &found)
            return (error, found == nil ? nil : entry.gr_gid)
        }
        guard byName == nil, let gid = UInt32(nameOrID) else { return byName }
        return withBuffer { buffer, size in
            var entry = group()
            var found: UnsafeMutablePointer<group>?
            let error = getgrgid_r(gid, &entry, buffer, size, &found)
            return (error, found == nil ? nil : entry.gr_gid)
        }
    }

    /// The groups `userName` belongs to in the group database, with `primaryGID` first: what
    /// `initgroups` would set as the supplementary groups.
    static func groupList(userName: String, primaryGID: UInt32) -> [UInt32] {
        var count: Int32 = 32
        while true {
            var groups = [gid_t](repeating: 0, count: Int(count))
            var found = count
            if getgrouplist(userName, primaryGID, &groups, &found) >= 0 {
                return Array(groups.prefix(Int(found)))
            }
            // getgrouplist stores the needed size in `found` when the buffer was too small.
            guard found > count else { return [primaryGID] }
            count = found
        }
    }

    private static func user(from entry: passwd) -> User {
        User(
            name: String(cString: entry.pw_name), uid: entry.pw_uid, gid: entry.pw_gid,
            home: entry.pw_dir.map { String(cString: $0) } ?? "/",
            shell: entry.pw_shell.map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/bin/sh"
        )
    }

    /// Runs a `get*_r` call with a scratch buffer that grows while the call says ERANGE. The call
    /// converts its entry before returning, since the entry's strings live in the buffer.
    private static func withBuffer<Result>(
        _ call: (UnsafeMutablePointer<CChar>, Int) -> (error: Int32, result: Result?)
    ) -> Result? {
        var size = 4_096
        while size <= 1 << 22 {
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            defer { buffer.deallocate() }
            let (error, result) = call(buffer, size)
            guard error == ERANGE else { return error == 0 ? result : nil }
            size *= 2
        }
        return nil
    }
}
