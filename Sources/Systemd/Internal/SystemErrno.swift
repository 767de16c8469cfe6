import Glibc

/// Turns `errno` values into words, so that error descriptions say what went wrong.
enum SystemErrno {
    /// The C library's message for `code`, such as "No such file or directory".
    static func describe(_ code: Int32) -> String {
        // glibc's strerror returns static strings for known codes and a thread-local buffer for
        // unknown ones (since 2.32), so it is safe to call from any thread here.
        String(cString: strerror(code))
    }
}
